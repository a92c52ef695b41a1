"""Every commitment layout of docs/fraud-proofs.md section 1, packed big-endian.

Each node type is a frozen dataclass whose `LAYOUT` lists `(field, size in bytes, kind)`
in preimage order; `preimage()` is the packed fields (what a proof carries), `encode()`
prepends the type's one-byte tag and `hash()` is `keccak(encode())`. One generic codec
serves every type so a field can never be packed in two different ways.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from eth_hash.auto import keccak

from l1.proofs.buf import CODE_DEPTH, ZERO32, Buf, zero

EMPTY_CODE_HASH = keccak(b"")

# phases (1.2)
SYS, IDLE, TX_LOAD, TX_SETUP, EXEC, TX_END, COMMIT, TRIE, SEAL = range(1, 10)
PHASE_NAMES = {SYS: "SYS", IDLE: "IDLE", TX_LOAD: "TX_LOAD", TX_SETUP: "TX_SETUP", EXEC: "EXEC",
               TX_END: "TX_END", COMMIT: "COMMIT", TRIE: "TRIE", SEAL: "SEAL"}  # fmt: skip

U, B, SI = "u", "b", "i"  # unsigned int, raw bytes, signed (two's complement) int


class Packed:
    """Mixin: the generic packed codec over `LAYOUT`."""

    TAG: ClassVar[int | None]
    LAYOUT: ClassVar[tuple[tuple[str, int, str], ...]]

    @classmethod
    def size(cls) -> int:
        return sum(size for _, size, _ in cls.LAYOUT)

    @classmethod
    def offsets(cls) -> dict[str, int]:
        out, off = {}, 0
        for name, size, _ in cls.LAYOUT:
            out[name] = off
            off += size
        return out

    def preimage(self) -> bytes:
        parts = []
        for name, size, kind in self.LAYOUT:
            value = getattr(self, name)
            if kind == B:
                if len(value) != size:
                    raise ValueError(f"{type(self).__name__}.{name}: {len(value)} bytes, expected {size}")
                parts.append(bytes(value))
            else:
                parts.append(int(value).to_bytes(size, "big", signed=kind == SI))
        return b"".join(parts)

    def encode(self) -> bytes:
        return (bytes([self.TAG]) if self.TAG is not None else b"") + self.preimage()

    def hash(self) -> bytes:
        return keccak(self.encode())

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """From the preimage (without the tag)."""
        if len(data) != cls.size():
            raise ValueError(f"{cls.__name__}: {len(data)} bytes, expected {cls.size()}")
        values: dict[str, Any] = {}
        off = 0
        for name, size, kind in cls.LAYOUT:
            raw = data[off : off + size]
            values[name] = raw if kind == B else int.from_bytes(raw, "big", signed=kind == SI)
            off += size
        return cls(**values)  # type: ignore[call-arg]

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _z(n: int) -> bytes:
    return b"\x00" * n


@dataclass(frozen=True)
class Cursor(Packed):
    TAG = 0x4D
    LAYOUT = (("entryIndex", 8, U), ("msgIndex", 4, U), ("delayedNext", 8, U))
    entryIndex: int = 0
    msgIndex: int = 0
    delayedNext: int = 0


@dataclass(frozen=True)
class BlockClaim(Packed):
    TAG = 0x42
    LAYOUT = (("l2BlockNumber", 8, U), ("outputRoot", 32, B), ("cursor", 32, B))
    l2BlockNumber: int = 0
    outputRoot: bytes = ZERO32
    cursor: bytes = ZERO32


@dataclass(frozen=True)
class MachineState(Packed):
    TAG = 0x01
    LAYOUT = (
        ("phase", 1, U), ("cursor", 32, B), ("entry", 32, B), ("block", 32, B), ("worldRoot", 32, B),
        ("journalRoot", 32, B), ("journalCount", 4, U), ("blockAcc", 32, B), ("tx", 32, B),
        ("frame", 32, B), ("pending", 32, B),
    )  # fmt: skip
    phase: int = 0
    cursor: bytes = ZERO32
    entry: bytes = ZERO32
    block: bytes = ZERO32
    worldRoot: bytes = ZERO32
    journalRoot: bytes = ZERO32
    journalCount: int = 0
    blockAcc: bytes = ZERO32
    tx: bytes = ZERO32
    frame: bytes = ZERO32
    pending: bytes = ZERO32


@dataclass(frozen=True)
class EntryCtx(Packed):
    TAG = 0x45
    LAYOUT = (("kind", 1, U), ("messageRoot", 32, B), ("messageCount", 4, U), ("delayedEnd", 8, U))
    kind: int = 0
    messageRoot: bytes = ZERO32
    messageCount: int = 0
    delayedEnd: int = 0


@dataclass(frozen=True)
class BlockCtx(Packed):
    TAG = 0x02
    LAYOUT = (
        ("number", 8, U), ("timestamp", 8, U), ("parentHash", 32, B), ("baseFee", 32, U), ("newOrigin", 1, U),
        ("originNumber", 8, U), ("originHash", 32, B), ("originBaseFee", 32, U),
    )  # fmt: skip
    number: int = 0
    timestamp: int = 0
    parentHash: bytes = ZERO32
    baseFee: int = 0
    newOrigin: int = 0
    originNumber: int = 0
    originHash: bytes = ZERO32
    originBaseFee: int = 0


@dataclass(frozen=True)
class BlockAcc(Packed):
    TAG = 0x03
    LAYOUT = (
        ("gasUsed", 8, U), ("txCount", 4, U), ("txRecRoot", 32, B), ("bloomHash", 32, B), ("bufRoot", 32, B),
        ("bufLen", 8, U), ("trieState", 32, B),
    )  # fmt: skip
    gasUsed: int = 0
    txCount: int = 0
    txRecRoot: bytes = ZERO32
    bloomHash: bytes = ZERO32
    bufRoot: bytes = ZERO32
    bufLen: int = 0
    trieState: bytes = ZERO32


@dataclass(frozen=True)
class TxRecord(Packed):
    TAG = 0x52
    LAYOUT = (
        ("type", 1, U), ("status", 1, U), ("cumulativeGas", 8, U), ("rawOff", 8, U), ("rawLen", 4, U),
        ("logsOff", 8, U), ("logsLen", 8, U), ("bloom", 256, B),
    )  # fmt: skip
    type: int = 0
    status: int = 0
    cumulativeGas: int = 0
    rawOff: int = 0
    rawLen: int = 0
    logsOff: int = 0
    logsLen: int = 0
    bloom: bytes = _z(256)


@dataclass(frozen=True)
class Frame(Packed):
    TAG = 0x46
    LAYOUT = (
        ("parent", 32, B), ("depth", 2, U), ("kind", 1, U), ("static", 1, U), ("address", 20, B),
        ("caller", 20, B), ("value", 32, U), ("code", 32, B), ("pc", 4, U), ("gas", 8, U), ("stack", 32, B),
        ("stackDepth", 2, U), ("memRoot", 32, B), ("memWords", 4, U), ("cdRoot", 32, B), ("cdOff", 8, U),
        ("cdLen", 8, U), ("rdRoot", 32, B), ("rdOff", 8, U), ("rdLen", 8, U), ("retOff", 8, U), ("retLen", 8, U),
        ("snapJournalRoot", 32, B), ("snapJournalCount", 4, U), ("snapRefund", 8, SI), ("snapBufLen", 8, U),
        ("snapLogCount", 4, U), ("snapBloom", 32, B), ("reserved", 6, B),
    )  # fmt: skip
    parent: bytes = ZERO32
    depth: int = 0
    kind: int = 0
    static: int = 0
    address: bytes = _z(20)
    caller: bytes = _z(20)
    value: int = 0
    code: bytes = ZERO32
    pc: int = 0
    gas: int = 0
    stack: bytes = ZERO32
    stackDepth: int = 0
    memRoot: bytes = zero(20)
    memWords: int = 0
    cdRoot: bytes = ZERO32
    cdOff: int = 0
    cdLen: int = 0
    rdRoot: bytes = ZERO32
    rdOff: int = 0
    rdLen: int = 0
    retOff: int = 0
    retLen: int = 0
    snapJournalRoot: bytes = ZERO32
    snapJournalCount: int = 0
    snapRefund: int = 0
    snapBufLen: int = 0
    snapLogCount: int = 0
    snapBloom: bytes = ZERO32
    reserved: bytes = _z(6)


@dataclass(frozen=True)
class TxCtx(Packed):
    TAG = 0x54
    LAYOUT = (
        ("kind", 1, U), ("type", 1, U), ("msgLeaf", 32, B), ("sender", 20, B), ("to", 20, B), ("nonce", 8, U),
        ("gasLimit", 8, U), ("value", 32, U), ("maxFee", 32, U), ("tip", 32, U), ("gasPrice", 32, U),
        ("rawOff", 8, U), ("rawLen", 4, U), ("dataOff", 8, U), ("dataLen", 4, U), ("alOff", 8, U), ("alLen", 4, U),
        ("alCursor", 4, U), ("zeroBytes", 4, U), ("nonZeroBytes", 4, U), ("alAddresses", 4, U), ("alKeys", 4, U),
        ("intrinsic", 8, U), ("floor", 8, U), ("refund", 8, SI), ("logsOff", 8, U), ("logCount", 4, U),
        ("bloom", 32, B), ("status", 1, U), ("setup", 1, U),
    )  # fmt: skip
    kind: int = 0
    type: int = 0
    msgLeaf: bytes = ZERO32
    sender: bytes = _z(20)
    to: bytes = _z(20)
    nonce: int = 0
    gasLimit: int = 0
    value: int = 0
    maxFee: int = 0
    tip: int = 0
    gasPrice: int = 0
    rawOff: int = 0
    rawLen: int = 0
    dataOff: int = 0
    dataLen: int = 0
    alOff: int = 0
    alLen: int = 0
    alCursor: int = 0
    zeroBytes: int = 0
    nonZeroBytes: int = 0
    alAddresses: int = 0
    alKeys: int = 0
    intrinsic: int = 0
    floor: int = 0
    refund: int = 0
    logsOff: int = 0
    logCount: int = 0
    bloom: bytes = ZERO32
    status: int = 0
    setup: int = 0


@dataclass(frozen=True)
class CodeRecord(Packed):
    """`H(0x43 ++ codeHash ++ codeRoot ++ jumpRoot ++ u32 codeSize)` (1.4.3), a frame's `code`."""

    TAG = 0x43
    LAYOUT = (("codeHash", 32, B), ("codeRoot", 32, B), ("jumpRoot", 32, B), ("codeSize", 4, U))
    codeHash: bytes = EMPTY_CODE_HASH
    codeRoot: bytes = zero(CODE_DEPTH)
    jumpRoot: bytes = zero(CODE_DEPTH)
    codeSize: int = 0


