"""Judging an assertion on L1 against a node's own chain (proposer and verifier share this).

An assertion claims: after the first `inboxEntries` inbox entries, the chain's last block is
`l2BlockNumber` and its output root is `outputRoot`. A node that replayed those entries
itself answers MATCH or MISMATCH (with its own root); before that, PENDING.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from l1.bindings import Assertion, AssertionStatus, RollupBinding
from l2.output_root import output_root_at
from l2.replay import Replayer


class Verdict(Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    PENDING = "pending"  # not replayed that far yet


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    ours: bytes | None  # our output root at the assertion's block, if we have one
    our_block: int | None  # our last block after the assertion's inbox entries
    reason: str = ""


def judge(assertion: Assertion, replayer: Replayer) -> Judgement:
    entries = assertion.inbox_entries
    if entries > replayer.entries:
        return Judgement(Verdict.PENDING, None, None)
    if entries > 0:
        record = replayer.record(entries - 1)
        if record is not None and record.accumulator and record.accumulator != assertion.inbox_accumulator:
            return Judgement(Verdict.MISMATCH, None, None, "assertion pins other inbox contents than ours")
    our_block = replayer.last_block_after(entries)
    assert our_block is not None
    chain = replayer.chain
    ours = output_root_at(chain, chain.header_by_number(our_block))
    if our_block != assertion.l2_block_number:
        return Judgement(
            Verdict.MISMATCH, ours, our_block,
            f"after {entries} inbox entries our last block is {our_block}, not {assertion.l2_block_number}",
        )
    if ours != assertion.output_root:
        return Judgement(
            Verdict.MISMATCH, ours, our_block,
            f"output root at block {our_block}: ours 0x{ours.hex()}, asserted 0x{assertion.output_root.hex()}",
        )
    return Judgement(Verdict.MATCH, ours, our_block)


class AssertionCache:
    """Every assertion on L1, oldest first: pending ones read again each call, settled ones once."""

    def __init__(self, rollup: RollupBinding) -> None:
        self.rollup = rollup
        self._settled: dict[int, Assertion] = {}

    def all(self) -> list[Assertion]:
        out = []
        for i in range(self.rollup.assertion_count()):
            cached = self._settled.get(i)
            if cached is None:
                cached = self.rollup.assertion(i)
                if cached.status is not AssertionStatus.PENDING:
                    self._settled[i] = cached
            out.append(cached)
        return out

    def forget_beyond(self, entries: int) -> None:
        """After an L1 reorg below `entries` inbox entries: read the assertions beyond again."""
        for i in [i for i, a in self._settled.items() if a.inbox_entries > entries]:
            del self._settled[i]
