"""The block-start steps of the one-step prover on real block traces, verified on anvil
(docs/fraud-proofs.md 2.1, 3.1, 3.4, 14, 18): IDENTITY, ENTRY_SKIP and BLOCK_START
(`osp/ExecBlockStart.sol`, the prover's `phaseSteps[0]`) and phase SYS, SYS_WRITE and its LOADs
(`osp/ExecSys.sol`, `phaseSteps[SYS]`), through the OneStepProver that `l1.deploy.deploy` wires to
a real Inbox and DelayedInbox.

The inbox entries the L2 chain is derived from are appended to that Inbox as well (same payload,
root, count, delayed read; deposits made on the DelayedInbox and read back from its events, an
invalid batch flagged by `markInvalid`), and L1 origins are recorded in it from real anvil headers
(D2: `appendBatch`'s origin headers, `recordL1Origins`), so derivation, the trace and the
prover's live reads (`Inbox.l1Origins`) see exactly the same records. Blocks: the first block
after genesis (a recorded origin, so it writes the L1Info slots over genesis's empty ones), a
BlockStart naming the parent's origin and an older one (mid-entry), a block opened by a
transaction, a new origin mid-entry, an origin recorded only after the entry (kept), an invalid
batch skipped (ENTRY_SKIP), a recorded origin after a deposit, an invalid batch and forced
entries whose last deposit's L1 block is recorded (a new origin) or not (kept), a BlockStart
naming an origin never recorded (kept). A second deployment's block 1 names an unrecorded origin:
it keeps genesis's null origin (no L1Info write).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from bench.workloads import Key, Workload
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.bindings import DelayedInboxBinding, InboxBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.headers import header_rlp
from l1.proofs import block_proofs
from l1.proofs import block_steps as bs
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import SYS
from l1.proofs.msg_proofs import preimages_for
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import proof_for, proof_sections
from l2.chain import L2Chain
from l2.deposits import Deposit
from l2.derivation import InboxBatch, QueuedDeposit, RecordedOrigin, batch_messages
from l2.messages import BlockStart, Delayed, L2Tx, Message, merkle_proof, message_hash
from l2.spec import ChainSpec
from l2.types import L1Origin
from tests.integration.test_osp_exec import DEV_KEY, call_batch
from tests.integration.test_osp_msg_steps import register
from tests.unit.test_block_trace import Harness, Source, transfers
from tests.unit.test_state_transition import signed

CHAIN_ID = 901
BAD_ROOT = b"\x22" * 32
KINDS = ("IDENTITY", "ENTRY_SKIP", "BLOCK_START", "SYS_WRITE", "LOAD_ACCOUNT", "LOAD_SLOT")


@dataclass
class World:
    """The L1 deployment, the chain's block traces (by block number), the entry count and the
    L1 block numbers the chain's BlockStarts and deposits name (by role)."""

    deployment: Deployment
    prover: str
    traces: dict[int, BlockTrace]
    limit: int
    l1: dict[str, int]


def l1_header(w3: Web3, number: int) -> bytes:
    """The RLP header of L1 block `number` (`l1.headers`, checked against its hash)."""
    header = header_rlp(w3, number)
    assert header is not None
    return header


@dataclass
class InboxSource(Source):
    """The in-memory source whose L1 origins are the real Inbox's records (`Inbox.l1Origins`)."""

    inbox: InboxBinding | None = None

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        assert self.inbox is not None
        record = self.inbox.l1_origin(number)
        if record is None:
            return None
        return RecordedOrigin(L1Origin(number, record.hash, record.base_fee), record.first_entry)


