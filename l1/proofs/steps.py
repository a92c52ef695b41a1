"""The EVM step function (docs/fraud-proofs.md 2.3): the Python twin of OneStepProver.sol.

`step(state)` returns the state after one step and the proof bytes the Solidity verifier
decodes, produced in the order the verifier reads them, by the same decisions: the proof
is a by-product of running the step, so the two cannot drift apart silently. A step this
slice does not prove raises `Unsupported(name)` with the name the contract reverts with.

Proof layout (all packed, no lengths: every count follows from what was read before):
`MachineState ++ Frame ++ CodeRecord` preimages, then for an EXEC step below the code size
the code words holding the opcode and its PUSH immediate with their boundary siblings, then
(when the stack checks pass) the top `need` stack items, top first, and the hash under them,
then what the opcode reads, in its order: a BlockCtx / TxCtx / BlockAcc preimage, memory or
calldata words with siblings, a JUMPDEST bitmap word, a copy's source words then its destination
memory words; a top-frame end adds TxCtx and BlockAcc (docs/fraud-proofs.md 2.3, "As built").
CALL, CALLCODE, DELEGATECALL, STATICCALL and the end of a callee (FRAME_RETURN) are `_call` /
`_frame_return`, the twins of ExecCall.sol (docs/fraud-proofs.md 12, 19). BLOCKHASH reads the
EIP-2935 history slot in the pre-tx trie, EXTCODECOPY an account's code from the code oracle
(`_blockhash`, `_extcodecopy`: the twins of ExecWorld.sol, docs/fraud-proofs.md 20). CREATE,
CREATE2 (`_create`) and the code deposit at the end of an initcode frame (`_deposit`, inside
`_frame_return`) are the twins of ExecCall.create / ExecCall._deposit (docs/fraud-proofs.md 21).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import rlp
from eth.vm.forks.prague.constants import HISTORY_SERVE_WINDOW, HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CONTRACT_CODE
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak
from trie import HexaryTrie

from l1.proofs import mpt, world_state
from l1.proofs.buf import CODE_DEPTH, MEM_DEPTH, ZERO32, Buf
from l1.proofs.commitments import (
    EXEC,
    PHASE_NAMES,
    TX_END,
    BlockAcc,
    BlockCtx,
    Code,
    CodeRecord,
    Frame,
    MachineState,
    Packed,
    PendingSponge,
    TxCtx,
    stack_hash,
)
from l1.proofs.journal import (
    EMPTY_CODE_HASH,
    EMPTY_TRIE_ROOT,
    FLAG_TOUCHED,
    FLAG_WARM,
    AccountEntry,
    Journal,
    LeafProof,
    SlotEntry,
    account_key,
    slot_key,
)
from l1.proofs.optable import OPS
from l1.proofs.sponge import RATE, absorb, absorb_final, squeeze

UINT256 = (1 << 256) - 1
MAX_MEM_WORDS = 1 << MEM_DEPTH
INLINE = 544
OOG = 1 << 128  # a cost no frame can pay
COPIES = (0x37, 0x39, 0x3E, 0x5E)  # CALLDATACOPY, CODECOPY, RETURNDATACOPY, MCOPY
ACCOUNT_OPS = (0x31, 0x3B, 0x3F, 0x47)  # BALANCE, EXTCODESIZE, EXTCODEHASH, SELFBALANCE: an account leaf
SLOT_OPS = (0x54, 0x55)  # SLOAD, SSTORE: a slot leaf
EXTCODECOPY = 0x3C  # an account leaf (cold / warm as EXTCODESIZE), then a copy of its code (20)
LOGS = range(0xA0, 0xA5)
COLD_ACCOUNT, WARM_ACCOUNT = 2600, 100  # EIP-2929
CALL, CALLCODE, DELEGATECALL, STATICCALL = 0xF1, 0xF2, 0xF4, 0xFA
CALL_KINDS = {CALL: 0, CALLCODE: 1, DELEGATECALL: 2, STATICCALL: 3}  # opcode -> Frame.kind (1.4)
CALL_VALUE, CALL_STIPEND, NEW_ACCOUNT = 9000, 2300, 25000
CREATE, CREATE2 = 0xF0, 0xF5
CREATE_KINDS = {CREATE: 4, CREATE2: 5}  # opcode -> Frame.kind (1.4)
CREATE_GAS, INITCODE_WORD, CREATE2_WORD = 32000, 2, 6  # base, EIP-3860 per word, CREATE2's hashing per word
MAX_CODE_SIZE = 24576  # EIP-170
CODE_DEPOSIT = 200  # gas per deposited code byte
MAX_NONCE = (1 << 64) - 1
MAX_INITCODE = 2 * MAX_CODE_SIZE  # EIP-3860
# the EXEC keccak sponge over the frame's memory (docs/fraud-proofs.md 21.1): a CREATE's initcode or a
# deposited code above the inline bound is hashed by micro-steps at the opcode's pc, then the opcode runs
SOURCE_MEMORY = 0
PURPOSE_CREATE, PURPOSE_CREATE_DONE, PURPOSE_DEPOSIT, PURPOSE_DEPOSIT_DONE = 6, 7, 8, 9
MAX_DEPTH = 1024
PRECOMPILES = range(0x01, 0x12)  # 0x01..0x11 (Prague)
DELEGATION_PREFIX = b"\xef\x01\x00"  # EIP-7702 delegation designation: 0xef0100 ++ address (23 bytes)
ADDRESS_MASK = (1 << 160) - 1
EMPTY_BLOOM = bytes(256)
# BLOCKHASH (docs/fraud-proofs.md 20): py-evm answers the last 256 blocks; the EIP-2935 history
# contract holds block n's hash in slot n % 8191 (written at the start of block n + 1)
BLOCKHASH_DEPTH = 256
HISTORY_ADDRESS = bytes(HISTORY_STORAGE_ADDRESS)
HISTORY_CODE_HASH = keccak(HISTORY_STORAGE_CONTRACT_CODE)


class Unsupported(Exception):
    """A step this prover cannot prove yet; `name` is what the verifier reverts with."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.proof = b""  # the proof read up to the refusal: enough for the verifier to refuse too


@dataclass(frozen=True)
class Section:
    """A labelled part of a proof: a packed preimage (`layout`) or a run of 32-byte words."""

    label: str
    data: bytes
    layout: type[Packed] | None = None


@dataclass(frozen=True)
class Chain:
    """The chain constants baked into the verifier at deployment (1.1)."""

    chain_id: int
    gas_limit: int
    coinbase: bytes


