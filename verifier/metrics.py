"""Prometheus metrics of the verifier, `rollup_verifier_<name>_<unit>`, on their own registry.

One registry per verifier instance, so several verifiers (tests) can live in one process.
Labels are bounded: the three heads and the two final verdicts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

NS = "rollup_verifier"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REPLAY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
VERDICTS = ("match", "mismatch")


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
        for head in ("unsafe", "safe", "finalized"):
            self.head_block.labels(head=head)
        for verdict in VERDICTS:
            self.checked.labels(verdict=verdict)

    def observe_rpc(self, method: str, outcome: str, seconds: float) -> None:
        """`l2.rpc.Observer`: the method label is already bounded by the method table."""
        self.rpc_requests.labels(method=method, outcome=outcome).inc()
        self.rpc_latency.labels(method=method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