class Mirror:
    """Appends each entry of the in-memory `Source` to the real Inbox (with the headers of the
    origins it records), deposits on the real DelayedInbox and records them in the source as
    their events say."""

    def __init__(self, w3: Web3, deployment: Deployment, source: InboxSource) -> None:
        signer = Account.from_key(DEV_KEY)
        self.w3 = w3
        self.inbox = InboxBinding(w3, deployment.contracts["Inbox"], signer)
        self.delayed = DelayedInboxBinding(w3, deployment.contracts["DelayedInbox"], signer)
        self.source = source
        source.inbox = self.inbox

    def deposit(self, value: int) -> int:
        receipt = self.delayed.deposit(b"\x5a" * 20, 50_000, b"\x01\x02", value=value)
        (delivered,) = self.delayed.messages_in(receipt)
        m = delivered.message
        d = Deposit(index=m.index, sender=m.sender, to=m.to, value=m.value, gas_limit=m.gas_limit, data=m.data)
        assert m.index == len(self.source.deposits)
        self.source.deposits.append(QueuedDeposit(d, m.l1_block_number, m.l1_timestamp))
        return m.index

    def record(self, numbers: Sequence[int]) -> None:
        """`Inbox.recordL1Origins`: recorded for entries from the current entry count on (an L1
        block is known to the Inbox once a later one exists: one is mined first)."""
        self.w3.provider.make_request("evm_mine", [])
        self.inbox.record_l1_origins([l1_header(self.w3, n) for n in numbers])
        for n in numbers:
            record = self.inbox.l1_origin(n)
            assert record is not None and record.first_entry == self.inbox.entry_count()

    def batch(self, messages: list[Message], delayed_read: int, *, invalid: bool = False,
              origins: Sequence[int] = ()) -> InboxBatch:  # fmt: skip
        entry = self.source.batch(messages, delayed_read, root=BAD_ROOT if invalid else None)
        headers = [l1_header(self.w3, n) for n in origins]
        self.inbox.append_batch(entry.payload, entry.message_root, entry.message_count, entry.delayed_read, headers)
        assert self.inbox.entry_count() == len(self.source.posted)
        for n in origins:
            record = self.inbox.l1_origin(n)
            assert record is not None and record.first_entry <= entry.index
        if invalid:
            acc = self.delayed.accumulator(delayed_read - 1) if delayed_read else b"\x00" * 32
            self.inbox.mark_invalid(entry.index, entry.payload, entry.message_root, entry.message_count, acc)
            assert self.inbox.is_invalid(entry.index)
        return entry

    def force(self, anvil: Anvil) -> InboxBatch:
        """`Inbox.forceInclude` once the oldest unread deposit is overdue: a forced entry."""
        before = self.inbox.delayed_read()
        anvil.increase_time(self.inbox.force_inclusion_delay() + 1)
        self.inbox.force_include()
        after = self.inbox.delayed_read()
        entry = InboxBatch(len(self.source.posted), True, b"", b"\x00" * 32, after - before, after, 0, bytes(32))
        self.source.posted.append(entry)
        assert self.inbox.entry_count() == len(self.source.posted)
        return entry


def big_tx(key: Key) -> bytes:
    """A transfer with 8,000 bytes of calldata (gas over the EIP-7623 floor, 21,000 + 40 per
    non-zero byte): its message alone would put a BLOCK_START proof given in full near 10 KB."""
    return signed(key, 0, value=5, to=b"\xab\x01" * 10, gas=400_000, data=b"\x5c" * 8_000)


def _mine(anvil: Anvil, n: int) -> int:
    for _ in range(n):
        anvil.w3.provider.make_request("evm_mine", [])
    return int(anvil.w3.eth.block_number)


def _chain(tmp_path_factory: pytest.TempPathFactory, name: str, spec: ChainSpec) -> L2Chain:
    return L2Chain.open(Path(tmp_path_factory.mktemp(name)) / "chain", spec, map_size=1 << 30)


