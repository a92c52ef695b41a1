"""Replay: apply derived inbox entries to a node's own chain, survive crashes and L1 reorgs.

The proposer and the verifier both run this (one derivation, never two). Per inbox entry it
writes a record into the store's meta, in the same LMDB transaction as the entry's last
block, so after `kill -9` the node resumes at an entry boundary, and after an L1 reorg it
rewinds to the last entry whose L1 block is still canonical and derives again from there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import rlp
from eth.abc import BlockHeaderAPI

import l2  # noqa: F401
from l2.chain import L2Chain
from l2.derivation import Cursor, DerivedEntry, InboxBatch, L1Facts, derive_entry
from l2.errors import InvalidTransaction, StoreError
from l2.types import Head

log = logging.getLogger(__name__)

_COUNT_KEY = b"replay:entries"


def _record_key(index: int) -> bytes:
    return b"replay:entry:" + index.to_bytes(8, "big")


class InboxSource(L1Facts, Protocol):
    """L1 as derivation reads it (implemented over JSON-RPC in l1/inbox_reader.py)."""

    def entries(self, first_index: int, from_block: int, limit: int) -> Sequence[InboxBatch]:
        """Confirmed inbox entries with index >= first_index, found from L1 block `from_block` on."""
        ...

    def block_hash(self, number: int) -> bytes | None:
        """The canonical L1 block hash at `number` (None if L1 has no such block now)."""
        ...

    def reorged(self, first_block: int) -> None:
        """L1 blocks from `first_block` on were replaced: forget anything cached from them."""
        ...


@dataclass(frozen=True)
class EntryRecord:
    """What replay remembers of an applied entry (enough to detect a reorg and to resume)."""

    index: int
    l1_block_number: int
    l1_block_hash: bytes
    accumulator: bytes
    last_block: int  # L2 block number after the entry
    cursor: Cursor
    invalid: bool

    def encode(self) -> bytes:
        c = self.cursor
        return rlp.encode(
            [
                self.index,
                self.l1_block_number,
                self.l1_block_hash,
                self.accumulator,
                self.last_block,
                c.entries,
                c.delayed_read,
                c.timestamp,
                c.l1_origin_number,
                int(self.invalid),
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> EntryRecord:
        f = rlp.decode(data)
        n = [int.from_bytes(x, "big") for x in f]
        return cls(n[0], n[1], bytes(f[2]), bytes(f[3]), n[4], Cursor(n[5], n[6], n[7], n[8]), bool(n[9]))


@dataclass(frozen=True)
class Applied:
    """One entry replayed: what it derived and how long execution took."""

    derived: DerivedEntry
    headers: list[BlockHeaderAPI]
    transactions: int
    skipped: int
    seconds: float


class Replayer:
    """Owns the chain's writer for a derivation-driven node (verifier, proposer)."""

    def __init__(self, chain: L2Chain, source: InboxSource) -> None:
        self.chain = chain
        self.spec = chain.spec
        self.source = source
        self._resume()

    # -- state -----------------------------------------------------------------------

    @property
    def entries(self) -> int:
        raw = self.chain.store.get_meta(_COUNT_KEY)
        return int.from_bytes(raw, "big") if raw else 0

    def record(self, index: int) -> EntryRecord | None:
        raw = self.chain.store.get_meta(_record_key(index))
        return EntryRecord.decode(raw) if raw else None

    def cursor(self) -> Cursor:
        count = self.entries
        if count == 0:
            genesis = self.chain.header_by_number(0)
            return Cursor(0, 0, genesis.timestamp, 0)
        last = self.record(count - 1)
        assert last is not None
        return last.cursor

    def last_block_after(self, entries: int) -> int | None:
        """The L2 block number after the first `entries` entries (None if not replayed yet)."""
        if entries == 0:
            return 0
        rec = self.record(entries - 1)
        return rec.last_block if rec is not None and entries <= self.entries else None

    def _resume(self) -> None:
        """After a crash mid-entry: drop blocks past the last complete entry."""
        count = self.entries
        last = 0 if count == 0 else self.record(count - 1).last_block  # type: ignore[union-attr]
        head = self.chain.head(Head.UNSAFE).block_number
        if head > last:
            log.warning("resuming: dropping L2 blocks %d..%d of an entry that was not finished", last + 1, head)
            self.chain.rewind(last)
        elif head < last:
            raise StoreError(f"replay record says block {last} but the chain head is {head}")

    # -- progress -----------------------------------------------------------------------

    def check_reorg(self) -> int | None:
        """If L1 dropped blocks holding applied entries, rewind; returns the new entry count."""
        count = self.entries
        keep = count
        while keep > 0:
            rec = self.record(keep - 1)
            assert rec is not None
            if self.source.block_hash(rec.l1_block_number) == rec.l1_block_hash:
                break
            keep -= 1
        if keep == count:
            return None
        kept = self.record(keep - 1) if keep else None
        target = kept.last_block if kept else 0
        log.warning("L1 reorg: inbox entries %d..%d are gone, rewinding L2 to block %d", keep, count - 1, target)
        # Records first, blocks second: a crash in between leaves blocks past the last record,
        # which `_resume` drops at the next start (the other order left a store it refused).
        meta: dict[bytes, bytes | None] = {_record_key(i): None for i in range(keep, count)}
        meta[_COUNT_KEY] = keep.to_bytes(8, "big")
        self.chain.store.commit({}, meta)
        self.chain.rewind(target)
        # What a caching source read from the replaced L1 blocks (origins, deposits) is stale now.
        self.source.reorged(kept.l1_block_number + 1 if kept else 0)
        return keep

    def step(self, limit: int = 16) -> list[Applied]:
        """Apply up to `limit` new confirmed entries."""
        count = self.entries
        last = self.record(count - 1) if count else None
        from_block = last.l1_block_number if last else 0
        applied = []
        for entry in self.source.entries(count, from_block, limit):
            applied.append(self.apply(entry))
        return applied

    def apply(self, entry: InboxBatch) -> Applied:
        start = time.perf_counter()
        derived = derive_entry(self.cursor(), entry, self.source, self.spec)
        head_number = self.chain.head(Head.UNSAFE).block_number
        record = EntryRecord(
            index=entry.index,
            l1_block_number=entry.l1_block_number,
            l1_block_hash=entry.l1_block_hash,
            accumulator=entry.accumulator,
            last_block=head_number + len(derived.blocks),
            cursor=derived.cursor,
            invalid=derived.invalid_reason is not None,
        )
        meta = {_record_key(entry.index): record.encode(), _COUNT_KEY: (entry.index + 1).to_bytes(8, "big")}
        if derived.invalid_reason is not None:
            log.warning("inbox entry %d is an invalid batch: %s", entry.index, derived.invalid_reason)
        headers, txs, skipped = execute_derived(self.chain, derived, meta)
        head = self.chain.head(Head.UNSAFE)
        self.chain.set_head(Head.SAFE, head.hash)
        return Applied(derived, headers, txs, skipped, time.perf_counter() - start)


