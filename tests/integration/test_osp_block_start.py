"""The block-start steps of the one-step prover on real block traces, verified on anvil
(docs/fraud-proofs.md 2.1, 3.1, 14): IDENTITY, ENTRY_SKIP and BLOCK_START (`osp/ExecBlockStart.sol`,
the prover's `phaseSteps[0]`) and phase SYS, SYS_WRITE and its LOADs (`osp/ExecSys.sol`,
`phaseSteps[SYS]`), through the OneStepProver that `l1.deploy.deploy` wires to a real Inbox and
DelayedInbox.

The inbox entries the L2 chain is derived from are appended to that Inbox as well (same payload,
root, count, delayed read; deposits made on the DelayedInbox and read back from its events, an
invalid batch flagged by `markInvalid`), so the prover's live reads see exactly the entries the
trace read. Blocks: the first block (new origin: its BLOCK_START is refused `NEW_ORIGIN`, its SYS
walk writes the L1Info slots), blocks in their parent's origin (a BlockStart naming the same and an
older origin, mid-entry, and a block opened by a transaction), a new origin again, an invalid batch
skipped (ENTRY_SKIP), a batch reading deposits, an invalid batch and a forced entry running a
deposit (their blocks take timestamp and origin from it), and blocks whose deposit or BlockStart
names a new origin (refused `NEW_ORIGIN`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from bench.workloads import Key, Workload
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.bindings import DelayedInboxBinding, InboxBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.proofs import block_proofs
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import SYS
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import Unsupported, proof_for, proof_sections
from l2.chain import L2Chain
from l2.deposits import Deposit
from l2.derivation import InboxBatch, QueuedDeposit, batch_messages
from l2.messages import BlockStart, Delayed, L2Tx, Message, merkle_proof, message_hash
from l2.spec import ChainSpec
from tests.integration.test_osp_exec import DEV_KEY, UNSUPPORTED_SELECTOR, call_batch
from tests.unit.test_block_trace import Harness, Source, transfers

CHAIN_ID = 901
BAD_ROOT = b"\x22" * 32
KINDS = ("IDENTITY", "ENTRY_SKIP", "BLOCK_START", "SYS_WRITE", "LOAD_ACCOUNT", "LOAD_SLOT")


@dataclass
class World:
    """The L1 deployment, the chain's block traces (by block number) and the entry count."""

    deployment: Deployment
    prover: str
    traces: dict[int, BlockTrace]
    limit: int
    refused: dict[int, str]  # block -> the name its BLOCK_START is refused by


class Mirror:
    """Appends each entry of the in-memory `Source` to the real Inbox, deposits on the real
    DelayedInbox and records them in the source as their events say."""

    def __init__(self, w3: Web3, deployment: Deployment, source: Source) -> None:
        signer = Account.from_key(DEV_KEY)
        self.inbox = InboxBinding(w3, deployment.contracts["Inbox"], signer)
        self.delayed = DelayedInboxBinding(w3, deployment.contracts["DelayedInbox"], signer)
        self.source = source

    def deposit(self, value: int) -> int:
        receipt = self.delayed.deposit(b"\x5a" * 20, 50_000, b"\x01\x02", value=value)
        (delivered,) = self.delayed.messages_in(receipt)
        m = delivered.message
        d = Deposit(index=m.index, sender=m.sender, to=m.to, value=m.value, gas_limit=m.gas_limit, data=m.data)
        assert m.index == len(self.source.deposits)
        self.source.deposits.append(QueuedDeposit(d, m.l1_block_number, m.l1_timestamp))
        return m.index

    def batch(self, messages: list[Message], delayed_read: int, *, invalid: bool = False,
              l1_block: int = 10) -> InboxBatch:  # fmt: skip
        entry = self.source.batch(messages, delayed_read, l1_block, root=BAD_ROOT if invalid else None)
        self.inbox.append_batch(entry.payload, entry.message_root, entry.message_count, entry.delayed_read)
        assert self.inbox.entry_count() == len(self.source.posted)
        if invalid:
            acc = self.delayed.accumulator(delayed_read - 1) if delayed_read else b"\x00" * 32
            self.inbox.mark_invalid(entry.index, entry.payload, entry.message_root, entry.message_count, acc)
            assert self.inbox.is_invalid(entry.index)
        return entry

    def force(self, anvil: Anvil, l1_block: int) -> InboxBatch:
        """`Inbox.forceInclude` once the oldest unread deposit is overdue: a forced entry."""
        before = self.inbox.delayed_read()
        anvil.increase_time(self.inbox.force_inclusion_delay() + 1)
        self.inbox.force_include()
        after = self.inbox.delayed_read()
        entry = InboxBatch(len(self.source.posted), True, b"", b"\x00" * 32, after - before, after, l1_block,
                           l1_block.to_bytes(32, "big"))  # fmt: skip
        self.source.posted.append(entry)
        assert self.inbox.entry_count() == len(self.source.posted)
        return entry


