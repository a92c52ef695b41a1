"""The verifier: rebuilds the chain from L1 alone, judges every assertion, serves it read-only.

One replay thread is the chain's only writer. Each poll it follows L1 reorgs
(`Replayer.check_reorg`), replays new inbox entries (`Replayer.step`), then judges every
assertion on L1 against its own output root (`l1.assertions.judge`). A mismatch is counted,
logged with both roots and recorded by the `DisputeHandoff` (`DivergenceLog`). With a
`dispute_key`, the dispute agent (`l1.dispute_agent`, built in `verifier.dispute`) then runs in
the same thread, after the judging: it challenges what we judged wrong and plays its games.

Heads: unsafe = safe = the derived head (the verifier does not follow the sequencer's
unsafe blocks); finalized = the block of the newest confirmed assertion that matches ours.
JSON-RPC and /metrics run on an asyncio loop in a second thread and only read the chain.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from l1.assertions import AssertionCache, Judgement, Verdict, judge
from l1.bindings import Assertion, AssertionStatus, RollupBinding
from l1.deploy import Deployment
from l1.dispute_agent import DisputeAgent
from l1.inbox_reader import InboxReader
from l2.backends import require_fast_backends
from l2.chain import L2Chain
from l2.http import metrics_app, rpc_app, serve
from l2.replay import Applied, Replayer
from l2.rpc import JsonRpc, RpcSettings
from l2.types import Head
from verifier.config import VerifierConfig
from verifier.dispute import make_agent
from verifier.metrics import VerifierMetrics

log = logging.getLogger(__name__)

CLIENT_VERSION = "pyrollup-verifier/v0.1.0/python"
STOP_TIMEOUT_SECONDS = 60


# -- the hand-off to the dispute agent -----------------------------------------------------


@dataclass(frozen=True)
class Divergence:
    """An assertion on L1 whose claim differs from what this verifier computed."""

    assertion_id: int
    parent_id: int
    status: AssertionStatus  # on L1 when judged: only a PENDING one can still be challenged
    inbox_entries: int
    l2_block_number: int  # the asserted block
    asserted_root: bytes
    our_block: int | None  # our last block after the same inbox entries
    our_root: bytes | None  # our output root there (None: the inbox contents already differ)
    reason: str

    def describe(self) -> str:
        ours = "none" if self.our_root is None else "0x" + self.our_root.hex()
        return (
            f"assertion {self.assertion_id} (parent {self.parent_id}, {self.status.name}, "
            f"{self.inbox_entries} inbox entries, L2 block {self.l2_block_number}): "
            f"asserted root 0x{self.asserted_root.hex()}, our root {ours} at block {self.our_block}: {self.reason}"
        )


DisputeHandoff = Callable[[Divergence], None]


class DivergenceLog:
    """Today's hand-off: keeps every divergence in order and in a queue for a future consumer."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Divergence] = queue.Queue()
        self._seen: list[Divergence] = []
        self._lock = threading.Lock()

    def __call__(self, divergence: Divergence) -> None:
        with self._lock:
            self._seen.append(divergence)
        self.queue.put(divergence)

    @property
    def divergences(self) -> list[Divergence]:
        with self._lock:
            return list(self._seen)


# -- the loop body ---------------------------------------------------------------------------


def _content(a: Assertion) -> tuple[Any, ...]:
    """What an assertion claims (its status changes over time, its claim never does)."""
    return (a.id, a.parent_id, a.inbox_entries, a.l2_block_number, a.output_root, a.inbox_accumulator)