def execute_derived(
    chain: L2Chain, derived: DerivedEntry, meta: Mapping[bytes, bytes]
) -> tuple[list[BlockHeaderAPI], int, int]:
    """Execute and commit the blocks of one derived entry on the unsafe head; `meta` goes with the last.

    The one way derived blocks become chain blocks, for the verifier and proposer (`Replayer`)
    and for the sequencer applying a forced entry. Returns (headers, transactions included,
    transactions skipped as no-ops). With no blocks, `meta` is committed alone.
    """
    head_number = chain.head(Head.UNSAFE).block_number
    headers = []
    txs = skipped = 0
    try:
        for n, block in enumerate(derived.blocks):
            builder = chain.open_block(block.attrs)
            for tx in block.transactions:
                try:
                    builder.add(tx)
                    txs += 1
                except InvalidTransaction:
                    skipped += 1  # a no-op by the derivation rules
            sealed = builder.seal()
            chain.commit(builder, sealed, meta if n == len(derived.blocks) - 1 else None)
            headers.append(sealed.header)
    except BaseException:
        # Never leave part of an entry behind in a live process: the next apply of this
        # entry would build on it (after a crash, `Replayer._resume` does the same at start).
        if chain.head(Head.UNSAFE).block_number > head_number:
            chain.rewind(head_number)
        raise
    if not derived.blocks:
        chain.store.commit({}, dict(meta))
    return headers, txs, skipped