@pytest.fixture(scope="module")
def world(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    deployment = deploy(anvil.w3, Account.from_key(DEV_KEY), spec, DeployParams())
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("blockstart")) / "chain", spec, map_size=1 << 30)
    try:
        source = Source()
        h, l1 = Harness(chain, source), Mirror(anvil.w3, deployment, source)
        blocks = h.apply(l1.batch([BlockStart(1_000, 5), *transfers(keys, 1)], 0))  # 1: the first block
        # 2: the parent's origin named again; 3 (mid-entry): an older one, which keeps the parent's
        blocks += h.apply(l1.batch([BlockStart(1_002, 5), *transfers(keys, 1, first_nonce=1), BlockStart(1_004, 3),
                                    *transfers(keys, 1, first_nonce=2)], 0))  # fmt: skip
        # 4: opened by a transaction (the parent's values), 5: by the BlockStart after it
        blocks += h.apply(l1.batch([*transfers(keys, 1, key=1), BlockStart(1_006, 5)], 0))
        blocks += h.apply(l1.batch([BlockStart(1_008, 7)], 0))  # 6: a new origin
        assert h.apply(l1.batch([BlockStart(1_009, 7)], 0, invalid=True)) == []  # skipped after 6
        first = l1.deposit(1_000)
        l1.deposit(2_000)
        # 7: reads two deposits (places one, flushes the other)
        blocks += h.apply(l1.batch([BlockStart(1_010, 7), Delayed(first), *transfers(keys, 1, key=1, first_nonce=1)],
                                   2))  # fmt: skip
        l1.deposit(3_000)
        blocks += h.apply(l1.batch([BlockStart(1_011, 7)], 3, invalid=True))  # 8: runs its deposit
        blocks += h.apply(l1.batch([BlockStart(1_012, 10), *transfers(keys, 1, first_nonce=3)], 3))  # 9
        # origins past the deposits' L1 blocks, so that a block of deposits keeps its parent's origin
        blocks += h.apply(l1.batch([BlockStart(1_014, 100)], 3, l1_block=200))  # 10: a new origin
        l1.deposit(4_000)
        blocks += h.apply(l1.batch([BlockStart(1_015, 100)], 4, invalid=True, l1_block=200))  # 11: its deposit
        l1.deposit(5_000)
        blocks += h.apply(l1.force(anvil, 200))  # 12: a forced entry's deposit
        assert blocks == list(range(1, 13))
        origins = [chain.l1_origin_number(chain.header_by_number(b)) for b in blocks]
        assert origins == [5, 5, 5, 5, 5, 7, 7, 10, 10, 100, 100, 100], origins  # 8: the entry's L1 block
        assert all(q.l1_block_number < 100 for q in source.deposits)
        limit = len(source.posted)
        traces = {b: h.trace(b, limit) for b in blocks}
        refused = {1: "NEW_ORIGIN", 6: "NEW_ORIGIN", 8: "NEW_ORIGIN", 10: "NEW_ORIGIN"}
        yield World(deployment, deployment.contracts["OneStepProver"], traces, limit, refused)
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
    """Every step of this module's kinds in the traces, the refused BLOCK_STARTs left out, and the
    identity steps of each trace's final claim."""
    out = []
    for b, trace in world.traces.items():
        for j in range(trace.steps + 1):
            kind = _kind(trace, j)
            if kind is None or (kind == "BLOCK_START" and b in world.refused):
                continue
            out.append((b, trace, j))
    return out


