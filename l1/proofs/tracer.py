"""Traces a real transaction through py-evm and rebuilds the machine state before each opcode.

The hook is a subclass of the block state's computation class whose opcode table wraps
every opcode: before an opcode of a followed frame runs (the top frame and, recursively, the
callees of CALL, CALLCODE, DELEGATECALL and STATICCALL that have code, and the initcode frames of
CREATE and CREATE2, docs/fraud-proofs.md 21) it records pc, gas,
stack, memory of that frame and of its suspended callers, the transaction's refund, logs and
touched set (docs/fraud-proofs.md 12, 19).
`ExecState`s are then built from those records and the transaction's context, and `check`
asserts that the Python step function, run from the state before opcode j, lands exactly on
the commitment built from py-evm's state before opcode j+1 (and, for the last opcode, on
py-evm's result): Python step semantics and py-evm agree.

World state: `worldRoot` is the real pre-tx state root (the builder's state is persisted
before the transaction so every trie node is at hand for LOAD proofs) and the journal is the
real tx journal (docs/fraud-proofs.md 1.6): `journal_at_frame_entry` builds it as TX_START /
TX_SETUP / TX_CALL leave it, and before every opcode the journal is rebuilt independently from
py-evm's own values of each key (nonce, balance, code hash, slot original / current, warm
flags), keys in first-touch order, so a Python step that changes the journal wrongly lands on
another root. An opcode that first touches a key is preceded by its LOAD state.

Fields this slice never changes and cannot yet compute (cursor, entry, the block's earlier
transaction records) are filled with fixed placeholders; they only have to be the same before
and after each step (docs/fraud-proofs.md 6, "built so far").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import rlp
from eth.vm.logic.invalid import InvalidOpcode
from eth_bloom import BloomFilter
from eth_hash.auto import keccak
from trie import HexaryTrie

from l1.proofs.buf import MEM_DEPTH, ZERO32, Buf, zero
from l1.proofs.commitments import (
    EXEC,
    BlockAcc,
    BlockCtx,
    Code,
    Cursor,
    EntryCtx,
    Frame,
    MachineState,
    TxCtx,
)
from l1.proofs.journal import (
    EMPTY_TRIE_ROOT,
    FLAG_TOUCHED,
    FLAG_WARM,
    AccountEntry,
    Journal,
    SlotEntry,
    account_key,
)
from l1.proofs.mpt import account_path, slot_path
from l1.proofs.steps import (
    MAX_DEPTH,
    MAX_NONCE,
    Chain,
    ExecState,
    Unsupported,
    create_address,
    create_cost,
    step,
)
from l1.proofs.tx_steps import rlp_item
from l1.proofs.world_state import commit_steps
from l2.deposits import DEPOSIT_TX_TYPE, DepositTransaction
from l2.execution import BlockBuilder
from l2.messages import L2Tx, message_hash
from l2.spec import ChainSpec
from l2.transactions import decode_transaction, floor_gas

TXREC_DEPTH = 16
EMPTY_BLOOM_HASH = keccak(b"\x00" * 256)


CALL_KINDS = {0xF1: 0, 0xF2: 1, 0xF4: 2, 0xFA: 3}  # call opcode -> Frame.kind (docs/fraud-proofs.md 1.4)
CREATE_KINDS = {0xF0: 4, 0xF5: 5}  # CREATE, CREATE2 -> Frame.kind (docs/fraud-proofs.md 21)
FRAME_OPS = {**CALL_KINDS, **CREATE_KINDS}  # the opcodes that may open a child frame
RdView = tuple[bytes, int, int] | None  # a frame's return data: (the callee's final memory, offset, length)


@dataclass(frozen=True)
class FrameSnap:
    """One py-evm frame (a computation) at a point of the trace: a suspended caller or the running one."""

    comp: int  # id of the computation (key of `_Recorder.recs`)
    pc: int
    gas: int
    stack: tuple[int, ...]
    memory: bytes
    rd: RdView


@dataclass(frozen=True)
class FrameRec:
    """What a frame's commitment fixes when it is entered: the CALL's arguments and the index of the
    caller's snapshot before that CALL (its journal, refund and logs are the callee's snapshot)."""

    address: bytes
    caller: bytes
    value: int
    static: int
    code: bytes
    depth: int
    code_address: bytes = b""  # whose account the call loaded (warm in the callee's snapshot)
    kind: int = 0  # Frame.kind: 0 CALL, 1 CALLCODE, 2 DELEGATECALL, 3 STATICCALL, 4 CREATE, 5 CREATE2
    in_off: int = 0
    in_size: int = 0
    out_off: int = 0
    out_size: int = 0
    call_snap: int = -1


@dataclass(frozen=True)
class Snapshot:
    """py-evm just before one opcode of any frame (the suspended callers included)."""

    pc: int
    gas: int
    stack: tuple[int, ...]
    memory: bytes
    refund: int  # the transaction's running refund (every live frame and its successful children)
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]  # every surviving log so far, in order
    world: tuple[tuple[Any, ...], ...] = ()  # py-evm's values of the journal keys touched so far
    load: tuple[Any, ...] | None = None  # a key this opcode touches first, with its values
    frames: tuple[FrameSnap, ...] = ()  # the suspended callers, outermost first, then the running frame
    touched: frozenset[bytes] = frozenset()  # py-evm's EIP-161 touched set so far (successful frames)


Key = tuple[Any, ...]  # ("a", address) or ("s", address, slot)


def _view(state: Any, key: Key) -> tuple[Any, ...]:
    """py-evm's current values of one journal key."""
    if key[0] == "a":
        a = key[1]
        return (key, state.get_nonce(a), state.get_balance(a), bytes(state.get_code_hash(a)),
                bool(state.is_address_warm(a)))  # fmt: skip
    a, slot = key[1], key[2]
    return (key, state.get_storage(a, slot, from_journal=False), state.get_storage(a, slot),
            bool(state.is_storage_warm(a, slot)))  # fmt: skip


