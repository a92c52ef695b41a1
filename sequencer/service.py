"""The sequencer service: chain + mempool + producer behind JSON-RPC (HTTP), gRPC and /metrics.

Everything network-facing runs on one asyncio loop; block building runs in the producer's
worker thread. `start` binds every port before returning, so callers can read the ports.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from l2.backends import require_fast_backends
from l2.chain import L2Chain
from l2.spec import ChainSpec, devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.mempool import Mempool
from sequencer.metrics import SequencerMetrics
from sequencer.producer import BlockProducer, L1OriginSource
from sequencer.rpc import JsonRpc

log = logging.getLogger(__name__)


def load_spec(config: SequencerConfig) -> ChainSpec:
    return ChainSpec.load(config.genesis) if config.genesis else devnet_spec()


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

    async def start(self) -> None:
        require_fast_backends()
        Path(self.config.datadir).mkdir(parents=True, exist_ok=True)
        chain = self.chain = L2Chain.open(self.config.datadir, self.spec)

        def read_account(sender: bytes) -> tuple[int, int]:
            state = chain.state_at(chain.head(Head.UNSAFE))
            return state.get_nonce(sender), state.get_balance(sender)

        head = chain.head(Head.UNSAFE)
        self.mempool = Mempool(
            read_account,
            self.spec.next_base_fee(head.base_fee_per_gas, head.gas_used),
            per_sender=self.config.mempool_per_sender,
            global_cap=self.config.mempool_global,
            min_tip=self.config.min_tip_wei,
        )
        self.metrics = SequencerMetrics()
        self.producer = BlockProducer(chain, self.mempool, self.metrics, self.config.block_time, self.l1_origin)
        self.rpc = JsonRpc(chain, self.mempool, self.producer, self.metrics, self.config)
        self.producer.update_gauges()
        log.info("chain %d at block %d (0x%s)", self.spec.chain_id, head.block_number, head.hash.hex())

        self.rpc_port = await self._serve(self._rpc_app(), self.config.rpc_host, self.config.rpc_port)
        self.metrics_port = await self._serve(self._metrics_app(), self.config.metrics_host, self.config.metrics_port)
        from sequencer.grpc_api import start_grpc

        self._grpc, self.grpc_port = await start_grpc(self, self.config.grpc_host, self.config.grpc_port)
        self.producer.start()
        log.info(
            "serving JSON-RPC on %s:%d, gRPC on %s:%d, metrics on %s:%d; block time %.2fs",
            self.config.rpc_host, self.rpc_port, self.config.grpc_host, self.grpc_port,
            self.config.metrics_host, self.metrics_port, self.config.block_time,
        )

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(grace=0.5)
        for runner in self._runners:
            await runner.cleanup()
        if hasattr(self, "producer"):
            await self.producer.stop()
        if hasattr(self, "rpc"):
            self.rpc.readers.shutdown(wait=True)
        if self.chain is not None:
            self.chain.close()
            self.chain = None

    async def _serve(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runners.append(runner)
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        return int(sockets[0].getsockname()[1]) if sockets else port

    def _rpc_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.rpc_max_body_bytes)

        async def post(request: web.Request) -> web.Response:
            body = await request.read()
            answer = await self.rpc.handle(body)
            if answer is None:
                return web.Response(status=200)
            return web.Response(body=answer, content_type="application/json")

        app.router.add_post("/", post)
        return app

    def _metrics_app(self) -> web.Application:
        app = web.Application()

        async def get(request: web.Request) -> web.Response:
            self.producer.update_gauges()
            return web.Response(body=self.metrics.exposition(), headers={"Content-Type": "text/plain; version=0.0.4"})

        app.router.add_get("/metrics", get)
        return app
