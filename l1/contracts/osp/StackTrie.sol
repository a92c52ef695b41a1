// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title StackTrie
/// @notice The block's transaction and receipt tries built one key per proof step
///         (docs/fraud-proofs.md D7, 2.6, 9). Python twin: l1/proofs/stacktrie.py.
/// @dev Keys are rlp(i), i < count, inserted in byte order (1..127, 0, 128..255, 256..). All keys
///      are known once `count` is, so the step inserting key `pos` knows key(pos-1) and key(pos+1)
///      and places and hashes the new leaf at once; it first closes the part of the previous key's
///      path deeper than where the two keys diverge. Between steps only the open branches of the
///      last key's path are kept (at most 6: keys have <= 3 bytes), committed as
///        trieState = H(0x53 ++ u8 which ++ u32 pos ++ b32 txRoot ++ b32 receiptsRoot ++ frames)
///        frame     = u8 depth ++ u16 mask ++ the children's RLP items in slot order
///      `which`: 0 transaction trie, 1 receipt trie, 2 done (both roots set). A child item is
///      `0xa0 ++ hash` or an embedded node (< 32 bytes). The caller (the TRIE step) proves that
///      `value` is the raw transaction / receipt of index `keyIndex(pos, count)` and checks the
///      preimage against its committed trieState (`decodeChecked`).
library StackTrie {
    uint8 internal constant TAG = 0x53;
    uint8 internal constant TX = 0;
    uint8 internal constant RECEIPTS = 1;
    uint8 internal constant DONE = 2;
    uint256 internal constant MAX_COUNT = 1 << 16;
    uint256 internal constant MAX_FRAMES = 6;
    uint256 internal constant HEADER_BYTES = 70;
    uint256 internal constant INLINE = 544; // longest value hashed inside the step (docs/fraud-proofs.md 0)
    bytes32 internal constant EMPTY_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;

    /// @notice An open branch at nibble `depth`: bit j of `mask` is set iff slot j holds a child;
    ///         `items` are those children's RLP items in slot order (keys arrive in order, so a
    ///         new child always lands right of the existing ones and is appended).
    struct Frame {
        uint256 depth;
        uint256 mask;
        bytes items;
    }

    struct State {
        uint8 which;
        uint32 pos;
        bytes32 txRoot;
        bytes32 receiptsRoot;
        uint256 height; // frames in use, from the root side
        Frame[6] frames;
    }

    /// @dev A key as its nibbles: `len` nibbles, big-endian in `nibbles`.
    struct Key {
        uint256 nibbles;
        uint256 len;
    }

    error TrieDone();
    error CountTooLarge(uint256 count);
    error PositionOutOfRange(uint256 pos, uint256 count);
    error EmptyValue();
    error ValueForEmptyTrie();
    error MalformedState(uint256 offset);
    error StateMismatch(bytes32 expected, bytes32 actual);
    error ShortValue(uint256 length);
    error ValueTooLong(uint256 length);

    // ---------------------------------------------------------------- keys

    /// @return the transaction index whose key rlp(i) is the pos-th in byte order
    function keyIndex(uint256 pos, uint256 count) internal pure returns (uint256) {
        if (pos >= count) revert PositionOutOfRange(pos, count);
        uint256 small = count < 128 ? count : 128; // one-byte keys 0x01..0x7f sort before 0x80 = rlp(0)
        if (pos + 1 < small) return pos + 1;
        if (pos + 1 == small) return 0;
        return pos;
    }

    /// @return the position of index i's key in byte order (inverse of keyIndex)
    function keyPos(uint256 index, uint256 count) internal pure returns (uint256) {
        if (index >= count) revert PositionOutOfRange(index, count);
        if (index == 0) return (count < 128 ? count : 128) - 1;
        return index < 128 ? index - 1 : index;
    }

    function _key(uint256 pos, uint256 count) private pure returns (Key memory k) {
        uint256 i = keyIndex(pos, count);
        if (i == 0) return Key(0x80, 2);
        if (i < 0x80) return Key(i, 2);
        if (i < 0x100) return Key(0x8100 | i, 4);
        return Key(0x820000 | i, 6); // i < MAX_COUNT
    }

    function _nib(Key memory k, uint256 idx) private pure returns (uint256) {
        return (k.nibbles >> (4 * (k.len - 1 - idx))) & 15;
    }

    function _common(Key memory a, Key memory b) private pure returns (uint256 n) {
        while (n < a.len && n < b.len && _nib(a, n) == _nib(b, n)) n++;
    }

    /// @return depth nibbles above the leaf of key `pos`: one more than its deepest divergence
    ///         with a neighbour (0 for a single key, whose leaf is the root)
    function _leafDepth(uint256 pos, uint256 count, Key memory k) private pure returns (uint256 depth) {
        if (pos > 0) depth = _common(_key(pos - 1, count), k) + 1;
        if (pos + 1 < count) {
            uint256 after_ = _common(k, _key(pos + 1, count)) + 1;
            if (after_ > depth) depth = after_;
        }
    }

    // ---------------------------------------------------------------- state codec

    function initial() internal pure returns (State memory s) {}

    function encode(State memory s) internal pure returns (bytes memory out) {
        uint256 len = HEADER_BYTES;
        for (uint256 f = 0; f < s.height; f++) {
            len += 3 + s.frames[f].items.length;
        }
        out = new bytes(len);
        uint256 at = _put(out, 0, abi.encodePacked(TAG, s.which, s.pos, s.txRoot, s.receiptsRoot));
        for (uint256 f = 0; f < s.height; f++) {
            Frame memory fr = s.frames[f];
            at = _put(out, at, abi.encodePacked(uint8(fr.depth), uint16(fr.mask)));
            at = _put(out, at, fr.items);
        }
    }

    function commitment(State memory s) internal pure returns (bytes32) {
        return keccak256(encode(s));
    }

    /// @notice Parses a trieState preimage; reverts MalformedState on anything `encode` cannot give.
    function decode(bytes memory data) internal pure returns (State memory s) {
        if (data.length < HEADER_BYTES || uint8(data[0]) != TAG || uint8(data[1]) > DONE) revert MalformedState(0);
        s.which = uint8(data[1]);
        s.pos = uint32(bytes4(_word(data, 2)));
        s.txRoot = _word(data, 6);
        s.receiptsRoot = _word(data, 38);
        // canonical: a root is zero until its trie is done, a finished state has no key and no frames
        if (
            (s.which == TX && s.txRoot != 0) || (s.which != DONE && s.receiptsRoot != 0)
                || (s.which == DONE && (s.pos != 0 || data.length != HEADER_BYTES))
        ) revert MalformedState(1);
        uint256 i = HEADER_BYTES;
        while (i < data.length) {
            if (i + 3 > data.length || s.height == MAX_FRAMES) revert MalformedState(i);
            uint256 depth = uint8(data[i]);
            uint256 mask = uint16(bytes2(_word(data, i + 1)));
            if (s.height > 0 && depth <= s.frames[s.height - 1].depth) revert MalformedState(i);
            i += 3;
            uint256 first = i;
            for (uint256 m = mask; m != 0; m >>= 1) {
                if (m & 1 == 1) i += _itemSize(data, i);
            }
            s.frames[s.height++] = Frame(depth, mask, _slice(data, first, i - first));
        }
    }

    /// @notice `decode` after checking the preimage against the committed trieState.
    function decodeChecked(bytes32 trieState, bytes memory preimage) internal pure returns (State memory) {
        bytes32 actual = keccak256(preimage);
        if (actual != trieState) revert StateMismatch(trieState, actual);
        return decode(preimage);
    }

    // ---------------------------------------------------------------- steps

    /// @notice Inserts key `s.pos` with `value` (raw transaction or receipt, 1..INLINE bytes; longer
    ///         ones go through `stepHashedLeaf`); an empty trie (count 0) takes one step with an empty
    ///         value. Modifies and returns `s`.
    function step(State memory s, uint256 count, bytes memory value) internal pure returns (State memory) {
        if (count == 0) {
            if (value.length != 0) revert ValueForEmptyTrie();
        } else if (value.length == 0) {
            revert EmptyValue();
        }
        if (value.length > INLINE) revert ValueTooLong(value.length);
        return _step(s, count, value, bytes32(0), false);
    }

    /// @notice Inserts key `s.pos` given its leaf's hash, for a value too long for one step: the
    ///         caller computed it with a SPONGE over `leafPrefix(pos, count, len) ++ value`.
    function stepHashedLeaf(State memory s, uint256 count, bytes32 leafHash) internal pure returns (State memory) {
        if (count == 0) revert PositionOutOfRange(s.pos, count);
        return _step(s, count, "", leafHash, true);
    }

    /// @return the bytes of the leaf node of key `pos` that precede a value of `valueLen` >= 56 bytes
    function leafPrefix(uint256 pos, uint256 count, uint256 valueLen) internal pure returns (bytes memory) {
        if (valueLen < 56) revert ShortValue(valueLen);
        Key memory k = _key(pos, count);
        bytes memory hp = _hexPrefix(k, _leafDepth(pos, count, k), true);
        bytes memory head = bytes.concat(_stringItem(hp), _longStringHeader(valueLen));
        return bytes.concat(_listHeader(head.length + valueLen), head);
    }

    function _step(State memory s, uint256 count, bytes memory value, bytes32 leafHash, bool hashed)
        private
        pure
        returns (State memory)
    {
        if (s.which == DONE) revert TrieDone();
        if (count > MAX_COUNT) revert CountTooLarge(count);
        uint256 pos = s.pos;
        if (pos == 0 && s.height != 0) revert MalformedState(HEADER_BYTES); // nothing is open before the first key
        if (count == 0) {
            if (pos != 0) revert PositionOutOfRange(pos, count);
            return _finish(s, EMPTY_ROOT);
        }
        if (pos >= count) revert PositionOutOfRange(pos, count);
        Key memory k = _key(pos, count);
        if (pos > 0) {
            Key memory previous = _key(pos - 1, count);
            _closeDeeper(s, _common(previous, k), previous);
        }
        uint256 depth = _leafDepth(pos, count, k);
        bytes memory item;
        if (hashed) {
            item = abi.encodePacked(bytes1(0xa0), leafHash);
        } else {
            bytes memory payload = bytes.concat(_stringItem(_hexPrefix(k, depth, true)), _stringItem(value));
            bytes memory leaf = bytes.concat(_listHeader(payload.length), payload);
            leafHash = keccak256(leaf);
            item = _ref(leaf);
        }
        if (depth == 0) return _finish(s, leafHash); // a single key: its leaf is the root
        if (s.height == 0 || s.frames[s.height - 1].depth < depth - 1) _push(s, depth - 1);
        Frame memory top = s.frames[s.height - 1];
        if (top.depth != depth - 1) revert MalformedState(HEADER_BYTES); // unreachable from an honest state
        _setChild(top, _nib(k, depth - 1), item);
        if (pos + 1 < count) {
            s.pos = uint32(pos + 1);
            return s;
        }
        _closeDeeper(s, s.frames[0].depth, k);
        Frame memory rootFrame = s.frames[0];
        bytes memory rootNode = _branchNode(rootFrame);
        if (rootFrame.depth > 0) rootNode = _extensionNode(_hexPrefixRange(k, 0, rootFrame.depth), _ref(rootNode));
        return _finish(s, keccak256(rootNode));
    }

    /// @dev Pops and hashes the frames deeper than `limit` on `path`, hanging each into its parent;
    ///      a frame at `limit` (where `path` and the next key diverge) is opened when missing.
    function _closeDeeper(State memory s, uint256 limit, Key memory path) private pure {
        while (s.height > 0 && s.frames[s.height - 1].depth > limit) {
            Frame memory closed = s.frames[s.height - 1];
            s.height--;
            bytes memory node = _branchNode(closed);
            uint256 closedDepth = closed.depth;
            if (s.height == 0 || s.frames[s.height - 1].depth < limit) _push(s, limit);
            Frame memory parent = s.frames[s.height - 1];
            bytes memory item = _ref(node);
            if (closedDepth > parent.depth + 1) {
                item = _ref(_extensionNode(_hexPrefixRange(path, parent.depth + 1, closedDepth), item));
            }
            _setChild(parent, _nib(path, parent.depth), item);
        }
    }

    /// @dev Keys arrive in order, so a child lands right of the frame's children (appended);
    ///      anything else means a forged state.
    function _setChild(Frame memory fr, uint256 slot, bytes memory item) private pure {
        if (fr.mask >> slot != 0) revert MalformedState(HEADER_BYTES);
        fr.mask |= 1 << slot;
        fr.items = bytes.concat(fr.items, item);
    }

    function _push(State memory s, uint256 depth) private pure {
        if (s.height == MAX_FRAMES) revert MalformedState(HEADER_BYTES);
        s.frames[s.height++] = Frame(depth, 0, "");
    }

    function _finish(State memory s, bytes32 root) private pure returns (State memory) {
        if (s.which == TX) {
            s.txRoot = root;
            s.which = RECEIPTS;
        } else {
            s.receiptsRoot = root;
            s.which = DONE;
        }
        s.pos = 0;
        s.height = 0;
        return s;
    }

    // ---------------------------------------------------------------- RLP nodes

    function _branchNode(Frame memory fr) private pure returns (bytes memory node) {
        uint256 children;
        for (uint256 m = fr.mask; m != 0; m >>= 1) children += m & 1;
        uint256 len = fr.items.length + (16 - children) + 1; // an empty slot and the value: 0x80
        bytes memory header = _listHeader(len);
        node = new bytes(header.length + len);
        uint256 at = _put(node, 0, header);
        bytes memory items = fr.items;
        uint256 from;
        for (uint256 j = 0; j < 16; j++) {
            if ((fr.mask >> j) & 1 == 0) {
                node[at++] = 0x80;
            } else {
                uint256 size = _itemSize(items, from);
                assembly {
                    mcopy(add(add(node, 32), at), add(add(items, 32), from), size)
                }
                at += size;
                from += size;
            }
        }
        node[at] = 0x80;
    }

    /// @dev Size of the child item at `i`: `0xa0 ++ hash` or an embedded list of < 32 bytes.
    function _itemSize(bytes memory data, uint256 i) private pure returns (uint256 size) {
        if (i >= data.length) revert MalformedState(i);
        uint256 head = uint8(data[i]);
        size = head == 0xa0 ? 33 : (head >= 0xc0 && head < 0xe0 ? head - 0xbf : 0);
        if (size == 0 || i + size > data.length) revert MalformedState(i);
    }

    function _extensionNode(bytes memory hp, bytes memory child) private pure returns (bytes memory) {
        bytes memory payload = bytes.concat(_stringItem(hp), child);
        return bytes.concat(_listHeader(payload.length), payload);
    }

    function _ref(bytes memory node) private pure returns (bytes memory) {
        return node.length < 32 ? node : abi.encodePacked(bytes1(0xa0), keccak256(node));
    }

    /// @dev Hex-prefix encoding of the nibbles `from..key.len` of a leaf (or a range of a path).
    function _hexPrefix(Key memory k, uint256 from, bool leaf) private pure returns (bytes memory) {
        return _hexPrefixFlag(k, from, k.len, leaf ? 2 : 0);
    }

    function _hexPrefixRange(Key memory k, uint256 from, uint256 to) private pure returns (bytes memory) {
        return _hexPrefixFlag(k, from, to, 0);
    }

    function _hexPrefixFlag(Key memory k, uint256 from, uint256 to, uint256 flag)
        private
        pure
        returns (bytes memory out)
    {
        uint256 n = to - from;
        out = new bytes(n / 2 + 1);
        uint256 i = from;
        if (n % 2 == 1) {
            out[0] = bytes1(uint8(((flag + 1) << 4) | _nib(k, i++)));
        } else {
            out[0] = bytes1(uint8(flag << 4));
        }
        for (uint256 b = 1; b < out.length; b++) {
            out[b] = bytes1(uint8((_nib(k, i) << 4) | _nib(k, i + 1)));
            i += 2;
        }
    }

    function _stringItem(bytes memory v) private pure returns (bytes memory) {
        if (v.length == 1 && uint8(v[0]) < 0x80) return v;
        if (v.length < 56) return bytes.concat(bytes1(uint8(0x80 + v.length)), v);
        return bytes.concat(_longStringHeader(v.length), v);
    }

    function _longStringHeader(uint256 len) private pure returns (bytes memory) {
        bytes memory size = _minimalBigEndian(len);
        return bytes.concat(bytes1(uint8(0xb7 + size.length)), size);
    }

    function _listHeader(uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(bytes1(uint8(0xc0 + len)));
        bytes memory size = _minimalBigEndian(len);
        return bytes.concat(bytes1(uint8(0xf7 + size.length)), size);
    }

    function _minimalBigEndian(uint256 v) private pure returns (bytes memory out) {
        uint256 n;
        for (uint256 t = v; t != 0; t >>= 8) n++;
        out = new bytes(n);
        for (uint256 i = 0; i < n; i++) out[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
    }

    /// @dev Copies `src` into `dst` at `at`; returns the offset after it.
    function _put(bytes memory dst, uint256 at, bytes memory src) private pure returns (uint256) {
        assembly {
            mcopy(add(add(dst, 32), at), add(src, 32), mload(src))
        }
        return at + src.length;
    }

    function _word(bytes memory data, uint256 offset) private pure returns (bytes32 w) {
        assembly {
            w := mload(add(add(data, 32), offset))
        }
    }

    function _slice(bytes memory data, uint256 offset, uint256 len) private pure returns (bytes memory out) {
        out = new bytes(len);
        assembly {
            mcopy(add(out, 32), add(add(data, 32), offset), len)
        }
    }
}