class Verifier:
    """Replay, judging and heads; synchronous, run by one thread (the chain's only writer)."""

    def __init__(
        self,
        replayer: Replayer,
        reader: InboxReader,
        rollup: RollupBinding,
        metrics: VerifierMetrics,
        handoff: DisputeHandoff,
        entries_per_step: int = 8,
        agent: DisputeAgent | None = None,
    ) -> None:
        self.replayer = replayer
        self.chain = replayer.chain
        self.reader = reader
        self.rollup = rollup
        self.metrics = metrics
        self.handoff = handoff
        self.entries_per_step = entries_per_step
        self.agent = agent
        self._assertions = AssertionCache(rollup)
        self._verdicts: dict[int, tuple[tuple[Any, ...], Judgement]] = {}  # final verdicts by id
        self.synced_l1_block = reader.start_block - 1
        self.update_heads()

    # -- one poll -------------------------------------------------------------------------

    def tick(self, stop: threading.Event | None = None) -> bool:
        """Follow reorgs, replay what L1 has, judge assertions; True once caught up with L1."""
        kept = self.replayer.check_reorg()
        if kept is not None:
            self.metrics.reorgs.inc()
            self._forget_beyond(kept)
            record = self.replayer.record(kept - 1) if kept else None
            self.synced_l1_block = record.l1_block_number if record else self.reader.start_block - 1
        l1_head = self.reader.head()
        confirmed = l1_head - self.reader.confirmations
        caught_up = False
        while stop is None or not stop.is_set():
            applied = self.replayer.step(self.entries_per_step)
            for one in applied:
                self._count(one)
            if len(applied) < self.entries_per_step:
                caught_up = True
                break
            self.update_heads()  # visible progress during a long catch-up
        count = self.replayer.entries
        last = self.replayer.record(count - 1) if count else None
        if caught_up:
            self.synced_l1_block = max(confirmed, last.l1_block_number if last else 0)
        elif last is not None:
            self.synced_l1_block = last.l1_block_number - 1  # entries of that block may remain
        self.metrics.l1_head.set(l1_head)
        self.metrics.l1_synced.set(self.synced_l1_block)
        self.metrics.l1_lag.set(max(0, l1_head - self.synced_l1_block))
        self.judge_assertions()
        self.update_heads()
        if self.agent is not None:
            self.play_disputes()
        return caught_up

    def play_disputes(self) -> None:
        """One round of the dispute agent; its failure is counted and logged, never stops replay."""
        assert self.agent is not None
        try:
            self.agent.tick()
        except Exception as exc:
            self.agent.stats.errors += 1
            log.error("dispute agent round failed: %s: %s", type(exc).__name__, exc,
                      exc_info=log.isEnabledFor(logging.DEBUG))
        self.metrics.sync_dispute(self.agent.stats)

    def run(self, stop: threading.Event, poll_interval: float) -> None:
        """Poll until `stop`; an error (L1 down, a bad answer) is counted, logged and retried."""
        while not stop.is_set():
            try:
                caught_up = self.tick(stop)
            except Exception as exc:
                caught_up = True  # wait a poll interval before retrying
                self.metrics.errors.inc()
                log.error("verifier poll failed, retrying in %.1fs: %s: %s", poll_interval, type(exc).__name__, exc,
                          exc_info=log.isEnabledFor(logging.DEBUG))
            if caught_up:
                stop.wait(poll_interval)

    def _count(self, applied: Applied) -> None:
        m = self.metrics
        m.blocks.inc(len(applied.headers))
        m.txs.inc(applied.transactions)
        m.skipped.inc(applied.skipped)
        m.replay.observe(applied.seconds)
        if applied.derived.invalid_reason is not None:
            m.invalid_batches.inc()

    # -- assertions -----------------------------------------------------------------------

    def assertions(self) -> list[Assertion]:
        """Every assertion on L1, oldest first; pending ones are read again each poll."""
        return self._assertions.all()

    def judge_assertions(self) -> None:
        """Judge each assertion not judged yet; report mismatches; move the finalized head."""
        finalized: Assertion | None = None
        for a in self.assertions():
            known = self._verdicts.get(a.id)
            if known is None or known[0] != _content(a):
                judgement = judge(a, self.replayer)
                if judgement.verdict is Verdict.PENDING:
                    continue  # not replayed that far yet
                self._verdicts[a.id] = (_content(a), judgement)
                self.metrics.checked.labels(verdict=judgement.verdict.value).inc()
                if judgement.verdict is Verdict.MISMATCH:
                    self._report(a, judgement)
                else:
                    log.info("assertion %d (L2 block %d) matches our output root 0x%s",
                             a.id, a.l2_block_number, judgement.ours.hex() if judgement.ours else "")
                known = self._verdicts[a.id]
            if a.status is AssertionStatus.CONFIRMED and known[1].verdict is Verdict.MATCH:
                if finalized is None or a.l2_block_number >= finalized.l2_block_number:
                    finalized = a
        if finalized is not None:
            self._finalize(finalized)

    def _report(self, a: Assertion, judgement: Judgement) -> None:
        divergence = Divergence(
            assertion_id=a.id,
            parent_id=a.parent_id,
            status=a.status,
            inbox_entries=a.inbox_entries,
            l2_block_number=a.l2_block_number,
            asserted_root=a.output_root,
            our_block=judgement.our_block,
            our_root=judgement.ours,
            reason=judgement.reason,
        )
        self.metrics.divergences.inc()
        log.error("DIVERGENCE: %s", divergence.describe())
        try:
            self.handoff(divergence)
        except Exception:  # the dispute agent failing must not stop verification
            log.exception("dispute hand-off failed for assertion %d", a.id)

    def _finalize(self, a: Assertion) -> None:
        current = self.chain.head(Head.FINALIZED)
        if a.l2_block_number == current.block_number or a.l2_block_number > self.chain.head(Head.SAFE).block_number:
            return  # already there, or not re-derived yet after an L1 reorg
        header = self.chain.header_by_number(a.l2_block_number)
        self.chain.set_head(Head.FINALIZED, header.hash)
        log.info("finalized head: block %d (confirmed assertion %d)", a.l2_block_number, a.id)

    def _forget_beyond(self, entries: int) -> None:
        """After an L1 reorg: assertions past the kept entries may be gone or say other things."""
        self._assertions.forget_beyond(entries)
        for i in [i for i, (content, _) in self._verdicts.items() if content[2] > entries]:
            del self._verdicts[i]

    # -- heads ----------------------------------------------------------------------------

    def update_heads(self) -> None:
        heads = self.chain.heads()
        self.metrics.head_block.labels(head="unsafe").set(heads.unsafe.block_number)
        self.metrics.head_block.labels(head="safe").set(heads.safe.block_number)
        self.metrics.head_block.labels(head="finalized").set(heads.finalized.block_number)
        self.metrics.inbox_entries.set(self.replayer.entries)


