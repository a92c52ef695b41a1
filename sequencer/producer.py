"""Block production: every block time (or as soon as the pool fills a block) seal a block via `l2`.

`build_block` is synchronous and runs in a one-thread executor, so the event loop keeps
answering JSON-RPC while a block executes; there is only ever one builder (one writer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from eth.abc import BlockHeaderAPI

from l2.chain import L2Chain
from l2.errors import InvalidTransaction
from l2.types import BlockAttributes, Head, L1Origin, SealedBlock
from sequencer.mempool import Mempool
from sequencer.metrics import SequencerMetrics

log = logging.getLogger(__name__)

MIN_GAS = 21_000
# Rules after which a transaction may become valid again later: keep it in the pool.
HOLD_RULES = frozenset({"fee_cap", "gas_limit", "nonce_too_high"})


class L1OriginSource(Protocol):
    """Where a new block's L1 origin comes from (the L1 connection plugs in here later)."""

    def origin(self, parent: BlockHeaderAPI) -> L1Origin: ...


class GenesisL1Origin:
    """Until the L1 connection exists: every block builds on L1 block 0."""

    def origin(self, parent: BlockHeaderAPI) -> L1Origin:
        return L1Origin(0)


@dataclass
class BuildResult:
    sealed: SealedBlock
    dropped: list[tuple[bytes, str]]  # (tx hash, rule)
    seconds: float


class BlockProducer:
    """Owns the single writer of the chain: selects from the pool, executes, seals, commits."""

    def __init__(
        self,
        chain: L2Chain,
        mempool: Mempool,
        metrics: SequencerMetrics,
        block_time: float,
        l1_origin: L1OriginSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = chain
        self.mempool = mempool
        self.metrics = metrics
        self.block_time = block_time
        self.l1_origin = l1_origin or GenesisL1Origin()
        self.clock = clock
        self.paused = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="block-builder")
        self._wake = asyncio.Event()
        self._new_block = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- synchronous core (worker thread) --------------------------------------------

    def build_block(self) -> BuildResult:
        """Build, seal and commit one block from the pool's executable transactions."""
        start = time.perf_counter()
        parent = self.chain.head(Head.UNSAFE)
        # The one place wall-clock time enters: the block records it, never below the parent's.
        timestamp = max(int(self.clock()), parent.timestamp)
        builder = self.chain.open_block(BlockAttributes(timestamp, self.l1_origin.origin(parent)))
        dropped: list[tuple[bytes, str]] = []
        blocked: set[bytes] = set()  # senders whose next nonce could not go in this block
        for entry in self.mempool.select(builder.base_fee):
            if builder.gas_left < MIN_GAS:
                break
            if entry.sender in blocked:
                continue
            if entry.tx.gas > builder.gas_left:
                blocked.add(entry.sender)
                continue
            try:
                builder.add(entry.tx)
            except InvalidTransaction as exc:
                blocked.add(entry.sender)
                if exc.rule not in HOLD_RULES:
                    dropped.append((entry.hash, exc.rule))
                    log.info("dropped tx 0x%s at inclusion: %s", entry.hash.hex(), exc)
        sealed = builder.seal()
        next_base_fee = self.chain.spec.next_base_fee(sealed.header.base_fee_per_gas, sealed.header.gas_used)
        # Commit and pool update under the pool's lock: no submission is checked against the
        # old head's nonces once the new head is visible.
        with self.mempool.lock:
            self.chain.commit(builder, sealed)
            removed = self.mempool.on_new_head(next_base_fee, (h for h, _ in dropped))
        for _, rule in dropped:
            self.metrics.drop(rule)
        for _ in removed:
            self.metrics.drop("insufficient_funds")
        return BuildResult(sealed, dropped, time.perf_counter() - start)

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
        """Called after a submission: seal early when the pool holds a full block of gas.

        The exact pending gas costs a pass over the pool, so it is only computed once the
        cheap upper bound (all pooled gas) reaches a block, and not again until the block is built.
        """
        limit = self.chain.spec.gas_limit
        if self.mempool.total_gas >= limit and not self._wake.is_set() and self.mempool.pending_gas() >= limit:
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

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.block_time
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_at - loop.time()))
            except TimeoutError:
                pass
            self._wake.clear()
            next_at = max(next_at + self.block_time, loop.time())
            if self.paused:
                continue
            try:
                result = await self.build_now()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed block is retried at the next tick; the node keeps serving
                log.exception("block production failed")
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
