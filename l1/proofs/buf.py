"""The `Buf` word tree (docs/fraud-proofs.md 1.4.2): memory, code, JUMPDEST bitmap, block store.

A binary tree of fixed depth over 32-byte words; leaves are the raw words, a node is
`H(left ++ right)`, empty subtrees are the constants `Z_d`. Trees are sparse (a dict of
the non-zero words) so a depth-20 memory costs only its used words.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from eth_hash.auto import keccak

ZERO32 = b"\x00" * 32
MEM_DEPTH = 20
CODE_DEPTH = 11


@cache
def zero(level: int) -> bytes:
    """`Z_level`: the root of an all-zero subtree of that height."""
    if level == 0:
        return ZERO32
    z = zero(level - 1)
    return keccak(z + z)


def words_of(data: bytes) -> dict[int, bytes]:
    """The non-zero words of `data` laid from word 0, the last word zero-padded."""
    out = {}
    for i in range(0, len(data), 32):
        word = data[i : i + 32].ljust(32, b"\x00")
        if word != ZERO32:
            out[i // 32] = word
    return out


class Buf:
    """A sparse word tree of depth `depth`; immutable once built (writes return a new one)."""

    def __init__(self, depth: int, words: dict[int, bytes] | None = None) -> None:
        self.depth = depth
        self.words = {i: w for i, w in (words or {}).items() if w != ZERO32}
        for i in self.words:
            if not 0 <= i < 1 << depth:
                raise ValueError(f"word {i} outside a depth-{depth} tree")
        self._levels: list[dict[int, bytes]] | None = None

    @classmethod
    def of_bytes(cls, depth: int, data: bytes) -> Buf:
        return cls(depth, words_of(data))

    def _build(self) -> list[dict[int, bytes]]:
        if self._levels is None:
            levels = [dict(self.words)]
            for level in range(self.depth):
                below = levels[-1]
                above: dict[int, bytes] = {}
                z = zero(level)
                for parent in {i >> 1 for i in below}:
                    above[parent] = keccak(below.get(2 * parent, z) + below.get(2 * parent + 1, z))
                levels.append(above)
            self._levels = levels
        return self._levels

    def node(self, level: int, index: int) -> bytes:
        return self._build()[level].get(index, zero(level))

    @property
    def root(self) -> bytes:
        return self.node(self.depth, 0)

    def word(self, index: int) -> bytes:
        return self.words.get(index, ZERO32)

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from byte `offset` (zero beyond the written words)."""
        first, last = offset // 32, (offset + size - 1) // 32
        data = b"".join(self.word(i) for i in range(first, last + 1))
        return data[offset - 32 * first :][:size]

    def siblings(self, first: int, count: int) -> list[bytes]:
        """Boundary siblings of words `first .. first+count-1`, in verification order."""
        out = []
        lo, hi = first, first + count - 1
        for level in range(self.depth):
            if lo & 1:
                out.append(self.node(level, lo - 1))
            if not hi & 1:
                out.append(self.node(level, hi + 1))
            lo, hi = lo >> 1, hi >> 1
        return out

    def proof(self, first: int, count: int) -> bytes:
        """The proof of `count` consecutive words: the words, then the boundary siblings."""
        return b"".join(self.word(i) for i in range(first, first + count)) + b"".join(self.siblings(first, count))

    def write(self, offset: int, data: bytes) -> Buf:
        """A new tree with `data` written at byte `offset`."""
        if not data:
            return self
        first, last = offset // 32, (offset + len(data) - 1) // 32
        old = b"".join(self.word(i) for i in range(first, last + 1))
        start = offset - 32 * first
        new = old[:start] + data + old[start + len(data) :]
        words = dict(self.words)
        for k in range(last - first + 1):
            words[first + k] = new[32 * k : 32 * k + 32]
        return Buf(self.depth, words)


def range_root(depth: int, first: int, words: Sequence[bytes], siblings: Sequence[bytes]) -> bytes:
    """The root implied by consecutive `words` from index `first` and their boundary siblings
    (the verifier's computation; raises if the sibling count is wrong)."""
    nodes = list(words)
    lo, hi = first, first + len(words) - 1
    it = iter(siblings)
    for _ in range(depth):
        left = next(it) if lo & 1 else None
        right = next(it) if not hi & 1 else None
        row = ([left] if left is not None else []) + nodes + ([right] if right is not None else [])
        nodes = [keccak(row[i] + row[i + 1]) for i in range(0, len(row), 2)]
        lo, hi = lo >> 1, hi >> 1
    if next(it, None) is not None:
        raise ValueError("too many siblings")
    (root,) = nodes
    return root
