"""Small helpers of the end-to-end tests that run a sequencer and a batcher on anvil."""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

ROOT = Path(__file__).resolve().parents[2]


def transfer(l2: Web3, user: LocalAccount, value: int) -> dict:
    """Send an L2 transfer from `user` and wait for its receipt (the user's acknowledgement)."""
    tx = {
        "chainId": 901, "nonce": l2.eth.get_transaction_count(user.address, "pending"), "value": value,
        "to": "0x000000000000000000000000000000000000dEaD", "gas": 21_000, "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**6, "type": 2,
    }  # fmt: skip
    tx_hash = l2.eth.send_raw_transaction(user.sign_transaction(tx).raw_transaction)
    receipt = dict(l2.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05))
    assert receipt["status"] == 1
    return receipt


def wait_for(condition: Callable[[], object], what: str, timeout: float = 180.0) -> object:
    """Poll `condition` until it is truthy (its value is returned); fail after `timeout` (a hang
    guard, not a speed limit), with every thread's stack printed: where a stuck part stands."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            faulthandler.dump_traceback(all_threads=True)
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def start_batcher(l1_rpc: str, deployment: Path, grpc_target: str, key: str, log: Path) -> subprocess.Popen:
    """`rollup batcher` as a subprocess, posting quickly (small batch age, short polls)."""
    env = dict(os.environ, ROLLUP_BATCHER_PRIVATE_KEY=key)
    command = [
        sys.executable, "-m", "rollup", "batcher", "--l1-rpc", l1_rpc, "--deployment", str(deployment),
        "--sequencer-grpc", grpc_target, "--max-batch-age", "0.3", "--poll-interval", "0.1",
        "--confirmations", "1", "--resubmit-after", "3", "--metrics-port", "0",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a role's subprocess and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)