@dataclass(frozen=True)
class ExecState:
    """A machine state in phase EXEC (or the TX_END it ends in) with everything its
    commitment hides: the frame's stack and memory, its code, the block byte store."""

    ms: MachineState  # its frame / tx / block / blockAcc fields are recomputed by `machine_state`
    frame: Frame  # its stack, stackDepth and memRoot are recomputed from `stack` and `memory`
    tx: TxCtx
    block: BlockCtx
    acc: BlockAcc
    code: Code
    stack: tuple[int, ...]  # bottom first
    memory: Buf
    store: Buf
    chain: Chain
    cd_source: Buf | None = None  # the caller's memory when the calldata view is not the store
    rd_source: Buf | None = None  # the last callee's memory (return data view)
    # the tx journal (1.6): when set, `ms.journalRoot/journalCount` are taken from it; world_db holds
    # the pre-tx trie nodes (ms.worldRoot) for LOAD proofs; snap_journal is the frame's snapshot
    journal: Journal | None = None
    world_db: Any = None
    snap_journal: Journal | None = None
    tx_bloom: bytes = EMPTY_BLOOM  # the 256-byte tx bloom (TxCtx.bloom is its hash)
    snap_bloom: bytes = EMPTY_BLOOM
    # the memory sponge in progress or finished at this pc (MachineState.pending; None: 0)
    sponge: PendingSponge | None = None
    # the suspended callers, outermost first: each is the caller's state as CALL left it (its frame
    # hashes to the next one's `parent`); only their frame, stack, memory, code, views and snapshots
    # are used when the callee returns (docs/fraud-proofs.md 1.4, 2.3)
    parents: tuple[ExecState, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def committed_frame(self) -> Frame:
        if "frame" not in self._cache:
            self._cache["frame"] = replace(
                self.frame, stack=stack_hash(self.stack), stackDepth=len(self.stack), memRoot=self.memory.root
            )
        return self._cache["frame"]

    def machine_state(self) -> MachineState:
        if "ms" not in self._cache:
            ms = self.ms
            if self.journal is not None:
                ms = replace(ms, journalRoot=self.journal.root, journalCount=self.journal.count)
            if self.sponge is not None:
                ms = replace(ms, pending=self.sponge.hash())
            self._cache["ms"] = replace(
                ms,
                frame=self.committed_frame().hash(),
                tx=self.tx.hash(),
                block=self.block.hash(),
                blockAcc=self.acc.hash(),
            )
        return self._cache["ms"]

    def hash(self) -> bytes:
        return self.machine_state().hash()


def _w(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _signed(v: int) -> int:
    return v - (1 << 256) if v >> 255 else v


def alu(op: int, a: int, b: int = 0, c: int = 0) -> int:
    """Arithmetic, comparison and bitwise opcodes (0x01-0x1d) on 256-bit words."""
    if op == 0x01:
        return (a + b) & UINT256
    if op == 0x02:
        return (a * b) & UINT256
    if op == 0x03:
        return (a - b) & UINT256
    if op == 0x04:
        return a // b if b else 0
    if op == 0x05:
        if b == 0:
            return 0
        sa, sb = _signed(a), _signed(b)
        q = abs(sa) // abs(sb)
        return (q if (sa < 0) == (sb < 0) else -q) & UINT256
    if op == 0x06:
        return a % b if b else 0
    if op == 0x07:
        if b == 0:
            return 0
        sa, sb = _signed(a), _signed(b)
        r = abs(sa) % abs(sb)
        return (-r if sa < 0 else r) & UINT256
    if op == 0x08:
        return (a + b) % c if c else 0
    if op == 0x09:
        return (a * b) % c if c else 0
    if op == 0x0A:
        return pow(a, b, 1 << 256)
    if op == 0x0B:
        if a > 30:
            return b
        bit = 8 * a + 7
        mask = (1 << bit) - 1
        return (b | (UINT256 - mask)) if b >> bit & 1 else b & mask
    if op == 0x10:
        return int(a < b)
    if op == 0x11:
        return int(a > b)
    if op == 0x12:
        return int(_signed(a) < _signed(b))
    if op == 0x13:
        return int(_signed(a) > _signed(b))
    if op == 0x14:
        return int(a == b)
    if op == 0x15:
        return int(a == 0)
    if op == 0x16:
        return a & b
    if op == 0x17:
        return a | b
    if op == 0x18:
        return a ^ b
    if op == 0x19:
        return UINT256 - a
    if op == 0x1A:
        return (b >> (8 * (31 - a))) & 0xFF if a < 32 else 0
    if op == 0x1B:
        return (b << a) & UINT256 if a < 256 else 0
    if op == 0x1C:
        return b >> a if a < 256 else 0
    if op == 0x1D:
        return (_signed(b) >> min(a, 256)) & UINT256
    raise ValueError(f"not an ALU opcode: {op:#x}")


def mem_cost(words: int) -> int:
    return 3 * words + words * words // 512


def op_cost(op: int, items: list[int], base: int, mem_words: int) -> tuple[int, int]:
    """Gas of `op` as py-evm's Prague charges it, and the memory size in words after it."""
    cost = base
    off = size = 0
    if op == 0x0A:
        cost += 50 * ((items[1].bit_length() + 7) // 8)
    elif op == 0x20:
        off, size = items[0], items[1]
        if size < 1 << 64:
            cost += 6 * ((size + 31) // 32)
    elif op in (0x51, 0x52):
        off, size = items[0], 32
    elif op == 0x53:
        off, size = items[0], 1
    elif op in (0xF3, 0xFD):
        off, size = items[0], items[1]
    elif op in COPIES:
        off, size = max(items[0], items[1]) if op == 0x5E else items[0], items[2]  # MCOPY covers both
        if size < 1 << 64:
            cost += 3 * ((size + 31) // 32)
    elif op == EXTCODECOPY:  # the account's 2600 / 100 come with its leaf (ExecWorld)
        off, size = items[1], items[3]
        if size < 1 << 64:
            cost += 3 * ((size + 31) // 32)
    elif op in LOGS:
        off, size = items[0], items[1]
        cost += 375 * (op - 0xA0)
        if size < 1 << 64:
            cost += 8 * size
    elif op in CALL_KINDS:  # py-evm expands over the input, then the output area
        words = mem_words
        k = _args_at(op)
        for off, size in ((items[k], items[k + 1]), (items[k + 2], items[k + 3])):
            if size == 0:
                continue
            if off >= 1 << 64 or size >= 1 << 64:
                return OOG, mem_words
            words = max(words, (off + size + 31) // 32)
        return cost + mem_cost(words) - mem_cost(mem_words), words
    if size == 0:
        return cost, mem_words
    if off >= 1 << 64 or size >= 1 << 64:
        return OOG, mem_words
    words = (off + size + 31) // 32
    if words > mem_words:
        cost += mem_cost(words) - mem_cost(mem_words)
        mem_words = words
    return cost, mem_words


class _Step:
    """One step in progress: the proof written so far and the post-state's parts."""

    def __init__(self, st: ExecState) -> None:
        self.st = st
        self.proof: list[bytes] = []
        self.sections: list[Section] = []
        self.frame = st.frame
        self.stack = list(st.stack)
        self.memory = st.memory
        self.ms = st.ms
        self.tx = st.tx
        self.acc = st.acc
        self.gas = st.frame.gas
        self.mem_words = st.frame.memWords
        self.op = -1
        self.items: list[int] = []
        self.journal = st.journal
        self.store = st.store
        self.tx_bloom = st.tx_bloom
        self.sponge = st.sponge
        self.digest: bytes | None = None  # a finished memory sponge's digest, for the opcode at pc

    def add(self, label: str, data: bytes, layout: type[Packed] | None = None) -> None:
        self.proof.append(data)
        self.sections.append(Section(label, data, layout))

    def words(self, label: str, buf: Buf, off: int, size: int) -> bytes:
        """Proof of the words covering [off, off+size); returns those bytes."""
        first, last = off // 32, (off + size - 1) // 32
        self.add(label, buf.proof(first, last - first + 1))
        return buf.read(off, size)

    def post(self, **frame_changes: Any) -> ExecState:
        frame = replace(self.frame, gas=self.gas, memWords=self.mem_words, **frame_changes)
        return replace(
            self.st, ms=self.ms, frame=frame, tx=self.tx, acc=self.acc, stack=tuple(self.stack),
            memory=self.memory, journal=self.journal, store=self.store, tx_bloom=self.tx_bloom, sponge=self.sponge,
            _cache={},
        )  # fmt: skip

    def mutable_journal(self) -> Journal:
        """The journal to change in this step (a copy: the pre-state keeps its own)."""
        if self.journal is None:
            raise ValueError("a world-state step needs the tx journal (ExecState.journal)")
        if self.journal is self.st.journal:
            self.journal = self.journal.copy()
        return self.journal

    def end_top(self, success: bool, exceptional: bool, out_off: int = 0, out_len: int = 0) -> ExecState:
        """Top frame end -> TX_END (the twin of OneStepProver._endTop)."""
        fr = self.st.frame
        if fr.parent != ZERO32:
            return _frame_return(self, success, exceptional, out_off, out_len)
        self.add("TxCtx", self.tx.preimage(), TxCtx)
        self.add("BlockAcc", self.acc.preimage(), BlockAcc)
        self.tx = replace(self.tx, status=(self.tx.status & 0xFE) | int(success))
        if not success:
            self.tx = replace(self.tx, refund=fr.snapRefund, logCount=fr.snapLogCount, bloom=fr.snapBloom)
            self.acc = replace(self.acc, bufLen=fr.snapBufLen)
            self.ms = replace(self.ms, journalRoot=fr.snapJournalRoot, journalCount=fr.snapJournalCount)
            if self.st.journal is not None:
                self.journal = self.st.snap_journal
            self.tx_bloom = self.st.snap_bloom
        output = not exceptional and self.op in (0xF3, 0xFD)
        self.ms = replace(self.ms, phase=TX_END)
        if exceptional:
            self.gas, self.mem_words, self.stack, self.memory = 0, fr.memWords, list(self.st.stack), self.st.memory
        elif output:
            del self.stack[len(self.stack) - 2 :]
        rd_root = self.memory.root if output else ZERO32
        return self.post(rdRoot=rd_root, rdOff=out_off, rdLen=out_len)


def step(st: ExecState) -> tuple[ExecState, bytes]:
    """One step from `st`: the post-state and the proof."""
    post, sections = step_sections(st)
    return post, b"".join(s.data for s in sections)


def step_sections(st: ExecState) -> tuple[ExecState, list[Section]]:
    """`step` with the proof as labelled sections (for corruption tests and size reports)."""
    s = _Step(st)
    s.add("MachineState", st.machine_state().preimage(), MachineState)
    try:
        if st.ms.phase != EXEC:
            raise Unsupported(PHASE_NAMES.get(st.ms.phase, "PHASE"))
        try:
            post = _exec(s)
        except _Halt:
            post = s.end_top(False, True)
    except Unsupported as exc:
        exc.proof = b"".join(section.data for section in s.sections)
        raise
    return post, s.sections


def _exec(s: _Step) -> ExecState:
    st, fr = s.st, s.st.frame
    s.add("Frame", st.committed_frame().preimage(), Frame)
    s.add("CodeRecord", st.code.record.preimage(), CodeRecord)
    code = st.code.code
    pc = fr.pc
    if pc >= len(code):
        return s.end_top(True, False)
    op = code[pc]
    n = op - 0x5F if 0x60 <= op <= 0x7F else 0
    immediate = s.words("code", st.code.tree, pc, n + 1)[1:]
    s.op = op
    info = OPS.get(op)
    depth = len(st.stack)
    if (
        info is None
        or depth < info.need
        or depth - info.pops + info.pushes > 1024
        or (info.state_changing and fr.static)
    ):
        return s.end_top(False, True)
    if not info.supported:
        raise Unsupported(info.name)
    items = list(reversed(st.stack[depth - info.need :]))  # top first
    s.items = items
    s.add("stack", b"".join(_w(v) for v in items) + stack_hash(st.stack[: depth - info.need]))
    if st.sponge is not None:
        sp = st.sponge
        s.add("Pending", sp.preimage(), PendingSponge)
        if sp.purpose in (PURPOSE_CREATE, PURPOSE_DEPOSIT):
            return _absorb(s, sp)
        s.digest = _finished(op, items, sp)
    if op in CREATE_KINDS:
        return _create(s, items)
    if op in CALL_KINDS:
        if op == CALL and fr.static and items[2]:  # a value transfer in a static frame (py-evm: before any gas)
            return s.end_top(False, True)
        if (items[1] & ADDRESS_MASK) in PRECOMPILES:
            raise Unsupported("PRECOMPILE_CALL")
    if op in ACCOUNT_OPS or op in SLOT_OPS or op in CALL_KINDS or op == EXTCODECOPY:
        loaded = _load_if_absent(s, op, items)  # (3) a first touch is a LOAD step, pc unchanged
        if loaded is not None:
            return loaded
    if op == 0x3E and items[1] + items[2] > fr.rdLen:  # py-evm checks this before any gas
        return s.end_top(False, True)
    cost, new_words = op_cost(op, items, info.gas, fr.memWords)
    if cost > s.gas:
        return s.end_top(False, True)
    if new_words > MAX_MEM_WORDS:
        raise Unsupported("MEMORY_LIMIT")
    s.gas -= cost
    s.mem_words = new_words
    del s.stack[depth - info.pops :]
    next_pc = pc + 1

    def push(v: int) -> ExecState:
        s.stack.append(v)
        return s.post(pc=next_pc)

    if op == 0x00:
        return s.end_top(True, False)
    if op in CALL_KINDS:
        return _call(s, items, next_pc)
    if op in ACCOUNT_OPS:
        return push(_account_op(s, op, items))
    if op == EXTCODECOPY:
        _extcodecopy(s, items)
        return s.post(pc=next_pc)
    if op == 0x54:
        return push(_sload(s, items[0]))
    if op == 0x55:
        return _sstore(s, items, next_pc)
    if op in LOGS:
        _log(s, op, items)
        return s.post(pc=next_pc)
    if op in (0xF3, 0xFD):
        s.stack.extend(reversed(items))  # end_top pops them itself
        return s.end_top(op == 0xF3, False, items[0] if items[1] else 0, items[1])
    if op in COPIES:
        if items[2]:
            data = _copy_source(s, op, items[1], items[2])
            s.words("memory", s.memory, items[0], items[2])
            s.memory = s.memory.write(items[0], data)
        return s.post(pc=next_pc)
    if op <= 0x1D:
        return push(alu(op, *items))
    if op == 0x20:
        off, size = items
        if size == 0:
            return push(int.from_bytes(keccak(b""), "big"))
        if size > INLINE:
            raise Unsupported("KECCAK256_SPONGE")
        return push(int.from_bytes(keccak(s.words("memory", s.memory, off, size)), "big"))
    if 0x30 <= op <= 0x4A:
        return push(_env(s, op, items))
    if op in (0x50, 0x5B):
        return s.post(pc=next_pc)
    if op == 0x51:
        return push(int.from_bytes(s.words("memory", s.memory, items[0], 32), "big"))
    if op in (0x52, 0x53):
        off, value = items
        data = bytes([value & 0xFF]) if op == 0x53 else _w(value)
        s.words("memory", s.memory, off, len(data))
        s.memory = s.memory.write(off, data)
        return s.post(pc=next_pc)
    if op in (0x56, 0x57):
        if op == 0x57 and items[1] == 0:
            return s.post(pc=next_pc)
        dest = items[0]
        if dest >= len(code):
            return s.end_top(False, True)
        bitmap = s.words("jumpdest", st.code.jump_tree, dest // 8, 1)
        if not bitmap[0] >> (7 - dest % 8) & 1:
            return s.end_top(False, True)
        return s.post(pc=dest)
    if op == 0x58:
        return push(pc)
    if op == 0x59:
        return push(32 * s.mem_words)
    if op == 0x5A:
        return push(s.gas)
    if op == 0x5F:
        return push(0)
    if op <= 0x7F:
        next_pc = pc + 1 + n
        return push(int.from_bytes(immediate.ljust(n, b"\x00"), "big"))
    if op <= 0x8F:
        return push(items[op - 0x80])
    k = op - 0x8F  # SWAPk: window top-first becomes [items[k], items[1..k-1], items[0]]
    window = [items[k], *items[1:k], items[0]]
    s.stack.extend(reversed(window))
    return s.post(pc=next_pc)


@dataclass(frozen=True)
class LoadFlag(Packed):
    """One byte after the stack of a world-state opcode: 1 = the key is absent from the journal and
    this step is its LOAD (2.4), 0 = present, the opcode runs. Each branch proves its own case
    (an insert needs the key absent, the opcode needs its leaf), so the prover cannot choose."""

    TAG = None
    LAYOUT = (("load", 1, "u"),)
    load: int = 0


def _key_of(s: _Step, op: int, items: list[int]) -> tuple[bytes, bytes, int | None]:
    """(journal key, address, slot) of a world-state opcode."""
    fr = s.st.frame
    if op in SLOT_OPS:
        return slot_key(fr.address, items[0]), fr.address, items[0]
    if op == 0x47:
        return account_key(fr.address), fr.address, None
    address = ((items[1] if op in CALL_KINDS else items[0]) & ADDRESS_MASK).to_bytes(20, "big")
    return account_key(address), address, None


def mpt_nodes(nodes: list[bytes]) -> bytes:
    """An MPT proof inside a step proof: `u32 length ++` the ABI encoding of `bytes[]` from its
    length word on (the verifier points a `bytes[] calldata` at it, as MptUpdate.read takes)."""
    body = abi_encode(["bytes[]"], [nodes])[32:]
    return len(body).to_bytes(4, "big") + body


def _load_if_absent(s: _Step, op: int, items: list[int]) -> ExecState | None:
    """LOAD_ACCOUNT / LOAD_SLOT when the opcode's key is absent (post: only the journal changes)."""
    if s.journal is None:
        raise ValueError("a world-state step needs the tx journal (ExecState.journal)")
    key, address, slot = _key_of(s, op, items)
    absent = key not in s.journal
    s.add("load", LoadFlag(int(absent)).preimage(), LoadFlag)
    if not absent:
        return None
    journal = s.mutable_journal()
    if slot is None:
        la = world_state.load_account(s.st.world_db, s.st.ms.worldRoot, journal, address)
        s.add("mpt", mpt_nodes(la.proof))
        s.add("insert", la.insert.encode())
    else:
        ls = world_state.load_slot(s.st.world_db, journal, address, slot)
        s.add("account", ls.account_leaf.encode())
        s.add("mpt", mpt_nodes(ls.proof))
        s.add("insert", ls.insert.encode())
    s.gas, s.mem_words, s.stack = s.st.frame.gas, s.st.frame.memWords, list(s.st.stack)
    return s.post(pc=s.st.frame.pc)


def _leaf(s: _Step, key: bytes) -> LeafProof:
    assert s.journal is not None
    proof = s.journal.membership_proof(key)
    s.add("leaf", proof.encode())
    return proof


def _account_op(s: _Step, op: int, items: list[int]) -> int:
    """BALANCE, EXTCODESIZE, EXTCODEHASH (EIP-2929 cold 2600 / warm 100, then warm) and SELFBALANCE.
    EXTCODESIZE's size is what the code oracle holds for the account's code hash (a live read in
    the verifier); the prover takes the code from `world_db` (py-evm keeps code by hash)."""
    key, _, _ = _key_of(s, op, items)
    entry = _account_access(s, key) if op != 0x47 else AccountEntry.decode(_leaf(s, key).leaf.payload)
    if op == 0x3B:
        return 0 if entry.code_hash == keccak(b"") else len(bytes(s.st.world_db[entry.code_hash]))
    if op == 0x3F:
        empty = entry.nonce == 0 and entry.balance == 0 and entry.code_hash == keccak(b"")
        return 0 if empty else int.from_bytes(entry.code_hash, "big")
    return entry.balance


def _account_access(s: _Step, key: bytes) -> AccountEntry:
    """The account's leaf, EIP-2929 cold 2600 / warm 100 (out of gas: halt), then warm."""
    proof = _leaf(s, key)
    entry = AccountEntry.decode(proof.leaf.payload)
    warm = bool(entry.flags & FLAG_WARM)
    cost = WARM_ACCOUNT if warm else COLD_ACCOUNT
    if cost > s.gas:
        raise _Halt
    s.gas -= cost
    if not warm:
        s.mutable_journal().update(key, replace(entry, flags=entry.flags | FLAG_WARM).encode())
    return entry


def _extcodecopy(s: _Step, items: list[int]) -> None:
    """EXTCODECOPY (the twin of ExecWorld._extCodeCopy), after the memory and word gas: the
    account's access gas, then `size` bytes of its code from `offset` into memory at `destOffset`,
    zero past the code's end (py-evm copies the raw code: an EIP-7702 designator's 23 bytes). The
    code's words are proven against the code oracle's record of the account's code hash."""
    key, _, _ = _key_of(s, EXTCODECOPY, items)
    entry = _account_access(s, key)
    dst, src, size = items[1], items[2], items[3]
    if size == 0:
        return
    if size > INLINE:
        raise Unsupported("COPY_PENDING")
    code = b"" if entry.code_hash == EMPTY_CODE_HASH else bytes(s.st.world_db[entry.code_hash])
    data = bytes(size)
    if src < len(code):
        n = min(len(code) - src, size)
        data = s.words("source", Code(code).tree, src, n).ljust(size, b"\x00")
    s.words("memory", s.memory, dst, size)
    s.memory = s.memory.write(dst, data)


def _sload(s: _Step, slot: int) -> int:
    proof = _leaf(s, slot_key(s.st.frame.address, slot))
    entry = SlotEntry.decode(proof.leaf.payload)
    cost = 100 if entry.warm else 2100
    if cost > s.gas:
        raise _Halt
    s.gas -= cost
    if not entry.warm:
        s.mutable_journal().update(proof.leaf.key, replace(entry, warm=True).encode())
    return entry.current


def _sstore(s: _Step, items: list[int], next_pc: int) -> ExecState:
    address = s.st.frame.address
    proof = _leaf(s, slot_key(address, items[0]))
    entry = SlotEntry.decode(proof.leaf.payload)
    cost = world_state.sstore_gas(entry.original, entry.current, items[1], entry.warm, s.gas)
    if not cost.ok:
        raise _Halt
    s.gas -= cost.gas
    s.mutable_journal().update(proof.leaf.key, replace(entry, current=items[1], warm=True).encode())
    s.add("TxCtx", s.tx.preimage(), TxCtx)
    s.tx = replace(s.tx, refund=s.tx.refund + cost.refund)
    return s.post(pc=next_pc)


def bloom_add(bloom: bytes, item: bytes) -> bytes:
    """The 256-byte bloom with `item`'s 3 bits set (yellow paper M3:2048)."""
    out = bytearray(bloom)
    h = keccak(item)
    for i in (0, 2, 4):
        bit = int.from_bytes(h[i : i + 2], "big") & 2047
        out[255 - bit // 8] |= 1 << (bit % 8)
    return bytes(out)


def log_rlp_bytes(address: bytes, topics: list[int], data: bytes) -> bytes:
    """rlp([address, [topics], data]): a log as the block byte store and the receipt hold it."""
    return rlp.encode([address, [t.to_bytes(32, "big") for t in topics], data])


def _log(s: _Step, op: int, items: list[int]) -> None:
    """LOGn: its RLP into the block byte store at max(bufLen, logsOff), the tx bloom, logCount."""
    off, size = items[0], items[1]
    if size > INLINE:
        raise Unsupported("LOGDATA_PENDING")
    s.add("TxCtx", s.tx.preimage(), TxCtx)
    s.add("BlockAcc", s.acc.preimage(), BlockAcc)
    s.add("bloom", s.tx_bloom)
    data = s.words("memory", s.memory, off, size) if size else b""
    address = s.st.frame.address
    topics = items[2 : 2 + op - 0xA0]
    encoded = log_rlp_bytes(address, topics, data)
    at = max(s.acc.bufLen, s.tx.logsOff)
    s.words("store", s.store, at, len(encoded))
    s.store = s.store.write(at, encoded)
    bloom = bloom_add(s.tx_bloom, address)
    for t in topics:
        bloom = bloom_add(bloom, t.to_bytes(32, "big"))
    s.tx_bloom = bloom
    s.tx = replace(s.tx, logCount=s.tx.logCount + 1, bloom=keccak(bloom))
    s.acc = replace(s.acc, bufRoot=s.store.root, bufLen=at + len(encoded))


class _Halt(Exception):
    """Out of gas inside an opcode's world-state part: exceptional halt."""


def _args_at(op: int) -> int:
    """Index of a call's input offset among its stack items (top first): after `gas, address,
    value` for CALL and CALLCODE, after `gas, address` for DELEGATECALL and STATICCALL."""
    return 3 if op in (CALL, CALLCODE) else 2


def _call(s: _Step, items: list[int], next_pc: int) -> ExecState:
    """CALL, CALLCODE, DELEGATECALL, STATICCALL after their memory expansion (docs/fraud-proofs.md
    2.3, 12, 19; py-evm's CallEIP7702 and its siblings): the account load of the code source
    `items[1]` (2600 cold / 100 warm), 9000 with a value (CALL, CALLCODE) and 25000 for a CALL's
    value to an empty account, the 63/64 rule and the 2300 stipend with a value (none for
    DELEGATECALL, which keeps the caller's value without sending it); then CALL's value transfer
    (CALLCODE's goes to the caller itself: only its balance is checked) and either the immediate
    success of a code source without code or the callee frame. The callee runs in the caller's
    storage, with its caller and value for DELEGATECALL, in the caller's storage with the given
    value for CALLCODE, in the target's with the static flag set for STATICCALL. Proof after the
    LOAD flag: the code source's LeafProof; for a 23-byte code, its first word (a 7702
    delegation is refused); with a value, the caller's LeafProof in the journal with the code
    source warm, then (CALL only) the target's again after the debit; for a callee frame, TxCtx
    and BlockAcc (its snapshot fields)."""
    st, fr, op = s.st, s.st.frame, s.op
    k = _args_at(op)
    gas_arg = items[0]
    sends = items[2] if op in (CALL, CALLCODE) else 0  # the value py-evm charges, checks and moves
    value = items[2] if op in (CALL, CALLCODE) else fr.value if op == DELEGATECALL else 0  # the callee's CALLVALUE
    in_off, in_size, out_off, out_size = items[k : k + 4]
    to = (items[1] & ADDRESS_MASK).to_bytes(20, "big")
    entry = AccountEntry.decode(_leaf(s, account_key(to)).leaf.payload)
    cost = WARM_ACCOUNT if entry.flags & FLAG_WARM else COLD_ACCOUNT
    if cost > s.gas:
        raise _Halt
    s.gas -= cost
    code = b""
    if entry.code_hash != EMPTY_CODE_HASH:
        code = bytes(st.world_db[entry.code_hash])
        if len(code) == len(DELEGATION_PREFIX) + 20 and s.words("code", Code(code).tree, 0, 3) == DELEGATION_PREFIX:
            raise Unsupported("DELEGATED_CALL")
    empty = entry.nonce == 0 and entry.balance == 0 and entry.code_hash == EMPTY_CODE_HASH
    extra = (CALL_VALUE if sends else 0) + (NEW_ACCOUNT if op == CALL and sends and empty else 0)
    if extra > s.gas:
        raise _Halt
    avail = s.gas - extra
    child = min(gas_arg, avail - avail // 64)
    s.gas -= child + extra
    child_gas = child + (CALL_STIPEND if sends else 0)
    journal = s.mutable_journal()
    entry = replace(entry, flags=entry.flags | FLAG_WARM)
    journal.update(entry.key, entry.encode())
    snap = journal.copy()  # the callee's snapshot: code source warm, no transfer yet (py-evm's apply_message)
    fail = fr.depth + 1 > MAX_DEPTH
    if sends:
        caller = AccountEntry.decode(_leaf(s, account_key(fr.address)).leaf.payload)
        fail = fail or caller.balance < sends
    if fail:  # no frame: 0 pushed, the callee's gas back, return data empty
        s.gas += child_gas
        s.stack.append(0)
        return replace(s.post(pc=next_pc, rdRoot=ZERO32, rdOff=0, rdLen=0), rd_source=None)
    if op in (CALL, STATICCALL):  # the callee runs at `to`: moved value, touched (py-evm's apply_message)
        if sends:
            journal.update(caller.key, replace(caller, balance=caller.balance - sends).encode())
            entry = AccountEntry.decode(_leaf(s, account_key(to)).leaf.payload)
            entry = replace(entry, balance=entry.balance + sends)
        journal.update(entry.key, replace(entry, flags=entry.flags | FLAG_TOUCHED).encode())
    elif not AccountEntry.decode(journal.get(account_key(fr.address)).payload).flags & FLAG_TOUCHED:
        # CALLCODE / DELEGATECALL run at the caller's own address, touched since its frame was entered
        raise ValueError("a running frame's address is not touched")
    if not code:  # an account without code: success at once, nothing returned
        s.gas += child_gas
        s.stack.append(1)
        return replace(s.post(pc=next_pc, rdRoot=ZERO32, rdOff=0, rdLen=0), rd_source=None)
    s.add("TxCtx", s.tx.preimage(), TxCtx)
    s.add("BlockAcc", s.acc.preimage(), BlockAcc)
    caller_state = replace(s.post(pc=next_pc), parents=())  # suspended: the items popped, pc past the call
    callee_code = Code(code)
    callee = Frame(
        parent=caller_state.committed_frame().hash(), depth=fr.depth + 1, kind=CALL_KINDS[op],
        static=1 if op == STATICCALL else fr.static, address=to if op in (CALL, STATICCALL) else fr.address,
        caller=fr.caller if op == DELEGATECALL else fr.address, value=value, code=callee_code.record.hash(),
        gas=child_gas, cdRoot=s.memory.root, cdOff=in_off if in_size else 0, cdLen=in_size,
        retOff=out_off if out_size else 0, retLen=out_size, snapJournalRoot=snap.root, snapJournalCount=snap.count,
        snapRefund=s.tx.refund, snapBufLen=s.acc.bufLen, snapLogCount=s.tx.logCount, snapBloom=s.tx.bloom,
    )  # fmt: skip
    return replace(
        caller_state, frame=callee, code=callee_code, stack=(), memory=Buf(MEM_DEPTH), cd_source=s.memory,
        rd_source=None, snap_journal=snap, snap_bloom=s.tx_bloom, parents=(*st.parents, caller_state), _cache={},
    )  # fmt: skip


def create_address(sender: bytes, nonce: int, salt: int | None = None, initcode: bytes = b"",
                   code_hash: bytes | None = None) -> bytes:  # fmt: skip
    """CREATE: keccak(rlp([sender, nonce]))[12:]; CREATE2: keccak(0xff ++ sender ++ salt ++ keccak(initcode))[12:]."""
    if salt is None:
        return keccak(rlp.encode([sender, nonce]))[12:]
    return keccak(b"\xff" + sender + _w(salt) + (code_hash or keccak(initcode)))[12:]


def _open(s: _Step, off: int, size: int, purpose: int) -> ExecState:
    """Opens the memory sponge over `[off, off + size)` at this pc: only `pending` changes."""
    sponge = PendingSponge(source=SOURCE_MEMORY, srcOff=off, remaining=size, purpose=purpose)
    return replace(s.st, sponge=sponge, _cache={})


def _absorb(s: _Step, sp: PendingSponge) -> ExecState:
    """One sponge micro-step over the frame's memory: a 136-byte block (its words and siblings), or
    the final 0..135-byte tail padded; the finished sponge's purpose is the next one (`*_DONE`)."""
    n = min(sp.remaining, RATE)
    data = s.words("block", s.memory, sp.srcOff, n) if n else b""
    if sp.remaining >= RATE:
        state, purpose = absorb(sp.state, data), sp.purpose
    else:
        state, purpose = absorb_final(sp.state, data)[0], sp.purpose + 1
    sponge = replace(sp, state=state, absorbed=sp.absorbed + n, srcOff=sp.srcOff + n, remaining=sp.remaining - n,
                     purpose=purpose)  # fmt: skip
    return replace(s.st, sponge=sponge, _cache={})


def _finished(op: int, items: list[int], sp: PendingSponge) -> bytes:
    """The digest of a finished sponge, for the opcode it was opened by (CREATE / CREATE2 over the
    initcode, RETURN over the deposited code) over the same range; anything else is no state of a trace."""
    if op in CREATE_KINDS:
        want, off, size = PURPOSE_CREATE_DONE, items[1], items[2]
    else:
        want, off, size = PURPOSE_DEPOSIT_DONE, items[0] if len(items) > 1 and items[1] else 0, items[1]
    if op not in (*CREATE_KINDS, 0xF3) or sp.purpose != want or sp.absorbed != size or sp.srcOff - size != off:
        raise ValueError("a finished memory sponge before another opcode")
    return squeeze(sp.state)


def create_cost(op: int, items: list[int], mem_words: int) -> tuple[int, int]:
    """CREATE / CREATE2 gas before the child's (py-evm's CreateEIP3860 / Create2EIP3860): 32000, 2 per
    initcode word (EIP-3860), 6 more per word for CREATE2's hash, the memory expansion over the initcode."""
    off, size = items[1], items[2]
    if size == 0:
        return CREATE_GAS, mem_words
    if off >= 1 << 64 or size >= 1 << 64:
        return OOG, mem_words
    words = (size + 31) // 32
    cost = CREATE_GAS + (INITCODE_WORD + (CREATE2_WORD if op == CREATE2 else 0)) * words
    end = (off + size + 31) // 32
    if end > mem_words:
        return cost + mem_cost(end) - mem_cost(mem_words), end
    return cost, mem_words


def _create(s: _Step, items: list[int]) -> ExecState:
    """CREATE, CREATE2 (docs/fraud-proofs.md 21; py-evm's Prague CreateEIP3860 / Create2EIP3860, then
    apply_create_message), in py-evm's order: the gas (base, initcode words, memory) or a halt; an
    initcode above 544 bytes opens the memory sponge first (21.1: the step runs again with its
    digest); the creator's LeafProof: a balance below the value, depth 1024 or a nonce at 2^64-1
    push 0 (no child, nothing else); keccak(initcode) (its words inline, or the digest) gives the
    address; the new account absent from the journal: its LOAD (pc unchanged); then the 63/64 rule,
    the creator's nonce + 1 and the new account warm (this is the child's snapshot); a collision
    (nonce or code) pushes 0 and burns the child gas; an initcode above 49,152 bytes halts the
    creator (EIP-3860, where py-evm checks it); else the new account gets nonce 1, the value,
    touched, the creator is debited (its LeafProof again), and an empty initcode succeeds at once,
    else the initcode frame is pushed (its code record from the code oracle by keccak(initcode))."""
    st, fr, op = s.st, s.st.frame, s.op
    value, off, size = items[0], items[1], items[2]
    salt = items[3] if op == CREATE2 else None
    cost, new_words = create_cost(op, items, fr.memWords)
    if cost > s.gas:
        return s.end_top(False, True)
    if new_words > MAX_MEM_WORDS:
        raise Unsupported("MEMORY_LIMIT")
    if size > INLINE and s.digest is None:  # open the sponge over the initcode first
        return _open(s, off, size, PURPOSE_CREATE)
    journal = s.journal
    if journal is None:
        raise ValueError("a world-state step needs the tx journal (ExecState.journal)")
    creator = AccountEntry.decode(_leaf(s, account_key(fr.address)).leaf.payload)
    next_pc = fr.pc + 1

    def done(result: int) -> ExecState:
        s.stack.append(result)
        return replace(s.post(pc=next_pc, rdRoot=ZERO32, rdOff=0, rdLen=0), rd_source=None)

    s.gas -= cost
    s.mem_words = new_words
    del s.stack[len(s.stack) - len(items) :]
    if creator.balance < value or fr.depth + 1 > MAX_DEPTH or creator.nonce >= MAX_NONCE:
        s.sponge = None
        return done(0)
    if size > INLINE:
        assert s.digest is not None
        initcode, code_hash = s.memory.read(off, size), s.digest
    else:
        initcode = s.words("initcode", s.memory, off, size) if size else b""
        code_hash = keccak(initcode)
    address = create_address(fr.address, creator.nonce, salt, code_hash=code_hash)
    key = account_key(address)
    absent = key not in journal
    s.add("load", LoadFlag(int(absent)).preimage(), LoadFlag)
    if absent:  # the LOAD of the new account: only the journal changes, pc unchanged
        journal = s.mutable_journal()
        la = world_state.load_account(st.world_db, st.ms.worldRoot, journal, address)
        s.add("mpt", mpt_nodes(la.proof))
        s.add("insert", la.insert.encode())
        s.gas, s.mem_words, s.stack = fr.gas, fr.memWords, list(st.stack)
        return s.post(pc=fr.pc)  # a finished sponge stays for the CREATE
    s.sponge = None
    child = s.gas - s.gas // 64
    s.gas -= child
    journal = s.mutable_journal()
    journal.update(creator.key, replace(creator, nonce=creator.nonce + 1).encode())
    target = AccountEntry.decode(_leaf(s, key).leaf.payload)
    target = replace(target, flags=target.flags | FLAG_WARM)
    journal.update(key, target.encode())
    snap = journal.copy()  # the child's snapshot (py-evm's apply_create_message snapshots here)
    if target.nonce != 0 or target.code_hash != EMPTY_CODE_HASH:  # collision: 0, the child gas burnt
        return done(0)
    if size > MAX_INITCODE:  # EIP-3860: py-evm's validate_create_message halts the creator only here
        return s.end_top(False, True)
    if op == CREATE2 and target.orig_storage_root != EMPTY_TRIE_ROOT:
        raise Unsupported("CREATE2_STORAGE")  # py-evm deletes its storage: the journal cannot
    journal.update(key, replace(target, nonce=1, balance=target.balance + value,
                                flags=target.flags | FLAG_TOUCHED).encode())  # fmt: skip
    if value:
        payer = AccountEntry.decode(_leaf(s, account_key(fr.address)).leaf.payload)
        journal.update(payer.key, replace(payer, balance=payer.balance - value).encode())
    if not initcode:  # py-evm runs an empty computation: success, nothing deposited
        s.gas += child
        return done(int.from_bytes(address, "big"))
    s.add("TxCtx", s.tx.preimage(), TxCtx)
    s.add("BlockAcc", s.acc.preimage(), BlockAcc)
    caller_state = replace(s.post(pc=next_pc), parents=())
    code = Code(initcode)
    callee = Frame(
        parent=caller_state.committed_frame().hash(), depth=fr.depth + 1, kind=CREATE_KINDS[op], static=0,
        address=address, caller=fr.address, value=value, code=code.record.hash(), gas=child, cdRoot=s.memory.root,
        snapJournalRoot=snap.root, snapJournalCount=snap.count, snapRefund=s.tx.refund, snapBufLen=s.acc.bufLen,
        snapLogCount=s.tx.logCount, snapBloom=s.tx.bloom,
    )  # fmt: skip
    return replace(
        caller_state, frame=callee, code=code, stack=(), memory=Buf(MEM_DEPTH), cd_source=s.memory,
        rd_source=None, snap_journal=snap, snap_bloom=s.tx_bloom, parents=(*st.parents, caller_state), _cache={},
    )  # fmt: skip


def _deposit(s: _Step, out_off: int, out_len: int) -> bool | None:
    """The end of a successful initcode frame: its output becomes the new account's code (py-evm's
    SpuriousDragon apply_create_message with London's validate_contract_code): above 24,576 bytes,
    starting 0xEF, or 200 gas per byte above what is left: the frame fails (as an exceptional halt);
    else the gas is charged and the account's code hash set (its LeafProof). Returns success, or None
    when the memory sponge over a code above 544 bytes opens first (the RETURN runs again with its
    digest). Proof: the output words (inline; above 544 bytes only its first word, none with the
    digest), then the account's LeafProof."""
    if out_len > MAX_CODE_SIZE:
        return False
    if out_len == 0:
        return True  # nothing deposited: the code stays empty (py-evm writes none)
    if out_len > INLINE:
        if s.digest is None:
            first = s.words("code", s.memory, out_off, 1)
            if first == b"\xef" or CODE_DEPOSIT * out_len > s.gas:
                return False
            return None
        code_hash = s.digest
    else:
        code = s.words("code", s.memory, out_off, out_len)
        if code[0] == 0xEF:
            return False
        code_hash = keccak(code)
    if CODE_DEPOSIT * out_len > s.gas:
        return False
    s.gas -= CODE_DEPOSIT * out_len
    key = account_key(s.st.frame.address)
    entry = AccountEntry.decode(_leaf(s, key).leaf.payload)
    s.mutable_journal().update(key, replace(entry, code_hash=code_hash).encode())
    return True


def _frame_return(s: _Step, success: bool, exceptional: bool, out_off: int, out_len: int) -> ExecState:
    """FRAME_RETURN: the end of a callee (STOP, RETURN, REVERT, exceptional halt) resumes its caller:
    proof `parent Frame` (hash = `frame.parent`) `++` on failure TxCtx, BlockAcc (the callee's
    snapshot is restored) `++` for output, the callee's memory words of `[outOff, outOff+n)` and
    the caller's of `[retOff, retOff+n)`, `n = min(retLen, outLen)` (inline up to 544 bytes). The
    caller gets the gas left (none on a halt), 1 or 0 pushed, and the return-data view."""
    st, fr = s.st, s.st.frame
    parent = st.parents[-1]
    pf = parent.committed_frame()
    if pf.hash() != fr.parent:
        raise ValueError("the suspended caller does not hash to the frame's parent")
    s.add("ParentFrame", pf.preimage(), Frame)
    creates = fr.kind >= CREATE_KINDS[CREATE]
    if creates and success:
        deposited = _deposit(s, out_off if s.op == 0xF3 else 0, out_len if s.op == 0xF3 else 0)
        if deposited is None:
            return _open(s, out_off, out_len, PURPOSE_DEPOSIT)
        if not deposited:
            success, exceptional = False, True  # a refused deposit fails the frame as an exceptional halt
    if not success:
        s.add("TxCtx", s.tx.preimage(), TxCtx)
        s.add("BlockAcc", s.acc.preimage(), BlockAcc)
        s.tx = replace(s.tx, refund=fr.snapRefund, logCount=fr.snapLogCount, bloom=fr.snapBloom)
        s.acc = replace(s.acc, bufLen=fr.snapBufLen)
        s.ms = replace(s.ms, journalRoot=fr.snapJournalRoot, journalCount=fr.snapJournalCount)
        if st.journal is not None:
            s.journal = st.snap_journal
        s.tx_bloom = st.snap_bloom
    output = not exceptional and s.op in (0xF3, 0xFD) and not (creates and success)  # a created code is no output
    memory = parent.memory
    n = min(fr.retLen, out_len) if output else 0
    if n:
        if n > INLINE:
            raise Unsupported("COPY_PENDING")
        data = s.words("output", s.memory, out_off, n)
        s.words("memory", memory, fr.retOff, n)
        memory = memory.write(fr.retOff, data)
    frame = replace(
        parent.frame, gas=pf.gas + (0 if exceptional else s.gas), rdRoot=s.memory.root if output else ZERO32,
        rdOff=out_off if output else 0, rdLen=out_len if output else 0,
    )  # fmt: skip
    return replace(
        parent, ms=s.ms, frame=frame, tx=s.tx, acc=s.acc, memory=memory,
        stack=(*parent.stack, int.from_bytes(fr.address, "big") if creates and success else int(success)),
        store=s.store, journal=s.journal, tx_bloom=s.tx_bloom, rd_source=s.memory if output else None,
        parents=st.parents[:-1], _cache={},
    )  # fmt: skip


def _env(s: _Step, op: int, items: list[int]) -> int:
    st, fr = s.st, s.st.frame
    simple = {
        0x30: lambda: int.from_bytes(fr.address, "big"),
        0x33: lambda: int.from_bytes(fr.caller, "big"),
        0x34: lambda: fr.value,
        0x36: lambda: fr.cdLen,
        0x38: lambda: len(st.code.code),
        0x3D: lambda: fr.rdLen,
        0x41: lambda: int.from_bytes(st.chain.coinbase, "big"),
        0x45: lambda: st.chain.gas_limit,
        0x46: lambda: st.chain.chain_id,
        0x49: lambda: 0,  # BLOBHASH: L2 transactions carry no blobs
        0x4A: lambda: 1,  # BLOBBASEFEE: excess blob gas is always 0
    }
    if op in simple:
        return simple[op]()
    if op == 0x35:
        return _calldata_load(s, items[0])
    if op in (0x32, 0x3A):
        s.add("TxCtx", st.tx.preimage(), TxCtx)
        return int.from_bytes(st.tx.sender, "big") if op == 0x32 else st.tx.gasPrice
    s.add("BlockCtx", st.block.preimage(), BlockCtx)
    if op == 0x40:
        return _blockhash(s, items[0])
    return {
        0x42: st.block.timestamp,
        0x43: st.block.number,
        0x44: int.from_bytes(st.block.parentHash, "big"),  # PREVRANDAO = mixHash = parentHash
        0x48: st.block.baseFee,
    }[op]


def blockhash_in_range(number: int, n: int) -> bool:
    """Whether BLOCKHASH(n) in block `number` is a hash (py-evm's `get_ancestor_hash`: the 256
    blocks before `number`), not 0."""
    return n < number and number - n <= BLOCKHASH_DEPTH


def history_read(db: Any, world_root: bytes, n: int) -> tuple[int | None, list[list[bytes]]]:
    """Slot `n % 8191` of the EIP-2935 history contract in the trie `world_root` and the MPT proofs
    read (the account's, then the slot's). None (with the account's proof only) when the history
    account does not hold the EIP-2935 code: py-evm writes the slots only when that exact code is
    there, so the slot would not be block n's hash."""
    account, account_nodes = mpt.read(HexaryTrie(db, world_root), mpt.account_path(HISTORY_ADDRESS))
    if account is None or rlp.decode(account)[3] != HISTORY_CODE_HASH:
        return None, [account_nodes]
    storage_root = rlp.decode(account)[2]
    value, slot_nodes = mpt.read(HexaryTrie(db, storage_root), mpt.slot_path(n % HISTORY_SERVE_WINDOW))
    return (rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value is not None else 0), [account_nodes, slot_nodes]


def _blockhash(s: _Step, n: int) -> int:
    """BLOCKHASH (the twin of ExecWorld.blockHash), after the BlockCtx: 0 out of range; else slot
    `n % 8191` of the history contract in the pre-tx trie `worldRoot`, which holds block n's hash
    (written at the start of block n + 1; no transaction can write it)."""
    st = s.st
    if not blockhash_in_range(st.block.number, n):
        return 0
    value, proofs = history_read(st.world_db, st.ms.worldRoot, n)
    for nodes in proofs:
        s.add("mpt", mpt_nodes(nodes))
    if value is None:
        raise Unsupported("BLOCKHASH_HISTORY")
    return value


def _copy_source(s: _Step, op: int, src: int, size: int) -> bytes:
    """The source bytes of a copy (zero past the source's end); the twin of `_copySource`."""
    if size > INLINE:
        raise Unsupported("COPY_PENDING")
    st, fr = s.st, s.st.frame
    avail, base, buf = 1 << 256, 0, s.memory  # MCOPY: memory before the write
    if op == 0x37:
        avail, base = fr.cdLen, fr.cdOff
        buf = st.store if fr.cdRoot == ZERO32 else st.cd_source  # type: ignore[assignment]
    elif op == 0x39:
        avail, buf = len(st.code.code), st.code.tree
    elif op == 0x3E:
        avail, base, buf = fr.rdLen, fr.rdOff, st.rd_source  # type: ignore[assignment]
    if src >= avail:
        return bytes(size)
    if op == 0x37 and fr.cdRoot == ZERO32:
        s.add("BlockAcc", st.acc.preimage(), BlockAcc)
    n = min(avail - src, size)
    return s.words("source", buf, base + src, n).ljust(size, b"\x00")


def _calldata_load(s: _Step, i: int) -> int:
    fr = s.st.frame
    if i >= fr.cdLen:
        return 0
    if fr.cdRoot == ZERO32:
        s.add("BlockAcc", s.st.acc.preimage(), BlockAcc)
        source = s.st.store
    else:
        if s.st.cd_source is None or s.st.cd_source.root != fr.cdRoot:
            raise ValueError("a callee frame's state needs its calldata source (the caller's memory)")
        source = s.st.cd_source
    n = min(32, fr.cdLen - i)
    data = s.words("calldata", source, fr.cdOff + i, n)
    return int.from_bytes(data.ljust(32, b"\x00"), "big")


__all__ = [
    "CODE_DEPTH", "Chain", "ExecState", "LoadFlag", "Section", "Unsupported", "alu", "bloom_add", "log_rlp_bytes",
    "mpt_nodes", "op_cost", "step", "step_sections",
]  # fmt: skip
