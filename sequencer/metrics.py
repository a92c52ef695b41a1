"""Prometheus metrics of the sequencer, `rollup_sequencer_<name>_<unit>`, on their own registry.

One registry per service instance so several sequencers (tests) can live in one process.
Label values are bounded: heads, mempool states, rule names and known RPC methods only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from l2.transactions import RULES
from sequencer.mempool import POOL_REASONS

NS = "rollup_sequencer"
REJECT_REASONS = RULES + POOL_REASONS
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class SequencerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc_methods: frozenset[str] = frozenset()  # set by the JSON-RPC server from its method table
        r = self.registry
        self.head_block = Gauge(f"{NS}_head_block_number", "Block number of each head", ["head"], registry=r)
        self.block_build = Histogram(
            f"{NS}_block_build_seconds", "Time to execute, seal and commit one block",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.block_txs = Histogram(
            f"{NS}_block_transactions_count", "Transactions per sealed block",
            buckets=(0, 1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=r,
        )
        self.block_gas = Histogram(
            f"{NS}_block_gas_used", "Gas used per sealed block",
            buckets=(0, 21_000, 1e5, 1e6, 3e6, 1e7, 1.5e7, 3e7), registry=r,
        )
        self.txs_included = Counter(f"{NS}_transactions_included_total", "Transactions sealed in blocks", registry=r)
        self.gas_included = Counter(f"{NS}_gas_used_total", "Gas used by sealed blocks", registry=r)
        self.mempool = Gauge(f"{NS}_mempool_transactions_count", "Transactions in the pool", ["state"], registry=r)
        self.rejected = Counter(
            f"{NS}_transactions_rejected_total", "Transactions refused at submission, by rule", ["reason"], registry=r
        )
        self.dropped = Counter(
            f"{NS}_transactions_dropped_total", "Pooled transactions dropped at inclusion, by rule", ["reason"],
            registry=r,
        )
        self.rpc_requests = Counter(
            f"{NS}_rpc_requests_total", "JSON-RPC requests by method and outcome", ["method", "outcome"], registry=r
        )
        self.rpc_latency = Histogram(
            f"{NS}_rpc_latency_seconds", "JSON-RPC request handling time", ["method"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.paused = Gauge(f"{NS}_paused_bool", "1 while block production is paused", registry=r)
        for head in ("unsafe", "safe", "finalized"):
            self.head_block.labels(head=head)
        for state in ("pending", "queued"):
            self.mempool.labels(state=state)

    def method_label(self, method: object) -> str:
        """Bounded label: unknown or malformed method names collapse to "unknown"."""
        return method if isinstance(method, str) and method in self.rpc_methods else "unknown"

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason=reason if reason in REJECT_REASONS else "other").inc()

    def drop(self, reason: str) -> None:
        self.dropped.labels(reason=reason if reason in REJECT_REASONS else "other").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
