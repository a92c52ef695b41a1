"""Where each derived block ends in its entry: the `message_end` / `delayed_end` the level-1 cursor uses.

docs/fraud-proofs.md 1.1 (amended): after a block that is not the last of its entry, the cursor
is (entry, index of the BlockStart opening the next block, next unread delayed message). The
values come from `derive_entry` itself, so the rule is checked on hand-built entries here and
against the contract's own claims on anvil in tests/integration/test_dispute_agent.py.
"""

from __future__ import annotations

from bench.workloads import Key
from l2.derivation import Cursor, derive_entry
from l2.messages import BlockStart, Delayed, L2Tx, Message
from l2.spec import ChainSpec
from tests.unit.test_derivation import FakeL1
from tests.unit.test_state_transition import signed

START = Cursor(0, 0, 100, 1)


def test_blocks_end_at_the_next_block_start_and_count_placed_delayed_messages(keys: list[Key], spec: ChainSpec):
    l1 = FakeL1()
    l1.deposit(5, 3, 90)
    l1.deposit(6, 3, 90)
    messages: list[Message] = [
        BlockStart(101, 1), L2Tx(signed(keys[0], 0)),  # block 1: messages 0, 1
        BlockStart(102, 1), Delayed(0), L2Tx(signed(keys[0], 1)),  # block 2: messages 2..4, places delayed 0
        BlockStart(103, 1),  # block 3: message 5; delayed 1 is flushed at the end of the entry
    ]
    derived = derive_entry(START, l1.batch(messages, delayed_read=2), l1, spec)
    ends = [(b.message_end, b.delayed_end) for b in derived.blocks]
    assert ends == [(2, 0), (5, 1), (6, 2)]
    assert derived.cursor.delayed_read == 2


def test_transactions_before_the_first_block_start_open_a_block_that_ends_there(keys: list[Key], spec: ChainSpec):
    l1 = FakeL1()
    key = keys[0]
    messages: list[Message] = [L2Tx(signed(key, 0)), L2Tx(signed(key, 1)), BlockStart(105, 1), L2Tx(signed(key, 2))]
    derived = derive_entry(START, l1.batch(messages, delayed_read=0), l1, spec)
    assert [(b.message_end, b.delayed_end) for b in derived.blocks] == [(2, 0), (4, 0)]


def test_invalid_and_forced_entries_make_one_block_holding_their_delayed_messages(spec: ChainSpec):
    l1 = FakeL1()
    l1.deposit(5, 3, 90)
    invalid = l1.batch([BlockStart(101, 1)], delayed_read=1, payload=b"\x00garbage")
    derived = derive_entry(START, invalid, l1, spec)
    assert derived.invalid_reason is not None
    assert [(b.message_end, b.delayed_end) for b in derived.blocks] == [(0, 1)]
    nothing = l1.batch([BlockStart(101, 1)], delayed_read=1, payload=b"\x00garbage")
    after = derive_entry(derived.cursor, nothing, l1, spec)
    assert after.blocks == []  # derives no block: the level-1 cursor skips it (ENTRY_SKIP)
    l1.deposit(7, 4, 95)
    forced = l1.forced(delayed_read=2)
    derived = derive_entry(after.cursor, forced, l1, spec)
    assert [(b.message_end, b.delayed_end) for b in derived.blocks] == [(0, 2)]
