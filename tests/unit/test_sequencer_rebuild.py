"""The sequencer's rebuild on an inbox entry that does not derive to its blocks (sequencer/rebuild.py).

Real LMDB chains, the real `BlockProducer` and `Mempool`; L1 is a small in-memory stand-in
(origins and delayed messages). Each case also replays the same inbox entries with the
verifier's `Replayer` on a fresh chain and compares block hashes: the sequencer must end up
with exactly the chain derivation gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_utils import to_canonical_address

from bench.workloads import Key, Workload
from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.deposits import Deposit, DepositTransaction, deposit_transaction
from l2.derivation import InboxBatch, QueuedDeposit, RecordedOrigin
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.replay import Replayer
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import Head, L1Origin
from sequencer.l1_follower import L1Snapshot
from sequencer.mempool import HeadAccounts, Mempool
from sequencer.metrics import SequencerMetrics
from sequencer.producer import NEXT_DELAYED_KEY, BlockProducer
from sequencer.rebuild import REQUEUE_KEY, check_entry, encode_requeued, stored_requeued
from tests.conftest import CHAIN_ID
from tests.unit.test_state_transition import signed

RECIPIENT = to_canonical_address("0x00000000000000000000000000000000000f0ce1")
L1_USER = to_canonical_address("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
ORIGIN = 5  # L1 origin of the sequencer's blocks
ROOT = Path(__file__).resolve().parents[2]


def origin(number: int) -> L1Origin:
    return L1Origin(number, bytes([number + 1]) * 32, 1_000 + number)


@dataclass
class FakeL1:
    """The sequencer's L1 view (L1Source) and derivation's L1 facts, in memory."""

    deposits: list[QueuedDeposit] = field(default_factory=list)
    entries_: list[InboxBatch] = field(default_factory=list)
    next_delayed: int = 0
    snap: L1Snapshot | None = None

    def snapshot(self) -> L1Snapshot:
        return self.snap or L1Snapshot(origin(ORIGIN), tuple(self.deposits))

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        return RecordedOrigin(origin(number), 0)  # every L1 block recorded in the Inbox before entry 0

    def delayed(self, index: int) -> QueuedDeposit:
        return self.deposits[index]

    # l2.replay.InboxSource, for the verifier's side
    def entries(self, first_index: int, from_block: int, limit: int) -> Sequence[InboxBatch]:
        return self.entries_[first_index : first_index + limit]

    def block_hash(self, number: int) -> bytes | None:
        return origin(number).hash

    def reorged(self, first_block: int) -> None:
        pass

    def deposit(self, value: int, l1_block: int) -> Deposit:
        d = Deposit(len(self.deposits), L1_USER, RECIPIENT, value, 21_000, b"")
        self.deposits.append(QueuedDeposit(d, l1_block, 1_000 + l1_block))
        return d


class Seq:
    """A producer on a real chain, with a clock that ticks one second per block."""

    def __init__(self, chain: L2Chain, l1: FakeL1) -> None:
        head = chain.head(Head.UNSAFE)
        self.chain, self.l1 = chain, l1
        self.pool = Mempool(HeadAccounts(chain), chain.spec.next_base_fee(head.base_fee_per_gas, head.gas_used))
        self.now = 10_000
        self.producer = BlockProducer(chain, self.pool, SequencerMetrics(), 1.0, l1, clock=self._clock)  # type: ignore[arg-type]

    def _clock(self) -> float:
        self.now += 1
        return self.now

    def send(self, raw: bytes) -> bytes:
        tx = decode_transaction(raw, self.chain.spec)
        self.pool.add(tx)
        return tx.hash

    def block(self, *raws: bytes) -> int:
        for raw in raws:
            self.send(raw)
        return self.producer.build_block().sealed.number

    def batch(self, index: int, first: int, last: int, delayed_read: int) -> InboxBatch:
        """The inbox entry the batcher posts for our blocks first..last."""
        messages: list[Message] = []
        for n in range(first, last + 1):
            header = self.chain.header_by_number(n)
            messages.append(BlockStart(header.timestamp, self.chain.l1_origin_number(header)))
            for tx in self.chain.transactions(header):
                is_deposit = isinstance(tx, DepositTransaction)
                messages.append(Delayed(tx.source_index) if is_deposit else L2Tx(tx.encode()))
        return batch_entry(index, messages, delayed_read, self.chain.spec.chain_id)


def batch_entry(index: int, messages: list[Message], delayed_read: int, chain_id: int) -> InboxBatch:
    payload = encode_batch(messages, chain_id)
    return InboxBatch(index, False, payload, message_root(messages), len(messages), delayed_read, 40 + index)


def forced_entry(index: int, delayed_read: int) -> InboxBatch:
    return InboxBatch(index, True, b"", bytes(32), 0, delayed_read, 40 + index)


def hashes(chain: L2Chain, number: int) -> list[bytes]:
    return [tx.hash for tx in chain.transactions(chain.header_by_number(number))]


def balance(chain: L2Chain, address: bytes) -> int:
    return chain.state_at(chain.head(Head.UNSAFE)).get_balance(address)


@pytest.fixture
def seq(chain: L2Chain) -> Seq:
    return Seq(chain, FakeL1())


@pytest.fixture
def verifier_chain(tmp_path: Path, spec: ChainSpec) -> Iterator[L2Chain]:
    chain = L2Chain.open(tmp_path / "verifier", spec, map_size=1 << 30)
    yield chain
    chain.close()


def diverge(seq: Seq, entry: InboxBatch, delayed_read: int, parent: int):
    """What the L1 follower does: check the entry against our chain, publish it when it differs."""
    _, divergent = check_entry(seq.chain, seq.chain.spec, entry, delayed_read, parent, seq.l1)
    assert divergent is not None
    seq.l1.snap = L1Snapshot(origin(ORIGIN), tuple(seq.l1.deposits), divergent=divergent)
    return divergent


def assert_derivation_agrees(seq: Seq, verifier_chain: L2Chain, upto: int) -> None:
    """The verifier's Replayer, on the same entries, gives the sequencer's blocks 0..upto."""
    replayer = Replayer(verifier_chain, seq.l1)  # type: ignore[arg-type]
    replayer.step(limit=100)
    assert verifier_chain.head(Head.UNSAFE).block_number == upto
    for n in range(upto + 1):
        a, b = seq.chain.header_by_number(n), verifier_chain.header_by_number(n)
        assert (a.hash, a.state_root) == (b.hash, b.state_root), f"block {n}"


def test_own_batches_derive_to_our_blocks_so_nothing_is_rebuilt(seq, keys):
    seq.block(signed(keys[0], 0))
    seq.block(signed(keys[0], 1), signed(keys[1], 0))
    entry = seq.batch(0, 1, 2, 0)
    derived, divergent = check_entry(seq.chain, seq.chain.spec, entry, 0, 0, seq.l1)
    assert divergent is None and len(derived.blocks) == 2


def test_forced_entry_replaces_unsafe_blocks_and_their_transactions_are_sequenced_again(seq, keys, verifier_chain):
    seq.block(signed(keys[0], 0))  # block 1: batched (entry 0)
    seq.l1.entries_.append(seq.batch(0, 1, 1, 0))
    deposit = seq.l1.deposit(10**18 + 7, l1_block=3)
    seq.producer.ignore_deposits = True  # the censoring sequencer
    acknowledged = [seq.send(signed(keys[0], 1)), seq.send(signed(keys[1], 0))]
    seq.producer.build_block()  # block 2
    seq.block(signed(keys[1], 1))  # block 3
    acknowledged.append(hashes(seq.chain, 3)[0])
    assert balance(seq.chain, RECIPIENT) == 0
    assert seq.chain.store.get_meta(NEXT_DELAYED_KEY) == (0).to_bytes(8, "big")

    forced = forced_entry(1, 1)
    seq.l1.entries_.append(forced)
    divergent = diverge(seq, forced, 0, 1)
    assert divergent.forced and divergent.parent_number == 1
    result = seq.producer.build_block()

    # block 2 is the forced block, block 3 holds the dropped blocks' transactions again
    assert hashes(seq.chain, 2) == [deposit_transaction(deposit).hash]
    assert result.sealed.number == 3 and sorted(hashes(seq.chain, 3)) == sorted(acknowledged)
    assert seq.chain.head(Head.SAFE).block_number == 2
    assert balance(seq.chain, RECIPIENT) == deposit.value
    assert seq.l1.next_delayed == 1
    assert seq.chain.store.get_meta(NEXT_DELAYED_KEY) == (1).to_bytes(8, "big")
    # the forced entry now derives to our blocks; a stale snapshot naming it is not applied twice
    assert check_entry(seq.chain, seq.chain.spec, forced, 0, 1, seq.l1)[1] is None
    head = seq.producer.build_block().sealed
    assert head.number == 4 and hashes(seq.chain, 2) == [deposit_transaction(deposit).hash]

    seq.l1.entries_.append(seq.batch(2, 3, 4, 1))
    assert_derivation_agrees(seq, verifier_chain, 4)


def test_idle_sequencer_gets_the_forced_block_on_its_head(seq, keys, verifier_chain):
    seq.block(signed(keys[0], 0))
    seq.l1.entries_.append(seq.batch(0, 1, 1, 0))
    deposit = seq.l1.deposit(5, l1_block=2)
    seq.producer.ignore_deposits = True
    forced = forced_entry(1, 1)
    seq.l1.entries_.append(forced)
    diverge(seq, forced, 0, 1)
    assert seq.producer.build_block().sealed.number == 3  # forced block 2, then our new block
    assert hashes(seq.chain, 2) == [deposit_transaction(deposit).hash] and hashes(seq.chain, 3) == []
    assert_derivation_agrees(seq, verifier_chain, 2)
    assert seq.chain.header_by_number(2).hash == verifier_chain.header_by_number(2).hash


def test_deposits_past_the_forced_ones_are_included_again_never_twice(seq, keys, verifier_chain):
    seq.block(signed(keys[0], 0))
    seq.l1.entries_.append(seq.batch(0, 1, 1, 0))
    first, second = seq.l1.deposit(11, l1_block=3), seq.l1.deposit(13, l1_block=4)
    seq.block(signed(keys[0], 1))  # honest: block 2 holds both deposits, unbatched
    assert [tx.hash for tx in seq.chain.transactions(seq.chain.header_by_number(2))][:2] == [
        deposit_transaction(first).hash, deposit_transaction(second).hash
    ]
    forced = forced_entry(1, 1)  # someone forced the first one in meanwhile
    seq.l1.entries_.append(forced)
    diverge(seq, forced, 0, 1)
    seq.producer.build_block()
    deposits = [
        (n, tx.source_index)
        for n in range(1, 4)
        for tx in seq.chain.transactions(seq.chain.header_by_number(n))
        if isinstance(tx, DepositTransaction)
    ]
    assert deposits == [(2, 0), (3, 1)]
    assert balance(seq.chain, RECIPIENT) == 24
    seq.l1.entries_.append(seq.batch(2, 3, 3, 2))
    assert_derivation_agrees(seq, verifier_chain, 3)


def test_a_batch_of_blocks_we_dropped_is_adopted_and_our_transactions_requeued(seq, keys, verifier_chain):
    ours = seq.send(signed(keys[0], 0))
    seq.producer.build_block()
    theirs = decode_transaction(signed(keys[1], 0), seq.chain.spec)
    messages: list[Message] = [BlockStart(9_000, ORIGIN), L2Tx(theirs.encode())]
    entry = batch_entry(0, messages, 0, seq.chain.spec.chain_id)
    seq.l1.entries_.append(entry)
    diverge(seq, entry, 0, 0)
    seq.producer.build_block()
    assert hashes(seq.chain, 1) == [theirs.hash] and hashes(seq.chain, 2) == [ours]
    assert_derivation_agrees(seq, verifier_chain, 1)


def test_an_adopted_batch_whose_transactions_execution_skipped_is_not_adopted_again(seq, keys, verifier_chain):
    seq.producer.build_block()
    theirs = decode_transaction(signed(keys[1], 0), seq.chain.spec)
    # the same transaction twice: derivation lists both, execution skips the second (nonce too low)
    messages: list[Message] = [BlockStart(9_000, ORIGIN), L2Tx(theirs.encode()), L2Tx(theirs.encode())]
    entry = batch_entry(0, messages, 0, seq.chain.spec.chain_id)
    seq.l1.entries_.append(entry)
    diverge(seq, entry, 0, 0)
    seq.producer.build_block()
    assert hashes(seq.chain, 1) == [theirs.hash]
    derived, divergent = check_entry(seq.chain, seq.chain.spec, entry, 0, 0, seq.l1)
    assert divergent is None and len(derived.blocks) == 1
    assert_derivation_agrees(seq, verifier_chain, 1)


def test_test_only_ignore_deposits_leaves_them_out(seq):
    seq.l1.deposit(3, l1_block=1)
    seq.producer.ignore_deposits = True
    seq.producer.build_block()
    assert hashes(seq.chain, 1) == [] and seq.l1.next_delayed == 0
    seq.producer.ignore_deposits = False
    seq.producer.build_block()
    assert len(hashes(seq.chain, 2)) == 1 and seq.l1.next_delayed == 1


def test_the_censoring_option_is_off_by_default_and_named_for_tests(tmp_path):
    from sequencer.config import SequencerConfig, load_config

    assert SequencerConfig().test_only_ignore_deposits is False
    assert load_config(env={}).test_only_ignore_deposits is False
    assert load_config(env={"ROLLUP_SEQUENCER_TEST_ONLY_IGNORE_DEPOSITS": "true"}).test_only_ignore_deposits is True
    toml = tmp_path / "seq.toml"
    toml.write_text("[sequencer]\ntest_only_ignore_deposits = true\n")
    assert load_config(str(toml), env={}).test_only_ignore_deposits is True


def test_a_paused_sequencer_still_adopts_a_forced_entry_and_sequences_nothing(seq, keys, verifier_chain):
    seq.block(signed(keys[0], 0))
    seq.l1.entries_.append(seq.batch(0, 1, 1, 0))
    deposit = seq.l1.deposit(5, l1_block=2)
    seq.producer.ignore_deposits = True
    seq.send(signed(keys[1], 0))  # pooled, must stay pooled while paused
    assert seq.producer.adopt_l1() is False  # nothing to adopt
    forced = forced_entry(1, 1)
    seq.l1.entries_.append(forced)
    diverge(seq, forced, 0, 1)
    assert seq.producer.adopt_l1() is True
    assert seq.chain.head(Head.UNSAFE).block_number == 2
    assert hashes(seq.chain, 2) == [deposit_transaction(deposit).hash] and len(seq.pool) == 1
    assert seq.producer.adopt_l1() is False  # the stale snapshot is not applied twice
    assert_derivation_agrees(seq, verifier_chain, 2)


# -- durability of the re-queued transactions (REQUEUE_KEY) ----------------------------------


def censored_unsafe_blocks(seq: Seq, keys: list[Key]) -> tuple[Deposit, list[bytes]]:
    """Block 1 batched (entry 0); a censored deposit; unsafe blocks 2 and 3 holding three
    acknowledged transactions; then a forced entry 1, published as divergent on block 1."""
    seq.block(signed(keys[0], 0))
    seq.l1.entries_.append(seq.batch(0, 1, 1, 0))
    deposit = seq.l1.deposit(10**18 + 7, l1_block=3)
    seq.producer.ignore_deposits = True
    acknowledged = [seq.send(signed(keys[0], 1)), seq.send(signed(keys[1], 0))]
    seq.producer.build_block()
    acknowledged.append(seq.send(signed(keys[1], 1)))
    seq.producer.build_block()
    assert sorted(hashes(seq.chain, 2) + hashes(seq.chain, 3)) == sorted(acknowledged)
    forced = forced_entry(1, 1)
    seq.l1.entries_.append(forced)
    diverge(seq, forced, 0, 1)
    return deposit, acknowledged


def restart(chain_path: Path, spec: ChainSpec, l1: FakeL1, old: L2Chain | None = None) -> Seq:
    """A new process on the same datadir: the chain reopened, an empty pool, a new producer."""
    if old is not None:
        old.close()
    l1.snap = None  # the restarted follower publishes afresh (tests call `diverge` when it would)
    new = Seq(L2Chain.open(chain_path, spec, map_size=1 << 30), l1)
    new.producer.ignore_deposits = True
    return new


def all_hashes(chain: L2Chain) -> list[bytes]:
    return [h for n in range(chain.head(Head.UNSAFE).block_number + 1) for h in hashes(chain, n)]


def test_requeued_transactions_survive_a_crash_right_after_the_rebuild(seq, keys, spec, tmp_path, verifier_chain):
    deposit, acknowledged = censored_unsafe_blocks(seq, keys)
    assert seq.producer.adopt_l1() is True  # the rebuild alone: committed, not yet re-included
    assert seq.chain.head(Head.UNSAFE).block_number == 2 and hashes(seq.chain, 2) == [deposit_transaction(deposit).hash]
    stored = [decode_transaction(raw, spec).hash for raw in stored_requeued(seq.chain)]
    assert stored == acknowledged  # chain order

    seq = restart(tmp_path / "chain", spec, seq.l1, old=seq.chain)  # the pool's contents are gone
    assert check_entry(seq.chain, spec, seq.l1.entries_[1], 0, 1, seq.l1)[1] is None  # adopted: no second rebuild
    assert len(seq.pool) == 3 and all(seq.pool.get(h) is not None for h in acknowledged)
    assert seq.producer.build_block().sealed.number == 3
    assert sorted(hashes(seq.chain, 3)) == sorted(acknowledged)
    assert seq.chain.store.get_meta(REQUEUE_KEY) == b""  # all in blocks: the list is empty

    seq = restart(tmp_path / "chain", spec, seq.l1, old=seq.chain)
    assert len(seq.pool) == 0  # nothing comes back a second time
    seq.producer.build_block()
    assert seq.chain.store.get_meta(REQUEUE_KEY) == b""
    assert sorted(all_hashes(seq.chain)) == sorted({*all_hashes(seq.chain)})  # no transaction twice
    seq.l1.entries_.append(seq.batch(2, 3, 4, 1))
    assert_derivation_agrees(seq, verifier_chain, 4)


def test_a_stored_list_keeps_what_waits_and_drops_what_is_already_in_a_block(seq, keys, spec, tmp_path):
    included = seq.send(signed(keys[0], 0))
    seq.producer.build_block()
    gapped = decode_transaction(signed(keys[2], 1), spec)  # waits for nonce 0 of its sender
    # As a crash after the list's write and before the rewind leaves it: one of them is still in a block.
    raws = [seq.chain.transactions(seq.chain.header_by_number(1))[0].encode(), gapped.encode()]
    seq.chain.store.commit({}, {REQUEUE_KEY: encode_requeued(raws)})

    seq = restart(tmp_path / "chain", spec, seq.l1, old=seq.chain)
    assert seq.pool.get(included) is None and seq.pool.get(gapped.hash) is not None
    assert seq.producer.metrics.dropped.labels(reason="nonce_too_low")._value.get() == 1
    seq.producer.build_block()  # block 2: the gapped one cannot go in yet, and stays listed
    assert hashes(seq.chain, 2) == []
    assert [decode_transaction(r, spec).hash for r in stored_requeued(seq.chain)] == [gapped.hash]
    seq.block(signed(keys[2], 0))
    assert len(hashes(seq.chain, 3)) == 2 and hashes(seq.chain, 3)[1] == gapped.hash
    assert seq.chain.store.get_meta(REQUEUE_KEY) == b"" and seq.producer._requeued is None
    assert all_hashes(seq.chain).count(included) == 1


def test_a_listed_transaction_the_pool_lets_go_leaves_the_list(seq, keys, spec, tmp_path):
    gapped = decode_transaction(signed(keys[2], 1), spec)
    seq.chain.store.commit({}, {REQUEUE_KEY: encode_requeued([gapped.encode()])})
    seq = restart(tmp_path / "chain", spec, seq.l1, old=seq.chain)
    # its sender replaces it (same nonce, higher fees): the acknowledged one is gone by the user's choice
    seq.send(signed(keys[2], 1, max_fee=2 * 10**10, tip=10**9))
    seq.producer.build_block()
    assert seq.chain.store.get_meta(REQUEUE_KEY) == b""


# -- the same under a real kill -9 ------------------------------------------------------------

CRASH_POINTS = ("before-rewind", "after-rewind", "after-rebuild")


def _hang(*_args: object, **_kwargs: object) -> None:
    print("stopped", flush=True)  # the test kills us here
    threading.Event().wait()


def crash_child(path: str, point: str) -> None:
    """`python -m tests.unit.test_sequencer_rebuild PATH POINT`: the scenario, then stop at POINT."""
    import sequencer.rebuild

    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    seq = Seq(L2Chain.open(path, spec, map_size=1 << 30), FakeL1())
    censored_unsafe_blocks(seq, keys)
    if point == "before-rewind":
        seq.chain.rewind = _hang  # type: ignore[method-assign,assignment]
    elif point == "after-rewind":
        sequencer.rebuild.execute_derived = _hang  # type: ignore[assignment]
    seq.producer.adopt_l1()
    _hang()


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_during_a_rebuild_loses_no_acknowledged_transaction(point, keys, spec, tmp_path, verifier_chain):
    path = tmp_path / "chain"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.test_sequencer_rebuild", str(path), point],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert line == "stopped\n"

    l1 = FakeL1()
    deposit = l1.deposit(10**18 + 7, l1_block=3)  # the child's L1, rebuilt the same way
    seq = restart(path, spec, l1)
    l1.entries_ += [seq.batch(0, 1, 1, 0), forced_entry(1, 1)]
    acknowledged = [decode_transaction(signed(k, n), spec).hash for k, n in ((keys[0], 1), (keys[1], 0), (keys[1], 1))]
    head = seq.chain.head(Head.UNSAFE).block_number
    assert head == {"before-rewind": 3, "after-rewind": 1, "after-rebuild": 2}[point]
    # whatever no block holds is back in the pool; what a block holds is not
    pooled = [h for h in acknowledged if seq.pool.get(h) is not None]
    assert pooled == ([] if point == "before-rewind" else acknowledged)
    if point != "after-rebuild":  # the restarted follower finds the forced entry not applied yet
        diverge(seq, l1.entries_[1], 0, 1)
    seq.producer.build_block()
    assert hashes(seq.chain, 2) == [deposit_transaction(deposit).hash]
    assert sorted(hashes(seq.chain, 3)) == sorted(acknowledged)
    assert sorted(all_hashes(seq.chain)) == sorted(set(all_hashes(seq.chain)))  # none twice
    assert seq.chain.store.get_meta(REQUEUE_KEY) == b""
    l1.entries_.append(seq.batch(2, 3, 3, 1))
    assert_derivation_agrees(seq, verifier_chain, 3)
    seq.chain.close()


if __name__ == "__main__":
    crash_child(sys.argv[1], sys.argv[2])
