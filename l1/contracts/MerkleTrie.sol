// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MerkleTrie
/// @notice Verifies a Merkle-Patricia inclusion proof for a 32-byte key (a storage slot's
///         keccak) and returns the value stored there. The proof is the list of hashed
///         nodes from the root down, exactly what eth_getProof returns: a node shorter than
///         32 bytes is embedded in its parent and is not a separate element. Everything is
///         read from calldata in place, without copying nodes into memory.
library MerkleTrie {
    /// @notice Node `index` is missing or does not hash to what its parent (or the root) says.
    error ProofNodeMismatch(uint256 index);
    /// @notice The proof is not well-formed RLP / trie nodes, or has extra nodes.
    error MalformedProof();
    /// @notice The proof shows that the key is not in the trie.
    error KeyNotInTrie();

    /// @dev One RLP item in calldata: where its header starts, its payload, list or string.
    struct Item {
        uint256 header;
        uint256 ptr;
        uint256 len;
        bool isList;
    }

    /// @dev Where the walk down the trie is: the current node's bounds in calldata, the key
    ///      nibbles matched so far, and the proof element the node is in.
    struct Walk {
        uint256 ptr;
        uint256 end;
        uint256 consumed;
        uint256 nodeIndex;
    }

    /// @notice The RLP-encoded value under `key` in the trie whose root hash is `root`.
    function get(bytes32 key, bytes[] calldata proof, bytes32 root) internal pure returns (bytes memory value) {
        Walk memory w;
        (w.ptr, w.end) = _hashedNode(proof, 0, root);
        while (true) {
            Item memory node = _itemAt(w.ptr, w.end);
            if (!node.isList) revert MalformedProof();
            uint256 end = node.ptr + node.len; // a node never reads past itself
            Item memory first = _itemAt(node.ptr, end);
            Item memory second = _itemAt(first.ptr + first.len, end);
            Item memory child;
            if (second.ptr + second.len == end) {
                // leaf or extension: [compact path, value or child]
                bool leaf;
                (w.consumed, leaf) = _matchPath(key, w.consumed, first);
                if (leaf) {
                    // the whole key must be matched, and this must be the last node
                    if (w.consumed != 64 || second.isList) revert KeyNotInTrie();
                    if (w.nodeIndex + 1 != proof.length) revert MalformedProof();
                    return _copy(second);
                }
                child = second;
            } else {
                // branch: 16 children then a value (unused with 32-byte keys)
                if (w.consumed == 64) revert MalformedProof();
                child = _branchChild(first, second, end, _nibble(key, w.consumed));
                w.consumed += 1;
            }
            _descend(w, child, proof);
        }
    }

    /// @dev Moves the walk to `child`: embedded in the current proof element, or the next one.
    function _descend(Walk memory w, Item memory child, bytes[] calldata proof) private pure {
        if (child.isList) {
            // embedded node (< 32 bytes): go on inside the same proof element
            if (child.ptr + child.len - child.header >= 32) revert MalformedProof();
            (w.ptr, w.end) = (child.header, child.ptr + child.len);
        } else if (child.len == 32) {
            bytes32 childHash;
            uint256 at = child.ptr;
            assembly ("memory-safe") {
                childHash := calldataload(at)
            }
            w.nodeIndex += 1;
            (w.ptr, w.end) = _hashedNode(proof, w.nodeIndex, childHash);
        } else if (child.len == 0) {
            revert KeyNotInTrie(); // empty slot of a branch: the key is absent
        } else {
            revert MalformedProof();
        }
    }

    function _copy(Item memory item) private pure returns (bytes memory out) {
        out = new bytes(item.len);
        uint256 from = item.ptr;
        uint256 size = item.len;
        assembly ("memory-safe") {
            calldatacopy(add(out, 32), from, size)
        }
    }

    /// @dev Matches a leaf's or extension's compact-encoded path against the key from nibble
    ///      `consumed`; returns the nibbles matched after it and whether the node is a leaf.
    function _matchPath(bytes32 key, uint256 consumed, Item memory path)
        private
        pure
        returns (uint256, bool leaf)
    {
        if (path.isList || path.len == 0) revert MalformedProof();
        uint256 flag = _byteAt(path.ptr) >> 4;
        if (flag > 3) revert MalformedProof();
        uint256 skip = flag & 1 == 1 ? 1 : 2; // odd paths start in the flag byte's low nibble
        uint256 nibbles = 2 * path.len - skip;
        if (consumed + nibbles > 64) revert KeyNotInTrie();
        for (uint256 n = 0; n < nibbles; n++) {
            uint256 idx = n + skip;
            uint256 b = _byteAt(path.ptr + idx / 2);
            if ((idx % 2 == 0 ? b >> 4 : b & 0x0f) != _nibble(key, consumed + n)) revert KeyNotInTrie();
        }
        return (consumed + nibbles, flag >= 2);
    }

    /// @dev Child `want` of a branch node whose first two items are `first`, `second`;
    ///      checks that the node has exactly 17 items.
    function _branchChild(Item memory first, Item memory second, uint256 end, uint256 want)
        private
        pure
        returns (Item memory child)
    {
        child = want == 0 ? first : second;
        Item memory current = second;
        for (uint256 j = 2; j < 17; j++) {
            current = _itemAt(current.ptr + current.len, end);
            if (j == want) child = current;
        }
        if (current.ptr + current.len != end) revert MalformedProof();
    }

    function _itemAt(uint256 header, uint256 end) private pure returns (Item memory item) {
        item.header = header;
        (item.ptr, item.len, item.isList) = _item(header, end);
    }

    /// @dev Calldata bounds of proof[index], after checking that it hashes to `expected`.
    function _hashedNode(bytes[] calldata proof, uint256 index, bytes32 expected)
        private
        pure
        returns (uint256 ptr, uint256 end)
    {
        if (index >= proof.length) revert ProofNodeMismatch(index);
        bytes calldata node = proof[index];
        bytes32 h;
        assembly ("memory-safe") {
            // hash in scratch memory past the free pointer, which is left where it is
            let m := mload(0x40)
            calldatacopy(m, node.offset, node.length)
            h := keccak256(m, node.length)
            ptr := node.offset
            end := add(node.offset, node.length)
        }
        if (h != expected) revert ProofNodeMismatch(index);
    }

    /// @dev The RLP item at calldata offset `ptr`: its payload's offset and length, and
    ///      whether it is a list. Reverts unless it lies entirely before `end`.
    function _item(uint256 ptr, uint256 end) private pure returns (uint256 start, uint256 len, bool isList) {
        if (ptr >= end) revert MalformedProof();
        uint256 b0 = _byteAt(ptr);
        if (b0 < 0x80) {
            return (ptr, 1, false);
        }
        if (b0 < 0xb8) {
            (start, len) = (ptr + 1, b0 - 0x80);
        } else if (b0 < 0xc0) {
            uint256 ll = b0 - 0xb7;
            (start, len) = (ptr + 1 + ll, _bigEndian(ptr + 1, ll));
        } else if (b0 < 0xf8) {
            (start, len, isList) = (ptr + 1, b0 - 0xc0, true);
        } else {
            uint256 ll = b0 - 0xf7;
            (start, len, isList) = (ptr + 1 + ll, _bigEndian(ptr + 1, ll), true);
        }
        if (start + len > end) revert MalformedProof();
    }

    /// @dev An RLP long length (at most 4 bytes: no trie node is anywhere near 4 GB).
    function _bigEndian(uint256 ptr, uint256 size) private pure returns (uint256 v) {
        if (size > 4) revert MalformedProof();
        assembly ("memory-safe") {
            v := shr(sub(256, mul(8, size)), calldataload(ptr))
        }
    }

    function _byteAt(uint256 ptr) private pure returns (uint256 b) {
        assembly ("memory-safe") {
            b := byte(0, calldataload(ptr))
        }
    }

    function _nibble(bytes32 key, uint256 i) private pure returns (uint256) {
        uint256 b = uint8(key[i / 2]);
        return i % 2 == 0 ? b >> 4 : b & 0x0f;
    }
}
