"""Transaction decoding and sender recovery in worker processes, off the event loop's GIL.

Decoding a raw transaction and recovering its sender (`l2.transactions.decode_transaction`:
RLP, the stateless rules, ECDSA recovery) costs ~0.3 ms of pure Python per transaction. In
the sequencer's process that time is taken from block building, which holds the same GIL.
The workers return the decoded transactions pickled, sender and hash already cached (~10 us
to unpickle); the pool then admits them on the loop in request order.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from eth.abc import SignedTransactionAPI

from l2.errors import InvalidTransaction
from l2.spec import ChainSpec
from l2.transactions import decode_transaction

log = logging.getLogger(__name__)

PARENT_POLL_SECONDS = 1.0
MIN_CHUNK = 16  # below this a chunk's IPC costs more than spreading it over workers gains

Decoded = SignedTransactionAPI | InvalidTransaction
_Outcome = SignedTransactionAPI | tuple[str, str]  # what crosses the process boundary

_worker_spec: ChainSpec | None = None


def _init_worker(spec: ChainSpec) -> None:
    global _worker_spec
    _worker_spec = spec
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent stops us
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker holds its own queue's write end, so it would outlive a parent killed with -9."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def _ready() -> bool:
    return _worker_spec is not None


def _decode_chunk(raws: list[bytes]) -> list[_Outcome]:
    """Worker side: each transaction decoded with sender and hash cached, or its (rule, message)."""
    assert _worker_spec is not None
    out: list[_Outcome] = []
    for raw in raws:
        try:
            tx = decode_transaction(raw, _worker_spec)
        except InvalidTransaction as exc:  # its own pickling would lose `rule`: send the fields
            out.append((exc.rule, exc.message))
            continue
        tx.hash  # noqa: B018  (cached in the object, so it crosses pickled)
        out.append(tx)
    return out


def _decode_here(raws: Sequence[bytes], spec: ChainSpec) -> list[Decoded]:
    out: list[Decoded] = []
    for raw in raws:
        try:
            out.append(decode_transaction(raw, spec))
        except InvalidTransaction as exc:
            out.append(exc)
    return out


class SenderRecovery:
    """`decode(raws)`: every raw transaction decoded, or the InvalidTransaction it raised.

    `workers` processes (spawned, so nothing of the parent's threads, LMDB or gRPC is
    inherited); 0 decodes on the calling thread. A crashed pool is replaced; the calls caught
    in it are decoded in process instead of failing.
    """

    def __init__(self, spec: ChainSpec, workers: int) -> None:
        self.spec = spec
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False  # every worker has answered once
        self._warming: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Spawn the workers in the background (each takes ~1-2 s to import `l2`).

        Until all of them answer, `decode` works in process, so the node serves at once.
        """
        if self.workers == 0:
            return
        self._pool = pool = self._new_pool()
        loop = asyncio.get_running_loop()
        warming = [loop.run_in_executor(pool, _ready) for _ in range(self.workers)]
        self._warming = loop.create_task(self._warm(pool, warming), name="recovery-warm-up")

    async def _warm(self, pool: ProcessPoolExecutor, warming: list[asyncio.Future[bool]]) -> None:
        try:
            await asyncio.gather(*warming)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            # Typically a __main__ script without an `if __name__ == "__main__":` guard, which a
            # spawned worker re-runs. Keep serving, decoding in process (slower).
            log.error("cannot start transaction decoding workers (%s); decoding in process", exc)
            if self._pool is pool:
                self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return
        if self._pool is pool:
            self._ready = True

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(self.spec,),
        )

    def close(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
        self._ready = False
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def decode(self, raws: Sequence[bytes]) -> list[Decoded]:
        if not raws:
            return []
        pool = self._pool
        if pool is None or not self._ready:
            return _decode_here(raws, self.spec)
        size = max(MIN_CHUNK, -(-len(raws) // self.workers))
        chunks = [list(raws[i : i + size]) for i in range(0, len(raws), size)]
        loop = asyncio.get_running_loop()
        try:
            results = await asyncio.gather(*(loop.run_in_executor(pool, _decode_chunk, c) for c in chunks))
        except BrokenProcessPool:
            log.error("a transaction decoding worker died; restarting the pool")
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            return _decode_here(raws, self.spec)
        return [
            InvalidTransaction(*outcome) if isinstance(outcome, tuple) else outcome
            for chunk in results
            for outcome in chunk
        ]
