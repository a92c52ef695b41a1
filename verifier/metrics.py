"""Prometheus metrics of the verifier, `rollup_verifier_<name>_<unit>`, on their own registry.

One registry per verifier instance, so several verifiers (tests) can live in one process.
Labels are bounded: the three heads, the two final verdicts, and the ids of the dispute games
open right now (a closed game's series is removed).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

NS = "rollup_verifier"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REPLAY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
VERDICTS = ("match", "mismatch")


def sync_labelled(seen: dict[str, int], label: str, counter: Counter, values: dict[Any, int]) -> None:
    """Raise `counter{label=key}` to each running total in `values` (`seen` remembers the last copy)."""
    for key, value in values.items():
        name = f"{label}:{key}"
        delta = value - seen.get(name, 0)
        if delta > 0:
            counter.labels(**{label: str(key)}).inc(delta)
        seen[name] = value


class VerifierMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.head_block = Gauge(f"{NS}_head_block_number", "Block number of each head", ["head"], registry=r)
        self.inbox_entries = Gauge(f"{NS}_inbox_entries", "Inbox entries replayed", registry=r)
        self.l1_head = Gauge(f"{NS}_l1_head_block_number", "L1 head seen at the last poll", registry=r)
        self.l1_synced = Gauge(
            f"{NS}_l1_synced_block_number", "Newest L1 block whose inbox entries are all replayed", registry=r
        )
        self.l1_lag = Gauge(
            f"{NS}_l1_lag_blocks", "L1 head minus the newest L1 block whose inbox entries are all replayed",
            registry=r,
        )
        self.blocks = Counter(f"{NS}_blocks_replayed_total", "L2 blocks derived from L1 and executed", registry=r)
        self.txs = Counter(f"{NS}_transactions_replayed_total", "Transactions executed by replay", registry=r)
        self.skipped = Counter(
            f"{NS}_transactions_skipped_total", "Derived transactions that failed a stateful rule (no-ops)",
            registry=r,
        )
        self.replay = Histogram(
            f"{NS}_replay_seconds", "Time to derive, execute and commit one inbox entry",
            buckets=REPLAY_BUCKETS, registry=r,
        )
        self.invalid_batches = Counter(
            f"{NS}_invalid_batches_total", "Inbox entries that are invalid batches (their messages are no-ops)",
            registry=r,
        )
        self.reorgs = Counter(f"{NS}_l1_reorgs_total", "L1 reorgs that removed replayed inbox entries", registry=r)
        self.checked = Counter(
            f"{NS}_assertions_checked_total", "Assertions judged against our own output root", ["verdict"], registry=r
        )
        self.divergences = Counter(
            f"{NS}_divergences_total", "Assertions whose output root differs from ours", registry=r
        )
        self.errors = Counter(f"{NS}_poll_errors_total", "Polls that failed (L1 unreachable, ...)", registry=r)
        self.rpc_requests = Counter(
            f"{NS}_rpc_requests_total", "JSON-RPC requests by method and outcome", ["method", "outcome"], registry=r
        )
        self.rpc_latency = Histogram(
            f"{NS}_rpc_latency_seconds", "JSON-RPC request handling time", ["method"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.disputes_open = Gauge(f"{NS}_disputes_open", "Dispute games open on L1 that we are a party to", registry=r)
        self.dispute_clock = Gauge(
            f"{NS}_dispute_clock_remaining_seconds", "Seconds left on our side's chess clock, by open game", ["game"],
            registry=r,
        )
        self.dispute_counters = {
            name: Counter(f"{NS}_dispute_{name}_total", help_, registry=r)
            for name, help_ in (
                ("challenges", "Dispute games we opened against wrong assertions"),
                ("moves", "Dissection moves we posted"),
                ("timeouts", "Games we ended by calling timeout on the opponent"),
                ("moots", "Games we ended as moot"),
                ("descendants_rejected", "Children of rejected assertions we rejected (rejectDescendant)"),
                ("won", "Dispute games we won"),
                ("lost", "Dispute games we lost"),
                ("level2_needed", "Games at level 2 with no step trace of the block (no source or none built)"),
                ("proofs", "One-step proofs we submitted (proveStep) that landed"),
                ("errors", "Dispute actions that failed (L1 refused or unreachable)"),
                ("reorged", "Games forgotten because an L1 reorg replaced the block that created them"),
            )
        }
        self.dispute_withdrawn = Counter(f"{NS}_dispute_withdrawn_wei_total", "Dispute credits withdrawn", registry=r)
        self.dispute_level_moves = Counter(
            f"{NS}_dispute_level_moves_total", "Dissection moves we posted, by game level (1 blocks, 2 steps)",
            ["level"], registry=r,
        )
        self.dispute_unprovable = Counter(
            f"{NS}_dispute_unprovable_steps_total",
            "ALERT: games stuck at a step we cannot prove (lost on time), by step kind", ["step"], registry=r,
        )
        self.dispute_unprovable_open = Gauge(
            f"{NS}_dispute_unprovable_open", "ALERT: open games stuck at a step we cannot prove", registry=r
        )
        self._dispute_seen: dict[str, int] = {}
        self._clock_games: set[str] = set()
        for level in ("1", "2"):
            self.dispute_level_moves.labels(level=level)
        for head in ("unsafe", "safe", "finalized"):
            self.head_block.labels(head=head)
        for verdict in VERDICTS:
            self.checked.labels(verdict=verdict)

    def observe_rpc(self, method: str, outcome: str, seconds: float) -> None:
        """`l2.rpc.Observer`: the method label is already bounded by the method table."""
        self.rpc_requests.labels(method=method, outcome=outcome).inc()
        self.rpc_latency.labels(method=method).observe(seconds)

    def sync_dispute(self, stats: Any) -> None:
        """Copy an `l1.dispute_agent.AgentStats` into the gauges and counters."""
        self.disputes_open.set(stats.open_games)
        current = {str(g) for g in stats.clocks}
        for label in self._clock_games - current:
            self.dispute_clock.remove(label)  # a closed game's series goes away
        self._clock_games = current
        for game, left in stats.clocks.items():
            self.dispute_clock.labels(game=str(game)).set(left)
        values = {name: getattr(stats, name) for name in self.dispute_counters}
        values["withdrawn_wei"] = stats.withdrawn_wei
        for name, value in values.items():
            delta = value - self._dispute_seen.get(name, 0)
            if delta > 0:
                (self.dispute_withdrawn if name == "withdrawn_wei" else self.dispute_counters[name]).inc(delta)
            self._dispute_seen[name] = value
        sync_labelled(self._dispute_seen, "level", self.dispute_level_moves, stats.moves_by_level)
        sync_labelled(self._dispute_seen, "step", self.dispute_unprovable, stats.unprovable)
        self.dispute_unprovable_open.set(len(stats.unprovable_games))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