# Pending multi-step operations (1.8): the op byte is the first packed field.
@dataclass(frozen=True)
class PendingCopy(Packed):
    TAG = 0x50
    LAYOUT = (("op", 1, U), ("src", 1, U), ("srcOff", 8, U), ("dstOff", 8, U), ("remaining", 8, U),
              ("backward", 1, U))  # fmt: skip
    op: int = 1
    src: int = 0
    srcOff: int = 0
    dstOff: int = 0
    remaining: int = 0
    backward: int = 0


@dataclass(frozen=True)
class PendingSponge(Packed):
    TAG = 0x50
    LAYOUT = (("op", 1, U), ("state", 200, B), ("absorbed", 8, U), ("source", 1, U), ("srcOff", 8, U),
              ("remaining", 8, U), ("purpose", 1, U))  # fmt: skip
    op: int = 2
    state: bytes = _z(200)
    absorbed: int = 0
    source: int = 0
    srcOff: int = 0
    remaining: int = 0
    purpose: int = 0


@dataclass(frozen=True)
class PendingLogData(Packed):
    TAG = 0x50
    LAYOUT = (("op", 1, U), ("memOff", 8, U), ("bufOff", 8, U), ("remaining", 8, U))
    op: int = 3
    memOff: int = 0
    bufOff: int = 0
    remaining: int = 0