def _touch(op: int, stack: tuple[int, ...], address: bytes, static: bool = False) -> Key | None:
    """The journal key an opcode needs (docs/fraud-proofs.md 2.4), None when it needs none. In a
    static frame SSTORE and a CALL with a value halt before any LOAD (py-evm's ensure_no_static
    and CallByzantium raise before touching the state)."""
    if static and (op == 0x55 or (op == 0xF1 and len(stack) >= 7 and stack[-3])):
        return None
    if op in CALL_KINDS and len(stack) >= (7 if op in (0xF1, 0xF2) else 6):
        source = stack[-2] & ((1 << 160) - 1)  # a call's code source (a precompile is refused, never loaded)
        return None if 1 <= source <= 0x11 else ("a", source.to_bytes(20, "big"))
    if op in (0x54, 0x55) and stack:
        return ("s", address, stack[-1])
    if op in (0x31, 0x3B, 0x3C, 0x3F) and stack:
        return ("a", (stack[-1] & ((1 << 160) - 1)).to_bytes(20, "big"))
    if op == 0x47:
        return ("a", address)
    return None


def _create_key(computation: Any, op: int, stack: tuple[int, ...]) -> Key | None:
    """The new account a CREATE / CREATE2 loads (docs/fraud-proofs.md 21): None when the step stops
    before it (out of gas, initcode above the inline bound, a balance below the value, depth 1024, the
    creator's nonce at 2^64-1), as steps._create decides from the same values. An initcode above
    the inline bound is refused by name before the LOAD; its key is still loaded here so that the
    states of the refused child frame are built as for any other frame."""
    need = 3 if op == 0xF0 else 4
    if len(stack) < need:
        return None
    items = list(reversed(stack[-need:]))
    msg = computation.msg
    cost, _ = create_cost(op, items, len(computation._memory._bytes) // 32)
    if cost > computation._gas_meter.gas_remaining:
        return None
    state, creator = computation.state, bytes(msg.storage_address)
    nonce = state.get_nonce(creator)
    if state.get_balance(creator) < items[0] or msg.depth + 1 > MAX_DEPTH or nonce >= MAX_NONCE:
        return None
    memory = bytes(computation._memory._bytes)
    initcode = memory[items[1] : items[1] + items[2]].ljust(items[2], b"\x00") if items[2] else b""
    return ("a", create_address(creator, nonce, items[3] if op == 0xF5 else None, initcode))


def _stack_of(computation: Any) -> tuple[int, ...]:
    return tuple(v if isinstance(v, int) else int.from_bytes(v, "big") for v in computation._stack.values)


def _ok_children(computation: Any) -> list[Any]:
    """The finished children of `computation` that did not fail, and theirs, recursively."""
    out = []
    for child in computation.children:
        if not child.is_error:
            out.append(child)
            out.extend(_ok_children(child))
    return out


@dataclass
class _Recorder:
    snaps: list[Snapshot] = field(default_factory=list)
    top: Any = None  # the top-frame computation
    keys: list[Key] = field(default_factory=list)  # journal keys in first-touch order
    sender: bytes = b""
    chain: list[Any] = field(default_factory=list)  # the live computations, top first
    next_pc: dict[int, int] = field(default_factory=dict)
    recs: dict[int, FrameRec] = field(default_factory=dict)
    rd: dict[int, RdView] = field(default_factory=dict)  # each frame's return-data view
    ends: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)  # RETURN / REVERT: memory, off, size
    pending: dict[int, tuple[int, tuple[int, ...], int, int]] = field(default_factory=dict)  # op, args, snap, keys

    def records(self, computation: Any) -> bool:
        """Whether the trace follows `computation`: the top frame, and a callee of a followed frame's
        call (CALL, CALLCODE, DELEGATECALL, STATICCALL) that has code (an account without code is
        done inside the call step)."""
        depth = computation.msg.depth
        if depth == 0 or id(computation) in self.recs:
            return True
        return (len(self.chain) == depth and id(self.chain[-1]) in self.pending
                and len(computation.msg.code) > 0)  # fmt: skip

    def before(self, computation: Any) -> None:
        if self.top is None:
            self.top = computation
        depth = computation.msg.depth
        self.chain[depth:] = [computation]
        ident = id(computation)
        msg = computation.msg
        if ident not in self.recs:
            rec = FrameRec(bytes(msg.storage_address), bytes(msg.sender), msg.value, int(msg.is_static),
                           bytes(msg.code), depth, bytes(msg.code_address))  # fmt: skip
            if depth:
                op, args, snap, _ = self.pending[id(self.chain[depth - 1])]
                if op in CREATE_KINDS:  # an initcode frame: no calldata, no output area, at the new address
                    rec = replace(rec, kind=CREATE_KINDS[op], code_address=rec.address, call_snap=snap)
                else:
                    k = len(args) - 4  # the input offset: after gas, address (and value)
                    rec = replace(rec, kind=CALL_KINDS[op], in_off=args[k], in_size=args[k + 1],
                                  out_off=args[k + 2], out_size=args[k + 3], call_snap=snap)  # fmt: skip
            self.recs[ident] = rec
        stack = _stack_of(computation)
        logs = tuple(
            (bytes(a), tuple(t), bytes(d))
            for _, a, t, d in sorted(e for c in self.chain for e in c.get_raw_log_entries())
        )
        refund = sum(c._gas_meter.gas_refunded + sum(ch.get_gas_refund() for ch in c.children if not ch.is_error)
                     for c in self.chain)  # fmt: skip
        touched = {self.sender} | {bytes(c.msg.storage_address) for c in self.chain}
        for c in self.chain:
            touched |= {bytes(ch.msg.storage_address) for ch in _ok_children(c)}
        state = computation.state
        world = tuple(_view(state, k) for k in self.keys)
        code = bytes(msg.code)
        pc = self.next_pc.get(ident, 0)
        key = _touch(code[pc], stack, bytes(msg.storage_address), msg.is_static) if pc < len(code) else None
        if pc < len(code) and code[pc] in CREATE_KINDS and not msg.is_static:
            key = _create_key(computation, code[pc], stack)
        load = None
        if key is not None and key not in self.keys:
            self.keys.append(key)
            load = _view(state, key)
        frames = tuple(
            FrameSnap(id(c), c.code.program_counter, c._gas_meter.gas_remaining, _stack_of(c),
                      bytes(c._memory._bytes), self.rd.get(id(c)))
            for c in self.chain[:-1]
        ) + (FrameSnap(ident, pc, computation._gas_meter.gas_remaining, stack, bytes(computation._memory._bytes),
                       self.rd.get(ident)),)  # fmt: skip
        self.snaps.append(
            Snapshot(pc, computation._gas_meter.gas_remaining, stack, bytes(computation._memory._bytes), refund,
                     logs, world, load, frames, frozenset(touched))
        )  # fmt: skip

    def after(self, computation: Any) -> None:
        self.next_pc[id(computation)] = computation.code.program_counter

    def before_call(self, computation: Any, op: int) -> int:
        """A call is about to run: its arguments for the callee's frame; returns the child count."""
        args = _stack_of(computation)[::-1][: {0xF1: 7, 0xF2: 7, 0xF0: 3, 0xF5: 4}.get(op, 6)]
        self.pending[id(computation)] = (op, args, len(self.snaps) - 1, len(self.keys))
        return len(computation.children)

    def after_call(self, computation: Any, children: int) -> None:
        """The call returned: the caller's return-data view; a failed callee's first touches are undone
        (its journal snapshot is restored, so they load again)."""
        ident = id(computation)
        del self.chain[computation.msg.depth + 1 :]
        if len(computation.children) == children:  # no callee (insufficient balance, depth)
            self.rd[ident] = None
            return
        child = computation.children[-1]
        if child.is_error:
            del self.keys[self.pending[ident][3] :]
        del self.pending[ident]
        end = self.ends.get(id(child))
        if end is None and child.output:  # a precompile (refused, PRECOMPILE_CALL) runs no opcode: its
            end = (bytes(child.output), 0, len(child.output))  # output as the view the states after it show
        if child.msg.is_create and not child.is_error:
            end = None  # a created code is no return data (py-evm's add_child_computation)
        self.rd[ident] = None if child.should_erase_return_data or end is None else end


