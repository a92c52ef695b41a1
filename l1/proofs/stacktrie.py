"""The block's transaction and receipt tries built one key per proof step: the Python twin of
l1/contracts/osp/StackTrie.sol (docs/fraud-proofs.md D7, 2.6, 9).

Keys are `rlp(i)` for `i < count`, inserted in byte order (1..127, 0, 128..255, 256..). Because
all keys are known once `count` is, the step that inserts key `pos` already knows its neighbours
`key(pos-1)` and `key(pos+1)`, so it can place and hash the new leaf at once; what it closes is
the part of the previous key's path deeper than where the two keys diverge. Between steps only
the open branch nodes of the last key's path are kept (`frames`), each with the references of
its children to the left of that path, committed as

    trieState = H(0x53 ++ u8 which ++ u32 pos ++ b32 txRoot ++ b32 receiptsRoot ++ frames)
    frame     = u8 depth ++ u16 mask ++ the children's RLP items, in slot order

`which` is 0 (transaction trie), 1 (receipt trie) or 2 (both roots known); `depth` the nibble
index where the branch sits, bit `j` of `mask` set iff slot `j` holds a child, a child item being
`0xa0 ++ hash` or an embedded node (< 32 bytes) as it appears in the branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import rlp
from eth_hash.auto import keccak

TAG = 0x53
MAX_COUNT = 1 << 16  # keys of at most 3 bytes
MAX_FRAMES = 6  # open branches on a key's path: one per nibble of a 3-byte key
EMPTY_ROOT = keccak(b"\x80")
ZERO32 = bytes(32)
TX, RECEIPTS, DONE = 0, 1, 2
INLINE = 544  # longest value hashed inside the step; longer ones: step_hashed_leaf


class StackTrieError(ValueError):
    """A step that cannot be taken: finished trie, bad count, empty value, malformed state."""


def key_index(pos: int, count: int) -> int:
    """The transaction index whose key `rlp(i)` is the `pos`-th in byte order."""
    if not 0 <= pos < count:
        raise StackTrieError(f"position {pos} outside 0..{count - 1}")
    small = min(count, 128)  # keys 0..127 are the one-byte keys: 0x01..0x7f sort before 0x80 = rlp(0)
    if pos < small - 1:
        return pos + 1
    if pos == small - 1:
        return 0
    return pos


def key_pos(index: int, count: int) -> int:
    """Inverse of `key_index`."""
    if not 0 <= index < count:
        raise StackTrieError(f"index {index} outside 0..{count - 1}")
    if index == 0:
        return min(count, 128) - 1
    return index - 1 if index < 128 else index


def key_nibbles(pos: int, count: int) -> bytes:
    key = rlp.encode(key_index(pos, count))
    return bytes(n for byte in key for n in (byte >> 4, byte & 15))


def _common(a: bytes, b: bytes) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        first, rest = bytes([(flag + 1) << 4 | nibbles[0]]), nibbles[1:]
    else:
        first, rest = bytes([flag << 4]), nibbles
    return first + bytes(rest[i] << 4 | rest[i + 1] for i in range(0, len(rest), 2))


def _list(payload: bytes) -> bytes:
    if len(payload) < 56:
        return bytes([0xC0 + len(payload)]) + payload
    size = len(payload).to_bytes((len(payload).bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(size)]) + size + payload


def _string_header(value: bytes) -> bytes:
    """RLP header of a byte string (empty for one byte below 0x80)."""
    if len(value) == 1 and value[0] < 0x80:
        return b""
    if len(value) < 56:
        return bytes([0x80 + len(value)])
    size = len(value).to_bytes((len(value).bit_length() + 7) // 8, "big")
    return bytes([0xB7 + len(size)]) + size


def _ref(node: bytes) -> bytes:
    """How a node appears inside its parent: embedded below 32 bytes, else `0xa0 ++ hash`."""
    return node if len(node) < 32 else b"\xa0" + keccak(node)


def leaf_node(suffix: bytes, value: bytes) -> bytes:
    hp = _hex_prefix(suffix, leaf=True)
    return _list(_string_header(hp) + hp + _string_header(value) + value)


def _extension_node(path: bytes, child: bytes) -> bytes:
    hp = _hex_prefix(path, leaf=False)
    return _list(_string_header(hp) + hp + child)


@dataclass(frozen=True)
class Frame:
    """An open branch node at nibble `depth`, with the items of its children (None = empty)."""

    depth: int
    children: tuple[bytes | None, ...] = field(default=(None,) * 16)

    def with_child(self, slot: int, item: bytes) -> Frame:
        if any(c is not None for c in self.children[slot:]):  # keys arrive in order: children too
            raise StackTrieError(f"slot {slot} of the branch at depth {self.depth} is not right of its children")
        children = list(self.children)
        children[slot] = item
        return Frame(self.depth, tuple(children))

    def node(self) -> bytes:
        return _list(b"".join(c if c is not None else b"\x80" for c in self.children) + b"\x80")

    def encode(self) -> bytes:
        mask = sum(1 << j for j, c in enumerate(self.children) if c is not None)
        return bytes([self.depth]) + mask.to_bytes(2, "big") + b"".join(c for c in self.children if c is not None)


@dataclass(frozen=True)
class TrieState:
    which: int = TX
    pos: int = 0
    tx_root: bytes = ZERO32
    receipts_root: bytes = ZERO32
    frames: tuple[Frame, ...] = ()

    def encode(self) -> bytes:
        return (
            bytes([TAG, self.which])
            + self.pos.to_bytes(4, "big")
            + self.tx_root
            + self.receipts_root
            + b"".join(f.encode() for f in self.frames)
        )

    def commitment(self) -> bytes:
        return keccak(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> TrieState:
        if len(data) < 70 or data[0] != TAG or data[1] > DONE:
            raise StackTrieError("malformed trie state header")
        which, pos, tx_root, receipts_root = data[1], int.from_bytes(data[2:6], "big"), data[6:38], data[38:70]
        if (
            (which == TX and tx_root != ZERO32)
            or (which != DONE and receipts_root != ZERO32)
            or (which == DONE and (pos != 0 or len(data) != 70))
        ):
            raise StackTrieError("not a canonical trie state")
        frames: list[Frame] = []
        i = 70
        while i < len(data):
            if i + 3 > len(data):
                raise StackTrieError("truncated frame")
            depth, mask = data[i], int.from_bytes(data[i + 1 : i + 3], "big")
            i += 3
            children: list[bytes | None] = [None] * 16
            for j in range(16):
                if mask >> j & 1:
                    size = _item_size(data, i)
                    children[j] = data[i : i + size]
                    i += size
            if frames and depth <= frames[-1].depth or len(frames) == MAX_FRAMES:
                raise StackTrieError("frames out of order")
            frames.append(Frame(depth, tuple(children)))
        return cls(which, pos, tx_root, receipts_root, tuple(frames))


def _item_size(data: bytes, i: int) -> int:
    if i >= len(data):
        raise StackTrieError("truncated child")
    head = data[i]
    size = 33 if head == 0xA0 else 1 + head - 0xC0 if 0xC0 <= head < 0xC0 + 32 else 0
    if size == 0 or size > 32 and head != 0xA0 or i + size > len(data):
        raise StackTrieError(f"bad child item 0x{head:02x}")
    return size


def _close_deeper(frames: list[Frame], limit: int, path: bytes) -> None:
    """Pop and hash the frames deeper than `limit` on `path`, hanging each into its parent (a frame
    at `limit` is opened when missing: there `path` and the next key diverge)."""
    while frames and frames[-1].depth > limit:
        top = frames.pop()
        if not frames or frames[-1].depth < limit:
            frames.append(Frame(limit))
        parent = frames[-1].depth
        frames[-1] = frames[-1].with_child(path[parent], _hang(top, path[parent + 1 : top.depth]))


def _hang(frame: Frame, between: bytes) -> bytes:
    """The item by which a closed branch hangs in its parent, through an extension if needed."""
    item = _ref(frame.node())
    return _ref(_extension_node(between, item)) if between else item


def _finish(state: TrieState, root: bytes) -> TrieState:
    if state.which == TX:
        return TrieState(RECEIPTS, 0, root, ZERO32, ())
    return TrieState(DONE, 0, state.tx_root, root, ())


def leaf_prefix(pos: int, count: int, value_len: int) -> bytes:
    """The bytes before the value in the leaf of key `pos` (for a SPONGE over a value too long to be
    hashed in the step): list header ++ rlp(hp(suffix)) ++ string header; values of >= 56 bytes."""
    if value_len < 56:
        raise StackTrieError("leaf_prefix is for values of 56 bytes or more")
    suffix = key_nibbles(pos, count)[_leaf_depth(pos, count) :]
    hp = _hex_prefix(suffix, leaf=True)
    head = _string_header(hp) + hp + _string_header(bytes(value_len))
    node = _list(head + bytes(value_len))
    return node[: len(node) - value_len]


def _leaf_depth(pos: int, count: int) -> int:
    """Nibbles of the key above its leaf: one more than the deepest divergence with a neighbour."""
    key = key_nibbles(pos, count)
    before = _common(key_nibbles(pos - 1, count), key) if pos > 0 else -1
    after = _common(key, key_nibbles(pos + 1, count)) if pos + 1 < count else -1
    return max(before, after) + 1


def step(state: TrieState, count: int, value: bytes) -> TrieState:
    """Insert key `state.pos` with `value` (the raw tx or the receipt, 1..INLINE bytes); an empty
    trie (count 0) takes one step with an empty value."""
    if count == 0:
        if value:
            raise StackTrieError("an empty trie takes no value")
        return _step(state, count, None)
    if not value:
        raise StackTrieError("a trie value is never empty")
    if len(value) > INLINE:
        raise StackTrieError(f"a value of {len(value)} bytes is hashed by a SPONGE: step_hashed_leaf")
    return _step(state, count, value)


def step_hashed_leaf(state: TrieState, count: int, leaf_hash: bytes) -> TrieState:
    """Insert key `state.pos` given the hash of its leaf node, which the caller computed with a
    SPONGE over `leaf_prefix(pos, count, len(value)) ++ value` (values too long for one step)."""
    if count == 0 or len(leaf_hash) != 32:
        raise StackTrieError("a hashed leaf needs a key and a 32-byte hash")
    return _step(state, count, leaf_hash, hashed=True)


def _step(state: TrieState, count: int, value: bytes | None, hashed: bool = False) -> TrieState:
    if state.which == DONE:
        raise StackTrieError("both tries are built")
    if count > MAX_COUNT:
        raise StackTrieError(f"count {count} above {MAX_COUNT}")
    pos = state.pos
    if pos == 0 and state.frames:
        raise StackTrieError("frames open before the first key")
    if count == 0:
        if pos != 0:
            raise StackTrieError(f"position {pos} in an empty trie")
        return _finish(state, EMPTY_ROOT)
    if pos >= count:
        raise StackTrieError(f"position {pos} past the {count} keys")
    assert value is not None
    key = key_nibbles(pos, count)
    frames = list(state.frames)
    if pos > 0:
        previous = key_nibbles(pos - 1, count)
        _close_deeper(frames, _common(previous, key), previous)
    depth = _leaf_depth(pos, count)
    if hashed:
        item = b"\xa0" + value
        root_of_leaf = value
    else:
        leaf = leaf_node(key[depth:], value)
        item, root_of_leaf = _ref(leaf), keccak(leaf)
    if depth == 0:  # a single key: its leaf is the root
        return _finish(state, root_of_leaf)
    if not frames or frames[-1].depth < depth - 1:
        frames.append(Frame(depth - 1))
    if frames[-1].depth != depth - 1:
        raise StackTrieError("state does not match the keys")  # unreachable from an honest state
    frames[-1] = frames[-1].with_child(key[depth - 1], item)
    if pos + 1 < count:
        return replace(state, pos=pos + 1, frames=tuple(frames))
    _close_deeper(frames, frames[0].depth, key)
    (top,) = frames
    root = top.node() if top.depth == 0 else _extension_node(key[: top.depth], _ref(top.node()))
    return _finish(state, keccak(root))


def step_any(state: TrieState, count: int, value: bytes) -> TrieState:
    """`step`, or for a value above INLINE `step_hashed_leaf` with the hash its SPONGE gives."""
    if len(value) <= INLINE:
        return step(state, count, value)
    return step_hashed_leaf(state, count, keccak(leaf_prefix(state.pos, count, len(value)) + value))


def build(values: list[bytes]) -> tuple[bytes, list[TrieState]]:
    """Root of the trie {rlp(i): values[i]} built step by step, and every state on the way."""
    states = [TrieState()]
    count = len(values)
    for pos in range(max(count, 1)):
        value = values[key_index(pos, count)] if count else b""
        states.append(step_any(states[-1], count, value))
    return states[-1].tx_root, states


def trace(tx_values: list[bytes], receipt_values: list[bytes]) -> list[TrieState]:
    """Every state of a block's TRIE phase: the initial one, then one per step (tx trie, then
    receipt trie); the last has `which == DONE` and both roots. Values are indexed by tx index."""
    count = len(tx_values)
    if len(receipt_values) != count:
        raise StackTrieError("one receipt per transaction")
    states = [TrieState()]
    for values in (tx_values, receipt_values):
        for pos in range(max(count, 1)):
            states.append(step_any(states[-1], count, values[key_index(pos, count)] if count else b""))
    return states
