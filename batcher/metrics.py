"""Prometheus metrics of the batcher and the proposer (`rollup_batcher_*`, `rollup_proposer_*`)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from l1.transactions import L1Transactor


class L1AccountMetrics:
    """What both roles show of their L1 account: balance, nonce, fees, alarms."""

    def __init__(self, ns: str, registry: CollectorRegistry) -> None:
        r = registry
        self.balance = Gauge(f"{ns}_l1_balance_wei", "Balance of the signing account on L1", registry=r)
        self.low_balance = Gauge(f"{ns}_l1_low_balance", "1 while the balance is below min_balance", registry=r)
        self.nonce = Gauge(f"{ns}_l1_nonce", "Next nonce of the signing account", registry=r)
        self.fees = Gauge(f"{ns}_l1_fees_paid_wei", "L1 fees paid since start", registry=r)
        self.resubmissions = Gauge(f"{ns}_l1_resubmissions", "L1 transactions re-sent with a fee bump", registry=r)

    def update_transactor(self, transactor: L1Transactor) -> None:
        stats = transactor.stats()
        if stats.balance_wei >= 0:
            self.balance.set(stats.balance_wei)
        self.low_balance.set(1 if stats.balance_low else 0)
        self.nonce.set(max(stats.next_nonce, 0))
        self.fees.set(stats.fees_paid_wei_total)
        self.resubmissions.set(stats.resubmissions_total)


class BatcherMetrics(L1AccountMetrics):
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ns = "rollup_batcher"
        super().__init__(ns, r)
        self.posted = Counter(f"{ns}_batches_posted_total", "Batches appended to the Inbox", registry=r)
        self.failed = Counter(f"{ns}_batches_failed_total", "Batch posts that failed (retried)", registry=r)
        self.bytes_in = Counter(f"{ns}_bytes_in_total", "Signed L2 transaction bytes batched", registry=r)
        self.bytes_out = Counter(f"{ns}_bytes_out_total", "Batch payload bytes posted to L1", registry=r)
        self.ratio = Gauge(f"{ns}_compression_ratio", "Bytes in / bytes out of the last batch", registry=r)
        self.last_batched = Gauge(f"{ns}_last_batched_block_number", "Last L2 block on L1", registry=r)
        self.pending_blocks = Gauge(
            f"{ns}_lag_blocks", "L2 blocks received from the sequencer and not yet on L1", registry=r
        )


class ProposerMetrics(L1AccountMetrics):
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ns = "rollup_proposer"
        super().__init__(ns, r)
        self.safe_head = Gauge(f"{ns}_safe_block_number", "L2 block derived from L1 by the proposer", registry=r)
        self.last_proposed = Gauge(f"{ns}_last_proposed_block_number", "L2 block of the last assertion", registry=r)
        self.proposed = Counter(f"{ns}_assertions_posted_total", "Assertions created", registry=r)
        self.confirmed = Counter(f"{ns}_assertions_confirmed_total", "Assertions confirmed by us", registry=r)
        self.failed = Counter(f"{ns}_assertions_failed_total", "Assertion transactions that failed", registry=r)
        self.bonds_locked = Gauge(f"{ns}_bonds_locked_wei", "Bonds of this proposer's pending assertions", registry=r)
        self.dispute_open = Gauge(f"{ns}_disputes_open", "Games against our assertions still open", registry=r)
        self.dispute_moves = Counter(
            f"{ns}_dispute_moves_total", "Dissection moves of our defender, by level", ["level"], registry=r
        )
        self.dispute_proofs = Counter(f"{ns}_dispute_proofs_total", "One-step proofs our defender landed", registry=r)
        self.dispute_level2_needed = Counter(
            f"{ns}_dispute_level2_needed_total", "ALERT: games at level 2 with no step trace (no source)", registry=r
        )
        self.dispute_unprovable = Counter(
            f"{ns}_dispute_unprovable_steps_total", "ALERT: games stuck at a step we cannot prove, by step kind",
            ["step"], registry=r,
        )
        self.dispute_outcomes = Counter(f"{ns}_dispute_outcomes_total", "Games ended, by outcome", ["outcome"],
                                        registry=r)
        self._dispute_seen: dict[str, int] = {}

    def sync_dispute(self, stats: Any) -> None:
        """Copy the defender's `l1.dispute_agent.AgentStats` into the counters (running totals)."""
        self.dispute_open.set(stats.open_games)
        totals: dict[tuple[Counter, str, str], int] = {
            (self.dispute_proofs, "", ""): stats.proofs,
            (self.dispute_level2_needed, "", ""): stats.level2_needed,
            (self.dispute_outcomes, "outcome", "won"): stats.won,
            (self.dispute_outcomes, "outcome", "lost"): stats.lost,
        }
        for level, n in stats.moves_by_level.items():
            totals[(self.dispute_moves, "level", str(level))] = n
        for step, n in stats.unprovable.items():
            totals[(self.dispute_unprovable, "step", step)] = n
        for (counter, label, value), total in totals.items():
            key = f"{id(counter)}:{value}"
            delta = total - self._dispute_seen.get(key, 0)
            if delta > 0:
                (counter.labels(**{label: value}) if label else counter).inc(delta)
            self._dispute_seen[key] = total
