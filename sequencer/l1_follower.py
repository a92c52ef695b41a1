"""The sequencer's view of L1: the L1 origin of new blocks and the deposits to include.

A background thread polls L1; block production only reads its latest snapshot, so an
L1 endpoint that is slow or down never stalls sequencing (blocks keep their last origin
and deposits wait). The origin trails the L1 head by `confirmations` blocks, so a shallow
L1 reorg does not change the origin hash of blocks already sequenced. Its hash and base fee
are read from L1 by number here; the batcher records that block in the Inbox with the batch
(docs/fraud-proofs.md D2), which is what lets derivation take it. A block the batcher can no
longer record derives with the parent's origin instead, and the entry check below then
rebuilds on what L1 derives.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from eth.abc import BlockHeaderAPI

from l1.bindings import RollupBinding
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.derivation import NULL_ORIGIN, QueuedDeposit, count_blocks
from l2.types import Head, L1Origin
from sequencer.rebuild import Divergent, check_entry

log = logging.getLogger(__name__)

CHECKED_KEY = b"sequencer:l1_checked"  # entries checked, their last L1 block, L2 blocks, delayed read, its hash
RECENT_CHECKED = 256  # checked entries remembered to walk back to after an L1 reorg


@dataclass(frozen=True)
class Checked:
    """Where the entry check stands after one entry: what to go back to if L1 drops later ones."""

    entries: int  # entries checked (the next index)
    from_block: int  # L1 block of the last checked entry (the next search starts there)
    block_hash: bytes  # its hash: no longer canonical = the entry may be gone
    safe_block: int  # L2 blocks those entries derive to
    delayed_read: int

    def encode(self) -> bytes:
        values = (self.entries, self.from_block, self.safe_block, self.delayed_read)
        return b"".join(v.to_bytes(8, "big") for v in values) + self.block_hash

    @classmethod
    def decode(cls, raw: bytes) -> Checked:
        entries, from_block, safe, delayed = (int.from_bytes(raw[i : i + 8], "big") for i in range(0, 32, 8))
        return cls(entries, from_block, raw[32:], safe, delayed)


@dataclass(frozen=True)
class L1Snapshot:
    origin: L1Origin
    deposits: tuple[QueuedDeposit, ...]  # from the first not yet included, up to the origin block
    safe_block: int = 0  # L2 blocks the confirmed inbox entries derive to
    finalized_block: int = 0  # L2 block of the newest confirmed assertion
    # The first confirmed inbox entry that does not derive to our blocks (a forced entry):
    # the producer rebuilds on it (sequencer/rebuild.py). `safe_block` stops before it.
    divergent: Divergent | None = None
    # Stored by the producer with its next block: where the entry check stands, so a restart
    # does not derive every entry again (only what the store already proves checked is kept).
    meta: Mapping[bytes, bytes] = field(default_factory=dict)
    # L1 reorgs that dropped checked entries so far: when it moves, the producer lowers the safe
    # head to `safe_block` (otherwise the safe head only moves up).
    reorgs: int = 0


class L1Follower:
    def __init__(
        self,
        reader: InboxReader,
        chain_id: int,
        rollup: RollupBinding | None = None,
        confirmations: int = 1,
        poll_interval: float = 1.0,
        chain: L2Chain | None = None,
    ) -> None:
        self.reader = reader
        self.chain = chain  # read only, to check entries against our blocks (None: count them only)
        self._divergent: Divergent | None = None
        self.chain_id = chain_id
        self.rollup = rollup
        self._genesis = Checked(0, reader.start_block, b"", 0, 0)
        self._at = self._genesis  # where the entry check stands
        self._recent: deque[Checked] = deque(maxlen=RECENT_CHECKED)  # the last entries checked, oldest first
        self.reorgs = 0
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        self.next_delayed = 0  # set by the producer from its chain at start and after each block
        self.healthy = False
        # The L2 genesis's origin is the null origin (number 0, zero hash): block 0 of L1 is never
        # an origin, and derivation only takes origins the batcher recorded in the Inbox.
        self._snapshot = L1Snapshot(NULL_ORIGIN, ())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="l1-follower", daemon=True)
        if chain is not None:
            self._resume(chain)

    def _resume(self, chain: L2Chain) -> None:
        """Start after the entries already checked (stored with our blocks by the producer)."""
        raw = chain.store.get_meta(CHECKED_KEY)
        if not raw:
            return
        at = Checked.decode(raw)
        if at.safe_block > chain.head(Head.UNSAFE).block_number:
            return  # cannot happen with the producer's own writes; check everything again then
        self._at = at
        self._recent.append(at)
        log.info("inbox entries 0..%d already checked (L2 blocks up to %d)", at.entries - 1, at.safe_block)

    def _checked(self) -> dict[bytes, bytes]:
        if self.chain is None:
            return {}
        return {CHECKED_KEY: self._at.encode()}

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
            # At least one block behind: the batcher's appendBatch records the origin's header,
            # and L1 (gas estimation included) only knows the hashes of blocks before the current.
            number = max(self.reader.head() - max(self.confirmations, 1), 0)
            current = self.snapshot().origin
            origin = current if number <= current.number else self.reader.l1_block_origin(number)
            deposits = tuple(self.reader.deposits_from(self.next_delayed, origin.number))
            self._check_reorg()
            self._count_batched()
            finalized = 0
            if self.rollup is not None:
                finalized = self.rollup.assertion(self.rollup.latest_confirmed()).l2_block_number
        except Exception as exc:
            if self._stop.is_set():
                return  # stopping: the chain may be closed under this poll
            if self.healthy:
                log.warning("L1 unreachable, sequencing on with L1 origin %d: %s", self.snapshot().origin.number, exc)
            self.healthy = False
            return
        self.healthy = True
        with self._lock:
            self._snapshot = L1Snapshot(
                origin, deposits, self._at.safe_block, finalized, self._divergent, self._checked(), self.reorgs
            )

    def _check_reorg(self) -> None:
        """If L1 replaced the block of the last checked entry, go back to the newest checked entry
        still on L1 (or to the start, when none of the remembered ones is) and check again from
        there: the entries L1 holds now at those indexes may be other ones (a forced inclusion),
        and the safe head must not claim blocks whose batch is gone."""
        at = self._at
        if at.entries == 0 or not at.block_hash or self.reader.block_hash(at.from_block) == at.block_hash:
            return
        while self._recent and self.reader.block_hash(self._recent[-1].from_block) != self._recent[-1].block_hash:
            self._recent.pop()
        self._at = self._recent[-1] if self._recent else self._genesis
        self.reorgs += 1
        log.warning(
            "L1 reorg: inbox entries %d..%d are gone from L1 or may differ; checking again from entry %d "
            "(safe head back to L2 block %d)", self._at.entries, at.entries - 1, self._at.entries, self._at.safe_block,
        )
        self.reader.reorged(self._at.from_block + 1 if self._at.entries else self._at.from_block)

    def _count_batched(self) -> None:
        """Safe head: the L2 blocks that confirmed inbox entries derive to.

        With the chain, each entry is derived (not executed) and compared with our blocks;
        the first that differs stops the count and is handed to the producer. Verifiers check
        the rest by replaying the entries.
        """
        self._divergent = None
        at = self._at
        for entry in self.reader.entries(at.entries, at.from_block, 256):
            if self.chain is None:
                blocks, delayed_read = count_blocks(entry, at.delayed_read, self.chain_id), entry.delayed_read
            else:
                derived, divergent = check_entry(
                    self.chain, self.chain.spec, entry, at.delayed_read, at.safe_block, self.reader
                )
                if divergent is not None:
                    if divergent.index != getattr(self._snapshot.divergent, "index", None):
                        log.warning(
                            "inbox entry %d (%s) does not derive to our blocks after L2 block %d: rebuilding on it",
                            entry.index, "forced inclusion" if entry.forced else "batch", at.safe_block,
                        )
                    self._divergent = divergent  # later entries derive on top of it: wait for the rebuild
                    return
                blocks, delayed_read = len(derived.blocks), derived.cursor.delayed_read
            at = self._at = Checked(
                entry.index + 1, entry.l1_block_number, entry.l1_block_hash, at.safe_block + blocks, delayed_read
            )
            self._recent.append(at)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.poll()
