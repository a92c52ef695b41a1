"""The level-2 trace of one L2 block (docs/fraud-proofs.md 1, 2, 11): every machine state from the
agreed claim after block `b - 1` to the claim after block `b`, for the dispute agent.

`BlockTrace.build(chain, l1, b, entry_limit, start)` replays block `b` step by step: it derives
what the block reads from L1 (the inbox entry, its messages, delayed messages, origin records),
makes each step's witness from the chain's tries, and applies the pure steps of
`block_steps` / `tx_steps`. The trace is checked by its end: the last state must be the block
claim of our chain (`BlockClaim(b, output_root_at(b), cursor after b)`), so a wrong step
semantics shows up as a wrong block hash, state root or output root. Positions past `T` are the
final claim (the identity padding of section 2).

Not traced yet: contract-creation transactions (`CREATE` at TX_DECODE; the CREATE and CREATE2
opcodes are, docs/fraud-proofs.md 21), EIP-7702 authorizations; such a block raises `Unsupported`
with the name of what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import rlp
from eth.abc import BlockHeaderAPI
from eth_hash.auto import keccak
from trie import HexaryTrie

from l1.proofs import block_steps as bs
from l1.proofs import steps
from l1.proofs import tx_steps as ts
from l1.proofs.commitments import (
    COMMIT,
    EXEC,
    IDLE,
    SYS,
    TRIE,
    TX_END,
    TX_LOAD,
    TX_SETUP,
    Cursor,
    EntryCtx,
    TxRecord,
)
from l1.proofs.journal import EMPTY_CODE_HASH, KIND_SLOT, account_key
from l1.proofs.machine import (
    CLAIM,
    SETUP_ACCESS_LIST,
    SETUP_CALL,
    SETUP_COINBASE,
    SETUP_TO,
    ST_DATA,
    ST_DECODE,
    ST_DEPOSIT_START,
    ST_LOAD,
    ST_SIGHASH,
    ST_START,
    Game,
    Machine,
    PendingCommit,
    PendingSys,
)
from l1.proofs.mpt import account_path, path_proof, slot_path
from l1.proofs.stacktrie import DONE, key_index
from l1.proofs.world_state import CommitStep, commit_steps
from l2.chain import L2Chain
from l2.derivation import InboxBatch, QueuedDeposit, RecordedOrigin, batch_messages
from l2.messages import BlockStart, L2Tx, Message, merkle_proof, message_hash
from l2.output_root import output_root_at
from l2.predeploys import MESSAGE_PASSER_ADDRESS

Unsupported = ts.Unsupported


class L1Source(Protocol):
    """What the trace reads of L1: `l1.inbox_reader.InboxReader` or a test's in-memory source."""

    def entries(self, first_index: int, from_block: int, limit: int) -> Sequence[InboxBatch]: ...

    def recorded_origin(self, number: int) -> RecordedOrigin | None: ...

    def delayed(self, index: int) -> QueuedDeposit: ...


class Overlay(MutableMapping[bytes, bytes]):
    """The chain's trie nodes read-only, with the nodes the trace writes kept aside."""

    def __init__(self, base: Any) -> None:
        self.base = base
        self.local: dict[bytes, bytes] = {}

    def __getitem__(self, key: bytes) -> bytes:
        if key in self.local:
            return self.local[key]
        return self.base[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.local[key] = value

    def __delitem__(self, key: bytes) -> None:
        self.local.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self.local or self.base.exists(key)  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.local)

    def __len__(self) -> int:
        return len(self.local)


