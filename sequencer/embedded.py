"""Run a sequencer on a background thread's event loop, for synchronous callers (tests, tools).

The real servers bind real loopback ports, so clients talk to it exactly as to `rollup sequencer`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from sequencer.config import SequencerConfig
from sequencer.producer import L1OriginSource
from sequencer.service import Sequencer

T = TypeVar("T")


class EmbeddedSequencer:
    def __init__(self, config: SequencerConfig, l1_origin: L1OriginSource | None = None) -> None:
        self.sequencer = Sequencer(config, l1_origin)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sequencer-loop", daemon=True)

    def __enter__(self) -> EmbeddedSequencer:
        self._thread.start()
        try:
            self.run(self.sequencer.start())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self.sequencer.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the sequencer's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def rpc_url(self) -> str:
        return f"http://{self.sequencer.config.rpc_host}:{self.sequencer.rpc_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.sequencer.config.grpc_host}:{self.sequencer.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.sequencer.config.metrics_host}:{self.sequencer.metrics_port}/metrics"
