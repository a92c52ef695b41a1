// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Journal} from "l1/contracts/osp/Journal.sol";

/// @notice Test-only: exposes the Journal library (l1/contracts/osp/Journal.sol) over calldata
///         proofs, with the gas each operation took (tests/unit/test_fraud_journal.py).
contract JournalHarness {
    function emptyRoot() external pure returns (bytes32) {
        return Journal.emptyRoot();
    }

    function verifyMember(bytes32 root, uint256 count, bytes calldata proof, bytes32 hi, bytes32 lo)
        external
        view
        returns (uint256 gasUsed)
    {
        uint256 start = gasleft();
        (Journal.LeafProof memory p, uint256 end) = Journal.decodeLeafProof(proof, 0);
        if (end != proof.length) revert Journal.JournalMalformed();
        Journal.verifyMember(root, count, p, hi, lo);
        return start - gasleft();
    }

    function verifyAbsent(bytes32 root, uint256 count, bytes calldata proof, bytes32 hi, bytes32 lo)
        external
        view
        returns (uint256 gasUsed)
    {
        uint256 start = gasleft();
        (Journal.LeafProof memory p, uint256 end) = Journal.decodeLeafProof(proof, 0);
        if (end != proof.length) revert Journal.JournalMalformed();
        Journal.verifyAbsent(root, count, p, hi, lo);
        return start - gasleft();
    }

    /// @param entry u8 kind ++ key(64) ++ payload of the new entry
    function insert(bytes32 root, uint256 count, bytes calldata proof, bytes calldata entry)
        external
        view
        returns (bytes32 newRoot, uint256 newCount, uint256 gasUsed)
    {
        uint256 start = gasleft();
        (Journal.LeafProof memory low, uint256 at) = Journal.decodeLeafProof(proof, 0);
        bytes32[16] memory siblings = Journal.decodeSiblings(proof, at);
        if (at + 32 * 16 != proof.length) revert Journal.JournalMalformed();
        Journal.Leaf memory leaf;
        leaf.kind = uint8(entry[0]);
        leaf.keyHi = bytes32(entry[1:33]);
        leaf.keyLo = bytes32(entry[33:65]);
        leaf.payload = entry[65:];
        (newRoot, newCount) = Journal.insert(root, count, low, siblings, leaf);
        gasUsed = start - gasleft();
    }

    function update(bytes32 root, uint256 count, bytes calldata proof, bytes calldata payload)
        external
        view
        returns (bytes32 newRoot, uint256 gasUsed)
    {
        uint256 start = gasleft();
        (Journal.LeafProof memory p, uint256 end) = Journal.decodeLeafProof(proof, 0);
        if (end != proof.length) revert Journal.JournalMalformed();
        newRoot = Journal.update(root, count, p, payload);
        gasUsed = start - gasleft();
    }

    function accountRoundTrip(bytes calldata payload) external pure returns (Journal.Account memory a, bytes memory again) {
        a = Journal.decodeAccount(payload);
        again = Journal.encodeAccount(a);
    }

    function slotRoundTrip(bytes calldata payload) external pure returns (Journal.Slot memory s, bytes memory again) {
        s = Journal.decodeSlot(payload);
        again = Journal.encodeSlot(s);
    }

    function keys(address a, uint256 slot) external pure returns (bytes32, bytes32, bytes32, bytes32) {
        (bytes32 ah, bytes32 al) = Journal.accountKey(a);
        (bytes32 sh, bytes32 sl) = Journal.slotKey(a, slot);
        return (ah, al, sh, sl);
    }
}
