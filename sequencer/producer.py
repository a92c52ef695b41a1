"""Block production: a block is opened at each tick, filled as transactions arrive and sealed
at the next tick (or as soon as it is full), through `l2`.

The builder's steps (`open_block`, `fill`, `seal_block`) are synchronous and run in a
one-thread executor, so the event loop keeps answering JSON-RPC while a block executes;
there is only ever one builder (one writer). Between ticks the open block takes what
arrived at most once per fill interval, so the work left at the tick is small: a last
fill, the state root and the commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from eth.abc import BlockHeaderAPI

from l2.chain import L2Chain
from l2.codec import MAX_DECOMPRESSED_BYTES
from l2.deposits import deposit_transaction
from l2.errors import InvalidTransaction
from l2.execution import BlockBuilder
from l2.predeploys import L1_INFO_ADDRESS, L1_INFO_BASE_FEE_SLOT, L1_INFO_HASH_SLOT
from l2.types import BlockAttributes, Head, L1Origin, SealedBlock
from sequencer.l1_follower import L1Snapshot
from sequencer.mempool import Mempool, PoolTx
from sequencer.metrics import SequencerMetrics
from sequencer.rebuild import (
    REQUEUE_KEY,
    Divergent,
    encode_requeued,
    rebuild,
    requeue,
    restore_requeued,
    unsafe_transactions,
)

log = logging.getLogger(__name__)

MIN_GAS = 21_000
# Rules after which a transaction may become valid again later: keep it in the pool.
HOLD_RULES = frozenset({"fee_cap", "gas_limit", "nonce_too_high"})


# A block must fit one batch (blocks never span inbox entries): its signed transactions stay
# below the codec's decompressed cap, with room for the block's own columns.
MAX_BLOCK_TX_BYTES = MAX_DECOMPRESSED_BYTES - 4096
MAX_DEPOSITS_PER_BLOCK = 64  # keeps a burst of deposits from stretching one block's build time
NEXT_DELAYED_KEY = b"sequencer:next_delayed"
MAX_FILL_INTERVAL = 0.05  # seconds between fills of the open block (at most a tenth of the block time)
T = TypeVar("T")


class L1Source(Protocol):
    """The sequencer's L1 view (sequencer.l1_follower.L1Follower); absent in standalone mode."""

    next_delayed: int

    def snapshot(self) -> L1Snapshot: ...


L1OriginSource = L1Source  # the name service.py still uses


class StandaloneL1:
    """No L1 connection (tests, benchmarks): every block keeps the null origin (number 0, zero
    hash and base fee: `l2.derivation.NULL_ORIGIN`, the genesis's), no deposits. Derivation gives
    the same origin to blocks that name no recorded one, so such a chain derives back as it is."""

    next_delayed = 0

    def snapshot(self) -> L1Snapshot:
        return L1Snapshot(L1Origin(0), ())


@dataclass
class BuildResult:
    sealed: SealedBlock
    dropped: list[tuple[bytes, str]]  # (tx hash, rule)
    seconds: float  # builder time spent on the block: opening, every fill, sealing and committing
    full: bool = False  # gas or bytes ran out with transactions left over: build the next at once


@dataclass(eq=False)
class OpenBlock:
    """The block being built: opened at a tick, filled as transactions arrive, sealed at the next tick.

    Executing transactions as they arrive, as geth's miner builds its payload through the slot,
    leaves only a last small fill, the state root and the commit between the tick and the
    receipt: confirmation latency no longer includes executing the whole block.
    """

    builder: BlockBuilder
    snapshot: L1Snapshot
    origin: L1Origin
    next_delayed: int
    bytes_left: int  # of the byte cap (MAX_BLOCK_TX_BYTES)
    seconds: float = 0.0
    dropped: list[tuple[bytes, str]] = field(default_factory=list)
    blocked: set[bytes] = field(default_factory=set)  # senders whose next nonce cannot go in this block
    taken: dict[bytes, int] = field(default_factory=dict)  # sender -> the nonce after its last one in the block
    full: bool = False


