"""The batcher: whole L2 blocks from the sequencer, compressed into batches, appended to the Inbox.

One batch in flight at a time: the next is built only once the previous one is confirmed
on L1 (or known lost), so the position recovered from L1 is always the truth. Before each
batch it checks L1 still holds what it counted; after a reorg it recovers and re-posts.

Each batch also records, in the same `appendBatch`, the L1 origins its blocks name that the
Inbox has not recorded yet (docs/fraud-proofs.md D2): derivation only takes an origin recorded
no later than the entry. A header L1 can no longer check (older than its block-hash window) is
left out; those blocks then derive with their parent's origin and the sequencer rebuilds on
what L1 derives (sequencer/rebuild.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque

import grpc
from web3 import Web3

from batcher.blocks import BatchedBlock, block_messages
from batcher.feed import BlockFeed
from batcher.metrics import BatcherMetrics
from batcher.position import Position, recover_position, still_on_l1
from batcher.service import wait_idle
from l1.bindings import L1Error
from l1.headers import hash_window, header_rlp
from l1.inbox_reader import InboxReader
from l1.transactions import L1Transactor
from l2.codec import MAX_PAYLOAD_BYTES, encode_batch
from l2.messages import BlockStart, Message, message_root
from proto import sequencer_pb2 as pb
from proto import sequencer_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

# Blocks kept clear of the edge of L1's block-hash window: the batch may land a few blocks after
# it is built, and a header the Inbox cannot check reverts the whole appendBatch.
ORIGIN_WINDOW_MARGIN = 32


class Batch:
    """The encoded form of consecutive blocks, ready for appendBatch."""

    def __init__(self, blocks: list[BatchedBlock], chain_id: int, delayed_read: int) -> None:
        self.blocks = blocks
        self.messages: list[Message] = [m for b in blocks for m in b.messages]
        self.payload = encode_batch(self.messages, chain_id)
        self.root = message_root(self.messages)
        last = [b.last_delayed for b in blocks if b.last_delayed is not None]
        self.delayed_read = max(delayed_read, last[-1] + 1) if last else delayed_read
        self.raw_bytes = sum(b.raw_bytes for b in blocks)


class Batcher:
    def __init__(
        self,
        w3: Web3,
        reader: InboxReader,
        transactor: L1Transactor,
        feed: BlockFeed,
        metrics: BatcherMetrics,
        chain_id: int,
        max_batch_bytes: int = 0,
        max_batch_age: float = 6.0,
    ) -> None:
        self.w3 = w3
        self.reader = reader
        self.inbox = reader.inbox
        self.transactor = transactor
        self.feed = feed
        self.metrics = metrics
        self.chain_id = chain_id
        self.max_batch_bytes = min(max_batch_bytes or MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES)
        self.max_batch_age = max_batch_age
        self.position = Position(0, 0, 0, b"")
        self.pending: deque[BatchedBlock] = deque()
        self._oldest_at: float | None = None  # when the oldest pending block arrived
        # Hash of the last block posted since the position was read from L1: the next block must
        # extend it (a sequencer that rebuilt on a forced entry streams other blocks there).
        self._last_hash: bytes | None = None
        self._hash_window: int | None = None  # how far back the Inbox can check an L1 header

    # -- L1 origins --------------------------------------------------------------------

    def origin_headers(self, batch: Batch) -> list[bytes]:
        """RLP headers of the L1 origins `batch` names that the Inbox has not recorded yet."""
        numbers = sorted({m.l1_origin_number for m in batch.messages if isinstance(m, BlockStart)} - {0})
        if not numbers:
            return []
        if self._hash_window is None:
            self._hash_window = hash_window(self.w3)
        head = int(self.w3.eth.block_number)
        headers = []
        for number in numbers:
            if self.inbox.l1_origin(number) is not None:
                continue
            # L1 does not know the head's own hash yet (gas estimation runs in the head's context);
            # the sequencer never adopts it, so only an L1 that shrank (reorg) names it here.
            recordable = 0 < head - number < self._hash_window - ORIGIN_WINDOW_MARGIN
            header = header_rlp(self.w3, number) if recordable else None
            if header is None:
                # Its blocks derive with their parent's origin; the sequencer rebuilds on that.
                log.warning("L1 origin %d cannot be recorded (L1 head %d): left out of the batch", number, head)
                continue
            headers.append(header)
        return headers

    # -- position ---------------------------------------------------------------------

    def recover(self) -> None:
        """Wait for our own in-flight L1 transactions, then count what L1 holds."""
        wait_idle(self.transactor)
        self.transactor.resync()  # L1 may have lost what we had settled (deep reorg)
        self.position = recover_position(self.reader, self.chain_id)
        log.info(
            "batcher position from L1: %d inbox entries, L2 blocks up to %d batched, %d delayed messages read",
            self.position.entries, self.position.last_block, self.position.delayed_read,
        )
        self.pending.clear()
        self._oldest_at = None
        self._last_hash = None
        self.feed.restart(self.position.last_block + 1)
        self.metrics.last_batched.set(self.position.last_block)

    # -- loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_interval: float = 0.5) -> None:
        self.recover()
        while not stop.is_set():
            try:
                self.tick(poll_interval)
            except L1Error as exc:
                self.metrics.failed.inc()
                log.error("batch not posted: %s; recovering the position from L1", exc)
                stop.wait(poll_interval)
                self._safe_recover(stop, poll_interval)
            except Exception:  # an L1 answer we did not foresee (e.g. a read racing a reorg): never exit
                self.metrics.failed.inc()
                log.exception("batcher tick failed; recovering the position from L1")
                stop.wait(poll_interval)
                self._safe_recover(stop, poll_interval)
            self.metrics.update_transactor(self.transactor)

    def _safe_recover(self, stop: threading.Event, poll_interval: float) -> None:
        while not stop.is_set():
            try:
                self.recover()
                return
            except Exception as exc:  # L1 down: keep trying, never exit
                log.warning("cannot recover the batcher position yet: %s", exc)
                stop.wait(poll_interval * 4)

    def tick(self, wait: float) -> bool:
        """Take new blocks, post a batch if one is due; True if a batch was posted."""
        self._take_blocks(wait)
        if not self.pending:
            return False
        now = time.monotonic()
        due = self._oldest_at is not None and now - self._oldest_at >= self.max_batch_age
        batch = self._fill()
        full = len(batch.blocks) < len(self.pending)
        if not (due or full):
            return False
        if not still_on_l1(self.reader, self.position):
            log.warning("inbox on L1 changed under the batcher (reorg or another writer): recovering")
            self.recover()
            return False
        self._post(batch)
        return True

    def _take_blocks(self, wait: float) -> None:
        expected = self.position.last_block + len(self.pending) + 1
        deadline = time.monotonic() + wait
        while True:
            timeout = deadline - time.monotonic()
            try:
                block = self.feed.blocks.get(timeout=timeout) if timeout > 0 else self.feed.blocks.get_nowait()
            except queue.Empty:
                break
            if block.number != expected:
                continue  # a block from before a restart of the feed
            parent = self.pending[-1].hash if self.pending else self._last_hash
            if parent is not None and bytes(block.parent_hash) != parent:
                if not self.pending and self._sequencer_checked(self.position.last_block):
                    # Our last batch held blocks the sequencer had replaced (it rebuilt on a forced
                    # entry): it has now checked that batch against L1 and adopted it, so what it
                    # streams from here on extends what L1 derives (docs/sequencer.md).
                    self._last_hash = None
                else:
                    log.warning("sequencer block %d does not extend %d: re-reading", block.number, block.number - 1)
                    self.feed.restart(self.position.last_block + 1)
                    self.pending.clear()
                    self._oldest_at = None
                    return
            if self._oldest_at is None:
                self._oldest_at = time.monotonic()
            self.pending.append(block_messages(block))
            expected += 1
        self.metrics.pending_blocks.set(len(self.pending))

    def _sequencer_checked(self, number: int) -> bool:
        """Whether the sequencer's safe head (the inbox entries it checked against its own blocks) reaches `number`."""
        try:
            with grpc.insecure_channel(self.feed.target) as channel:
                status = pb_grpc.SequencerStub(channel).GetStatus(pb.GetStatusRequest(), timeout=5)
        except grpc.RpcError:
            return False
        return status.safe.number >= number

    def _fill(self) -> Batch:
        """The longest prefix of pending blocks whose payload fits (binary search on encodings)."""
        blocks = list(self.pending)
        whole = Batch(blocks, self.chain_id, self.position.delayed_read)
        if len(whole.payload) <= self.max_batch_bytes:
            return whole
        lo, hi = 1, len(blocks) - 1  # the answer is in [lo, hi]; one block must always fit
        best = Batch(blocks[:1], self.chain_id, self.position.delayed_read)
        if len(best.payload) > self.max_batch_bytes:
            raise L1Error(f"L2 block {blocks[0].number} alone exceeds the batch limit ({len(best.payload)} bytes)")
        while lo < hi:
            mid = (lo + hi + 1) // 2
            candidate = Batch(blocks[:mid], self.chain_id, self.position.delayed_read)
            if len(candidate.payload) <= self.max_batch_bytes:
                lo, best = mid, candidate
            else:
                hi = mid - 1
        return best

    def _post(self, batch: Batch) -> None:
        first, last = batch.blocks[0].number, batch.blocks[-1].number
        headers = self.origin_headers(batch)
        data = self.inbox.contract.encode_abi(
            "appendBatch", args=[batch.payload, batch.root, len(batch.messages), batch.delayed_read, headers]
        )
        started = time.monotonic()
        receipt = self.transactor.send(self.inbox.address, bytes.fromhex(data[2:]))
        entries = self.inbox.entries_in(receipt.raw)
        if len(entries) != 1 or entries[0].index != self.position.entries:
            found = [e.index for e in entries]
            raise L1Error(f"batch landed as entries {found}, expected entry {self.position.entries}")
        entry = entries[0]
        self.position = Position(self.position.entries + 1, last, batch.delayed_read, entry.accumulator)
        for _ in batch.blocks:
            self.pending.popleft()
        self._last_hash = batch.blocks[-1].hash
        self._oldest_at = time.monotonic() if self.pending else None
        m = self.metrics
        m.posted.inc()
        m.bytes_in.inc(batch.raw_bytes)
        m.bytes_out.inc(len(batch.payload))
        m.ratio.set(batch.raw_bytes / len(batch.payload) if batch.payload else 0)
        m.last_batched.set(last)
        m.pending_blocks.set(len(self.pending))
        log.info(
            "posted inbox entry %d: L2 blocks %d..%d, %d messages, %d -> %d bytes, %d L1 origins recorded, "
            "L1 block %d, %.1f s",
            entry.index, first, last, len(batch.messages), batch.raw_bytes, len(batch.payload), len(headers),
            entry.l1_block_number, time.monotonic() - started,
        )
