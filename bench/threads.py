"""Role loops on threads and polling helpers, shared by the in-process scenarios (bench dispute,
the end-to-end tests) that run the batcher, proposer and verifier loops side by side."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from web3 import Web3


class Role:
    """A role's `run(stop)` loop on a daemon thread, stopped by `close`."""

    def __init__(self, name: str, loop: Callable[[threading.Event], None], join_timeout: float = 120) -> None:
        self.stop = threading.Event()
        self.join_timeout = join_timeout
        self.thread = threading.Thread(target=loop, args=(self.stop,), name=name, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=self.join_timeout)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `predicate` until it is true; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def receipt_or_none(rpc: Web3, tx_hash: bytes) -> Any:
    """The transaction's receipt, or None while it is not in a block (or the node is busy)."""
    try:
        return rpc.eth.get_transaction_receipt(tx_hash)
    except Exception:
        return None