def _traced_class(base: Any, recorder: _Recorder) -> type:
    def wrap(op: int, fn: Any) -> Any:
        def traced(computation: Any) -> None:
            if not recorder.records(computation):
                fn(computation=computation)
                return
            recorder.before(computation)
            if op in (0xF3, 0xFD):
                args = _stack_of(computation)[::-1][:2]
                if len(args) == 2:
                    recorder.ends[id(computation)] = (bytes(computation._memory._bytes), args[0] if args[1] else 0,
                                                      args[1])  # fmt: skip
            children = recorder.before_call(computation, op) if op in FRAME_OPS else 0
            fn(computation=computation)
            recorder.after(computation)
            if op in FRAME_OPS:
                recorder.after_call(computation, children)

        return traced

    table = {op: wrap(op, base.opcodes.get(op) or InvalidOpcode(op)) for op in range(256)}
    return type("Traced" + base.__name__, (base,), {"opcodes": table})


def _align(n: int) -> int:
    return (n + 31) // 32 * 32


def data_offset(raw: bytes) -> int:
    """Offset of the calldata bytes inside the EIP-2718 encoding (legacy, types 1, 2 and 0x7E)."""
    typed = raw[0] < 0xC0
    index = {0x01: 6, 0x02: 7, DEPOSIT_TX_TYPE: 5}.get(raw[0], 0) if typed else 5
    pos, _, _ = rlp_item(raw, 1 if typed else 0)
    for _ in range(index):
        _, _, pos = rlp_item(raw, pos)
    start, _, _ = rlp_item(raw, pos)
    return start


