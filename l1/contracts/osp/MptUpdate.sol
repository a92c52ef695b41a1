// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MptUpdate
/// @notice Read, update and delete one key of an Ethereum Merkle-Patricia trie from a proof, giving
///         the new root (docs/fraud-proofs.md 2.4, 2.5, section 8): what COMMIT needs to fold the
///         journal into the account trie and the storage tries, and LOAD to read an account or
///         slot that may be absent. Python twin (proofs and expected roots):
///         l1/proofs/mpt.py.
///
///         Inputs:
///         - `key`: the trie path as bytes (for the secure tries: keccak256(address) or
///           keccak256(slot), 32 bytes). Every key of one trie has the same length, so branch
///           nodes never hold a value; one that does is refused (`MptUnsupported`).
///         - `value`: the bytes stored under the key (account: rlp([nonce, balance, storageRoot,
///           codeHash]); storage: rlp(uint), see `encodeUint`); never empty (use `remove`).
///         - `proof`: the nodes on the key's path from the root, hashed nodes only (an inline node,
///           < 32 bytes, is read inside its parent), exactly eth_getProof's list; for an absent
///           key, the path down to where it diverges (empty trie: no nodes). Extra nodes are refused.
///         - `sibling` (remove only): when the deletion leaves the key's parent branch with a single
///           child and that child is hashed, the child's node RLP (to merge it into a leaf or
///           extension); empty otherwise.
///         Nodes are decoded into memory; the new nodes are re-encoded canonically, inline when
///         their RLP is shorter than 32 bytes, the root always hashed.
library MptUpdate {
    bytes32 internal constant EMPTY_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    uint8 private constant EMPTY = 0;
    uint8 private constant LEAF = 1;
    uint8 private constant EXTENSION = 2;
    uint8 private constant BRANCH = 3;

    /// @notice A node is not valid RLP / not a trie node, or the proof has extra or missing parts.
    error MptMalformed();
    /// @notice Proof node `index` (or the sibling, index = type(uint256).max) does not hash to
    ///         what its parent or the root says.
    error MptNodeMismatch(uint256 index);
    /// @notice A branch node with a value, or a key ending inside the trie: not a fixed-length-key trie.
    error MptUnsupported();

    /// @dev A decoded node. `path` holds one nibble per byte. Leaf: `value` is the stored bytes;
    ///      extension: `value` is the child reference. References are raw RLP items: 0xa0 ++ hash,
    ///      an inline node's list encoding, or empty bytes for "no child".
    struct Node {
        uint8 kind;
        bytes path;
        bytes value;
        bytes[16] refs;
    }

    /// @dev The nodes on the key's path: stack[i] starts at key nibble starts[i].
    struct Path {
        Node[] stack;
        uint256[] starts;
        uint256 length;
        uint256 consumed;
    }

    // ---------------------------------------------------------------------------------------
    // public API

    /// @notice The value under `key`, or found = false when the proof shows the key is absent.
    function read(bytes32 root, bytes memory key, bytes[] calldata proof)
        internal
        pure
        returns (bool found, bytes memory value)
    {
        bytes memory nibbles = _nibbles(key);
        Path memory p = _walk(root, nibbles, proof);
        if (p.length == 0) return (false, "");
        Node memory last = p.stack[p.length - 1];
        if (last.kind == LEAF && _equal(last.path, nibbles, p.starts[p.length - 1])) return (true, last.value);
        return (false, "");
    }

    /// @notice The root after setting `key` to `value` (insert or replace).
    function update(bytes32 root, bytes memory key, bytes memory value, bytes[] calldata proof)
        internal
        pure
        returns (bytes32)
    {
        if (value.length == 0) revert MptMalformed();
        bytes memory nibbles = _nibbles(key);
        Path memory p = _walk(root, nibbles, proof);
        Node memory node;
        if (p.length == 0) {
            node = _leaf(_sub(nibbles, 0, nibbles.length), value);
            return _rootOf(node);
        }
        uint256 n = p.length - 1;
        Node memory last = p.stack[n];
        uint256 start = p.starts[n];
        if (last.kind == LEAF) {
            if (_equal(last.path, nibbles, start)) {
                last.value = value;
                node = last;
            } else {
                node = _split(last, nibbles, start, value);
            }
        } else if (last.kind == EXTENSION) {
            node = _split(last, nibbles, start, value); // the walk stopped: its path diverges
        } else {
            if (p.consumed >= nibbles.length) revert MptUnsupported();
            uint256 slot = uint8(nibbles[p.consumed]);
            last.refs[slot] = _ref(_leaf(_sub(nibbles, p.consumed + 1, nibbles.length), value));
            node = last;
        }
        for (uint256 i = n; i > 0; i--) {
            Node memory parent = p.stack[i - 1];
            if (parent.kind == EXTENSION) {
                parent.value = _ref(node);
            } else {
                parent.refs[uint8(nibbles[p.starts[i - 1]])] = _ref(node);
            }
            node = parent;
        }
        return _rootOf(node);
    }

    /// @notice The root after deleting `key`; the same root when the proof shows it absent.
    function remove(bytes32 root, bytes memory key, bytes[] calldata proof, bytes calldata sibling)
        internal
        pure
        returns (bytes32)
    {
        bytes memory nibbles = _nibbles(key);
        Path memory p = _walk(root, nibbles, proof);
        if (p.length == 0) {
            if (sibling.length != 0) revert MptMalformed();
            return root;
        }
        uint256 n = p.length - 1;
        Node memory last = p.stack[n];
        if (last.kind != LEAF || !_equal(last.path, nibbles, p.starts[n])) {
            if (sibling.length != 0) revert MptMalformed();
            return root; // absent
        }
        Node memory node; // EMPTY
        bool siblingUsed;
        for (uint256 i = n; i > 0; i--) {
            bool used;
            (node, used) = _removeUp(node, p.stack[i - 1], uint8(nibbles[p.starts[i - 1]]), sibling);
            siblingUsed = siblingUsed || used;
        }
        if (!siblingUsed && sibling.length != 0) revert MptMalformed();
        if (node.kind == EMPTY) return EMPTY_ROOT;
        return _rootOf(node);
    }

    /// @dev One level up after a deletion: `node` is the new child (EMPTY when the deleted leaf
    ///      hung here) of `parent`, which reached it through branch `slot` (unused for an extension).
    function _removeUp(Node memory node, Node memory parent, uint256 slot, bytes calldata sibling)
        private
        pure
        returns (Node memory, bool siblingUsed)
    {
        if (parent.kind == BRANCH) {
            if (node.kind != EMPTY) {
                parent.refs[slot] = _ref(node);
                return (parent, false);
            }
            parent.refs[slot] = "";
            (uint256 children, uint256 only) = _children(parent);
            if (children >= 2) return (parent, false);
            if (children == 0) revert MptMalformed(); // a branch always has two children
            return (_collapse(only, parent.refs[only], sibling), true);
        }
        // extension: its child was a branch, now a branch, leaf or extension
        if (node.kind == LEAF || node.kind == EXTENSION) {
            node.path = bytes.concat(parent.path, node.path);
            return (node, false);
        }
        if (node.kind != BRANCH) revert MptMalformed();
        parent.value = _ref(node);
        return (parent, false);
    }

    /// @notice rlp(value) as a storage trie stores a slot value (big-endian, no leading zeros).
    function encodeUint(uint256 value) internal pure returns (bytes memory) {
        return _rlpString(_minimal(value));
    }

    /// @notice rlp([nonce, balance, storageRoot, codeHash]) as the account trie stores an account.
    function encodeAccount(uint256 nonce, uint256 balance, bytes32 storageRoot, bytes32 codeHash)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory payload = bytes.concat(
            encodeUint(nonce),
            encodeUint(balance),
            _rlpString(abi.encodePacked(storageRoot)),
            _rlpString(abi.encodePacked(codeHash))
        );
        return bytes.concat(_lengthPrefix(payload.length, 0xc0), payload);
    }

    /// @notice The uint a storage trie stores as rlp(value) (canonical: no leading zero, <= 32 bytes).
    function decodeUint(bytes memory value) internal pure returns (uint256 v) {
        (uint256 start, uint256 len, bool isList) = _item(value, 0);
        if (isList || start + len != value.length) revert MptMalformed();
        v = _uintAt(value, start, len);
    }

    /// @notice The fields of rlp([nonce, balance, storageRoot, codeHash]).
    function decodeAccount(bytes memory value)
        internal
        pure
        returns (uint256 nonce, uint256 balance, bytes32 storageRoot, bytes32 codeHash)
    {
        (uint256 at, uint256 len, bool isList) = _item(value, 0);
        if (!isList || at + len != value.length) revert MptMalformed();
        uint256[4] memory starts;
        uint256[4] memory lens;
        for (uint256 i = 0; i < 4; i++) {
            bool list;
            (starts[i], lens[i], list) = _item(value, at);
            if (list) revert MptMalformed();
            at = starts[i] + lens[i];
        }
        if (at != value.length || lens[2] != 32 || lens[3] != 32) revert MptMalformed();
        nonce = _uintAt(value, starts[0], lens[0]);
        balance = _uintAt(value, starts[1], lens[1]);
        storageRoot = bytes32(_word(value, starts[2]));
        codeHash = bytes32(_word(value, starts[3]));
    }

    function _uintAt(bytes memory data, uint256 start, uint256 len) private pure returns (uint256 v) {
        if (len > 32 || (len > 0 && uint8(data[start]) == 0)) revert MptMalformed();
        if (len == 0) return 0;
        v = _word(data, start) >> (8 * (32 - len));
    }

    // ---------------------------------------------------------------------------------------
    // walk

    /// @dev Follows `nibbles` from the root through the proof until a leaf, a divergence or an
    ///      empty branch slot; every proof node must be used.
    function _walk(bytes32 root, bytes memory nibbles, bytes[] calldata proof) private pure returns (Path memory p) {
        p.stack = _nodeArray(nibbles.length + 1);
        p.starts = new uint256[](nibbles.length + 1);
        if (root == EMPTY_ROOT) {
            if (proof.length != 0) revert MptMalformed();
            return p;
        }
        uint256 index = 0;
        bytes memory enc = _hashed(proof, 0, root);
        while (true) {
            Node memory node = _decode(enc);
            p.stack[p.length] = node;
            p.starts[p.length] = p.consumed;
            p.length += 1;
            bytes memory child;
            if (node.kind == LEAF) {
                break;
            } else if (node.kind == EXTENSION) {
                if (!_isPrefix(node.path, nibbles, p.consumed)) break;
                p.consumed += node.path.length;
                child = node.value;
            } else {
                if (p.consumed >= nibbles.length) revert MptUnsupported();
                child = node.refs[uint8(nibbles[p.consumed])];
                if (child.length == 0) break;
                p.consumed += 1;
            }
            if (child.length == 33 && uint8(child[0]) == 0xa0) {
                index += 1;
                enc = _hashed(proof, index, bytes32(_word(child, 1)));
            } else if (child.length < 32 && child.length > 0 && uint8(child[0]) >= 0xc0) {
                enc = child; // inline node
            } else {
                revert MptMalformed();
            }
        }
        if (index + 1 != proof.length) revert MptMalformed();
    }

    /// @dev An array of `n` node pointers left unset (not `n` zeroed structs): only the first
    ///      `Path.length` are ever read, each written before.
    function _nodeArray(uint256 n) private pure returns (Node[] memory arr) {
        assembly ("memory-safe") {
            arr := mload(0x40)
            mstore(arr, n)
            mstore(0x40, add(arr, mul(add(n, 1), 32)))
        }
    }

    function _hashed(bytes[] calldata proof, uint256 index, bytes32 expected) private pure returns (bytes memory enc) {
        if (index >= proof.length) revert MptNodeMismatch(index);
        enc = proof[index];
        if (keccak256(enc) != expected) revert MptNodeMismatch(index);
    }

    // ---------------------------------------------------------------------------------------
    // node surgery

    /// @dev A leaf or extension `node` starting at nibble `start` whose path diverges from the key:
    ///      a branch holding both, under an extension of the common prefix when there is one.
    function _split(Node memory node, bytes memory nibbles, uint256 start, bytes memory value)
        private
        pure
        returns (Node memory)
    {
        uint256 common = 0;
        while (common < node.path.length && start + common < nibbles.length
                && node.path[common] == nibbles[start + common]) {
            common++;
        }
        if (common >= node.path.length || start + common >= nibbles.length) revert MptUnsupported();
        Node memory branch;
        branch.kind = BRANCH;
        uint256 old = uint8(node.path[common]);
        if (node.kind == EXTENSION && common + 1 == node.path.length) {
            branch.refs[old] = node.value; // the extension's child hangs from the branch directly
        } else {
            node.path = _sub(node.path, common + 1, node.path.length);
            branch.refs[old] = _ref(node);
        }
        uint256 slot = uint8(nibbles[start + common]);
        branch.refs[slot] = _ref(_leaf(_sub(nibbles, start + common + 1, nibbles.length), value));
        if (common == 0) return branch;
        Node memory ext;
        ext.kind = EXTENSION;
        ext.path = _sub(nibbles, start, start + common);
        ext.value = _ref(branch);
        return ext;
    }

    /// @dev A branch left with one child `ref` at `slot` becomes a short node: the child's path
    ///      gets the slot nibble in front (leaf, extension), or an extension of one nibble points
    ///      at it (branch). A hashed child is given as `sibling`.
    function _collapse(uint256 slot, bytes memory ref, bytes calldata sibling) private pure returns (Node memory node) {
        bytes memory enc;
        if (ref.length == 33 && uint8(ref[0]) == 0xa0) {
            enc = sibling;
            if (keccak256(enc) != bytes32(_word(ref, 1))) revert MptNodeMismatch(type(uint256).max);
        } else {
            if (sibling.length != 0) revert MptMalformed();
            enc = ref;
        }
        Node memory child = _decode(enc);
        bytes memory prefix = new bytes(1);
        prefix[0] = bytes1(uint8(slot));
        if (child.kind == BRANCH) {
            node.kind = EXTENSION;
            node.path = prefix;
            node.value = ref;
        } else {
            node = child;
            node.path = bytes.concat(prefix, child.path);
        }
    }

    function _children(Node memory branch) private pure returns (uint256 count, uint256 last) {
        for (uint256 i = 0; i < 16; i++) {
            if (branch.refs[i].length != 0) {
                count++;
                last = i;
            }
        }
    }

    function _leaf(bytes memory path, bytes memory value) private pure returns (Node memory node) {
        node.kind = LEAF;
        node.path = path;
        node.value = value;
    }

    // ---------------------------------------------------------------------------------------
    // encoding

    function _rootOf(Node memory node) private pure returns (bytes32) {
        return keccak256(_encode(node));
    }

    /// @dev How a parent refers to `node`: inline when its RLP is shorter than 32 bytes.
    function _ref(Node memory node) private pure returns (bytes memory) {
        bytes memory enc = _encode(node);
        if (enc.length < 32) return enc;
        return abi.encodePacked(bytes1(0xa0), keccak256(enc));
    }

    function _encode(Node memory node) private pure returns (bytes memory payload) {
        if (node.kind == LEAF) {
            payload = bytes.concat(_rlpString(_compact(node.path, true)), _rlpString(node.value));
        } else if (node.kind == EXTENSION) {
            payload = bytes.concat(_rlpString(_compact(node.path, false)), node.value);
        } else if (node.kind == BRANCH) {
            uint256 size = 1; // the empty value
            for (uint256 i = 0; i < 16; i++) {
                size += node.refs[i].length == 0 ? 1 : node.refs[i].length;
            }
            payload = new bytes(size);
            uint256 at;
            assembly ("memory-safe") {
                at := add(payload, 32)
            }
            for (uint256 i = 0; i < 16; i++) {
                bytes memory r = node.refs[i];
                uint256 len = r.length;
                if (len == 0) {
                    assembly ("memory-safe") {
                        mstore8(at, 0x80)
                    }
                    at += 1;
                } else {
                    assembly ("memory-safe") {
                        mcopy(at, add(r, 32), len)
                    }
                    at += len;
                }
            }
            assembly ("memory-safe") {
                mstore8(at, 0x80)
            }
        } else {
            revert MptMalformed();
        }
        return bytes.concat(_lengthPrefix(payload.length, 0xc0), payload);
    }

    /// @dev Hex-prefix encoding of a nibble path.
    function _compact(bytes memory path, bool leaf) private pure returns (bytes memory out) {
        uint256 len = path.length;
        uint256 odd = len % 2;
        uint256 flag = (leaf ? 2 : 0) + odd;
        out = new bytes(len / 2 + 1);
        uint256 j = 0;
        if (odd == 1) {
            out[0] = bytes1(uint8(flag * 16 + uint8(path[0])));
            j = 1;
        } else {
            out[0] = bytes1(uint8(flag * 16));
        }
        assembly ("memory-safe") {
            let src := add(path, 32)
            let dst := add(out, 33)
            for {} lt(j, len) { j := add(j, 2) } {
                let hi := byte(0, mload(add(src, j)))
                let lo := byte(0, mload(add(src, add(j, 1))))
                mstore8(dst, or(shl(4, hi), lo))
                dst := add(dst, 1)
            }
        }
    }

    function _rlpString(bytes memory data) private pure returns (bytes memory) {
        if (data.length == 1 && uint8(data[0]) < 0x80) return data;
        return bytes.concat(_lengthPrefix(data.length, 0x80), data);
    }

    function _lengthPrefix(uint256 len, uint256 base) private pure returns (bytes memory) {
        if (len <= 55) return abi.encodePacked(uint8(base + len));
        bytes memory be = _minimal(len);
        return bytes.concat(abi.encodePacked(uint8(base + 55 + be.length)), be);
    }

    function _minimal(uint256 value) private pure returns (bytes memory out) {
        uint256 size = 0;
        for (uint256 v = value; v != 0; v >>= 8) size++;
        out = new bytes(size);
        for (uint256 i = 0; i < size; i++) {
            out[size - 1 - i] = bytes1(uint8(value >> (8 * i)));
        }
    }

    // ---------------------------------------------------------------------------------------
    // decoding

    function _decode(bytes memory enc) private pure returns (Node memory node) {
        (uint256 start, uint256 len, bool isList) = _item(enc, 0);
        if (!isList || start + len != enc.length) revert MptMalformed();
        uint256 end = enc.length;
        uint256[18] memory heads;
        uint256 count = 0;
        uint256 at = start;
        while (at < end) {
            if (count == 17) revert MptMalformed();
            heads[count] = at;
            (uint256 s, uint256 l,) = _item(enc, at);
            at = s + l;
            count++;
        }
        if (at != end) revert MptMalformed();
        heads[count] = end;
        if (count == 2) {
            node = _decodeShort(enc, heads[0], heads[1]);
        } else if (count == 17) {
            node.kind = BRANCH;
            for (uint256 i = 0; i < 16; i++) {
                uint256 l = heads[i + 1] - heads[i];
                if (l == 1 && uint8(enc[heads[i]]) == 0x80) continue;
                node.refs[i] = _slice(enc, heads[i], l);
            }
            if (heads[17] - heads[16] != 1 || uint8(enc[heads[16]]) != 0x80) revert MptUnsupported();
        } else {
            revert MptMalformed();
        }
    }

    /// @dev A leaf or extension: [compact path, value or child reference].
    function _decodeShort(bytes memory enc, uint256 first, uint256 second) private pure returns (Node memory node) {
        bool leaf;
        (node.path, leaf) = _decodePath(enc, first);
        if (leaf) {
            node.kind = LEAF;
            (uint256 vs, uint256 vl, bool vList) = _item(enc, second);
            if (vList || vl == 0) revert MptMalformed();
            node.value = _slice(enc, vs, vl);
        } else {
            if (node.path.length == 0) revert MptMalformed();
            node.kind = EXTENSION;
            node.value = _slice(enc, second, enc.length - second);
        }
    }

    /// @dev The nibbles of a hex-prefix path item, and whether it is a leaf's.
    function _decodePath(bytes memory enc, uint256 at) private pure returns (bytes memory path, bool leaf) {
        (uint256 ps, uint256 pl, bool pList) = _item(enc, at);
        if (pList || pl == 0) revert MptMalformed();
        uint256 first = uint8(enc[ps]);
        uint256 flag = first >> 4;
        if (flag > 3) revert MptMalformed();
        uint256 odd = flag & 1;
        if (odd == 0 && first & 0x0f != 0) revert MptMalformed();
        uint256 count = 2 * pl - 2 + odd;
        path = new bytes(count);
        assembly ("memory-safe") {
            let src := add(add(enc, 32), ps)
            let dst := add(path, 32)
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let idx := sub(add(i, 2), odd)
                let b := byte(0, mload(add(src, shr(1, idx))))
                switch and(idx, 1)
                case 0 { mstore8(add(dst, i), shr(4, b)) }
                default { mstore8(add(dst, i), and(b, 0x0f)) }
            }
        }
        leaf = flag >= 2;
    }

    /// @dev The RLP item at `off`: payload offset and length, list or string; inside `data`.
    function _item(bytes memory data, uint256 off) private pure returns (uint256 start, uint256 len, bool isList) {
        if (off >= data.length) revert MptMalformed();
        uint256 b0 = uint8(data[off]);
        if (b0 < 0x80) return (off, 1, false);
        if (b0 < 0xb8) {
            (start, len) = (off + 1, b0 - 0x80);
        } else if (b0 < 0xc0) {
            uint256 ll = b0 - 0xb7;
            (start, len) = (off + 1 + ll, _bigEndian(data, off + 1, ll));
        } else if (b0 < 0xf8) {
            (start, len, isList) = (off + 1, b0 - 0xc0, true);
        } else {
            uint256 ll = b0 - 0xf7;
            (start, len, isList) = (off + 1 + ll, _bigEndian(data, off + 1, ll), true);
        }
        if (start + len > data.length) revert MptMalformed();
    }

    function _bigEndian(bytes memory data, uint256 off, uint256 size) private pure returns (uint256 v) {
        if (size > 4 || off + size > data.length) revert MptMalformed();
        for (uint256 i = 0; i < size; i++) {
            v = (v << 8) | uint8(data[off + i]);
        }
    }

    // ---------------------------------------------------------------------------------------
    // bytes helpers

    function _nibbles(bytes memory key) private pure returns (bytes memory out) {
        out = new bytes(key.length * 2);
        assembly ("memory-safe") {
            let src := add(key, 32)
            let dst := add(out, 32)
            for { let i := 0 } lt(i, mload(key)) { i := add(i, 1) } {
                let b := byte(0, mload(add(src, i)))
                mstore8(add(dst, mul(i, 2)), shr(4, b))
                mstore8(add(dst, add(mul(i, 2), 1)), and(b, 0x0f))
            }
        }
    }

    function _isPrefix(bytes memory path, bytes memory nibbles, uint256 start) private pure returns (bool same) {
        if (start + path.length > nibbles.length) return false;
        assembly ("memory-safe") {
            let a := add(path, 32)
            let b := add(add(nibbles, 32), start)
            let len := mload(path)
            same := 1
            // whole words first, then the tail masked
            let i := 0
            for {} lt(add(i, 32), add(len, 1)) { i := add(i, 32) } {
                if iszero(eq(mload(add(a, i)), mload(add(b, i)))) {
                    same := 0
                    break
                }
            }
            let rest := sub(len, i)
            if and(same, gt(rest, 0)) {
                let mask := not(sub(shl(mul(8, sub(32, rest)), 1), 1))
                same := eq(and(mload(add(a, i)), mask), and(mload(add(b, i)), mask))
            }
        }
    }

    /// @dev path == nibbles[start:]
    function _equal(bytes memory path, bytes memory nibbles, uint256 start) private pure returns (bool) {
        return start + path.length == nibbles.length && _isPrefix(path, nibbles, start);
    }

    function _sub(bytes memory data, uint256 from, uint256 to) private pure returns (bytes memory) {
        return _slice(data, from, to - from);
    }

    function _slice(bytes memory data, uint256 from, uint256 len) private pure returns (bytes memory out) {
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 32), add(add(data, 32), from), len)
        }
    }

    function _word(bytes memory data, uint256 off) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(data, 32), off))
        }
    }
}
