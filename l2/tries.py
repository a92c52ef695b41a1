"""Transaction and receipt trie roots, built in one pass over the sorted keys.

py-evm inserts items one by one into a HexaryTrie, re-hashing the spine each time; a
block's ordered trie is known whole at seal time, so we build it bottom-up once (as
geth's StackTrie does). Same root and nodes; a test checks them against HexaryTrie.
"""

from __future__ import annotations

from collections.abc import Sequence

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_hash.auto import keccak

import l2  # noqa: F401

_Node = list  # an RLP-able node: [path, value] or 17 slots


def _nibbles(key: bytes) -> tuple[int, ...]:
    out = []
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return tuple(out)


def _hex_prefix(nibbles: Sequence[int], leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        nibbles = (flag + 1, *nibbles)
    else:
        nibbles = (flag, 0, *nibbles)
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _common_prefix_length(keys: Sequence[tuple[int, ...]], depth: int) -> int:
    first, last = keys[0], keys[-1]  # sorted: the common prefix of all is that of the ends
    limit = min(len(first), len(last))
    n = depth
    while n < limit and first[n] == last[n]:
        n += 1
    return n - depth


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def ref(self, node: _Node) -> object:
        encoded = rlp.encode(node)
        if len(encoded) < 32:
            return node
        digest = keccak(encoded)
        self.nodes[digest] = encoded
        return digest

    def build(self, keys: Sequence[tuple[int, ...]], values: Sequence[bytes], depth: int) -> _Node:
        if len(keys) == 1:
            return [_hex_prefix(keys[0][depth:], leaf=True), values[0]]
        shared = _common_prefix_length(keys, depth)
        if shared:
            child = self.build(keys, values, depth + shared)
            return [_hex_prefix(keys[0][depth : depth + shared], leaf=False), self.ref(child)]
        branch: list = [b""] * 17
        start = 0
        if len(keys[0]) == depth:  # a key that ends here is the branch's value
            branch[16] = values[0]
            start = 1
        i = start
        while i < len(keys):
            nibble = keys[i][depth]
            j = i + 1
            while j < len(keys) and keys[j][depth] == nibble:
                j += 1
            branch[nibble] = self.ref(self.build(keys[i:j], values[i:j], depth + 1))
            i = j
        return branch


def ordered_trie_root(items: Sequence[bytes]) -> tuple[bytes, dict[bytes, bytes]]:
    """Root and nodes of the trie mapping rlp(index) -> item (transactions, receipts)."""
    if not items:
        return BLANK_ROOT_HASH, {}
    pairs = sorted((_nibbles(rlp.encode(index)), item) for index, item in enumerate(items))
    keys = [k for k, _ in pairs]
    values = [v for _, v in pairs]
    builder = _Builder()
    root = builder.build(keys, values, 0)
    encoded = rlp.encode(root)
    digest = keccak(encoded)
    builder.nodes[digest] = encoded
    return digest, builder.nodes