def log_rlp(log: tuple[bytes, tuple[int, ...], bytes]) -> bytes:
    address, topics, data = log
    return rlp.encode([address, [t.to_bytes(32, "big") for t in topics], data])


def bloom_bytes(logs: Any) -> bytes:
    bloom = BloomFilter()
    for address, topics, _ in logs:
        bloom.add(address)
        for t in topics:
            bloom.add(t.to_bytes(32, "big"))
    return int(bloom).to_bytes(256, "big")


def bloom_hash(logs: Any) -> bytes:
    return keccak(bloom_bytes(logs))


def pre_account(db: Any, world_root: bytes, address: bytes) -> AccountEntry:
    """The journal entry LOAD_ACCOUNT inserts for `address` (cold, orig* = current)."""
    value = HexaryTrie(db, world_root).get(account_path(address))
    if not value:
        return AccountEntry.loaded(address, existed=False)
    nonce, balance, storage_root, code_hash = rlp.decode(value)
    return AccountEntry.loaded(address, int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"),
                               storage_root, code_hash)  # fmt: skip


def pre_slot(db: Any, world_root: bytes, address: bytes, slot: int) -> int:
    storage_root = pre_account(db, world_root, address).orig_storage_root
    value = HexaryTrie(db, storage_root).get(slot_path(slot)) if storage_root != EMPTY_TRIE_ROOT else b""
    return rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0


