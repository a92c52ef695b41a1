// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Journal} from "./Journal.sol";
import {MptUpdate} from "./MptUpdate.sol";
import {StorageGas} from "./StorageGas.sol";

/// @title WorldState
/// @notice The world-state halves of the one-step prover's LOAD and COMMIT steps
///         (docs/fraud-proofs.md 2.4, 2.5, section 8) as functions over decoded inputs: a first
///         touch reads the pre-tx trie and inserts a journal entry; the commit walk folds the
///         journal back into the tries, one journal leaf (at most one MPT write) per step. The
///         caller (the step dispatcher) owns the machine state and the proof decoding around
///         them. Python twin: l1/proofs/world_state.py.
library WorldState {
    bytes32 internal constant EMPTY_CODE_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;

    uint8 internal constant STAGE_START = 0;
    uint8 internal constant STAGE_WALK = 1;
    uint8 internal constant STAGE_DONE = 2;

    uint8 internal constant WRITE_NONE = 0;
    uint8 internal constant WRITE_UPDATE = 1;
    uint8 internal constant WRITE_DELETE = 2;

    /// @notice The proven journal leaf is not the one the commit walk is at (index or kind).
    error CommitWrongLeaf();
    /// @notice COMMIT after the walk ended.
    error CommitDone();
    /// @notice An MPT proof or sibling was given to a step that writes nothing.
    error CommitUnusedProof();

    /// @dev The COMMIT walk's cursor (the `Pending` of op COMMIT): `leafIndex` the next journal
    ///      leaf to visit (0 = past the last), `accountIndex` the leaf of the account whose slots
    ///      are being folded, `storageRoot` its storage root so far, `close` = the next step writes
    ///      that account into the world trie (the next leaf is another account, or the end).
    struct CommitCursor {
        uint8 stage;
        uint32 leafIndex;
        uint32 accountIndex;
        bytes32 storageRoot;
        bool close;
    }

    // ---------------------------------------------------------------------------------------
    // LOAD (2.4)

    /// @notice LOAD_ACCOUNT: `a` as the pre-tx trie `worldRoot` holds it (absent: empty,
    ///         `existed` clear), inserted cold with orig* = current.
    function loadAccount(
        bytes32 worldRoot,
        bytes32 journalRoot,
        uint256 journalCount,
        address a,
        bytes[] calldata accountProof,
        Journal.InsertProof memory ins
    ) internal pure returns (bytes32 newRoot, uint256 newCount, Journal.Account memory entry) {
        (bool found, bytes memory value) =
            MptUpdate.read(worldRoot, abi.encodePacked(keccak256(abi.encodePacked(a))), accountProof);
        entry.addr = a;
        if (found) {
            uint256 nonce;
            uint256 balance;
            (nonce, balance, entry.origStorageRoot, entry.origCodeHash) = MptUpdate.decodeAccount(value);
            if (nonce > type(uint64).max) revert MptUpdate.MptMalformed(); // EIP-2681
            entry.origNonce = uint64(nonce);
            entry.origBalance = balance;
            entry.flags = Journal.FLAG_EXISTED;
        } else {
            entry.origStorageRoot = MptUpdate.EMPTY_ROOT;
            entry.origCodeHash = EMPTY_CODE_HASH;
        }
        (entry.nonce, entry.balance, entry.codeHash) = (entry.origNonce, entry.origBalance, entry.origCodeHash);
        Journal.Leaf memory leaf;
        leaf.kind = Journal.KIND_ACCOUNT;
        (leaf.keyHi, leaf.keyLo) = Journal.accountKey(a);
        leaf.payload = Journal.encodeAccount(entry);
        (newRoot, newCount) = Journal.insert(journalRoot, journalCount, ins.low, ins.newSiblings, leaf);
    }

    /// @notice LOAD_SLOT: slot `slot` of the account proven in the journal by `accountLeaf` (the
    ///         caller checks `entry.addr` is the account it wants) as its pre-tx storage trie
    ///         `origStorageRoot` holds it, inserted cold with original = current.
    function loadSlot(
        bytes32 journalRoot,
        uint256 journalCount,
        Journal.LeafProof memory accountLeaf,
        uint256 slot,
        bytes[] calldata storageProof,
        Journal.InsertProof memory ins
    ) internal pure returns (bytes32 newRoot, uint256 newCount, Journal.Slot memory entry) {
        Journal.Account memory account = Journal.decodeAccount(accountLeaf.leaf.payload);
        {
            (bytes32 hi, bytes32 lo) = Journal.accountKey(account.addr);
            Journal.verifyMember(journalRoot, journalCount, accountLeaf, hi, lo);
        }
        (bool found, bytes memory value) =
            MptUpdate.read(account.origStorageRoot, abi.encodePacked(keccak256(abi.encode(slot))), storageProof);
        entry.addr = account.addr;
        entry.slot = slot;
        entry.original = found ? MptUpdate.decodeUint(value) : 0;
        entry.current = entry.original;
        Journal.Leaf memory leaf;
        leaf.kind = Journal.KIND_SLOT;
        (leaf.keyHi, leaf.keyLo) = Journal.slotKey(entry.addr, slot);
        leaf.payload = Journal.encodeSlot(entry);
        (newRoot, newCount) = Journal.insert(journalRoot, journalCount, ins.low, ins.newSiblings, leaf);
    }

    // ---------------------------------------------------------------------------------------
    // SLOAD / SSTORE on a loaded slot (2.3)

    /// @notice SLOAD of `slot` of `a`, whose entry `leaf` is in the journal: its current value, the
    ///         gas (EIP-2929 cold / warm) and the journal root with the slot warm.
    function sload(bytes32 journalRoot, uint256 journalCount, Journal.LeafProof memory leaf, address a, uint256 slot)
        internal
        pure
        returns (uint256 value, uint256 gas, bytes32 newRoot)
    {
        Journal.Slot memory s = _slotEntry(journalRoot, journalCount, leaf, a, slot);
        gas = StorageGas.sload(s.warm);
        value = s.current;
        newRoot = journalRoot;
        if (!s.warm) {
            s.warm = true;
            newRoot = Journal.update(journalRoot, journalCount, leaf, Journal.encodeSlot(s));
        }
    }

    /// @notice SSTORE of `newValue` into `slot` of `a` with `gasLeft` in the frame: `ok` false means
    ///         out of gas (exceptional halt, root unchanged); else the gas, the refund delta and the
    ///         journal root with `current = newValue` and the slot warm.
    function sstore(
        bytes32 journalRoot,
        uint256 journalCount,
        Journal.LeafProof memory leaf,
        address a,
        uint256 slot,
        uint256 newValue,
        uint256 gasLeft
    ) internal pure returns (bool ok, uint256 gas, int256 refund, bytes32 newRoot) {
        Journal.Slot memory s = _slotEntry(journalRoot, journalCount, leaf, a, slot);
        (ok, gas, refund) = StorageGas.sstore(s.original, s.current, newValue, s.warm, gasLeft);
        if (!ok) return (false, gas, 0, journalRoot);
        (s.current, s.warm) = (newValue, true);
        newRoot = Journal.update(journalRoot, journalCount, leaf, Journal.encodeSlot(s));
    }

    function _slotEntry(bytes32 journalRoot, uint256 journalCount, Journal.LeafProof memory leaf, address a, uint256 slot)
        private
        pure
        returns (Journal.Slot memory)
    {
        (bytes32 hi, bytes32 lo) = Journal.slotKey(a, slot);
        Journal.verifyMember(journalRoot, journalCount, leaf, hi, lo);
        return Journal.decodeSlot(leaf.leaf.payload);
    }

    // ---------------------------------------------------------------------------------------
    // COMMIT (2.5)

    /// @notice What the commit does with an account whose storage root is now `storageRoot`:
    ///         delete when touched and empty (EIP-161), update when anything changed, else nothing.
    function accountWrite(Journal.Account memory a, bytes32 storageRoot) internal pure returns (uint8) {
        bool empty = a.nonce == 0 && a.balance == 0 && a.codeHash == EMPTY_CODE_HASH;
        if (a.flags & Journal.FLAG_TOUCHED != 0 && empty) {
            return a.flags & Journal.FLAG_EXISTED != 0 ? WRITE_DELETE : WRITE_NONE;
        }
        if (a.nonce != a.origNonce || a.balance != a.origBalance || a.codeHash != a.origCodeHash
                || storageRoot != a.origStorageRoot) {
            return WRITE_UPDATE;
        }
        return WRITE_NONE;
    }

    /// @notice What the commit does with a slot: nothing when unchanged, delete when now 0.
    function slotWrite(Journal.Slot memory s) internal pure returns (uint8) {
        if (s.current == s.original) return WRITE_NONE;
        return s.current == 0 ? WRITE_DELETE : WRITE_UPDATE;
    }

    /// @notice `MachineState.pending` during COMMIT (1.8, op 4): `H(0x50 ++ u8 4 ++ u8 stage ++ u32
    ///         leafIndex ++ u32 accountIndex ++ b32 storageRoot ++ u8 close)`, the one layout of
    ///         commitments.PendingCommit.
    function pendingHash(CommitCursor memory c) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(bytes2(0x5004), c.stage, c.leafIndex, c.accountIndex, c.storageRoot, c.close)
        );
    }

    /// @notice The first cursor of a COMMIT walk (set by TX_END).
    function startCursor() internal pure returns (CommitCursor memory c) {
        c.stage = STAGE_START;
    }

    /// @notice One COMMIT step: `leaf` is the journal leaf this step is about (the account at
    ///         `accountIndex` when closing, else the leaf at `leafIndex`, the sentinel at the
    ///         start); `proof`/`sibling` the MPT write's proof when the step writes, else empty.
    function commitStep(
        bytes32 worldRoot,
        bytes32 journalRoot,
        uint256 journalCount,
        CommitCursor memory c,
        Journal.LeafProof memory leaf,
        bytes[] calldata proof,
        bytes calldata sibling
    ) internal pure returns (bytes32, CommitCursor memory) {
        if (c.stage == STAGE_DONE) revert CommitDone();
        uint256 want = c.close ? c.accountIndex : (c.stage == STAGE_START ? 0 : c.leafIndex);
        if (leaf.index != want) revert CommitWrongLeaf();
        Journal.verifyAt(journalRoot, journalCount, leaf);
        if (c.close) return (_close(worldRoot, c, leaf.leaf, proof, sibling), c);
        _visit(c, leaf, proof, sibling);
        return (worldRoot, c);
    }

    /// @dev Writes the open account (leaf `leaf`, storage root `c.storageRoot`) into the world trie.
    function _close(
        bytes32 worldRoot,
        CommitCursor memory c,
        Journal.Leaf memory leaf,
        bytes[] calldata proof,
        bytes calldata sibling
    ) private pure returns (bytes32) {
        if (leaf.kind != Journal.KIND_ACCOUNT) revert CommitWrongLeaf();
        Journal.Account memory a = Journal.decodeAccount(leaf.payload);
        bytes memory value = MptUpdate.encodeAccount(a.nonce, a.balance, c.storageRoot, a.codeHash);
        uint8 action = accountWrite(a, c.storageRoot);
        c.close = false;
        if (c.leafIndex == 0) c.stage = STAGE_DONE;
        return _write(worldRoot, abi.encodePacked(keccak256(abi.encodePacked(a.addr))), action, value, proof, sibling);
    }

    /// @dev Visits the leaf at the cursor: the sentinel, an account (opens it) or a slot (writes it
    ///      into the open account's storage trie).
    function _visit(
        CommitCursor memory c,
        Journal.LeafProof memory leaf,
        bytes[] calldata proof,
        bytes calldata sibling
    ) private pure {
        uint8 kind = leaf.leaf.kind;
        if (c.stage == STAGE_START) {
            if (kind != Journal.KIND_SENTINEL) revert CommitWrongLeaf();
            _noProof(proof, sibling);
            c.stage = _isEnd(leaf.leaf) ? STAGE_DONE : STAGE_WALK;
        } else if (kind == Journal.KIND_ACCOUNT) {
            _noProof(proof, sibling);
            c.accountIndex = leaf.index;
            c.storageRoot = Journal.decodeAccount(leaf.leaf.payload).origStorageRoot;
        } else if (kind == Journal.KIND_SLOT) {
            // a slot's account precedes it in key order (H(a) ++ 0 < H(a) ++ H(s)) and a slot is
            // only ever loaded after its account, so the open account is this slot's
            Journal.Slot memory s = Journal.decodeSlot(leaf.leaf.payload);
            bytes memory value = MptUpdate.encodeUint(s.current);
            c.storageRoot = _write(
                c.storageRoot, abi.encodePacked(keccak256(abi.encode(s.slot))), slotWrite(s), value, proof, sibling
            );
        } else {
            revert CommitWrongLeaf();
        }
        c.leafIndex = leaf.leaf.nextIndex;
        // the next leaf is an account (lower key half 0) or there is none: close the open account
        c.close = kind != Journal.KIND_SENTINEL && leaf.leaf.nextLo == 0;
    }

    function _isEnd(Journal.Leaf memory leaf) private pure returns (bool) {
        return leaf.nextHi == 0 && leaf.nextLo == 0;
    }

    function _write(
        bytes32 root,
        bytes memory key,
        uint8 action,
        bytes memory value,
        bytes[] calldata proof,
        bytes calldata sibling
    ) private pure returns (bytes32) {
        if (action == WRITE_UPDATE) {
            if (sibling.length != 0) revert CommitUnusedProof();
            return MptUpdate.update(root, key, value, proof);
        }
        if (action == WRITE_DELETE) return MptUpdate.remove(root, key, proof, sibling);
        _noProof(proof, sibling);
        return root;
    }

    function _noProof(bytes[] calldata proof, bytes calldata sibling) private pure {
        if (proof.length != 0 || sibling.length != 0) revert CommitUnusedProof();
    }
}