@dataclass
class BlockTrace:
    """States `s_0 .. s_T` of block `number`'s level-2 trace, with each step's kind and witness."""

    number: int
    states: list[bytes]
    kinds: list[str]
    witnesses: list[Any]
    machines: list[Machine] = field(repr=False, default_factory=list)
    game: Game | None = field(repr=False, default=None)
    db: Any = field(repr=False, default=None)
    l1: Any = field(repr=False, default=None)  # the L1Source read (proof packers need entry preimages)

    @property
    def steps(self) -> int:
        return len(self.kinds)

    def state(self, j: int) -> bytes:
        """s_j; beyond T the final claim (identity padding)."""
        if j < 0:
            raise IndexError(j)
        return self.states[min(j, len(self.states) - 1)]

    def step_kind(self, j: int) -> str:
        return self.kinds[j] if j < len(self.kinds) else "IDENTITY"

    def witness(self, j: int) -> Any:
        """What the proof of step j -> j + 1 needs (with the pre-state `machine(j)`)."""
        return self.witnesses[j] if j < len(self.witnesses) else None

    def machine(self, j: int) -> Machine:
        return self.machines[min(j, len(self.machines) - 1)]

    def replay(self, j: int, witness: Any = None) -> Machine:
        """Step j run again, purely, from `machine(j)` with `witness` (default: the recorded one):
        what a verifier computes from the proof. EXEC steps rerun `steps.step` (their witness is
        the proof it returns)."""
        if j >= self.steps:
            return self.machine(j)
        w = self.witnesses[j] if witness is None else witness
        return apply_step(self.kinds[j], self.machines[j], w, self.game, self.db)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for k in self.kinds:
            out[k] = out.get(k, 0) + 1
        return out

    @classmethod
    def build(cls, chain: L2Chain, l1: L1Source, block_number: int, entry_limit: int,
              start: tuple[int, int, int], keep_machines: bool = True) -> BlockTrace:
        """Trace block `block_number` from the claim after its parent, whose cursor is `start`
        (entryIndex, msgIndex, delayedNext), in a game of `entry_limit` entries. Without
        `keep_machines` only the hashes are kept (a big block's decoded states are large);
        `machine`, `witness` and `replay` then need a rebuild."""
        return _Tracer(chain, l1, block_number, entry_limit, start, keep_machines).run()


def apply_step(kind: str, m: Machine, w: Any, g: Game | None, db: Any = None) -> Machine:
    """The pure step function of `kind` (the dispatcher the Solidity verifier mirrors, by kind)."""
    assert g is not None
    if m.exec is not None:  # EXEC, and the LOADs of opcodes
        post, _ = steps.step(m.exec)
        return m.replace(exec=post) if post.ms.phase != TX_END else ts.exec_end(m, post)
    table: dict[str, Any] = {
        "ENTRY_SKIP": lambda: bs.entry_skip(m, w, g), "BLOCK_START": lambda: bs.block_start(m, w, g),
        "SYS_WRITE": lambda: bs.sys_write(m, g), "COMMIT": lambda: bs.commit(m, w),
        "NEXT_MESSAGE": lambda: bs.next_message(m, w, g), "TRIE": lambda: bs.trie(m, w),
        "TRIE_SPONGE": lambda: bs.trie_sponge(m, w),
        "SEAL": lambda: bs.seal(m, w, g), "LOAD_ACCOUNT": lambda: ts.load_account(m, w),
        "LOAD_SLOT": lambda: ts.load_slot(m, w), "TX_LOAD": lambda: ts.tx_load(m, w),
        "TX_DECODE": lambda: ts.tx_decode(m, w, g), "SIG_HASH": lambda: ts.sig_hash(m, w, g),
        "TX_START": lambda: ts.tx_start(m, w, g), "TX_SETUP": lambda: ts.tx_setup(m, w, g),
        "TX_CALL": lambda: ts.tx_call(m, w, g, db), "TX_END": lambda: ts.tx_end(m, w, g),
        "DEPOSIT_LOAD": lambda: ts.deposit_load(m, w), "DATA_LOAD": lambda: ts.data_load(m, w),
        "DEPOSIT_START": lambda: ts.deposit_start(m),
    }  # fmt: skip
    return table[kind]()


def game_of(chain: L2Chain, block_number: int, entry_limit: int) -> Game:
    s = chain.spec
    return Game(block_number, entry_limit, s.chain_id, s.gas_limit, bytes(s.fee_recipient),
                s.eip1559_elasticity, s.eip1559_denominator, s.max_tx_size)