def journal_at_frame_entry(db: Any, world_root: bytes, tx: TxCtx, coinbase: bytes, deposit: bool = False) -> Journal:
    """The tx journal at the start of the top frame, as TX_START / TX_SETUP / TX_CALL (or a deposit's
    DEPOSIT_START) leave it (docs/fraud-proofs.md 2.2): the sender loaded, gas bought
    (`gasLimit·gasPrice`, none for a deposit, which mints `value` instead), nonce + 1, warm; `to`
    and the coinbase loaded and warm; `value` moved sender -> to (both touched). Loads in that
    order. The tx-level steps replace this function once they exist; it is the reference they
    must reproduce."""
    journal = Journal()
    entries: dict[bytes, AccountEntry] = {}
    for a in (tx.sender, tx.to, coinbase):
        if a not in entries:
            entries[a] = pre_account(db, world_root, a)
            journal.insert_account(entries[a])
    sender = entries[tx.sender]
    balance = sender.balance + tx.value if deposit else sender.balance - tx.gasLimit * tx.gasPrice
    entries[tx.sender] = replace(sender, nonce=sender.nonce + 1, balance=balance)
    for a in entries:
        entries[a] = replace(entries[a], flags=entries[a].flags | FLAG_WARM)
    entries[tx.sender] = replace(entries[tx.sender], balance=entries[tx.sender].balance - tx.value)
    entries[tx.to] = replace(entries[tx.to], balance=entries[tx.to].balance + tx.value)
    for a in (tx.sender, tx.to):
        entries[a] = replace(entries[a], flags=entries[a].flags | FLAG_TOUCHED)
    for e in entries.values():
        journal.update(e.key, e.encode())
    return journal


def _journal_of(db: Any, world_root: bytes, world: tuple[tuple[Any, ...], ...], touched: set[bytes],
                load: tuple[Any, ...] | None = None) -> Journal:  # fmt: skip
    """The journal holding py-evm's values of `world` (keys in first-touch order) and, with `load`,
    that key freshly loaded (cold, its pre-tx value) after them."""
    journal = Journal()
    for view in world:
        key = view[0]
        if key[0] == "a":
            base = pre_account(db, world_root, key[1])
            flags = base.flags | (FLAG_WARM if view[4] else 0) | (FLAG_TOUCHED if key[1] in touched else 0)
            journal.insert_account(replace(base, nonce=view[1], balance=view[2], code_hash=view[3], flags=flags))
        else:
            journal.insert_slot(SlotEntry(key[1], key[2], view[1], view[2], view[3]))
    if load is not None:
        key = load[0]
        if key[0] == "a":
            base = pre_account(db, world_root, key[1])
            assert (base.nonce, base.balance, base.code_hash) == load[1:4], "a first touch sees pre-tx values"
            journal.insert_account(base)
        else:
            original = pre_slot(db, world_root, key[1], key[2])
            assert load[1] == load[2] == original, "a first touch sees the pre-tx value"
            journal.insert_slot(SlotEntry(key[1], key[2], original, original, False))
    return journal


