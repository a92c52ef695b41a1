// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Journal
/// @notice The transaction journal of the one-step prover (docs/fraud-proofs.md 1.6, section 8):
///         an indexed Merkle tree of depth 16 holding a sorted linked list of 64-byte keys.
///         Membership and non-membership have the same fixed-size proof (a leaf and 16
///         siblings), an insert is two path updates. The tree root does not commit `count`: the
///         caller takes both from the committed machine state. Python twin:
///         l1/proofs/journal.py.
///
///         Calldata encodings (packed):
///         LeafProof   = u32 index ++ u8 kind ++ key(64) ++ nextKey(64) ++ u32 nextIndex
///                       ++ payload (0 / 197 / 117 bytes by kind) ++ 16 x b32 siblings (leaf level first)
///         InsertProof = LeafProof of the low leaf ++ 16 x b32 siblings of index `count`, taken in
///                       the tree where the low leaf already points at the new key
library Journal {
    uint256 internal constant DEPTH = 16;
    uint256 internal constant CAPACITY = 1 << DEPTH;
    uint8 internal constant KIND_SENTINEL = 0;
    uint8 internal constant KIND_ACCOUNT = 1;
    uint8 internal constant KIND_SLOT = 2;
    uint256 internal constant ACCOUNT_PAYLOAD = 197;
    uint256 internal constant SLOT_PAYLOAD = 117;
    uint8 internal constant FLAG_WARM = 1;
    uint8 internal constant FLAG_EXISTED = 2;
    uint8 internal constant FLAG_TOUCHED = 4;
    uint8 internal constant FLAG_CREATED = 8;
    uint8 internal constant FLAG_DESTROYED = 16;

    /// @notice The proof is truncated, has an unknown leaf kind or a payload of the wrong size.
    error JournalMalformed();
    /// @notice The leaf and siblings do not hash to the journal root.
    error JournalRootMismatch();
    /// @notice The proven index is not below the journal's count.
    error JournalIndexOutOfRange();
    /// @notice The proven leaf does not hold the key asked for (or is the sentinel).
    error JournalKeyMismatch();
    /// @notice The proven leaf is not the low leaf of the key (so the key may be present).
    error JournalNotLowLeaf();
    /// @notice Index `count` is not empty under the given siblings.
    error JournalSlotNotEmpty();
    /// @notice 65,536 entries already.
    error JournalFull();

    /// @dev 64-byte keys are (hi, lo) pairs compared as one big-endian number; next (0, 0) = +infinity.
    struct Leaf {
        uint8 kind;
        bytes32 keyHi;
        bytes32 keyLo;
        bytes32 nextHi;
        bytes32 nextLo;
        uint32 nextIndex;
        bytes payload;
    }

    struct LeafProof {
        uint32 index;
        Leaf leaf;
        bytes32[16] siblings;
    }

    /// @dev What an insert needs: the low leaf, and the siblings of index `count` once it is relinked.
    struct InsertProof {
        LeafProof low;
        bytes32[16] newSiblings;
    }

    /// @dev Account payload (197 bytes): addr, flags, u64 origNonce, u256 origBalance,
    ///      b32 origStorageRoot, b32 origCodeHash, u64 nonce, u256 balance, b32 codeHash.
    struct Account {
        address addr;
        uint8 flags;
        uint64 origNonce;
        uint256 origBalance;
        bytes32 origStorageRoot;
        bytes32 origCodeHash;
        uint64 nonce;
        uint256 balance;
        bytes32 codeHash;
    }

    /// @dev Slot payload (117 bytes): addr, u256 slot, u256 original, u256 current, u8 warm.
    struct Slot {
        address addr;
        uint256 slot;
        uint256 original;
        uint256 current;
        bool warm;
    }

    // ---------------------------------------------------------------------------------------
    // keys and hashing

    function accountKey(address a) internal pure returns (bytes32 hi, bytes32 lo) {
        return (keccak256(abi.encodePacked(a)), bytes32(0));
    }

    function slotKey(address a, uint256 slot) internal pure returns (bytes32 hi, bytes32 lo) {
        return (keccak256(abi.encodePacked(a)), keccak256(abi.encode(slot)));
    }

    function less(bytes32 aHi, bytes32 aLo, bytes32 bHi, bytes32 bLo) internal pure returns (bool) {
        return aHi < bHi || (aHi == bHi && aLo < bLo);
    }

    function hashLeaf(Leaf memory leaf) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                bytes1(0x4a), leaf.kind, leaf.keyHi, leaf.keyLo, leaf.nextHi, leaf.nextLo, leaf.nextIndex, leaf.payload
            )
        );
    }

    /// @notice The root of a tree holding `leafHash` at `index` with these siblings.
    function rootFrom(bytes32 leafHash, uint256 index, bytes32[16] memory siblings) internal pure returns (bytes32 node) {
        node = leafHash;
        for (uint256 level = 0; level < DEPTH; level++) {
            bytes32 sibling = siblings[level];
            bool right = (index >> level) & 1 == 1;
            assembly ("memory-safe") {
                switch right
                case 0 {
                    mstore(0x00, node)
                    mstore(0x20, sibling)
                }
                default {
                    mstore(0x00, sibling)
                    mstore(0x20, node)
                }
                node := keccak256(0x00, 0x40)
            }
        }
    }

    /// @notice The journal holding only the sentinel (count 1): `J0`.
    function emptyRoot() internal pure returns (bytes32) {
        bytes32[16] memory zeros;
        bytes32 z = 0;
        for (uint256 level = 0; level < DEPTH; level++) {
            zeros[level] = z;
            z = keccak256(abi.encodePacked(z, z));
        }
        Leaf memory sentinel;
        return rootFrom(hashLeaf(sentinel), 0, zeros);
    }

    // ---------------------------------------------------------------------------------------
    // proofs

    /// @notice Decodes a LeafProof at `off` of `data`; returns it and the offset after it.
    function decodeLeafProof(bytes calldata data, uint256 off) internal pure returns (LeafProof memory p, uint256 next) {
        if (data.length < off + 5) revert JournalMalformed();
        p.index = uint32(bytes4(data[off:off + 4]));
        p.leaf.kind = uint8(data[off + 4]);
        uint256 size = payloadSize(p.leaf.kind);
        uint256 at = off + 5;
        if (data.length < at + 132 + size + 32 * DEPTH) revert JournalMalformed();
        p.leaf.keyHi = bytes32(data[at:at + 32]);
        p.leaf.keyLo = bytes32(data[at + 32:at + 64]);
        p.leaf.nextHi = bytes32(data[at + 64:at + 96]);
        p.leaf.nextLo = bytes32(data[at + 96:at + 128]);
        p.leaf.nextIndex = uint32(bytes4(data[at + 128:at + 132]));
        at += 132;
        p.leaf.payload = data[at:at + size];
        at += size;
        p.siblings = decodeSiblings(data, at);
        next = at + 32 * DEPTH;
    }

    /// @notice Decodes an InsertProof at `off` of `data`; returns it and the offset after it.
    function decodeInsertProof(bytes calldata data, uint256 off)
        internal
        pure
        returns (InsertProof memory p, uint256 next)
    {
        (p.low, next) = decodeLeafProof(data, off);
        p.newSiblings = decodeSiblings(data, next);
        next += 32 * DEPTH;
    }

    function decodeSiblings(bytes calldata data, uint256 off) internal pure returns (bytes32[16] memory s) {
        if (data.length < off + 32 * DEPTH) revert JournalMalformed();
        for (uint256 i = 0; i < DEPTH; i++) {
            s[i] = bytes32(data[off + 32 * i:off + 32 * i + 32]);
        }
    }

    function payloadSize(uint8 kind) internal pure returns (uint256) {
        if (kind == KIND_ACCOUNT) return ACCOUNT_PAYLOAD;
        if (kind == KIND_SLOT) return SLOT_PAYLOAD;
        if (kind == KIND_SENTINEL) return 0;
        revert JournalMalformed();
    }

    function _checkInTree(bytes32 root, uint256 count, LeafProof memory p) private pure {
        if (p.index >= count) revert JournalIndexOutOfRange();
        if (p.leaf.payload.length != payloadSize(p.leaf.kind)) revert JournalMalformed();
        if (rootFrom(hashLeaf(p.leaf), p.index, p.siblings) != root) revert JournalRootMismatch();
    }

    /// @notice Reverts unless `p` proves the entry with key (keyHi, keyLo) in journal (root, count).
    function verifyMember(bytes32 root, uint256 count, LeafProof memory p, bytes32 keyHi, bytes32 keyLo)
        internal
        pure
    {
        if (p.leaf.kind == KIND_SENTINEL || p.leaf.keyHi != keyHi || p.leaf.keyLo != keyLo) {
            revert JournalKeyMismatch();
        }
        _checkInTree(root, count, p);
    }

    /// @notice Reverts unless `p` is the leaf at `p.index` of journal (root, count), of any kind
    ///         (the COMMIT walk visits leaves by index).
    function verifyAt(bytes32 root, uint256 count, LeafProof memory p) internal pure {
        _checkInTree(root, count, p);
    }

    /// @notice Reverts unless `low` is the low leaf of (keyHi, keyLo): key absent from the journal.
    function verifyAbsent(bytes32 root, uint256 count, LeafProof memory low, bytes32 keyHi, bytes32 keyLo)
        internal
        pure
    {
        Leaf memory l = low.leaf;
        if (!less(l.keyHi, l.keyLo, keyHi, keyLo)) revert JournalNotLowLeaf();
        if ((l.nextHi != 0 || l.nextLo != 0) && !less(keyHi, keyLo, l.nextHi, l.nextLo)) revert JournalNotLowLeaf();
        _checkInTree(root, count, low);
    }

    /// @notice Inserts a new entry (LOAD): checks absence against the low leaf, relinks it (first
    ///         path update), checks index `count` is empty in that tree and writes the new leaf
    ///         there (second path update). `entry` gives kind, key and payload; its next fields are
    ///         set here from the low leaf. Returns the new root and count; `low` and `entry` are
    ///         left as they are in the new tree (relinked, linked).
    function insert(
        bytes32 root,
        uint256 count,
        LeafProof memory low,
        bytes32[16] memory newSiblings,
        Leaf memory entry
    ) internal pure returns (bytes32 newRoot, uint256 newCount) {
        if (entry.kind == KIND_SENTINEL || entry.payload.length != payloadSize(entry.kind)) revert JournalMalformed();
        verifyAbsent(root, count, low, entry.keyHi, entry.keyLo);
        if (count >= CAPACITY) revert JournalFull();
        (entry.nextHi, entry.nextLo, entry.nextIndex) = (low.leaf.nextHi, low.leaf.nextLo, low.leaf.nextIndex);
        (low.leaf.nextHi, low.leaf.nextLo, low.leaf.nextIndex) = (entry.keyHi, entry.keyLo, uint32(count));
        bytes32 middle = rootFrom(hashLeaf(low.leaf), low.index, low.siblings);
        if (rootFrom(bytes32(0), count, newSiblings) != middle) revert JournalSlotNotEmpty();
        newRoot = rootFrom(hashLeaf(entry), count, newSiblings);
        newCount = count + 1;
    }

    /// @notice Replaces the payload of the proven entry (which the caller has matched to its key):
    ///         the new root; `p.leaf.payload` becomes `payload`.
    function update(bytes32 root, uint256 count, LeafProof memory p, bytes memory payload)
        internal
        pure
        returns (bytes32)
    {
        if (p.leaf.kind == KIND_SENTINEL) revert JournalKeyMismatch();
        _checkInTree(root, count, p);
        if (payload.length != payloadSize(p.leaf.kind)) revert JournalMalformed();
        p.leaf.payload = payload;
        return rootFrom(hashLeaf(p.leaf), p.index, p.siblings);
    }

    // ---------------------------------------------------------------------------------------
    // payloads

    function encodeAccount(Account memory a) internal pure returns (bytes memory) {
        return abi.encodePacked(
            a.addr, a.flags, a.origNonce, a.origBalance, a.origStorageRoot, a.origCodeHash, a.nonce, a.balance, a.codeHash
        );
    }

    function decodeAccount(bytes memory p) internal pure returns (Account memory a) {
        if (p.length != ACCOUNT_PAYLOAD) revert JournalMalformed();
        bytes32 w0;
        bytes32 w1;
        bytes32 w2;
        bytes32 w3;
        bytes32 w4;
        bytes32 w5;
        bytes32 w6;
        assembly ("memory-safe") {
            let d := add(p, 32)
            w0 := mload(d) // addr(20) flags(1) origNonce(8) + 3 bytes of origBalance
            w1 := mload(add(d, 29)) // origBalance
            w2 := mload(add(d, 61)) // origStorageRoot
            w3 := mload(add(d, 93)) // origCodeHash
            w4 := mload(add(d, 125)) // nonce(8) ...
            w5 := mload(add(d, 133)) // balance
            w6 := mload(add(d, 165)) // codeHash
        }
        a.addr = address(bytes20(w0));
        a.flags = uint8(uint256(w0) >> 88);
        a.origNonce = uint64(uint256(w0) >> 24);
        a.origBalance = uint256(w1);
        a.origStorageRoot = w2;
        a.origCodeHash = w3;
        a.nonce = uint64(uint256(w4) >> 192);
        a.balance = uint256(w5);
        a.codeHash = w6;
    }

    function encodeSlot(Slot memory s) internal pure returns (bytes memory) {
        return abi.encodePacked(s.addr, s.slot, s.original, s.current, s.warm ? uint8(1) : uint8(0));
    }

    function decodeSlot(bytes memory p) internal pure returns (Slot memory s) {
        if (p.length != SLOT_PAYLOAD) revert JournalMalformed();
        bytes32 w0;
        bytes32 w1;
        bytes32 w2;
        bytes32 w3;
        bytes32 w4;
        assembly ("memory-safe") {
            let d := add(p, 32)
            w0 := mload(d)
            w1 := mload(add(d, 20))
            w2 := mload(add(d, 52))
            w3 := mload(add(d, 84))
            w4 := mload(add(d, 116))
        }
        s.addr = address(bytes20(w0));
        s.slot = uint256(w1);
        s.original = uint256(w2);
        s.current = uint256(w3);
        s.warm = uint8(bytes1(w4)) != 0;
    }
}