class _Tracer:
    def __init__(self, chain: L2Chain, l1: L1Source, block_number: int, entry_limit: int,
                 start: tuple[int, int, int], keep_machines: bool = True) -> None:
        if block_number < 1:
            raise ValueError("genesis has no trace")
        self.chain, self.l1, self.b = chain, l1, block_number
        self.g = game_of(chain, block_number, entry_limit)
        self.db = Overlay(chain.chaindb.db)
        self.parent: BlockHeaderAPI = chain.header_by_number(block_number - 1)
        self.m = Machine(phase=CLAIM, number=block_number - 1, cursor=Cursor(*start),
                         output_root=output_root_at(chain, self.parent))
        self.trace = BlockTrace(block_number, [self.m.commitment()], [], [], [self.m], self.g, self.db, l1)
        self._entries: dict[int, tuple[InboxBatch, list[Message] | None, EntryCtx]] = {}
        self._commit: list[CommitStep] = []
        self.records: dict[bytes, TxRecord] = {}
        self.raw = b""
        self.decoded: Any = None
        self.deposit: QueuedDeposit | None = None
        self.setup_items: list[tuple[bytes, int | None]] = []
        self.tx_bloom = bytes(256)
        self.keep = keep_machines

    # -- L1 reads ---------------------------------------------------------------------------

    def entry(self, index: int) -> tuple[InboxBatch, list[Message] | None, EntryCtx]:
        if index not in self._entries:
            found = self.l1.entries(index, 0, 1)
            if not found or found[0].index != index:
                raise ValueError(f"inbox entry {index} not found")
            e = found[0]
            if e.forced:
                messages, kind = None, bs.KIND_FORCED
            else:
                messages, _ = batch_messages(e, self.g.chain_id)
                kind = bs.KIND_VALID if messages is not None else bs.KIND_INVALID
            ctx = EntryCtx(kind, e.message_root, e.message_count, e.delayed_read)
            self._entries[index] = (e, messages, ctx)
        return self._entries[index]

    # -- the loop -----------------------------------------------------------------------------

    def emit(self, kind: str, witness: Any, new: Machine) -> None:
        self.m = new
        self.trace.kinds.append(kind)
        self.trace.states.append(new.commitment())
        if self.keep:
            self.trace.witnesses.append(witness)
            self.trace.machines.append(new)

    def run(self) -> BlockTrace:
        while True:
            m = self.m
            if m.phase == CLAIM:
                c = m.cursor
                if c.msgIndex == 0 and c.entryIndex < self.g.entry_limit:
                    _, _, ctx = self.entry(c.entryIndex)
                    if bs.derives_nothing(ctx, c.delayedNext):
                        w = bs.EntryWitness(ctx)
                        self.emit("ENTRY_SKIP", w, bs.entry_skip(m, w, self.g))
                        continue
                if m.number == self.b - 1:
                    self.block_start()
                    continue
                return self.trace
            handler = {EXEC: self.exec, SYS: self.sys, COMMIT: self.commit, IDLE: self.next_message,
                       TX_LOAD: self.tx_load, TX_SETUP: self.tx_setup, TX_END: self.tx_end,
                       TRIE: self.trie}.get(m.phase)
            if handler is None:
                raise Unsupported(f"phase {m.phase}")
            handler()

    # -- block level --------------------------------------------------------------------------

    def block_start(self) -> None:
        m, c = self.m, self.m.cursor
        _, messages, ctx = self.entry(c.entryIndex)
        parent = self.parent
        message, path, last = None, [], None
        if ctx.kind == bs.KIND_VALID and c.msgIndex < ctx.messageCount:
            assert messages is not None
            message = messages[c.msgIndex]
            path = merkle_proof([message_hash(x) for x in messages], c.msgIndex)
        else:
            q = self.l1.delayed(ctx.delayedEnd - 1)
            last = (q.l1_timestamp, q.l1_block_number)
        root = parent.state_root
        parent_origin = self.l1_info(root)
        if isinstance(message, BlockStart):
            given = message.l1_origin_number
        elif last is not None:
            given = last[1]
        else:
            given = parent_origin[0]
        record = None
        if given > parent_origin[0]:  # the verifier reads Inbox.l1Origins(given) live (3.4)
            r = self.l1.recorded_origin(given)
            record = bs.OriginRecord() if r is None else bs.OriginRecord(bytes(r.origin.hash), r.origin.base_fee,
                                                                          r.first_entry)
        slots = [self.slot_proof(root, bs.L1_INFO_ADDRESS, k) for k in range(3)]
        w = bs.BlockStartWitness(
            parent_header=rlp.encode(parent), state_root=root, passer_root=self.passer_root(root),
            entry=bs.EntryWitness(ctx), message=message, message_path=path, last_delayed=last,
            parent_origin=parent_origin,
            l1_info_account_proof=path_proof(HexaryTrie(self.db, root), account_path(bs.L1_INFO_ADDRESS)),
            l1_info_slot_proofs=(slots[0], slots[1], slots[2]),
            record=record)  # fmt: skip
        self.emit("BLOCK_START", w, bs.block_start(m, w, self.g))

    def l1_info(self, root: bytes) -> tuple[int, bytes, int]:
        """L1Info slots 0, 1, 2 (origin number, hash, base fee) in the state `root` (absent: 0)."""
        value = HexaryTrie(self.db, root).get(account_path(bs.L1_INFO_ADDRESS))
        storage = HexaryTrie(self.db, bytes(rlp.decode(value)[2])) if value else None
        out = []
        for slot in range(3):
            v = storage.get(slot_path(slot)) if storage is not None else b""
            out.append(rlp.decode(v, sedes=rlp.sedes.big_endian_int) if v else 0)
        return out[0], out[1].to_bytes(32, "big"), out[2]

    def sys(self) -> None:
        m = self.m
        assert isinstance(m.pending, PendingSys) and m.block is not None
        address, slot, _ = bs.sys_target(m.block, m.pending.next)
        if not self.load_if_absent(address, slot):
            self.emit("SYS_WRITE", None, bs.sys_write(m, self.g))

    def commit(self) -> None:
        m = self.m
        assert isinstance(m.pending, PendingCommit)
        if not self._commit or self._commit[0].world_root != m.world_root or self._commit[0].cursor != m.pending.cursor:
            self._commit = commit_steps(self.db, m.world_root, m.journal)
        w = bs.CommitWitness.of(self._commit.pop(0))
        self.emit("COMMIT", w, bs.commit(m, w))
        if self.m.phase != COMMIT:
            self._commit = []

    def next_message(self) -> None:
        m, c = self.m, self.m.cursor
        _, messages, ctx = self.entry(c.entryIndex)
        message, path = None, []
        if ctx.kind == bs.KIND_VALID and c.msgIndex < ctx.messageCount:
            assert messages is not None
            message = messages[c.msgIndex]
            path = merkle_proof([message_hash(x) for x in messages], c.msgIndex)
        w = bs.MessageWitness(message, path)
        new = bs.next_message(m, w, self.g)
        self.emit("NEXT_MESSAGE", w, new)
        if new.phase == TX_LOAD and new.tx is not None:
            assert isinstance(message, L2Tx)
            self.raw = message.raw
        elif new.phase == TX_LOAD:
            self.deposit = self.l1.delayed(new.cursor.delayedNext - 1)

    def trie(self) -> None:
        m = self.m
        assert m.acc is not None and m.acc.trie is not None
        if m.acc.trie.which == DONE:
            passer = self.passer_root(m.world_root)
            proof = path_proof(HexaryTrie(self.db, m.world_root), account_path(MESSAGE_PASSER_ADDRESS))
            seal = bs.SealWitness(passer, proof)
            self.emit("SEAL", seal, bs.seal(m, seal, self.g))
            return
        record = None
        if m.acc.tx_count:
            record = self.records[m.acc.records.word(key_index(m.acc.trie.pos, m.acc.tx_count))]
        w = bs.TrieWitness(record)
        if bs.needs_sponge(m, w):
            self.emit("TRIE_SPONGE", w, bs.trie_sponge(m, w))
        else:
            self.emit("TRIE", w, bs.trie(m, w))

    # -- transaction level --------------------------------------------------------------------

    def tx_load(self) -> None:
        m, tx = self.m, self.m.tx
        if tx is None:
            q = self.deposit
            assert q is not None
            d = q.deposit
            dw = ts.DepositLoadWitness(d.index, bytes(d.sender), bytes(d.to), d.value, d.gas_limit,
                                       q.l1_block_number, q.l1_timestamp, keccak(d.data), len(d.data),
                                       bare_byte=len(d.data) == 1 and d.data[0] < 0x80)
            self.emit("DEPOSIT_LOAD", dw, ts.deposit_load(m, dw))
            return
        if tx.setup == ST_LOAD:
            w = self.sponge_block(b"\x01" + self.raw, m.pending.absorbed)  # type: ignore[union-attr]
            self.emit("TX_LOAD", w, ts.tx_load(m, w))
        elif tx.setup == ST_DECODE:
            self.emit("TX_DECODE", *self.decode(m))
        elif tx.setup == ST_SIGHASH:
            sw = ts.SigHashWitness()
            new = ts.sig_hash(m, sw, self.g)
            if new.phase == IDLE and self.decoded is not None:
                raise ts.StepError("SIG_HASH refuses a transaction decode_transaction accepts")
            if new.tx is not None and new.tx.setup == ST_START and self.decoded is None:
                raise ts.StepError("SIG_HASH accepts a transaction decode_transaction refuses")
            self.emit("SIG_HASH", sw, new)
        elif tx.setup == ST_START:
            if not self.load_if_absent(tx.sender):
                start = ts.TxStartWitness(self.code_of(tx.sender))
                self.emit("TX_START", start, ts.tx_start(m, start, self.g))
        elif tx.setup == ST_DATA:
            assert self.deposit is not None
            w = self.sponge_block(bytes(self.deposit.deposit.data), m.pending.sponge.absorbed)  # type: ignore[union-attr]
            self.emit("DATA_LOAD", w, ts.data_load(m, w))
        elif tx.setup == ST_DEPOSIT_START:
            if not self.load_if_absent(tx.sender):
                self.emit("DEPOSIT_START", None, ts.deposit_start(m))

    def sponge_block(self, message: bytes, absorbed: int) -> ts.SpongeWitness:
        rest = message[absorbed:]
        if len(rest) >= ts.BLOCK:
            return ts.SpongeWitness(rest[: ts.BLOCK], False)
        return ts.SpongeWitness(rest, True)

    def decode(self, m: Machine) -> tuple[ts.DecodeWitness, Machine]:
        """TX_DECODE, checked against `decode_transaction` (the chain's rule): a transaction it
        accepts is refused here only when TX_START would skip it anyway (`ts.skipped_anyway`)."""
        w = ts.DecodeWitness()
        new = ts.tx_decode(m, w, self.g)
        self.decoded = ts.decode_raw(self.raw, self.g)
        if new.tx is None and self.decoded is not None and not ts.skipped_anyway(self.decoded):
            raise ts.StepError("TX_DECODE refuses a transaction decode_transaction accepts")
        self.setup_items = []
        if new.tx is not None and self.decoded is not None:
            al = self.decoded.access_list
            self.setup_items = [item for a, keys in al for item in [(bytes(a), None)] + [(bytes(a), k) for k in keys]]
        return w, new

    def tx_setup(self) -> None:
        m, tx = self.m, self.m.tx
        assert tx is not None
        if tx.setup in (SETUP_TO, SETUP_COINBASE, SETUP_ACCESS_LIST):
            address, slot = {SETUP_TO: (tx.to, None), SETUP_COINBASE: (self.g.coinbase, None)}.get(
                tx.setup, self.setup_items[tx.alCursor] if tx.setup == SETUP_ACCESS_LIST else (b"", None))
            if address in ts.PRECOMPILES or not self.load_if_absent(address, slot):
                w = ts.SetupWitness()
                self.emit("TX_SETUP", w, ts.tx_setup(m, w, self.g))
        elif tx.setup == SETUP_CALL:
            if tx.to in ts.PRECOMPILES:
                raise Unsupported("PRECOMPILE_CALL")
            code_hash = ts.account(m.journal, tx.to).code_hash
            code = b"" if code_hash == EMPTY_CODE_HASH else bytes(self.db[code_hash])
            if code.startswith(ts.DELEGATION_PREFIX):
                raise Unsupported("DELEGATED_CALL")
            call = ts.CallWitness(code)
            self.emit("TX_CALL", call, ts.tx_call(m, call, self.g, self.db))

    def exec(self) -> None:
        """One opcode step (or its LOAD) of `l1.proofs.steps`; its witness is the proof bytes."""
        m = self.m
        st = m.exec
        assert st is not None and st.journal is not None
        try:
            post, proof = steps.step(st)
        except steps.Unsupported as exc:
            raise Unsupported(exc.name) from None
        kind = "EXEC"
        assert post.journal is not None
        # a LOAD changes only the journal (a CALL or a frame's end changes the frame)
        same_frame = post.committed_frame() == st.committed_frame()
        if post.ms.phase == EXEC and same_frame and post.journal.count > st.journal.count:
            kind = "LOAD_SLOT" if post.journal.leaves[-1].kind == KIND_SLOT else "LOAD_ACCOUNT"
        new = m.replace(exec=post)
        if post.ms.phase == TX_END:
            new, self.tx_bloom = ts.exec_end(m, post), post.tx_bloom
        self.emit(kind, proof, new)

    def tx_end(self) -> None:
        w = ts.TxEndWitness(self.tx_bloom)
        self.tx_bloom = bytes(256)
        new, record = ts.tx_end_record(self.m, w, self.g)
        self.records[record.hash()] = record
        self.emit("TX_END", w, new)

    # -- world state reads --------------------------------------------------------------------

    def load_if_absent(self, address: bytes, slot: int | None = None) -> bool:
        """Emit LOAD_ACCOUNT or LOAD_SLOT when the next step needs an entry the journal lacks."""
        m = self.m
        if account_key(address) not in m.journal:
            w = self.account_witness(m.world_root, address)
            self.emit("LOAD_ACCOUNT", w, ts.load_account(m, w))
            return True
        if slot is not None and not ts.has_slot(m.journal, address, slot):
            entry = ts.account(m.journal, address)
            storage = HexaryTrie(self.db, entry.orig_storage_root)
            value = storage.get(slot_path(slot))
            original = rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0
            w2 = ts.LoadSlotWitness(address, slot, path_proof(storage, slot_path(slot)), original)
            self.emit("LOAD_SLOT", w2, ts.load_slot(m, w2))
            return True
        return False

    def account_witness(self, root: bytes, address: bytes) -> ts.LoadAccountWitness:
        state = HexaryTrie(self.db, root)
        entry = ts.account_from_rlp(address, state.get(account_path(address)))
        return ts.LoadAccountWitness(address, path_proof(state, account_path(address)), entry)

    def passer_root(self, root: bytes) -> bytes:
        value = HexaryTrie(self.db, root).get(account_path(MESSAGE_PASSER_ADDRESS))
        return bytes(rlp.decode(value)[2]) if value else keccak(b"\x80")

    def slot_proof(self, root: bytes, address: bytes, slot: int) -> list[bytes]:
        value = HexaryTrie(self.db, root).get(account_path(address))
        if not value:
            return []
        return path_proof(HexaryTrie(self.db, bytes(rlp.decode(value)[2])), slot_path(slot))

    def code_of(self, address: bytes) -> bytes:
        entry = ts.account(self.m.journal, address)
        if entry.code_hash == EMPTY_CODE_HASH:
            return b""
        return bytes(self.db[entry.code_hash])