def settle(journal: Journal, tx: TxCtx, gas_left: int, refund: int, coinbase: bytes, base_fee: int,
           deposit: bool = False) -> Journal:  # fmt: skip
    """The journal after TX_END (2.5): unused gas back to the sender, the fee to the coinbase
    (touched). A stand-in for the TX_END step, used to check the journal against py-evm's
    post-state root through the COMMIT walk."""
    out = journal.copy()
    used = tx.gasLimit - gas_left
    gas_used = max(used - min(refund, used // 5), tx.floor)
    sender = AccountEntry.decode(out.get(AccountEntry.loaded(tx.sender).key).payload)
    out.update(sender.key, replace(sender, balance=sender.balance + (tx.gasLimit - gas_used) * tx.gasPrice).encode())
    cb = AccountEntry.decode(out.get(AccountEntry.loaded(coinbase).key).payload)
    fee = 0 if deposit else gas_used * (tx.gasPrice - base_fee)
    out.update(cb.key, replace(cb, balance=cb.balance + fee, flags=cb.flags | FLAG_TOUCHED).encode())
    return out


@dataclass
class Trace:
    """The states before each top-frame opcode of one transaction (and before each opcode's
    LOAD, where it needs one), and py-evm's result."""

    raw: bytes
    states: list[ExecState]
    success: bool
    gas_left: int
    output: bytes
    pre_root: bytes = ZERO32  # py-evm's state root before and after the transaction
    post_root: bytes = ZERO32
    db: Any = None  # trie nodes of both
    tx: TxCtx | None = None
    coinbase: bytes = b""
    base_fee: int = 0


def trace_transaction(builder: BlockBuilder, raw: bytes | DepositTransaction, spec: ChainSpec) -> Trace:
    """Apply a signed transaction's `raw` bytes or a deposit to `builder` (it stays in the
    block) and trace its top frame."""
    tx: Any
    if isinstance(raw, DepositTransaction):
        tx, raw = raw, raw.encode()
    else:
        tx = decode_transaction(raw, spec)
    deposit = tx.type_id == DEPOSIT_TX_TYPE
    state: Any = builder.state
    prior_store, gas_used, tx_count = _block_store(builder), builder.gas_used, len(builder.transactions)
    block_bloom = builder.bloom
    coinbase = bytes(spec.fee_recipient)
    state.persist()  # every node of the pre-tx tries into the db: LOAD proofs read them
    pre_root, db = bytes(state.state_root), state._account_db._raw_store_db
    recorder = _Recorder()
    recorder.keys = [("a", a) for a in dict.fromkeys((bytes(tx.sender), bytes(tx.to), coinbase))]
    recorder.sender = bytes(tx.sender)
    state.computation_class = _traced_class(type(state).computation_class, recorder)
    try:
        builder.add(tx)
    finally:
        del state.computation_class
    state.persist()
    post_root = bytes(state.state_root)
    top = recorder.top
    if top is None:
        return Trace(raw, [], True, 0, b"", pre_root, post_root, db)
    chain = Chain(spec.chain_id, spec.gas_limit, bytes(spec.fee_recipient))
    header = builder.header
    origin = builder.attrs.l1_origin
    block = BlockCtx(
        number=header.block_number, timestamp=header.timestamp, parentHash=bytes(header.parent_hash),
        baseFee=header.base_fee_per_gas or 0, newOrigin=0, originNumber=origin.number,
        originHash=bytes(origin.hash), originBaseFee=origin.base_fee,
    )  # fmt: skip
    raw_off = _align(prior_store[1])
    store0 = prior_store[0].write(raw_off, raw)
    raw_end = raw_off + len(raw)
    logs_off = _align(raw_end)
    data = bytes(tx.data)
    cd_off = raw_off + data_offset(raw)
    assert raw[cd_off - raw_off : cd_off - raw_off + len(data)] == data
    zeros = data.count(0)
    base_fee = header.base_fee_per_gas or 0
    gas_price = min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
    # a deposit's leaf is its DelayedInbox message hash (not known here: the encoding's hash stands in)
    msg_leaf = keccak(raw) if deposit else message_hash(L2Tx(raw))
    tx_ctx = TxCtx(
        kind=int(deposit), type=tx.type_id or 0, msgLeaf=msg_leaf, sender=bytes(tx.sender), to=bytes(tx.to),
        nonce=tx.nonce, gasLimit=tx.gas, value=tx.value, maxFee=tx.max_fee_per_gas, tip=tx.max_priority_fee_per_gas,
        gasPrice=gas_price, rawOff=raw_off, rawLen=len(raw), dataOff=cd_off, dataLen=len(data),
        zeroBytes=zeros, nonZeroBytes=len(data) - zeros, intrinsic=tx.intrinsic_gas, floor=floor_gas(tx),
        logsOff=logs_off, bloom=EMPTY_BLOOM_HASH,
    )  # fmt: skip
    code = Code(bytes(top.msg.code))
    frame = Frame(
        depth=0, kind=0, static=int(top.msg.is_static), address=bytes(top.msg.storage_address),
        caller=bytes(top.msg.sender), value=top.msg.value, code=code.record.hash(), cdRoot=ZERO32, cdOff=cd_off,
        cdLen=len(data), snapBufLen=raw_end, snapBloom=EMPTY_BLOOM_HASH,
    )  # fmt: skip
    ms = MachineState(phase=EXEC, cursor=Cursor().hash(), entry=EntryCtx().hash(), worldRoot=pre_root)
    block_bloom_hash = keccak(block_bloom.to_bytes(256, "big"))
    acc0 = BlockAcc(gasUsed=gas_used, txCount=tx_count, txRecRoot=zero(TXREC_DEPTH), bloomHash=block_bloom_hash)
    entry = journal_at_frame_entry(db, pre_root, tx_ctx, coinbase, deposit)
    frame = frame.replace(snapJournalRoot=entry.root, snapJournalCount=entry.count)
    touched = {tx_ctx.sender, tx_ctx.to}
    if recorder.snaps and _journal_of(db, pre_root, recorder.snaps[0].world, touched).root != entry.root:
        raise AssertionError("journal_at_frame_entry disagrees with py-evm's state at the first opcode")

    def region_of(snap: Snapshot) -> bytes:
        return b"".join(log_rlp(log) for log in snap.logs)

    def buf_len_at(snap: Snapshot) -> int:
        return logs_off + len(region_of(snap)) if snap.logs else raw_end

    def journal_at(snap: Snapshot, with_load: bool = False) -> Journal:
        return _journal_of(db, pre_root, snap.world, set(snap.touched) | touched, snap.load if with_load else None)

    entries: dict[int, tuple[Frame, Journal, bytes]] = {}  # per frame: its Frame template, snapshot, snap bloom

    def entered(ident: int) -> tuple[Frame, Journal, bytes]:
        """The Frame fields fixed at entry (snapshot from the caller's snapshot before the CALL)."""
        if ident not in entries:
            rec = recorder.recs[ident]
            if rec.depth == 0:
                entries[ident] = (frame, entry, bytes(256))
            else:
                call = recorder.snaps[rec.call_snap]
                snap_journal = journal_at(call, True)
                if rec.kind in CREATE_KINDS.values():  # the creator's nonce + 1 (py-evm before the snapshot)
                    creator = AccountEntry.decode(snap_journal.get(account_key(rec.caller)).payload)
                    snap_journal.update(creator.key, replace(creator, nonce=creator.nonce + 1).encode())
                source = AccountEntry.decode(snap_journal.get(account_key(rec.code_address)).payload)
                snap_journal.update(source.key, replace(source, flags=source.flags | FLAG_WARM).encode())
                snap_len = buf_len_at(call)
                template = Frame(
                    depth=rec.depth, kind=rec.kind, static=rec.static, address=rec.address, caller=rec.caller,
                    value=rec.value, code=Code(rec.code).record.hash(), retOff=rec.out_off if rec.out_size else 0,
                    retLen=rec.out_size, cdOff=rec.in_off if rec.in_size else 0, cdLen=rec.in_size,
                    snapJournalRoot=snap_journal.root, snapJournalCount=snap_journal.count, snapRefund=call.refund,
                    snapBufLen=snap_len, snapLogCount=len(call.logs), snapBloom=bloom_hash(call.logs),
                )  # fmt: skip
                entries[ident] = (template, snap_journal, bloom_bytes(call.logs))
        return entries[ident]

    states = []
    store = store0  # a reverted frame's logs stay in the store above `bufLen` (1.7): written, never undone
    for snap in recorder.snaps:
        if snap.logs:
            store = store.write(logs_off, region_of(snap))
        buf_len = buf_len_at(snap)
        journal = journal_at(snap)
        tx_now = tx_ctx.replace(refund=snap.refund, logCount=len(snap.logs), bloom=bloom_hash(snap.logs))
        acc_now = acc0.replace(bufRoot=store.root, bufLen=buf_len)
        shared = dict(ms=ms, tx=tx_now, block=block, acc=acc_now, store=store, chain=chain,
                      journal=journal, world_db=db, tx_bloom=bloom_bytes(snap.logs))  # fmt: skip
        frames: list[ExecState] = []
        caller_memory: Buf | None = None
        for fs in snap.frames:
            template, snap_journal, snap_bloom = entered(fs.comp)
            memory = Buf.of_bytes(MEM_DEPTH, fs.memory)
            rd_source = Buf.of_bytes(MEM_DEPTH, fs.rd[0]) if fs.rd is not None else None
            fr = template.replace(
                parent=frames[-1].committed_frame().hash() if frames else ZERO32, pc=fs.pc, gas=fs.gas,
                memWords=len(fs.memory) // 32, rdRoot=rd_source.root if rd_source is not None else ZERO32,
                rdOff=fs.rd[1] if fs.rd is not None else 0, rdLen=fs.rd[2] if fs.rd is not None else 0,
            )  # fmt: skip
            if caller_memory is not None:
                fr = fr.replace(cdRoot=caller_memory.root)
            frames.append(ExecState(
                frame=fr, code=Code(recorder.recs[fs.comp].code), stack=fs.stack, memory=memory,
                cd_source=caller_memory, rd_source=rd_source, snap_journal=snap_journal, snap_bloom=snap_bloom,
                parents=tuple(frames), **shared,
            ))  # fmt: skip
            caller_memory = memory
        base = frames[-1]
        states.append(base)
        base = _sponge_steps(base, states)
        if snap.load is not None:  # the LOAD step's post-state, then the opcode runs from it
            states.append(replace(base, journal=journal_at(snap, True), _cache={}))
    return Trace(
        raw,
        states,
        top.is_success,
        top.get_gas_remaining(),
        bytes(top.output),
        pre_root,
        post_root,
        db,
        tx_ctx,
        coinbase,
        base_fee,
    )


def _sponge_steps(st: ExecState, states: list[ExecState]) -> ExecState:
    """A CREATE / CREATE2 with an initcode, or the RETURN of an initcode frame with a code, above the
    inline bound first hashes it by memory-sponge micro-steps at the same pc (docs/fraud-proofs.md
    21.1): py-evm has no such states, they follow from `st` alone. Appends them; returns the last
    (the finished sponge, from which the opcode, or its LOAD, runs)."""
    code, pc = st.code.code, st.frame.pc
    if pc >= len(code) or not (code[pc] in CREATE_KINDS or (code[pc] == 0xF3 and st.frame.kind >= 4)):
        return st
    while True:
        try:
            nxt, _ = step(st)
        except Unsupported:
            return st
        grows = nxt.journal is not None and st.journal is not None and nxt.journal.count != st.journal.count
        if nxt.sponge is None or nxt.ms.phase != EXEC or nxt.committed_frame() != st.committed_frame() or grows:
            return st
        states.append(nxt)
        st = nxt


def _block_store(builder: BlockBuilder) -> tuple[Buf, int]:
    """The block byte store (1.7) after the builder's transactions so far."""
    buf, length = Buf(MEM_DEPTH), 0
    for tx, receipt in zip(builder.transactions, builder.receipts, strict=True):
        raw = tx.encode()
        off = _align(length)
        buf = buf.write(off, raw)
        length = off + len(raw)
        region = b"".join(log_rlp((bytes(lg.address), tuple(lg.topics), bytes(lg.data))) for lg in receipt.logs)
        if region:
            buf = buf.write(_align(length), region)
            length = _align(length) + len(region)
    return buf, length


@dataclass(frozen=True)
class Checked:
    """One traced opcode: the pre-state, and the proof and post hash where the slice proves it."""

    state: ExecState
    proof: bytes | None
    post_hash: bytes | None
    unsupported: str | None


def check(trace: Trace) -> list[Checked]:
    """Run the Python step on every traced state; assert it agrees with py-evm's next state.

    Raises AssertionError on the first disagreement."""
    out = []
    refused = False  # after a refused step (a CALL ...) the journal misses its effects
    for j, st in enumerate(trace.states):
        try:
            post, proof = step(st)
        except Unsupported as exc:
            out.append(Checked(st, None, None, exc.name))
            refused = True
            continue
        if j + 1 < len(trace.states):
            expected = trace.states[j + 1]
            if post.hash() != expected.hash():
                raise AssertionError(
                    f"step {j} (pc {st.frame.pc}, op {st.code.code[st.frame.pc]:#x}): "
                    f"Python post {post.committed_frame()} != py-evm {expected.committed_frame()}"
                )
        else:
            _check_end(trace, post, commit=not refused)
        out.append(Checked(st, proof, post.hash(), None))
    return out


def _check_end(trace: Trace, post: ExecState, commit: bool = True) -> None:
    fr = post.committed_frame()
    assert post.ms.phase == 6, "the last opcode must end the top frame"
    assert fr.gas == trace.gas_left, (fr.gas, trace.gas_left)
    assert (post.tx.status & 1) == int(trace.success)
    if fr.rdLen:
        assert post.memory.read(fr.rdOff, fr.rdLen) == trace.output
    else:
        assert trace.output == b""
    if commit and post.journal is not None and trace.tx is not None:
        root = commit_root(trace, post)
        assert root == trace.post_root, f"journal committed {root.hex()} != py-evm {trace.post_root.hex()}"


class _Overlay(dict):
    """New trie nodes go here; reads fall through to py-evm's database (left untouched)."""

    def __init__(self, base: Any) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: bytes) -> bytes:
        return self.base[key]


def commit_root(trace: Trace, post: ExecState) -> bytes:
    """The state root the COMMIT walk (WorldState's Python twin) gives for the journal at the end
    of the top frame, settled as TX_END would: py-evm's post-state root when all agree."""
    assert post.journal is not None and trace.tx is not None
    settled = settle(post.journal, trace.tx, post.frame.gas, post.tx.refund, trace.coinbase, trace.base_fee,
                     trace.tx.kind == 1)  # fmt: skip
    return commit_steps(_Overlay(trace.db), trace.pre_root, settled)[-1].next_world_root
