"""`l2.derivation.choose_origin`: a block takes a new L1 origin only if the Inbox recorded it before its entry.

The rule of docs/fraud-proofs.md D2 / 3.4, shared by derivation and the one-step proof's trace:
`given` if it moves forward and `l1Origins[given].firstEntry <= entry`, else the parent's origin
(unchanged, facts included). Forced entries apply it to the last delayed message's L1 block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from l2.deposits import Deposit
from l2.derivation import (
    NULL_ORIGIN,
    Cursor,
    InboxBatch,
    QueuedDeposit,
    RecordedOrigin,
    choose_origin,
    derive_entry,
    origin_of,
)
from l2.types import L1Origin
from tests.unit.test_state_transition import SINK


def facts(number: int) -> L1Origin:
    return L1Origin(number, bytes([number % 256]) * 32, 1_000 + number)


@dataclass
class Records:
    """Inbox.l1Origins in memory: L1 block number -> firstEntry."""

    first_entry: dict[int, int] = field(default_factory=dict)
    deposits: list[QueuedDeposit] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        self.reads.append(number)
        if number not in self.first_entry:
            return None
        return RecordedOrigin(facts(number), self.first_entry[number])

    def delayed(self, index: int) -> QueuedDeposit:
        return self.deposits[index]


PARENT = facts(10)


def test_unrecorded_origin_keeps_the_parents():
    assert choose_origin(12, PARENT, 5, Records()) is PARENT


def test_origin_recorded_after_the_entry_keeps_the_parents():
    records = Records({12: 6})
    assert choose_origin(12, PARENT, 5, records) is PARENT
    assert choose_origin(12, PARENT, 6, records) == facts(12)  # the entry that recorded it may use it


def test_origin_recorded_before_the_entry_is_taken_with_the_records_facts():
    assert choose_origin(12, PARENT, 5, Records({12: 2})) == facts(12)


@pytest.mark.parametrize("given", [0, 9, 10])
def test_an_origin_that_does_not_move_forward_keeps_the_parents_without_reading_l1(given):
    records = Records({given: 0})
    assert choose_origin(given, PARENT, 5, records) is PARENT
    assert records.reads == []


def test_genesis_origin_is_the_null_origin_never_read():
    records = Records({0: 0})  # even if someone recorded L1 block 0
    assert origin_of(0, records) == NULL_ORIGIN == L1Origin(0, bytes(32), 0)
    assert records.reads == []
    assert choose_origin(0, NULL_ORIGIN, 0, records) is NULL_ORIGIN
    assert origin_of(12, Records({12: 3})) == facts(12)
    with pytest.raises(ValueError, match="not recorded"):
        origin_of(12, Records())


def _forced(index: int, delayed_read: int) -> InboxBatch:
    return InboxBatch(index, True, b"", bytes(32), delayed_read, delayed_read, 500, bytes(32))


def _deposit(index: int, l1_block: int) -> QueuedDeposit:
    return QueuedDeposit(Deposit(index, bytes([index + 1]) * 20, SINK, 1, 50_000, b""), l1_block, 300 + index)


@pytest.mark.parametrize(
    ("first_entry", "expected"),
    [(None, 10), (4, 10), (3, 14)],  # unrecorded, recorded after the entry, recorded before
)
def test_forced_entry_uses_the_last_delayed_messages_l1_block_under_the_same_rule(spec, first_entry, expected):
    records = Records({10: 0} | ({} if first_entry is None else {14: first_entry}))
    records.deposits = [_deposit(0, 12), _deposit(1, 14)]
    derived = derive_entry(Cursor(3, 0, 200, 10), _forced(3, 2), records, spec)
    (block,) = derived.blocks
    assert block.attrs.l1_origin == facts(expected)
    assert block.attrs.timestamp == 301
    assert derived.cursor.l1_origin_number == expected


def test_parent_origin_of_a_cursor_comes_from_its_record(spec):
    """A cursor carries only the origin number: the parent's facts are the record's."""
    records = Records({10: 0})
    records.deposits = [_deposit(0, 9)]  # older than the parent's origin
    (block,) = derive_entry(Cursor(3, 0, 200, 10), _forced(3, 1), records, spec).blocks
    assert block.attrs.l1_origin == facts(10)
