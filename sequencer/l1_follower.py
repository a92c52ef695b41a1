"""The sequencer's view of L1: the L1 origin of new blocks and the deposits to include.

A background thread polls L1; block production only reads its latest snapshot, so an
L1 endpoint that is slow or down never stalls sequencing (blocks keep their last origin
and deposits wait). The origin trails the L1 head by `confirmations` blocks, so a shallow
L1 reorg does not change the origin hash of blocks already sequenced.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from eth.abc import BlockHeaderAPI

from l1.bindings import RollupBinding
from l1.inbox_reader import InboxReader
from l2.derivation import QueuedDeposit, count_blocks
from l2.types import L1Origin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class L1Snapshot:
    origin: L1Origin
    deposits: tuple[QueuedDeposit, ...]  # from the first not yet included, up to the origin block
    safe_block: int = 0  # L2 blocks the confirmed inbox entries derive to
    finalized_block: int = 0  # L2 block of the newest confirmed assertion


class L1Follower:
    def __init__(
        self,
        reader: InboxReader,
        chain_id: int,
        rollup: RollupBinding | None = None,
        confirmations: int = 1,
        poll_interval: float = 1.0,
    ) -> None:
        self.reader = reader
        self.chain_id = chain_id
        self.rollup = rollup
        self._entries = 0  # confirmed inbox entries counted so far
        self._entries_from_block = reader.start_block
        self._delayed_read = 0
        self._safe_block = 0
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.next_delayed = 0  # set by the producer from its chain at start and after each block
        self.healthy = False
        self._snapshot = L1Snapshot(reader.origin(0), ())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="l1-follower", daemon=True)

    def start(self) -> None:
        self.poll()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def snapshot(self) -> L1Snapshot:
        with self._lock:
            return self._snapshot

    def origin(self, parent: BlockHeaderAPI) -> L1Origin:
        return self.snapshot().origin

    def poll(self) -> None:
        """Read the L1 head, the origin and pending deposits once (errors are logged, not raised)."""
        try:
            number = max(self.reader.head() - self.confirmations, 0)
            current = self.snapshot().origin
            origin = current if number <= current.number else self.reader.origin(number)
            deposits = tuple(self.reader.deposits_from(self.next_delayed, origin.number))
            self._count_batched()
            finalized = 0
            if self.rollup is not None:
                finalized = self.rollup.assertion(self.rollup.latest_confirmed()).l2_block_number
        except Exception as exc:
            if self.healthy:
                log.warning("L1 unreachable, sequencing on with L1 origin %d: %s", self.snapshot().origin.number, exc)
            self.healthy = False
            return
        self.healthy = True
        with self._lock:
            self._snapshot = L1Snapshot(origin, deposits, self._safe_block, finalized)

    def _count_batched(self) -> None:
        """Safe head: the L2 blocks that confirmed inbox entries derive to (counted, not replayed).

        The sequencer trusts its own chain to be what those entries derive to; a verifier
        checks that by replaying them.
        """
        for entry in self.reader.entries(self._entries, self._entries_from_block, 256):
            self._safe_block += count_blocks(entry, self._delayed_read, self.chain_id)
            self._delayed_read = entry.delayed_read
            self._entries = entry.index + 1
            self._entries_from_block = entry.l1_block_number

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.poll()