# -- the service -----------------------------------------------------------------------------


class VerifierService:
    """`start()` opens the chain, connects L1, binds the ports and starts replaying; `stop()` undoes it."""

    def __init__(self, config: VerifierConfig, handoff: DisputeHandoff | None = None) -> None:
        self.config = config
        self.handoff: DisputeHandoff = handoff if handoff is not None else DivergenceLog()
        self.metrics = VerifierMetrics()
        self.rpc_port = config.rpc_port
        self.metrics_port = config.metrics_port
        self.chain: L2Chain | None = None
        self.verifier: Verifier | None = None
        self._stop = threading.Event()
        self._replay_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self.rpc: JsonRpc | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> VerifierService:
        """Raises ConfigError for a bad deployment, genesis or L1 endpoint; nothing is left running."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        config = self.config
        backends = require_fast_backends()
        deployment = Deployment.load(config.deployment)
        spec = deployment.chain_spec(config.genesis)
        w3 = deployment.connect(config.l1_rpc)
        Path(config.datadir).mkdir(parents=True, exist_ok=True)
        chain = self.chain = L2Chain.open(config.datadir, spec)
        reader = InboxReader(w3, deployment, confirmations=config.confirmations)
        replayer = Replayer(chain, reader)
        rollup = RollupBinding(w3, deployment.contracts["Rollup"])
        agent = make_agent(w3, deployment, replayer, config) if config.dispute_key else None
        self.verifier = Verifier(
            replayer, reader, rollup, self.metrics, self.handoff, config.entries_per_step, agent
        )
        if agent is not None:
            log.info("verifier: dispute agent on, L1 account %s", agent.address)
        head = chain.head(Head.UNSAFE)
        log.info(
            "verifier: chain %d at block %d (0x%s) after %d inbox entries; keccak=%s ecc=%s",
            spec.chain_id, head.block_number, head.hash.hex(), replayer.entries, backends.keccak, backends.ecc,
        )
        self._start_servers(chain)
        self._replay_thread = threading.Thread(
            target=self.verifier.run, args=(self._stop, config.poll_interval), name="verifier-replay", daemon=True
        )
        self._replay_thread.start()
        log.info(
            "verifier: JSON-RPC on %s:%d, metrics on %s:%d, L1 %s (%d confirmations)",
            config.rpc_host, self.rpc_port, config.metrics_host, self.metrics_port, config.l1_rpc,
            config.confirmations,
        )

    def stop(self) -> None:
        """Let the replay thread finish its entry, close the servers, close the chain."""
        self._stop.set()
        if self._replay_thread is not None:
            self._replay_thread.join(STOP_TIMEOUT_SECONDS)
            if self._replay_thread.is_alive():
                log.error("replay thread did not stop within %ds", STOP_TIMEOUT_SECONDS)
            self._replay_thread = None
        if self._loop is not None:
            self._on_loop(self._stop_servers())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(10)
            self._loop.close()
            self._loop = None
        if self.rpc is not None:
            self.rpc.close()
            self.rpc = None
        if self.chain is not None:
            self.chain.close()
            self.chain = None

    def wait_caught_up(self, timeout: float = 60.0) -> None:
        """Block until a poll finds nothing more to replay (tests, tools)."""
        assert self.verifier is not None
        deadline = time.monotonic() + timeout
        target = self.verifier.reader.confirmed_head()
        while self.verifier.synced_l1_block < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"verifier synced to L1 block {self.verifier.synced_l1_block}, not {target}")
            time.sleep(0.02)

    # -- HTTP ---------------------------------------------------------------------------

    def _on_loop(self, coro: Any) -> Any:
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(30)

    def _start_servers(self, chain: L2Chain) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="verifier-http", daemon=True)
        self._loop_thread.start()
        self.rpc = self._make_rpc(chain)
        c = self.config
        rpc = rpc_app(self._rpc, c.rpc_max_body_bytes)
        self.rpc_port = self._on_loop(serve(rpc, c.rpc_host, c.rpc_port, self._runners))
        metrics = metrics_app(self.metrics.exposition, self._refresh_heads)
        self.metrics_port = self._on_loop(serve(metrics, c.metrics_host, c.metrics_port, self._runners))

    def _make_rpc(self, chain: L2Chain) -> JsonRpc:
        """The shared read-only JSON-RPC (eth_sendRawTransaction answers that this node cannot)."""
        config = self.config
        settings = RpcSettings(
            client_version=CLIENT_VERSION,
            max_batch=config.rpc_max_batch,
            logs_max_blocks=config.logs_max_blocks,
            gas_cap=config.gas_cap,
        )
        rpc = JsonRpc(chain, settings, observe=self.metrics.observe_rpc)
        rpc.register("rollup_syncStatus", self._sync_status)
        return rpc

    def _sync_status(self, params: list[Any]) -> dict[str, Any]:
        """The heads plus how far derivation has read L1."""
        assert self.rpc is not None and self.verifier is not None
        return {
            **self.rpc.rollup_get_heads(params),
            "inboxEntries": hex(self.verifier.replayer.entries),
            "l1SyncedBlock": hex(max(self.verifier.synced_l1_block, 0)),
        }

    def _rpc(self) -> JsonRpc:
        assert self.rpc is not None
        return self.rpc

    def _refresh_heads(self) -> None:
        if self.verifier is not None and self.chain is not None:
            self.verifier.update_heads()

    async def _stop_servers(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

