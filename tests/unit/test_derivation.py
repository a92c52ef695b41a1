"""Derivation rules (docs/derivation.md) on hand-built entries, and replay into a real chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.deposits import Deposit, is_deposit
from l2.derivation import Cursor, InboxBatch, QueuedDeposit, RecordedOrigin, count_blocks, derive_entry
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.replay import Replayer
from l2.types import Head, L1Origin
from tests.conftest import CHAIN_ID
from tests.unit.test_state_transition import SINK, signed

L1_HEAD = 50


@dataclass
class FakeL1:
    """L1 facts held in memory: the rules are what is tested here, not the L1 reader."""

    deposits: list[QueuedDeposit] = field(default_factory=list)
    posted: list[InboxBatch] = field(default_factory=list)
    hashes: dict[int, bytes] = field(default_factory=dict)
    # Inbox.l1Origins: every L1 block is recorded before entry 0 unless listed here.
    unrecorded: set[int] = field(default_factory=set)
    first_entries: dict[int, int] = field(default_factory=dict)

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        if number in self.unrecorded:
            return None
        origin = L1Origin(number, number.to_bytes(32, "big"), 7 * number)
        return RecordedOrigin(origin, self.first_entries.get(number, 0))

    def delayed(self, index: int) -> QueuedDeposit:
        return self.deposits[index]

    def deposit(self, value: int, l1_block: int, timestamp: int) -> int:
        index = len(self.deposits)
        d = Deposit(index=index, sender=bytes([index + 1]) * 20, to=SINK, value=value, gas_limit=50_000, data=b"")
        self.deposits.append(QueuedDeposit(d, l1_block, timestamp))
        return index

    def batch(self, messages: list[Message], delayed_read: int, l1_block: int = 10, *, root: bytes | None = None,
              payload: bytes | None = None) -> InboxBatch:
        entry = InboxBatch(
            index=len(self.posted),
            forced=False,
            payload=encode_batch(messages, CHAIN_ID) if payload is None else payload,
            message_root=message_root(messages) if root is None else root,
            message_count=len(messages),
            delayed_read=delayed_read,
            l1_block_number=l1_block,
            l1_block_hash=l1_block.to_bytes(32, "big"),
        )
        self.posted.append(entry)
        return entry

    def forced(self, delayed_read: int, l1_block: int = 20) -> InboxBatch:
        previous = self.posted[-1].delayed_read if self.posted else 0
        entry = InboxBatch(len(self.posted), True, b"", b"\x00" * 32, delayed_read - previous, delayed_read,
                           l1_block, l1_block.to_bytes(32, "big"))
        self.posted.append(entry)
        return entry

    # InboxSource
    def block_hash(self, number: int) -> bytes | None:
        return self.hashes.get(number, number.to_bytes(32, "big"))



class Source(FakeL1):
    def reorged(self, first_block: int) -> None:
        pass  # nothing cached

    def entries(self, first_index: int, from_block: int, limit: int) -> list[InboxBatch]:
        return self.posted[first_index:][:limit]


START = Cursor(0, 0, 100, 0)


def test_valid_batch_blocks_origins_and_delayed_placement(spec, keys):
    l1 = FakeL1(unrecorded={99})
    d0 = l1.deposit(5, 3, 90)
    d1 = l1.deposit(6, 4, 91)
    tx0, tx1 = signed(keys[0], 0), signed(keys[0], 1)
    messages: list[Message] = [
        L2Tx(tx0),  # before any BlockStart: parent's timestamp and origin
        BlockStart(50, 99),  # timestamp below the parent's, origin not recorded in the Inbox
        Delayed(d1),  # not the next unread one: no-op
        Delayed(d0),
        L2Tx(b"\x02garbage"),  # does not decode: no-op
        BlockStart(120, 5),
        L2Tx(tx1),
    ]
    derived = derive_entry(START, l1.batch(messages, delayed_read=2), l1, spec)
    assert derived.invalid_reason is None
    blocks = derived.blocks
    assert [(b.attrs.timestamp, b.attrs.l1_origin.number) for b in blocks] == [(100, 0), (100, 0), (120, 5)]
    assert blocks[0].attrs.l1_origin == blocks[1].attrs.l1_origin == L1Origin(0, bytes(32), 0)  # the null origin
    assert blocks[2].attrs.l1_origin == L1Origin(5, (5).to_bytes(32, "big"), 35)  # the record's facts
    assert [len(b.transactions) for b in blocks] == [1, 1, 2]
    assert is_deposit(blocks[1].transactions[0]) and blocks[1].transactions[0].source_index == d0
    assert is_deposit(blocks[2].transactions[1]) and blocks[2].transactions[1].source_index == d1  # flushed at end
    assert derived.cursor == Cursor(1, 2, 120, 5)
    assert count_blocks(l1.posted[0], 0, CHAIN_ID) == 3


def test_invalid_batch_is_noops_but_its_deposits_run(spec, keys):
    l1 = FakeL1()
    l1.deposit(5, 3, 130)
    good = [BlockStart(101, 1), L2Tx(signed(keys[0], 0))]
    lying = l1.batch(good, delayed_read=1, root=b"\x11" * 32)
    derived = derive_entry(START, lying, l1, spec)
    assert derived.invalid_reason and "root" in derived.invalid_reason
    assert len(derived.blocks) == 1
    (block,) = derived.blocks
    assert [is_deposit(t) for t in block.transactions] == [True]
    assert (block.attrs.timestamp, block.attrs.l1_origin.number) == (130, 3)
    garbage = l1.batch(good, delayed_read=1, payload=b"\x01\xff\xff")
    assert derive_entry(derived.cursor, garbage, l1, spec).blocks == []
    assert count_blocks(garbage, 1, CHAIN_ID) == 0 and count_blocks(lying, 0, CHAIN_ID) == 1


def test_forced_entry_is_one_block_of_deposits(spec):
    l1 = FakeL1()
    for i in range(3):
        l1.deposit(i + 1, 4 + i, 200 + i)
    derived = derive_entry(START, l1.forced(3), l1, spec)
    (block,) = derived.blocks
    assert [t.source_index for t in block.transactions] == [0, 1, 2]
    assert (block.attrs.timestamp, block.attrs.l1_origin.number) == (202, 6)


def test_replay_applies_entries_resumes_and_rewinds_on_l1_reorg(tmp_path, spec, keys):
    source = Source()
    source.deposit(10**18, 2, 101)
    source.batch([BlockStart(101, 1), L2Tx(signed(keys[0], 0)), Delayed(0)], delayed_read=1, l1_block=10)
    source.batch([BlockStart(102, 2), L2Tx(signed(keys[0], 1)), BlockStart(103, 2)], delayed_read=1, l1_block=11)
    chain = L2Chain.open(tmp_path / "v", spec, map_size=1 << 28)
    replayer = Replayer(chain, source)
    applied = replayer.step()
    assert [len(a.headers) for a in applied] == [1, 2]
    assert chain.head(Head.SAFE).block_number == 3
    assert chain.state_at(chain.head(Head.UNSAFE)).get_balance(SINK) >= 10**18 + 2
    assert replayer.last_block_after(1) == 1 and replayer.last_block_after(2) == 3
    chain.close()

    chain = L2Chain.open(tmp_path / "v", spec, map_size=1 << 28)
    replayer = Replayer(chain, source)  # resumes
    assert replayer.entries == 2 and replayer.step() == []
    source.hashes[11] = b"\xee" * 32  # L1 block 11 reorged away
    source.posted.pop()
    assert replayer.check_reorg() == 1
    assert chain.head(Head.UNSAFE).block_number == 1 and replayer.entries == 1
    source.batch([BlockStart(150, 3), L2Tx(signed(keys[0], 1))], delayed_read=1, l1_block=11)
    source.hashes.pop(11)
    assert len(replayer.step()) == 1
    assert chain.head(Head.UNSAFE).timestamp == 150
    chain.close()


_kinds = st.lists(st.sampled_from(["start", "tx", "delayed", "bad"]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=_kinds, consumed=st.integers(0, 3))
def test_count_blocks_agrees_with_derive_entry(spec, keys, kinds, consumed):
    l1 = FakeL1()
    for i in range(3):
        l1.deposit(1, 1, 100 + i)
    nonce = 0
    messages: list[Message] = []
    for n, kind in enumerate(kinds):
        if kind == "start":
            messages.append(BlockStart(100 + n, n))
        elif kind == "tx":
            messages.append(L2Tx(signed(keys[1], nonce)))
            nonce += 1
        elif kind == "delayed":
            messages.append(Delayed(n % 4))
        else:
            messages.append(L2Tx(b"\x02\xc0"))
    entry = l1.batch(messages, delayed_read=consumed)
    derived = derive_entry(START, entry, l1, spec)
    assert count_blocks(entry, 0, CHAIN_ID) == len(derived.blocks)
    placed = sum(1 for b in derived.blocks for t in b.transactions if is_deposit(t))
    assert placed == consumed == derived.cursor.delayed_read