class BlockProducer:
    """Owns the single writer of the chain: selects from the pool, executes, seals, commits."""

    def __init__(
        self,
        chain: L2Chain,
        mempool: Mempool,
        metrics: SequencerMetrics,
        block_time: float,
        l1: L1Source | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.metrics = metrics
        self.block_time = block_time
        self.fill_interval = min(MAX_FILL_INTERVAL, block_time / 10)
        self.l1 = l1 or StandaloneL1()
        stored = chain.store.get_meta(NEXT_DELAYED_KEY)
        self.l1.next_delayed = int.from_bytes(stored, "big") if stored else 0
        self._origin_number = chain.l1_origin_number(chain.head(Head.UNSAFE))
        self.clock = clock
        self.paused = False
        self.ignore_deposits = False  # TESTS ONLY (config test_only_ignore_deposits): a censoring sequencer
        self._rebuilt_entries = 0  # inbox entries up to which a divergent one was applied (sequencer/rebuild.py)
        self._l1_reorgs = 0  # the follower's count of L1 reorgs that dropped checked entries, as handled here
        # Acknowledged transactions of rebuilt-away blocks not yet back in a block ({hash: raw},
        # stored under REQUEUE_KEY); None when the stored list is empty: block commits skip it.
        self._requeued: dict[bytes, bytes] | None = None
        self._restore_requeued()
        self._open: OpenBlock | None = None  # touched by the builder thread only
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-builder")
        self._wake = asyncio.Event()
        self._new_block = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- synchronous core (worker thread) --------------------------------------------

    def build_block(self) -> BuildResult:
        """Build, seal and commit one block from the pool's executable transactions at once."""
        if self._open is None:
            self.open_block()
        return self.seal_block()

    def open_block(self) -> None:
        """Open the next block on the head (first adopting a divergent inbox entry) and fill it from the pool."""
        start = time.perf_counter()
        snapshot = self.l1.snapshot()
        if snapshot.reorgs != self._l1_reorgs:
            self._after_l1_reorg(snapshot)
        if snapshot.divergent is not None and snapshot.divergent.index >= self._rebuilt_entries:
            self._rebuild(snapshot.divergent)
        parent = self.chain.head(Head.UNSAFE)
        # The one place wall-clock time enters: the block records it, never below the parent's.
        timestamp = max(int(self.clock()), parent.timestamp)
        origin = snapshot.origin
        if origin.number < self._origin_number:  # L1 reorged deeper than our confirmations: keep ours
            origin = L1Origin(self._origin_number, *self._parent_origin_facts(parent))
        builder = self.chain.open_block(BlockAttributes(timestamp, origin))
        next_delayed = self.l1.next_delayed
        for queued in () if self.ignore_deposits else snapshot.deposits:
            if queued.deposit.index < next_delayed:
                continue
            if queued.deposit.index > next_delayed or queued.l1_block_number > origin.number:
                break
            if next_delayed - self.l1.next_delayed >= MAX_DEPOSITS_PER_BLOCK:
                break
            builder.add(deposit_transaction(queued.deposit))
            next_delayed += 1
        block = self._open = OpenBlock(builder, snapshot, origin, next_delayed, MAX_BLOCK_TX_BYTES)
        with self.mempool.lock:  # every sender once; later fills look only at the senders that got more
            self.mempool.take_touched()
            entries = self.mempool.select(builder.base_fee)
        self._add(block, entries)
        block.seconds += time.perf_counter() - start

    def fill(self) -> bool:
        """Execute what arrived since the last fill into the open block; True once the block is full."""
        block = self._open
        if block is None:
            return False
        if block.full:
            return True
        start = time.perf_counter()
        touched = self.mempool.take_touched()
        if touched:
            self._add(block, self.mempool.select(block.builder.base_fee, block.taken, touched - block.blocked))
        block.seconds += time.perf_counter() - start
        return block.full

    def _add(self, block: OpenBlock, entries: list[PoolTx]) -> None:
        """Execute `entries` in order into the block, then fold their state changes into the trie."""
        before = len(block.builder.transactions)
        self._take(block, entries)
        if len(block.builder.transactions) > before:
            # Folding per fill costs about what one fold at the seal would (the fill interval
            # bounds the folds), and leaves the tick only the last fill's trie work.
            block.builder.settle()

    def _take(self, block: OpenBlock, entries: list[PoolTx]) -> None:
        builder = block.builder
        for entry in entries:
            if self.paused:  # arrived after a pause: the block is about to be discarded
                return
            if builder.gas_left < MIN_GAS:
                block.full = True
                return
            if entry.sender in block.blocked or block.taken.get(entry.sender, entry.nonce) != entry.nonce:
                continue
            if entry.tx.gas > builder.gas_left:
                block.blocked.add(entry.sender)
                continue
            if entry.size > block.bytes_left:
                block.full = True
                block.blocked.add(entry.sender)
                if entry.size > MAX_BLOCK_TX_BYTES:
                    block.dropped.append((entry.hash, "oversize"))
                    log.info("dropped tx 0x%s: %d bytes can never fit one batch", entry.hash.hex(), entry.size)
                continue
            try:
                builder.add(entry.tx)
                block.bytes_left -= entry.size
                block.taken[entry.sender] = entry.nonce + 1
            except InvalidTransaction as exc:
                block.blocked.add(entry.sender)
                if exc.rule not in HOLD_RULES:
                    block.dropped.append((entry.hash, exc.rule))
                    log.info("dropped tx 0x%s at inclusion: %s", entry.hash.hex(), exc)

    def discard_block(self) -> None:
        """Forget the open block (paused, or a failed fill): nothing of it was written, its transactions stay pooled."""
        self._open = None

    def seal_block(self) -> BuildResult:
        """A last fill, then seal and commit the open block; the pool moves to the new head."""
        block = self._open
        if block is None:
            raise RuntimeError("no open block to seal")
        self.fill()
        start = time.perf_counter()
        self._open = None
        builder, snapshot, dropped = block.builder, block.snapshot, block.dropped
        sealed = builder.seal()
        next_base_fee = self.chain.spec.next_base_fee(sealed.header.base_fee_per_gas, sealed.header.gas_used)
        # Commit and pool update under the pool's lock: no submission is checked against the
        # old head's nonces once the new head is visible.
        with self.mempool.lock:
            meta = {NEXT_DELAYED_KEY: block.next_delayed.to_bytes(8, "big"), **snapshot.meta}
            requeued = self._requeued
            if requeued is not None:  # a rebuild's acknowledged transactions, until all are in blocks
                requeued = self._requeued_left(sealed, dropped)
                meta[REQUEUE_KEY] = encode_requeued(requeued.values())
            self.chain.commit(builder, sealed, meta)
            self._requeued = requeued or None
            mined = (tx.hash for tx in sealed.block.transactions)
            removed = self.mempool.on_new_head(next_base_fee, (h for h, _ in dropped), mined, builder.touched)
        self.l1.next_delayed = block.next_delayed
        self._origin_number = block.origin.number
        self._move_heads(snapshot, sealed.number)
        for _, rule in dropped:
            self.metrics.drop(rule)
        for _ in removed:
            self.metrics.drop("insufficient_funds")
        return BuildResult(sealed, dropped, block.seconds + time.perf_counter() - start, block.full)

    def _rebuild(self, divergent: Divergent) -> None:
        """An inbox entry on L1 (a forced inclusion) derives to other blocks than ours: adopt them.

        Rewind, execute the derived blocks, move the delayed cursor past what the entry
        consumed, and put the dropped blocks' user transactions back into the pool
        (sequencer/rebuild.py). Under the pool's lock, as a block commit.
        """
        next_delayed = divergent.derived.cursor.delayed_read
        with self.mempool.lock:
            txs = unsafe_transactions(self.chain, divergent.parent_number)
            # Stored before the rewind (REQUEUE_KEY): an earlier rebuild's not yet in a block, then these.
            requeued: dict[bytes, bytes] = {**(self._requeued or {}), **{tx.hash: tx.encode() for tx in txs}}
            try:
                meta = {NEXT_DELAYED_KEY: next_delayed.to_bytes(8, "big")}
                rebuilt = rebuild(self.chain, divergent, meta, requeued.values())
            finally:  # acknowledged transactions are never lost, even if applying failed
                head = self.chain.head(Head.UNSAFE)
                removed = self.mempool.on_new_head(self.chain.spec.next_base_fee(head.base_fee_per_gas, head.gas_used))
                kept, refused = requeue(self.mempool.add, txs)
                if requeued:  # the refused leave the stored list with the next block
                    for tx_hash, _ in refused:
                        requeued.pop(tx_hash, None)
                    self._requeued = requeued
        self._rebuilt_entries = divergent.index + 1
        self.l1.next_delayed = next_delayed
        self._origin_number = self.chain.l1_origin_number(head)
        for _, rule in refused:
            self.metrics.drop(rule)
        for _ in removed:
            self.metrics.drop("insufficient_funds")
        log.warning(
            "rebuilt on inbox entry %d (%s): dropped %d unsafe blocks after L2 block %d, applied %d derived blocks; "
            "%d of their %d transactions back in the pool (%s refused); next delayed message %d",
            divergent.index, "forced" if divergent.forced else "batch", rebuilt.dropped_blocks,
            divergent.parent_number, len(rebuilt.applied), kept, len(txs),
            ", ".join(f"0x{h.hex()}: {rule}" for h, rule in refused) or "none", next_delayed,
        )

    def _restore_requeued(self) -> None:
        """At start: the acknowledged transactions a rebuild stored and no block holds yet go back to the pool."""
        if not self.chain.store.get_meta(REQUEUE_KEY):
            return
        with self.mempool.lock:
            kept, refused = restore_requeued(self.chain, self.mempool.add)
        self._requeued = kept  # even empty: the next block clears the stored list
        for _, rule in refused:
            self.metrics.drop(rule)
        log.warning(
            "%d transactions of rebuilt-away blocks back in the pool (%s refused)", len(kept),
            ", ".join(f"0x{h.hex()}: {rule}" for h, rule in refused) or "none",
        )

    def _requeued_left(self, sealed: SealedBlock, dropped: list[tuple[bytes, str]]) -> dict[bytes, bytes]:
        """The stored re-queued transactions once `sealed` commits: minus those it holds, or the pool let go."""
        assert self._requeued is not None
        gone: set[bytes] = {tx.hash for tx in sealed.block.transactions}
        gone.update(h for h, _ in dropped)
        return {h: raw for h, raw in self._requeued.items() if h not in gone and self.mempool.get(h) is not None}

    def adopt_l1(self) -> bool:
        """Rebuild on a divergent inbox entry without sequencing a block (while paused); True if done.

        Pausing stops sequencing, not following L1: a forced inclusion still lands.
        """
        divergent = self.l1.snapshot().divergent
        if divergent is None or divergent.index < self._rebuilt_entries:
            return False
        self._rebuild(divergent)
        return True

    async def _follow_l1_paused(self) -> None:
        try:
            adopted = await asyncio.get_running_loop().run_in_executor(self._executor, self.adopt_l1)
        except Exception:  # retried at the next tick, as a failed block
            log.exception("rebuilding on L1 while paused failed")
            return
        if adopted:
            self.update_gauges()
            event, self._new_block = self._new_block, asyncio.Event()
            event.set()

    def _after_l1_reorg(self, snapshot: L1Snapshot) -> None:
        """L1 dropped inbox entries the follower had checked: the safe head comes back down to
        what the entries still on L1 derive to (never below the finalized head), and entries
        from there on are checked, and rebuilt on if they differ, again."""
        self._l1_reorgs = snapshot.reorgs
        self._rebuilt_entries = 0  # an adopted entry still on L1 derives to our blocks: not divergent again
        heads = self.chain.heads()
        safe = max(snapshot.safe_block, heads.finalized.block_number)
        if safe < heads.safe.block_number:
            self.chain.set_head(Head.SAFE, self.chain.header_by_number(safe).hash)
            log.warning("L1 reorg dropped batched entries: safe head back from L2 block %d to %d",
                        heads.safe.block_number, safe)

    def _move_heads(self, snapshot: L1Snapshot, head: int) -> None:
        """Safe and finalized heads follow L1 (batched blocks, confirmed assertions)."""
        heads = self.chain.heads()
        for which, number, current in (
            (Head.SAFE, min(snapshot.safe_block, head), heads.safe.block_number),
            (Head.FINALIZED, min(snapshot.finalized_block, snapshot.safe_block, head), heads.finalized.block_number),
        ):
            if number > current:
                self.chain.set_head(which, self.chain.header_by_number(number).hash)

    def _parent_origin_facts(self, parent: BlockHeaderAPI) -> tuple[bytes, int]:
        state = self.chain.state_at(parent)
        origin_hash = state.get_storage(L1_INFO_ADDRESS, L1_INFO_HASH_SLOT).to_bytes(32, "big")
        return origin_hash, state.get_storage(L1_INFO_ADDRESS, L1_INFO_BASE_FEE_SLOT)

    # -- asyncio loop -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="block-producer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._executor.shutdown(wait=True)

    def poke(self) -> None:
        """Called after a submission: the open block takes it at its next fill."""
        self._wake.set()

    async def wait_new_block(self, timeout: float) -> None:
        """Return when a block is sealed or `timeout` passes (for streaming consumers)."""
        event = self._new_block
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    async def build_now(self) -> BuildResult:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.build_block)

    async def _in_builder(self, fn: Callable[[], T]) -> T | None:
        """Run `fn` on the builder thread; a failure is logged, the open block dropped, the node keeps serving."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except asyncio.CancelledError:
            raise
        except Exception:  # the block is retried at the next tick; its transactions are still pooled
            log.exception("block production failed")
            await asyncio.get_running_loop().run_in_executor(self._executor, self.discard_block)
            return None

    async def _fill_until(self, deadline: float) -> None:
        """Fill the open block as transactions arrive, at most once per fill interval, until the tick."""
        loop = asyncio.get_running_loop()
        while self._open is not None and not self._open.full and not self.paused:
            try:
                await asyncio.wait_for(self._wake.wait(), deadline - loop.time())
            except TimeoutError:
                return
            self._wake.clear()
            if self.paused:
                return
            if await self._in_builder(self.fill) is not False:
                return  # full (seal now) or failed (dropped)
            pause = min(self.fill_interval, deadline - loop.time())
            if pause <= 0:
                return
            await asyncio.sleep(pause)  # arrivals meanwhile go in together at the next fill

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.block_time
        while True:
            if self._open is None and not self.paused:
                await self._in_builder(self.open_block)
            await self._fill_until(next_at)
            full = self._open is not None and self._open.full and not self.paused
            if not full and (delay := next_at - loop.time()) > 0:
                await asyncio.sleep(delay)  # paused, or the block could not be opened: wait for the tick
            if loop.time() >= next_at:  # a full block seals early and keeps the tick
                next_at = max(next_at + self.block_time, loop.time())
            if self.paused:
                if self._open is not None:
                    await self._in_builder(self.discard_block)
                await self._follow_l1_paused()
                continue
            if self._open is None:
                continue
            result = await self._in_builder(self.seal_block)
            if result is None:
                continue
            self._record(result)
            event, self._new_block = self._new_block, asyncio.Event()
            event.set()

    def _record(self, result: BuildResult) -> None:
        header = result.sealed.header
        m = self.metrics
        m.block_build.observe(result.seconds)
        m.block_txs.observe(len(result.sealed.block.transactions))
        m.block_gas.observe(header.gas_used)
        m.txs_included.inc(len(result.sealed.block.transactions))
        m.gas_included.inc(header.gas_used)
        self.update_gauges()
        if result.sealed.block.transactions:
            log.debug("sealed block %d: %d txs, %d gas, %.1f ms", header.block_number,
                      len(result.sealed.block.transactions), header.gas_used, result.seconds * 1e3)

    def update_gauges(self) -> None:
        heads = self.chain.heads()
        self.metrics.head_block.labels(head="unsafe").set(heads.unsafe.block_number)
        self.metrics.head_block.labels(head="safe").set(heads.safe.block_number)
        self.metrics.head_block.labels(head="finalized").set(heads.finalized.block_number)
        pending, queued = self.mempool.counts()
        self.metrics.mempool.labels(state="pending").set(pending)
        self.metrics.mempool.labels(state="queued").set(queued)
        self.metrics.paused.set(1 if self.paused else 0)