@pytest.fixture(scope="module")
def world(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    deployment = deploy(anvil.w3, Account.from_key(DEV_KEY), spec, DeployParams())
    chain = _chain(tmp_path_factory, "blockstart", spec)
    try:
        source = InboxSource()
        h, l1 = Harness(chain, source), Mirror(anvil.w3, deployment, source)
        top = _mine(anvil, 8)
        a, b, c, never = top - 6, top - 4, top - 2, top - 1  # L1 blocks named as origins
        # 1: the first block after genesis, its origin recorded by its own batch
        blocks = h.apply(l1.batch([BlockStart(1_000, a), *transfers(keys, 1)], 0, origins=[a]))
        # 2: the parent's origin named again; 3 (mid-entry): an older one, which keeps the parent's
        blocks += h.apply(l1.batch([BlockStart(1_002, a), *transfers(keys, 1, first_nonce=1), BlockStart(1_004, a - 1),
                                    *transfers(keys, 1, first_nonce=2)], 0, origins=[a - 1]))  # fmt: skip
        # 4: opened by a transaction of 8 KB (the parent's values; given by its leaf), 5: a new
        # recorded origin mid-entry
        blocks += h.apply(l1.batch([L2Tx(big_tx(keys[1])), BlockStart(1_006, b)], 0, origins=[b]))
        blocks += h.apply(l1.batch([BlockStart(1_008, c)], 0))  # 6: c is not recorded yet: keeps b
        l1.record([c])  # c recorded after entry 3 (firstEntry 4): block 6 still keeps b
        assert h.apply(l1.batch([BlockStart(1_009, c)], 0, invalid=True)) == []  # skipped after 6
        first = l1.deposit(1_000)
        l1.deposit(2_000)
        # 7: takes c (recorded before entry 5), reads two deposits (places one, flushes the other)
        blocks += h.apply(l1.batch([BlockStart(1_010, c), Delayed(first), *transfers(keys, 1, key=1, first_nonce=1)],
                                   2))  # fmt: skip
        l1.deposit(3_000)
        blocks += h.apply(l1.batch([BlockStart(1_011, c)], 3, invalid=True))  # 8: its deposit's block, unrecorded
        blocks += h.apply(l1.batch([BlockStart(1_012, never), *transfers(keys, 1, first_nonce=3)], 3))  # 9: kept
        d4 = source.deposits[l1.deposit(4_000)].l1_block_number
        l1.record([d4])
        blocks += h.apply(l1.force(anvil))  # 10: a forced entry whose deposit's block is recorded: new origin
        l1.deposit(5_000)
        blocks += h.apply(l1.force(anvil))  # 11: a forced entry whose deposit's block is not recorded: kept
        d6 = source.deposits[l1.deposit(6_000)].l1_block_number
        l1.record([d6])
        blocks += h.apply(l1.batch([BlockStart(1_013, c)], 6, invalid=True))  # 12: invalid, recorded deposit block
        assert blocks == list(range(1, 13))
        origins = [chain.l1_origin_number(chain.header_by_number(n)) for n in blocks]
        assert origins == [a, a, a, a, b, b, c, c, c, d4, d4, d6], (origins, a, b, c, d4, d6)
        limit = len(source.posted)
        traces = {n: h.trace(n, limit) for n in blocks}
        yield World(deployment, deployment.contracts["OneStepProver"], traces, limit,
                    {"a": a, "b": b, "c": c, "never": never, "d4": d4, "d6": d6})  # fmt: skip
    finally:
        chain.close()


@pytest.fixture(scope="module")
def null_world(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Another deployment whose block 1 names an L1 block that is never recorded: it keeps
    genesis's null origin (number 0, zero hash and base fee: genesis's empty L1Info slots)."""
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    deployment = deploy(anvil.w3, Account.from_key(DEV_KEY), spec, DeployParams())
    chain = _chain(tmp_path_factory, "blockstart-null", spec)
    try:
        source = InboxSource()
        h, l1 = Harness(chain, source), Mirror(anvil.w3, deployment, source)
        top = _mine(anvil, 2)
        blocks = h.apply(l1.batch([BlockStart(1_000, top - 1), *transfers(keys, 1)], 0))
        assert blocks == [1] and chain.l1_origin_number(chain.header_by_number(1)) == 0
        traces = {1: h.trace(1, 1)}
        yield World(deployment, deployment.contracts["OneStepProver"], traces, 1, {"never": top - 1})
    finally:
        chain.close()


def _ctx(trace: BlockTrace, created_at: int = 0) -> GameContext:
    assert trace.game is not None
    return GameContext(trace.number, trace.game.entry_limit, created_at)


def _call(trace: BlockTrace, j: int, proof: bytes, created_at: int = 0) -> bytes:
    return step_calldata(_ctx(trace, created_at), trace.state(j), proof)


def _kind(trace: BlockTrace, j: int) -> str | None:
    """The step's kind if it is one of this module's (a LOAD only in phase SYS), else None."""
    kind = trace.step_kind(j)
    if kind in ("LOAD_ACCOUNT", "LOAD_SLOT") and trace.machine(j).phase != SYS:
        return None
    return kind if kind in KINDS else None


def _steps(world: World) -> list[tuple[int, BlockTrace, int]]:
    """Every step of this module's kinds in the traces, and the identity steps of each trace's
    final claim."""
    return [(b, t, j) for b, t in world.traces.items() for j in range(t.steps + 1) if _kind(t, j) is not None]


def _register(anvil: Anvil, world: World, cases: list[tuple[int, BlockTrace, int]]) -> None:
    """What the steps read of the PreimageOracle (a BLOCK_START opened by an L2Tx: its message),
    registered first, as the dispute agent does (`msg_proofs.preimages_for`)."""
    oracle = world.deployment.contracts["PreimageOracle"]
    for data in dict.fromkeys(p for _, t, j in cases for p in preimages_for(t, j)):
        assert register(anvil.w3, oracle, data)["status"] == 1


def _block_start(trace: BlockTrace) -> int:
    return next(j for j in range(trace.steps) if trace.step_kind(j) == "BLOCK_START")


NEW_ORIGIN_BLOCKS = (1, 5, 7, 10, 12)


def test_traces_cover_the_cases(world: World, anvil: Anvil) -> None:
    """The traces hold what the tests below prove: BLOCK_STARTs from a BlockStart at msgIndex 0
    and mid-entry and from a transaction, ENTRY_SKIP, SYS walks with and without a new origin,
    and each origin case of D2: recorded (by the batch, by `recordL1Origins` before the entry),
    recorded only after the entry, never recorded, older than the parent's, a forced or invalid
    entry's last deposit block recorded or not."""
    kinds = {(_kind(t, j), t.machine(j).block.newOrigin if t.machine(j).block else None)
             for _, t, j in _steps(world)}  # fmt: skip
    assert {("SYS_WRITE", 0), ("SYS_WRITE", 1), ("LOAD_SLOT", 0), ("LOAD_SLOT", 1), ("LOAD_ACCOUNT", 1),
            ("ENTRY_SKIP", None), ("BLOCK_START", None), ("IDENTITY", None)} <= kinds  # fmt: skip
    at = {b: _block_start(t) for b, t in world.traces.items()}
    assert world.traces[3].machine(at[3]).cursor.msgIndex == 2  # mid-entry
    assert world.traces[5].machine(at[5]).cursor.msgIndex == 1  # a new origin mid-entry
    assert world.traces[2].machine(at[2]).cursor.msgIndex == 0  # at the entry's start
    assert isinstance(world.traces[4].witness(at[4]).message, L2Tx)  # opened by a transaction
    assert [world.traces[b].witness(at[b]).entry.ctx.kind for b in (8, 10, 11, 12)] == [1, 2, 2, 1]
    assert world.traces[6].counts()["ENTRY_SKIP"] == 1
    new = [b for b, t in world.traces.items() if t.machine(at[b] + 1).block.newOrigin]  # type: ignore[union-attr]
    assert tuple(new) == NEW_ORIGIN_BLOCKS
    records = {b: world.traces[b].witness(at[b]).record for b in world.traces}
    assert records[1] == bs.OriginRecord(records[1].hash, records[1].base_fee, 0) and records[1].recorded
    assert records[2] is None and records[3] is None and records[4] is None  # no later origin named: no read
    assert records[6] is not None and records[6].first_entry == 4 > world.traces[6].machine(at[6]).cursor.entryIndex
    assert records[9] == bs.OriginRecord() and records[11] == bs.OriginRecord()  # never recorded
    assert records[8] == bs.OriginRecord()  # the invalid batch's deposit block
    inbox = InboxBinding(anvil.w3, world.deployment.contracts["Inbox"])  # what the verifier reads
    assert inbox.l1_origin(world.l1["never"]) is None
    late = inbox.l1_origin(world.l1["c"])
    assert late is not None and late.first_entry == 4
    assert (late.hash, late.base_fee) == (records[6].hash, records[6].base_fee)
    for b, name in ((1, "a"), (10, "d4"), (12, "d6")):
        got = inbox.l1_origin(world.l1[name])
        assert got is not None and world.traces[b].machine(at[b] + 1).block.originHash == got.hash  # type: ignore[union-attr]


def test_every_step_verifies_on_l1(world: World, null_world: World, anvil: Anvil) -> None:
    """Every BLOCK_START (new origins included), SYS_WRITE, LOAD of phase SYS, ENTRY_SKIP and final
    IDENTITY of the traces, proven through the deployed OneStepProver with `proof_for`, returns
    exactly the trace's next state; so does the block 1 that keeps genesis's null origin."""
    for w in (world, null_world):
        cases = _steps(w)
        _register(anvil, w, cases)
        results = call_batch(anvil.url, w.prover, [_call(t, j, proof_for(t, j)) for _, t, j in cases])
        for (b, trace, j), (ok, data) in zip(cases, results, strict=True):
            assert ok, (b, j, trace.step_kind(j), data.hex())
            assert data == trace.state(j + 1), (b, j, trace.step_kind(j))
    counts: dict[str, int] = {}
    for _, t, j in _steps(world):
        counts[t.step_kind(j)] = counts.get(t.step_kind(j), 0) + 1
    assert counts["BLOCK_START"] == 12 and counts["IDENTITY"] == 12 and counts["ENTRY_SKIP"] == 1, counts
    assert counts["SYS_WRITE"] == 12 + 3 * len(NEW_ORIGIN_BLOCKS), counts
    null = null_world.traces[1]
    assert null.machine(_block_start(null) + 1).block == replace(  # type: ignore[union-attr]
        null.machine(_block_start(null) + 1).block, newOrigin=0, originNumber=0, originHash=bytes(32),
        originBaseFee=0)
    assert null.counts()["SYS_WRITE"] == 1


def test_identity_before_an_entry_that_derives_a_block(world: World, anvil: Anvil) -> None:
    """A final claim at msgIndex 0 before the limit is final only if the next entry derives a
    block: with the entry's preimage ExecBlockStart proves it (ExecTx.identity could not), and a
    claim before an entry that derives nothing is not final (it skips)."""
    trace = world.traces[3]  # ends entry 1; entry 2 derives blocks 4 and 5
    j = trace.steps
    m = trace.machine(j)
    assert m.cursor.msgIndex == 0 and m.cursor.entryIndex == 2
    proof = b"".join(s.data for s in [*block_proofs.claim_head(m), block_proofs.entry_section(trace, 2)])
    ((ok, data),) = call_batch(anvil.url, world.prover, [_call(trace, j, proof)])
    assert ok and data == trace.state(j), data.hex()
    assert proof_for(trace, j) == proof


def _forged(trace: BlockTrace, j: int, record: bs.OriginRecord) -> bytes:
    """The post-state the Python twin computes if the Inbox's record read were `record`."""
    assert trace.game is not None
    w = replace(trace.witness(j), record=record)
    return bs.block_start(trace.machine(j), w, trace.game).commitment()


def test_the_origin_record_is_read_live_not_taken_from_the_proof(world: World, anvil: Anvil) -> None:
    """The record of a named origin is no part of the proof: whatever record a liar would claim
    (an unrecorded or too-late origin taken as new, a new one with another hash, base fee or a
    later firstEntry, or dropped), the verifier's answer is the trace's, which those claims are
    not. So a wrong origin cannot be proven, and the honest one needs no extra proof bytes."""
    cases: list[tuple[int, str, bs.OriginRecord]] = []
    h = b"\x77" * 32
    for b in (6, 9, 8, 11):  # recorded too late, never recorded (BlockStart, invalid, forced): taken as new
        cases.append((b, "kept taken as new", bs.OriginRecord(h, 9, 0)))
    for b in NEW_ORIGIN_BLOCKS:
        t = world.traces[b]
        real = t.witness(_block_start(t)).record
        entry = t.machine(_block_start(t)).cursor.entryIndex
        cases += [(b, "hash", replace(real, hash=h)), (b, "baseFee", replace(real, base_fee=real.base_fee + 1)),
                  (b, "firstEntry", replace(real, first_entry=entry + 1)), (b, "unrecorded", bs.OriginRecord())]
    calls = []
    for b, label, record in cases:
        t = world.traces[b]
        j = _block_start(t)
        assert _forged(t, j, record) != t.state(j + 1), (b, label)
        calls.append(_call(t, j, proof_for(t, j)))
    results = call_batch(anvil.url, world.prover, calls)
    for (b, label, _), (ok, data) in zip(cases, results, strict=True):
        t = world.traces[b]
        assert ok and data == t.state(_block_start(t) + 1), (b, label)


def test_a_message_given_by_its_leaf_reads_its_kind_from_the_preimage_oracle(world: World, anvil: Anvil) -> None:
    """Section 7's third bullet: a block opened by an L2Tx gives it by its leaf (`u32 0 ++ leaf`)
    and the verifier reads its kind byte from the PreimageOracle, so the 8 KB transaction of
    block 4 costs 32 bytes of proof. A BlockStart given by its leaf is refused: unregistered,
    `PreimageNotRegistered(leaf)`; registered (anyone may), its first byte is 0: `BadMessage`.
    The BlockStart in full still opens its block."""
    t4 = world.traces[4]
    j4 = _block_start(t4)
    message = t4.witness(j4).message
    assert isinstance(message, L2Tx) and len(message.encode()) > 8_000
    assert len(proof_for(t4, j4)) < 3_000
    _register(anvil, world, [(4, t4, j4)])
    t2 = world.traces[2]
    j2 = _block_start(t2)
    start = t2.witness(j2).message
    assert isinstance(start, BlockStart)
    sections = proof_sections(t2, j2)
    leaf = message_hash(start)
    by_leaf = b"".join(Section("Message", bytes(4) + leaf).data if s.label == "Message" else s.data for s in sections)
    oracle = world.deployment.contracts["PreimageOracle"]
    honest4 = _call(t4, j4, proof_for(t4, j4))
    (ok, data), (ok4, post4) = call_batch(anvil.url, world.prover, [_call(t2, j2, by_leaf), honest4])
    assert not ok and data == Web3.keccak(text="PreimageNotRegistered(bytes32)")[:4] + leaf, data.hex()
    assert ok4 and post4 == t4.state(j4 + 1)
    assert register(anvil.w3, oracle, start.encode())["status"] == 1  # a liar registers the BlockStart
    honest2 = _call(t2, j2, proof_for(t2, j2))
    (ok, data), (ok2, post2) = call_batch(anvil.url, world.prover, [_call(t2, j2, by_leaf), honest2])
    assert not ok and data[:4] == Web3.keccak(text="BadMessage()")[:4], data.hex()
    assert ok2 and post2 == t2.state(j2 + 1)


def test_a_valid_batch_waits_for_the_invalidation_window(world: World, anvil: Anvil) -> None:
    """An unflagged batch reads as valid only `INVALIDATION_WINDOW` after the assertion's
    creation: before, BLOCK_START reverts ValidityWindowOpen; a flagged one is trusted at once."""
    now = anvil.w3.eth.get_block("latest")["timestamp"]
    trace = world.traces[2]
    skip = world.traces[6]
    js = next(j for j in range(skip.steps) if skip.step_kind(j) == "ENTRY_SKIP")
    results = call_batch(anvil.url, world.prover, [_call(trace, 0, proof_for(trace, 0), now),
                                                   _call(skip, js, proof_for(skip, js), now)])  # fmt: skip
    (ok, data), (ok_skip, post) = results
    assert not ok and data[:4] == Web3.keccak(text="ValidityWindowOpen(uint256)")[:4], data.hex()
    assert ok_skip and post == skip.state(js + 1)


# -- corruptions ----------------------------------------------------------------------------

ENTRY_FIELDS = (("payloadHash", 0, 32), ("messageRoot", 32, 32), ("messageCount", 64, 4), ("delayedAcc", 68, 32),
                ("delayedEnd", 100, 8))  # fmt: skip
LEAF_FIELDS = (("index", 0, 4), ("kind", 4, 1), ("key", 5, 64), ("nextKey", 69, 64), ("nextIndex", 133, 4))
SIZED = ("Header", "Message", "Mpt", "L1InfoAccount", "L1InfoSlot0", "L1InfoSlot1", "L1InfoSlot2")


def _fields(section: Section) -> list[tuple[str, int, int]]:
    n = len(section.data)
    if section.layout is not None:
        return [(name, off, size) for (name, off), (_, size, _) in
                zip(section.layout.offsets().items(), section.layout.LAYOUT, strict=True)]  # fmt: skip
    if section.label == "Entry":
        return list(ENTRY_FIELDS)
    if section.label == "OutputRoot":
        return [("stateRoot", 0, 32), ("passerRoot", 32, 32), ("blockHash", 64, 32)]
    if section.label in ("Pending", "Action"):
        return [(f"byte{i}", i, 1) for i in range(n)]
    if section.label == "LeafProof":
        payload = n - 137 - 16 * 32
        siblings = [(f"sibling{i}", 137 + payload + 32 * i, 32) for i in range(16)]
        return [*LEAF_FIELDS, ("payload", 137, payload), *siblings]
    if section.label in SIZED:
        words = [(f"word{i}", 4 + 32 * i, min(32, n - 4 - 32 * i)) for i in range((n - 4 + 31) // 32)]
        return [("length", 0, 4), *words]
    return [(f"word{i}", 32 * i, min(32, n - 32 * i)) for i in range((n + 31) // 32)]


def corruptions(sections: list[Section]) -> list[tuple[str, bytes]]:
    """Every single-field corruption of an honest proof: the last byte of each field flipped, and
    the proof cut short by one byte."""
    honest = b"".join(s.data for s in sections)
    out = [("truncated", honest[:-1])]
    base = 0
    for section in sections:
        for name, off, size in _fields(section):
            if size > 0:
                at = base + off + size - 1
                out.append((f"{section.label}.{name}", honest[:at] + bytes([honest[at] ^ 1]) + honest[at + 1 :]))
        base += len(section.data)
    return out


def _variant(trace: BlockTrace, j: int) -> str:
    kind = trace.step_kind(j)
    m = trace.machine(j)
    if kind == "BLOCK_START":
        w = trace.witness(j)
        source = type(w.message).__name__ if w.message is not None else ("invalid", "forced")[w.entry.ctx.kind - 1]
        post = trace.machine(j + 1).block
        assert post is not None
        origin = "new" if post.newOrigin else ("kept" if w.record is None else "kept_after_read")
        return f"BLOCK_START/{source}/{'mid' if m.cursor.msgIndex else 'start'}/{origin}"
    if kind in ("SYS_WRITE", "LOAD_ACCOUNT", "LOAD_SLOT"):
        return f"{kind}/{m.pending.next}/{m.block.newOrigin}"  # type: ignore[union-attr]
    if kind == "IDENTITY":
        assert trace.game is not None
        if m.cursor.entryIndex >= trace.game.entry_limit:
            return "IDENTITY/limit"
        return "IDENTITY/" + ("mid_entry" if m.cursor.msgIndex else "before_entry")
    return kind


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(world: World, null_world: World, anvil: Anvil) -> None:
    """For one step of each variant (the largest proof), every single-field corruption is refused
    (reverts or lands elsewhere); measures proof bytes and gas per variant. The variants of
    BLOCK_START include each origin outcome: new (record read live), kept after a read (given
    later than the parent's but unrecorded or recorded too late), kept without a read."""
    picked: dict[str, tuple[str, BlockTrace, int, int]] = {}
    for prefix, w in (("", world), ("genesis:", null_world)):
        _register(anvil, w, _steps(w))
        for _, trace, j in _steps(w):
            v, size = prefix + _variant(trace, j), len(proof_for(trace, j))
            if v not in picked or size > picked[v][3]:
                picked[v] = (w.prover, trace, j, size)
    assert len(picked) >= 20, sorted(picked)
    cases = [(v, p, t, j, label, bad) for v, (p, t, j, _) in picked.items()
             for label, bad in corruptions(proof_sections(t, j))]  # fmt: skip
    results = []
    for prover in (world.prover, null_world.prover):
        mine = [c for c in cases if c[1] == prover]
        results += list(zip(mine, call_batch(anvil.url, prover, [_call(t, j, bad) for _, _, t, j, _, bad in mine]),
                            strict=True))  # fmt: skip
    accepted = [f"{v}: {label}" for (v, _, t, j, label, _), (ok, data) in results if ok and data == t.state(j + 1)]
    assert not accepted, (len(accepted), accepted)
    assert len(results) == len(cases) > 500, len(cases)
    w3: Web3 = anvil.w3
    rows = []
    for v, (p, t, j, size) in sorted(picked.items()):
        gas = w3.eth.estimate_gas({"to": p, "data": "0x" + _call(t, j, proof_for(t, j)).hex()})
        rows.append((v, size, gas))
    print("block-start steps (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows


def test_the_deployment_wires_the_claim_and_sys_slots(world: World, anvil: Anvil) -> None:
    """`deploy` fills slot 0 with ExecBlockStart (reading this Inbox and DelayedInbox) and slot
    SYS with ExecSys."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=world.prover, abi=load_artifact("OneStepProver")["abi"])
    claim = w3.eth.contract(address=osp.functions.phaseSteps(0).call(), abi=load_artifact("ExecBlockStart")["abi"])
    assert claim.functions.inbox().call() == world.deployment.contracts["Inbox"]
    assert claim.functions.delayedInbox().call() == world.deployment.contracts["DelayedInbox"]
    sys = w3.eth.contract(address=osp.functions.phaseSteps(SYS).call(), abi=load_artifact("ExecSys")["abi"])
    assert int(sys.functions.l1Info().call(), 16) == 0x4200000000000000000000000000000000000015


def test_block_start_refuses_another_message_or_block(world: World, anvil: Anvil) -> None:
    """BLOCK_START reads message `msgIndex` of the cursor, nothing else: another message of the
    same entry with its own valid Merkle path is refused, and so is a step in a game of another
    block (`NotThisBlock`)."""
    trace = world.traces[3]  # opens at message 2 of entry 1 (a BlockStart)
    j = next(j for j in range(trace.steps) if trace.step_kind(j) == "BLOCK_START")
    sections = proof_sections(trace, j)
    decoded, _ = batch_messages(trace.l1.entries(1, 0, 1)[0], CHAIN_ID)
    assert decoded is not None and isinstance(decoded[2], BlockStart)
    calls = []
    for other in (0, 3):  # the entry's first BlockStart, the transaction after message 2
        encoded = decoded[other].encode()
        path = merkle_proof([message_hash(m) for m in decoded], other)
        swapped = [s for s in sections if s.label not in ("Message", "Path")]
        swapped += [Section("Message", len(encoded).to_bytes(4, "big") + encoded), Section("Path", b"".join(path))]
        calls.append(_call(trace, j, b"".join(s.data for s in swapped)))
    honest = proof_for(trace, j)
    calls.append(step_calldata(GameContext(trace.number + 1, world.limit, 0), trace.state(j), honest))
    results = call_batch(anvil.url, world.prover, [*calls, _call(trace, j, honest)])
    assert [ok for ok, _ in results] == [False, False, False, True], results
    assert results[2][1][:4] == Web3.keccak(text="NotThisBlock()")[:4]
    assert results[3][1] == trace.state(j + 1)
