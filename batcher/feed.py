"""The sequencer's gRPC block stream, read on a background thread into a queue.

Reconnects after the sequencer restarts; `restart(n)` re-reads from block `n` (after the
batcher's position moved back because of an L1 reorg).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import grpc

from proto import sequencer_pb2 as pb
from proto import sequencer_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0


class BlockFeed:
    def __init__(self, target: str) -> None:
        self.target = target
        self.blocks: queue.Queue[pb.Block] = queue.Queue(maxsize=10_000)
        self._from = 0
        self._generation = 0
        self._lock = threading.Lock()
        self._call: grpc.Future | None = None
        self._stop = threading.Event()
        self.connected = False
        self._thread = threading.Thread(target=self._run, name="block-feed", daemon=True)

    def start(self, from_number: int) -> None:
        self._from = from_number
        self._thread.start()

    def restart(self, from_number: int) -> None:
        """Drop everything queued and stream again from `from_number`."""
        with self._lock:
            self._from = from_number
            self._generation += 1
            call = self._call
        if call is not None:
            call.cancel()
        while True:
            try:
                self.blocks.get_nowait()
            except queue.Empty:
                break

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                generation, start = self._generation, self._from
            try:
                with grpc.insecure_channel(self.target) as channel:
                    stub = pb_grpc.SequencerStub(channel)
                    call = stub.StreamBlocks(pb.StreamBlocksRequest(from_number=start))
                    with self._lock:
                        self._call = call
                    self.connected = True
                    for block in call:
                        with self._lock:
                            if generation != self._generation:
                                break
                            self._from = block.number + 1
                        self.blocks.put(block)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.CANCELLED:
                    log.warning("sequencer block stream at %s: %s; reconnecting", self.target, exc.code().name)
            finally:
                self.connected = False
                with self._lock:
                    self._call = None
            if not self._stop.is_set():
                time.sleep(RECONNECT_SECONDS if generation == self._generation else 0)
