"""The BLOCK_START twin's origin rule (`l1.proofs.block_steps.choose_origin`, what
`ExecBlockStart._origin` computes from the live `Inbox.l1Origins` read) is derivation's
(`l2.derivation.choose_origin`, docs/fraud-proofs.md 3.4, 18) on every combination of a given
origin before / at / after the parent's, a record absent / present, and a `firstEntry` before /
at / after the entry: the trace can only end on the chain's block claim if they agree."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from l1.proofs import block_steps as bs
from l1.proofs.tx_steps import StepError
from l2.derivation import QueuedDeposit, RecordedOrigin, choose_origin
from l2.types import L1Origin

PARENT = L1Origin(10, b"\x0a" * 32, 70)


@dataclass
class Records:
    """An L1Facts holding one record (or none)."""

    record: RecordedOrigin | None

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        return self.record if self.record is not None and self.record.origin.number == number else None

    def delayed(self, index: int) -> QueuedDeposit:
        raise AssertionError("not read")


@pytest.mark.parametrize("given", [9, 10, 11])
@pytest.mark.parametrize("first_entry", [None, 4, 5, 6])
def test_the_twin_chooses_derivations_origin(given: int, first_entry: int | None) -> None:
    entry = 5
    stored = None if first_entry is None else RecordedOrigin(L1Origin(given, b"\x0b" * 32, 99), first_entry)
    expected = choose_origin(given, PARENT, entry, Records(stored))
    parent = (PARENT.number, PARENT.hash, PARENT.base_fee)
    # the verifier reads the record only for a later origin; unrecorded reads as all zero
    read = None
    if given > PARENT.number:
        read = bs.OriginRecord() if stored is None else bs.OriginRecord(stored.origin.hash, stored.origin.base_fee,
                                                                          stored.first_entry)  # fmt: skip
    chosen = bs.choose_origin(given, parent, read, entry)
    number, hash_, base_fee = chosen or parent
    assert L1Origin(number, hash_, base_fee) == expected
    assert (chosen is not None) == (expected != PARENT)  # newOrigin: the L1Info slots are rewritten
    if given > PARENT.number:
        with pytest.raises(StepError):  # a later origin is never decided without the read
            bs.choose_origin(given, parent, None, entry)