@dataclass(frozen=True)
class PendingCommit(Packed):
    """The COMMIT walk's cursor (2.5 as built, `WorldState.CommitCursor`, `world_state.CommitCursor`):
    `stage` 0 start / 1 walk / 2 done, the next leaf, the open account's leaf and storage root so
    far, `close` = the next step writes that account. `WorldState.pendingHash` hashes the same."""

    TAG = 0x50
    LAYOUT = (("op", 1, U), ("stage", 1, U), ("leafIndex", 4, U), ("accountIndex", 4, U), ("storageRoot", 32, B),
              ("close", 1, U))  # fmt: skip
    op: int = 4
    stage: int = 0
    leafIndex: int = 0
    accountIndex: int = 0
    storageRoot: bytes = ZERO32
    close: int = 0


NODE_TYPES: tuple[type[Packed], ...] = (
    Cursor, BlockClaim, MachineState, EntryCtx, BlockCtx, BlockAcc, TxRecord, Frame, TxCtx, CodeRecord,
    PendingCopy, PendingSponge, PendingLogData, PendingCommit,
)  # fmt: skip


def stack_hash(items: Iterable[int]) -> bytes:
    """The stack hash chain (1.4.1) of `items`, bottom first: `s_{n+1} = H(s_n ++ item)`."""
    h = ZERO32
    for item in items:
        h = keccak(h + item.to_bytes(32, "big"))
    return h


