// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Journal} from "l1/contracts/osp/Journal.sol";
import {WorldState} from "l1/contracts/osp/WorldState.sol";

/// @notice Test-only: exposes the WorldState library (LOAD_ACCOUNT, LOAD_SLOT, COMMIT steps) over
///         journal proofs encoded as l1/proofs/journal.py does
///         (tests/integration/test_osp_world_state.py).
contract WorldStateHarness {
    struct Journ {
        bytes32 root;
        uint256 count;
    }

    function loadAccount(bytes32 worldRoot, Journ calldata j, address a, bytes[] calldata accountProof,
        bytes calldata insertProof)
        external
        pure
        returns (bytes32 newRoot, uint256 newCount, bytes memory payload)
    {
        (Journal.InsertProof memory ins,) = Journal.decodeInsertProof(insertProof, 0);
        Journal.Account memory entry;
        (newRoot, newCount, entry) = WorldState.loadAccount(worldRoot, j.root, j.count, a, accountProof, ins);
        payload = Journal.encodeAccount(entry);
    }

    function loadSlot(Journ calldata j, bytes calldata accountLeaf, uint256 slot,
        bytes[] calldata storageProof, bytes calldata insertProof)
        external
        pure
        returns (bytes32 newRoot, uint256 newCount, bytes memory payload)
    {
        (Journal.LeafProof memory account,) = Journal.decodeLeafProof(accountLeaf, 0);
        (Journal.InsertProof memory ins,) = Journal.decodeInsertProof(insertProof, 0);
        Journal.Slot memory entry;
        (newRoot, newCount, entry) = WorldState.loadSlot(j.root, j.count, account, slot, storageProof, ins);
        payload = Journal.encodeSlot(entry);
    }

    function sload(Journ calldata j, bytes calldata leafProof, address a, uint256 slot)
        external
        pure
        returns (uint256 value, uint256 gas, bytes32 newRoot)
    {
        return WorldState.sload(j.root, j.count, _leaf(leafProof), a, slot);
    }

    function sstore(Journ calldata j, bytes calldata leafProof, address a, uint256 slot, uint256 newValue,
        uint256 gasLeft)
        external
        pure
        returns (bool ok, uint256 gas, int256 refund, bytes32 newRoot)
    {
        return WorldState.sstore(j.root, j.count, _leaf(leafProof), a, slot, newValue, gasLeft);
    }

    struct Roots {
        bytes32 world;
        bytes32 journal;
        uint256 count;
    }

    function commitStep(Roots calldata r, WorldState.CommitCursor memory c, bytes calldata leafProof,
        bytes[] calldata proof, bytes calldata sibling)
        external
        view
        returns (bytes32 newWorldRoot, WorldState.CommitCursor memory next, uint256 gasUsed)
    {
        uint256 start = gasleft();
        Journal.LeafProof memory leaf = _leaf(leafProof);
        (newWorldRoot, next) = WorldState.commitStep(r.world, r.journal, r.count, c, leaf, proof, sibling);
        gasUsed = start - gasleft();
    }

    function pendingHash(WorldState.CommitCursor memory c) external pure returns (bytes32) {
        return WorldState.pendingHash(c);
    }

    function _leaf(bytes calldata leafProof) private pure returns (Journal.LeafProof memory leaf) {
        uint256 end;
        (leaf, end) = Journal.decodeLeafProof(leafProof, 0);
        if (end != leafProof.length) revert Journal.JournalMalformed();
    }
}
