"""The gRPC API of proto/sequencer.proto (grpc.aio, on the service's event loop) plus grpc health.

SubmitTransaction admits through `sequencer.rpc.Submission`, exactly as eth_sendRawTransaction:
decoding and sender recovery in the worker processes, the pool's rules on the loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
import rlp
from eth.abc import BlockHeaderAPI
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from l2.errors import InvalidTransaction, UnknownBlock
from l2.predeploys import L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT
from l2.types import Head
from proto import sequencer_pb2 as pb
from proto import sequencer_pb2_grpc as pb_grpc
from sequencer.rpc import Submission

if TYPE_CHECKING:
    from sequencer.service import Sequencer

SERVICE_NAME = "rollup.v1.Sequencer"
STREAM_POLL_SECONDS = 1.0


class SequencerServicer(pb_grpc.SequencerServicer):
    def __init__(self, service: Sequencer) -> None:
        self.service = service
        self.submission = Submission(
            service.mempool, service.producer, service.metrics, service.recovery,
            service.rpc.filters.transaction_arrived,
        )

    @property
    def chain(self):  # noqa: ANN201
        return self.service.chain

    async def SubmitTransaction(
        self, request: pb.SubmitTransactionRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitTransactionResponse:
        try:
            tx = await self.submission.submit(request.raw_transaction)
        except InvalidTransaction as exc:  # counted by rule in `admit`
            return pb.SubmitTransactionResponse(rejected_rule=exc.rule, message=exc.message)
        return pb.SubmitTransactionResponse(transaction_hash=tx.hash)

    async def GetBlock(self, request: pb.GetBlockRequest, context: grpc.aio.ServicerContext) -> pb.Block:
        try:
            if request.WhichOneof("block") == "hash":
                header = self.chain.header_by_hash(request.hash)
            else:
                header = self.chain.header_by_number(request.number)
        except UnknownBlock as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return self._block(header)

    async def StreamBlocks(
        self, request: pb.StreamBlocksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.Block]:
        number = request.from_number
        while True:
            head = self.chain.head(Head.UNSAFE).block_number
            while number <= head:
                yield self._block(self.chain.header_by_number(number))
                number += 1
            await self.service.producer.wait_new_block(STREAM_POLL_SECONDS)

    async def GetStatus(self, request: pb.GetStatusRequest, context: grpc.aio.ServicerContext) -> pb.Status:
        return self._status()

    async def PauseSequencing(self, request: pb.PauseRequest, context: grpc.aio.ServicerContext) -> pb.Status:
        self.service.producer.paused = True
        self.service.producer.update_gauges()
        return self._status()

    async def ResumeSequencing(
        self, request: pb.ResumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.Status:
        self.service.producer.paused = False
        self.service.producer.update_gauges()
        return self._status()

    def _status(self) -> pb.Status:
        heads = self.chain.heads()
        pending, queued = self.service.mempool.counts()
        return pb.Status(
            unsafe=_ref(heads.unsafe),
            safe=_ref(heads.safe),
            finalized=_ref(heads.finalized),
            paused=self.service.producer.paused,
            chain_id=self.service.spec.chain_id,
            mempool_pending=pending,
            mempool_queued=queued,
        )

    def _block(self, header: BlockHeaderAPI) -> pb.Block:
        block = self.chain.block(header)
        origin = self.chain.state_at(header).get_storage(L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT)
        return pb.Block(
            number=header.block_number,
            hash=header.hash,
            parent_hash=header.parent_hash,
            timestamp=header.timestamp,
            l1_origin_number=origin,
            transactions=[tx.encode() for tx in block.transactions],
            header_rlp=rlp.encode(header),
            block_rlp=rlp.encode(block),
            state_root=header.state_root,
            gas_used=header.gas_used,
        )


def _ref(header: BlockHeaderAPI) -> pb.HeadRef:
    return pb.HeadRef(number=header.block_number, hash=header.hash, timestamp=header.timestamp)


async def start_grpc(service: Sequencer, host: str, port: int) -> tuple[grpc.aio.Server, int]:
    """Bind and start the gRPC server; returns it and the bound port."""
    server = grpc.aio.server()
    pb_grpc.add_SequencerServicer_to_server(SequencerServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, bound