def jump_bitmap(code: bytes) -> bytes:
    """JUMPDEST bitmap (1.4.3): bit `7 - i % 8` of byte `i / 8` is set iff byte i is a JUMPDEST."""
    bits = bytearray((len(code) + 7) // 8)
    i = 0
    while i < len(code):
        op = code[i]
        if op == 0x5B:
            bits[i // 8] |= 0x80 >> (i % 8)
        i += op - 0x5E if 0x60 <= op <= 0x7F else 1
    return bytes(bits)


@dataclass(frozen=True)
class Code:
    """A code and its oracle record (the Python twin of CodeOracle.register)."""

    code: bytes

    @property
    def tree(self) -> Buf:
        return _code_tree(self.code)

    @property
    def jump_tree(self) -> Buf:
        return _jump_tree(self.code)

    @property
    def record(self) -> CodeRecord:
        return CodeRecord(keccak(self.code), self.tree.root, self.jump_tree.root, len(self.code))


_TREES: dict[bytes, tuple[Buf, Buf]] = {}


def _trees(code: bytes) -> tuple[Buf, Buf]:
    if code not in _TREES:
        _TREES[code] = (Buf.of_bytes(CODE_DEPTH, code), Buf.of_bytes(CODE_DEPTH, jump_bitmap(code)))
    return _TREES[code]


def _code_tree(code: bytes) -> Buf:
    return _trees(code)[0]


def _jump_tree(code: bytes) -> Buf:
    return _trees(code)[1]


VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "fraud-proofs.json"


def sample(cls: type[Packed], seed: int) -> Packed:
    """A deterministic instance of `cls` with every field non-zero (for vectors and tests)."""
    values: dict[str, Any] = {}
    for name, size, kind in cls.LAYOUT:
        raw = b"".join(keccak(f"{cls.__name__}/{name}/{seed}/{i}".encode()) for i in range(size // 32 + 1))[:size]
        if name == "op":
            values[name] = cls().op  # type: ignore[call-arg,attr-defined]
        elif kind == B:
            values[name] = raw
        else:
            values[name] = int.from_bytes(raw, "big", signed=kind == SI)
    return cls(**values)  # type: ignore[call-arg]


def vectors() -> dict[str, Any]:
    """Test vectors of every node type of section 1, the stack chain and `Buf` roots."""
    nodes = []
    for cls in NODE_TYPES:
        for seed in range(2):
            node = sample(cls, seed)
            nodes.append({"type": cls.__name__, "tag": node.TAG, "preimage": "0x" + node.preimage().hex(),
                          "hash": "0x" + node.hash().hex()})  # fmt: skip
    code = bytes.fromhex("6003565b5b7f") + bytes(range(32)) + bytes.fromhex("5b00")
    data = bytes(range(1, 100))
    buf = Buf.of_bytes(CODE_DEPTH, data)
    return {
        "nodes": nodes,
        "stack": [{"items": [str(v) for v in items], "hash": "0x" + stack_hash(items).hex()}
                  for items in ([], [1], [1, 2, 3], [2**256 - 1, 0])],  # fmt: skip
        "buf": [
            {"depth": d, "data": "0x" + data.hex(), "root": "0x" + Buf.of_bytes(d, data).root.hex()}
            for d in (CODE_DEPTH, 20)
        ],
        "bufRange": {"depth": CODE_DEPTH, "first": 1, "words": ["0x" + buf.word(i).hex() for i in (1, 2)],
                     "siblings": ["0x" + s.hex() for s in buf.siblings(1, 2)], "root": "0x" + buf.root.hex()},
        "code": {"code": "0x" + code.hex(), "bitmap": "0x" + jump_bitmap(code).hex(),
                 "record": "0x" + Code(code).record.preimage().hex(), "hash": "0x" + Code(code).record.hash().hex()},
    }  # fmt: skip


def write_vectors(path: Path = VECTORS_PATH) -> None:
    path.write_text(json.dumps(vectors(), indent=1) + "\n")


if __name__ == "__main__":
    write_vectors()