def test_traces_cover_the_cases(world: World) -> None:
    """The traces hold what the tests below prove: BLOCK_STARTs from a BlockStart at msgIndex 0
    and mid-entry and from a transaction, ENTRY_SKIP, SYS walks with and without a new origin."""
    kinds = {(_kind(t, j), t.machine(j).block.newOrigin if t.machine(j).block else None)
             for _, t, j in _steps(world)}  # fmt: skip
    assert {("SYS_WRITE", 0), ("SYS_WRITE", 1), ("LOAD_SLOT", 0), ("LOAD_SLOT", 1), ("LOAD_ACCOUNT", 1),
            ("ENTRY_SKIP", None), ("BLOCK_START", None), ("IDENTITY", None)} <= kinds  # fmt: skip
    at = {b: next(j for j in range(t.steps) if t.step_kind(j) == "BLOCK_START") for b, t in world.traces.items()}
    assert world.traces[3].machine(at[3]).cursor.msgIndex == 2  # mid-entry
    assert world.traces[2].machine(at[2]).cursor.msgIndex == 0  # at the entry's start
    assert isinstance(world.traces[4].witness(at[4]).message, L2Tx)  # opened by a transaction
    assert [world.traces[b].witness(at[b]).entry.ctx.kind for b in (8, 11, 12)] == [1, 1, 2]  # invalid, forced
    assert world.traces[6].counts()["ENTRY_SKIP"] == 1


def test_every_step_verifies_on_l1(world: World, anvil: Anvil) -> None:
    """Every BLOCK_START (no new origin), SYS_WRITE, LOAD of phase SYS, ENTRY_SKIP and final
    IDENTITY of the traces, proven through the deployed OneStepProver with `proof_for`, returns
    exactly the trace's next state."""
    cases = _steps(world)
    results = call_batch(anvil.url, world.prover, [_call(t, j, proof_for(t, j)) for _, t, j in cases])
    for (b, trace, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (b, j, trace.step_kind(j), data.hex())
        assert data == trace.state(j + 1), (b, j, trace.step_kind(j))
    counts: dict[str, int] = {}
    for _, t, j in cases:
        counts[t.step_kind(j)] = counts.get(t.step_kind(j), 0) + 1
    assert counts["BLOCK_START"] == 8 and counts["IDENTITY"] == 12 and counts["ENTRY_SKIP"] == 1, counts
    assert counts["SYS_WRITE"] == 12 + 3 * 4, counts


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


def test_refused_cases_revert_by_name(world: World, anvil: Anvil) -> None:
    """The first block, and blocks whose BlockStart or last deposit names a later L1 origin than
    the parent's (`NEW_ORIGIN`): Python and the verifier refuse them by the same name."""
    cases = []
    for b, name in world.refused.items():
        trace = world.traces[b]
        j = next(j for j in range(trace.steps) if trace.step_kind(j) == "BLOCK_START")
        with pytest.raises(Unsupported) as info:
            proof_for(trace, j)
        assert info.value.name == name, (b, info.value.name)
        cases.append((b, name, _call(trace, j, info.value.proof)))
    results = call_batch(anvil.url, world.prover, [c for _, _, c in cases])
    for (b, name, _), (ok, data) in zip(cases, results, strict=True):
        assert not ok and data == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0"), (b, name, data.hex())


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
        return f"BLOCK_START/{source}/{'mid' if m.cursor.msgIndex else 'start'}"
    if kind in ("SYS_WRITE", "LOAD_ACCOUNT", "LOAD_SLOT"):
        return f"{kind}/{m.pending.next}/{m.block.newOrigin}"  # type: ignore[union-attr]
    if kind == "IDENTITY":
        assert trace.game is not None
        if m.cursor.entryIndex >= trace.game.entry_limit:
            return "IDENTITY/limit"
        return "IDENTITY/" + ("mid_entry" if m.cursor.msgIndex else "before_entry")
    return kind


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(world: World, anvil: Anvil) -> None:
    """For one step of each variant (the largest proof), every single-field corruption is refused
    (reverts or lands elsewhere); measures proof bytes and gas per variant."""
    picked: dict[str, tuple[BlockTrace, int, int]] = {}
    for _, trace, j in _steps(world):
        v, size = _variant(trace, j), len(proof_for(trace, j))
        if v not in picked or size > picked[v][2]:
            picked[v] = (trace, j, size)
    assert len(picked) >= 10, sorted(picked)
    cases = [(v, t, j, label, bad) for v, (t, j, _) in picked.items()
             for label, bad in corruptions(proof_sections(t, j))]  # fmt: skip
    results = call_batch(anvil.url, world.prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(cases) > 300, len(cases)
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j, size) in sorted(picked.items()):
        gas = w3.eth.estimate_gas({"to": world.prover, "data": "0x" + _call(t, j, proof_for(t, j)).hex()})
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
