"""What `rollup batcher` and `rollup proposer` share: L1 connection, signer, metrics server, signals."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from eth_account import Account
from prometheus_client import CollectorRegistry, start_http_server
from web3 import Web3

from l1.transactions import L1Transactor, TransactorConfig

log = logging.getLogger(__name__)



def make_transactor(w3: Web3, config: Any) -> L1Transactor:
    account = Account.from_key(config.private_key)
    return L1Transactor(
        w3,
        account,
        TransactorConfig(
            confirmations=max(config.confirmations, 1),
            resubmit_after=config.resubmit_after,
            max_fee_per_gas=int(config.max_fee_gwei * 10**9),
            min_balance=int(config.min_balance_eth * 10**18),
        ),
    )


def wait_idle(transactor: L1Transactor, poll_interval: float = 0.2) -> None:
    """Until this key has nothing in flight (a previous run's pool transactions included).

    The batcher and the proposer recover their position from L1; a transaction still in the
    pool from before a crash would land after that and be counted twice, so they wait for it.
    """
    transactor.poll()  # the first poll reads the nonces and adopts a previous run's transactions
    while transactor.in_flight():
        transactor.poll()
        time.sleep(poll_interval)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> int:
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)


def run_until_signalled(loop: Callable[[threading.Event], None]) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    loop(stop)
    log.info("stopped")
