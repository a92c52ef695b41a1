"""The sequencer service: chain + mempool + producer behind JSON-RPC (HTTP), gRPC and /metrics.

Everything network-facing runs on one asyncio loop; block building runs in the producer's
worker thread. `start` binds every port before returning, so callers can read the ports.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from l1.bindings import RollupBinding
from l1.deploy import Deployment
from l1.inbox_reader import InboxReader
from l2.backends import require_fast_backends
from l2.chain import L2Chain
from l2.http import metrics_app, rpc_app, serve
from l2.spec import ChainSpec, load_genesis
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.l1_follower import L1Follower
from sequencer.mempool import HeadAccounts, Mempool
from sequencer.metrics import SequencerMetrics
from sequencer.producer import BlockProducer, L1OriginSource
from sequencer.recovery import SenderRecovery
from sequencer.rpc import sequencer_rpc

log = logging.getLogger(__name__)


def load_spec(config: SequencerConfig) -> ChainSpec:
    """The chain spec; with an L1 deployment it must be the deployed one (ConfigError otherwise)."""
    if config.deployment:
        return Deployment.load(config.deployment).chain_spec(config.genesis)
    return load_genesis(config.genesis)


def follow_l1(config: SequencerConfig, spec: ChainSpec, chain: L2Chain | None = None) -> L1Follower:
    """The L1 view of a sequencer that has an L1 (origins, deposits, safe and finalized heads).

    With `chain`, every confirmed inbox entry is checked against our blocks (forced inclusions).
    """
    deployment = Deployment.load(config.deployment)
    w3 = deployment.connect(config.l1_rpc)
    reader = InboxReader(w3, deployment, confirmations=config.l1_confirmations)
    rollup = RollupBinding(w3, deployment.contracts["Rollup"])
    return L1Follower(reader, spec.chain_id, rollup, config.l1_confirmations, config.l1_poll_interval, chain)


class Sequencer:
    def __init__(self, config: SequencerConfig, l1_origin: L1OriginSource | None = None) -> None:
        self.config = config
        self.spec = load_spec(config)
        self.l1_origin = l1_origin
        self.chain: L2Chain | None = None
        self.rpc_port = config.rpc_port
        self.grpc_port = config.grpc_port
        self.metrics_port = config.metrics_port
        self._runners: list[web.AppRunner] = []
        self._grpc = None
        self.follower: L1Follower | None = None

    async def start(self) -> None:
        require_fast_backends()
        Path(self.config.datadir).mkdir(parents=True, exist_ok=True)
        chain = self.chain = L2Chain.open(self.config.datadir, self.spec)

        head = chain.head(Head.UNSAFE)
        self.mempool = Mempool(
            HeadAccounts(chain),
            self.spec.next_base_fee(head.base_fee_per_gas, head.gas_used),
            per_sender=self.config.mempool_per_sender,
            global_cap=self.config.mempool_global,
            min_tip=self.config.min_tip_wei,
        )
        self.metrics = SequencerMetrics()
        if self.l1_origin is None and self.config.l1_rpc:
            self.follower = follow_l1(self.config, self.spec, chain)
            self.follower.start()
            self.l1_origin = self.follower
        self.producer = BlockProducer(chain, self.mempool, self.metrics, self.config.block_time, self.l1_origin)
        if self.config.test_only_ignore_deposits:
            self.producer.ignore_deposits = True
            log.warning(
                "!!! TEST-ONLY MODE: test_only_ignore_deposits is on: this sequencer CENSORS every deposit; "
                "they reach L2 only through Inbox.forceInclude after the force-inclusion delay. "
                "Never run this outside tests. !!!"
            )
        self.recovery = SenderRecovery(self.spec, self.config.recovery_workers)
        self.recovery.start()
        self.rpc = sequencer_rpc(chain, self.mempool, self.producer, self.metrics, self.config, self.recovery)
        self.producer.update_gauges()
        log.info("chain %d at block %d (0x%s)", self.spec.chain_id, head.block_number, head.hash.hex())

        c = self.config
        app = rpc_app(lambda: self.rpc, c.rpc_max_body_bytes)
        self.rpc_port = await serve(app, c.rpc_host, c.rpc_port, self._runners)
        metrics = metrics_app(self.metrics.exposition, self.producer.update_gauges)
        self.metrics_port = await serve(metrics, c.metrics_host, c.metrics_port, self._runners)
        from sequencer.grpc_api import start_grpc

        self._grpc, self.grpc_port = await start_grpc(self, self.config.grpc_host, self.config.grpc_port)
        self.producer.start()
        log.info(
            "serving JSON-RPC on %s:%d, gRPC on %s:%d, metrics on %s:%d; block time %.2fs",
            self.config.rpc_host, self.rpc_port, self.config.grpc_host, self.grpc_port,
            self.config.metrics_host, self.metrics_port, self.config.block_time,
        )

    async def stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace=0.5)
        for runner in self._runners:
            await runner.cleanup()
        if hasattr(self, "producer"):
            await self.producer.stop()
        if hasattr(self, "rpc"):
            self.rpc.close()
        if hasattr(self, "recovery"):
            self.recovery.close()
        if self.chain is not None:
            self.chain.close()
            self.chain = None

