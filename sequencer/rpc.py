"""The sequencer's JSON-RPC: `l2.rpc` (every read method) plus what only the sequencer has.

It plugs in `eth_sendRawTransaction` (decoded and sender-recovered in worker processes for
a whole request at once, then admitted to the pool in request order; gRPC's
SubmitTransaction takes the same `Submission` path), the pool's view of pending nonces and
transactions, `paused` in `rollup_getHeads`, and each admitted transaction to the pending-
transaction filters (`l2.filters`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.abc import SignedTransactionAPI
from prometheus_client import Counter, Histogram

from l2.chain import L2Chain
from l2.errors import InvalidTransaction
from l2.ethjson import data
from l2.rpc import JsonRpc, RpcError, RpcSettings, Staged, arguments, p_bytes, tx_error
from sequencer.config import SequencerConfig
from sequencer.mempool import Mempool, PoolRejection
from sequencer.metrics import SequencerMetrics
from sequencer.producer import BlockProducer
from sequencer.recovery import SenderRecovery

CLIENT_VERSION = "pyrollup-sequencer/v0.1.0/python"


def sequencer_rpc(
    chain: L2Chain,
    mempool: Mempool,
    producer: BlockProducer,
    metrics: SequencerMetrics,
    config: SequencerConfig,
    recovery: SenderRecovery,
) -> JsonRpc:
    settings = RpcSettings(
        client_version=CLIENT_VERSION,
        max_batch=config.rpc_max_batch,
        logs_max_blocks=config.logs_max_blocks,
        gas_cap=config.gas_cap,
        suggested_tip_wei=config.suggested_tip_wei,
    )
    rpc = JsonRpc(chain, settings, pending=mempool, observe=_RequestMetrics(metrics))
    submission = Submission(mempool, producer, metrics, recovery, rpc.filters.transaction_arrived)
    rpc.register("eth_sendRawTransaction", Staged(submission.prepare, submission.apply))

    def heads(params: list[Any]) -> dict[str, Any]:
        return {**rpc.rollup_get_heads(params), "paused": producer.paused}

    rpc.register("rollup_getHeads", heads)
    rpc.register("rollup_syncStatus", heads)
    metrics.rpc_methods = rpc.methods
    return rpc


class Submission:
    """Transaction admission, shared by JSON-RPC and gRPC: decode off the loop, then admit in order.

    Decoding and sender recovery happen in `SenderRecovery`'s worker processes for a whole
    request at once (`prepare`, `decode`); `admit` then runs the pool's rules on the loop.
    """

    def __init__(
        self, mempool: Mempool, producer: BlockProducer, metrics: SequencerMetrics, recovery: SenderRecovery,
        admitted: Callable[[SignedTransactionAPI], None] | None = None,
    ) -> None:
        self.mempool = mempool
        self.producer = producer
        self.metrics = metrics
        self.recovery = recovery
        self.admitted = admitted  # told of each pooled transaction (pending-transaction filters)

    async def prepare(self, calls: list[list[Any]]) -> list[Any]:
        """Each eth_sendRawTransaction call's decoded transaction, or the error its params or bytes raise."""
        out: list[Any] = [None] * len(calls)
        raws: list[bytes] = []
        positions: list[int] = []
        for i, params in enumerate(calls):
            try:
                (raw_hex,) = arguments(params, 1, 1)
                raws.append(p_bytes(raw_hex, "transaction"))
                positions.append(i)
            except RpcError as exc:
                out[i] = exc
        for i, decoded in zip(positions, await self.recovery.decode(raws), strict=True):
            out[i] = decoded
        return out

    def apply(self, params: list[Any], prepared: Any) -> str:
        """eth_sendRawTransaction's answer: the hash, or the geth-shaped error."""
        if isinstance(prepared, BaseException) and not isinstance(prepared, InvalidTransaction):
            raise prepared
        try:
            tx = self.admit(prepared)
        except PoolRejection as exc:
            raise RpcError(-32000, exc.message) from None
        except InvalidTransaction as exc:
            raise tx_error(exc) from None
        return data(tx.hash)

    async def submit(self, raw: bytes) -> SignedTransactionAPI:
        """One raw transaction through the same path (gRPC): decoded in a worker, then admitted."""
        (decoded,) = await self.recovery.decode([raw])
        return self.admit(decoded)

    def admit(self, decoded: SignedTransactionAPI | InvalidTransaction) -> SignedTransactionAPI:
        """Pool a decoded transaction, or raise the InvalidTransaction it fails (counted by rule)."""
        try:
            if isinstance(decoded, InvalidTransaction):
                raise decoded
            self.mempool.add(decoded)
        except InvalidTransaction as exc:
            self.metrics.reject(exc.rule)
            raise
        if self.admitted is not None:
            self.admitted(decoded)
        self.producer.poke()
        return decoded


class _RequestMetrics:
    """`l2.rpc.Observer` onto the sequencer's counters, with each label's child looked up once."""

    def __init__(self, metrics: SequencerMetrics) -> None:
        self.metrics = metrics
        self._counters: dict[tuple[str, str], Counter] = {}
        self._latency: dict[str, Histogram] = {}

    def __call__(self, method: str, outcome: str, seconds: float) -> None:
        counter = self._counters.get((method, outcome))
        if counter is None:
            counter = self._counters[(method, outcome)] = self.metrics.rpc_requests.labels(
                method=method, outcome=outcome
            )
        latency = self._latency.get(method)
        if latency is None:
            latency = self._latency[method] = self.metrics.rpc_latency.labels(method=method)
        counter.inc()
        latency.observe(seconds)
