"""The batcher on real servers: sequencer (gRPC) -> `rollup batcher` -> anvil's Inbox.

What L1 ends up holding is decoded back and compared block by block with the sequencer's
chain: every block exactly once, in order, across a kill -9 mid-post and an L1 reorg.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from batcher.batcher import Batcher
from batcher.feed import BlockFeed
from batcher.metrics import BatcherMetrics
from l1.deploy import DeployParams, deploy
from l1.inbox_reader import InboxReader
from l1.transactions import L1Transactor, TransactorConfig
from l2.codec import decode_batch
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, L2Tx
from l2.spec import devnet_spec
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from tests.integration.test_l1_transactions import FlakyProxy

ROOT = Path(__file__).resolve().parents[2]
DEPLOYER_KEY = DEV_ACCOUNTS[0][1]
USER = Account.from_key(DEV_ACCOUNTS[5][1])


@pytest.fixture(scope="module")
def l1(anvil):
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployment = deploy(w3, Account.from_key(DEPLOYER_KEY), devnet_spec(), DeployParams())
    return w3, deployment


@pytest.fixture(scope="module")
def deployment_file(l1, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("deploy") / "deployment.json"
    l1[1].save(path)
    return path


@pytest.fixture(scope="module")
def sequencer(tmp_path_factory) -> Iterator[EmbeddedSequencer]:
    config = SequencerConfig(
        datadir=str(tmp_path_factory.mktemp("seq")), rpc_port=0, grpc_port=0, metrics_port=0, block_time=0.2
    )
    with EmbeddedSequencer(config) as node:
        yield node


def start_batcher(anvil_url: str, deployment: Path, grpc_target: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, ROLLUP_BATCHER_PRIVATE_KEY=DEPLOYER_KEY)
    command = [
        sys.executable, "-m", "rollup", "batcher", "--l1-rpc", anvil_url, "--deployment", str(deployment),
        "--sequencer-grpc", grpc_target, "--max-batch-age", "0.3", "--poll-interval", "0.1",
        "--confirmations", "1", "--resubmit-after", "3", "--metrics-port", "0",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


_sent = {"nonce": 0}  # USER's next nonce: this module's sequencer is fresh and only this test sends


def send_transfers(sequencer: EmbeddedSequencer, count: int) -> None:
    w3 = Web3(Web3.HTTPProvider(sequencer.rpc_url))
    nonce = _sent["nonce"]
    _sent["nonce"] += count
    for i in range(count):
        tx = {
            "chainId": 901, "nonce": nonce + i, "to": "0x000000000000000000000000000000000000dEaD", "value": 1,
            "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "type": 2,
        }
        w3.eth.send_raw_transaction(USER.sign_transaction(tx).raw_transaction)
    # Sealed before the caller reads the head as its target: else the target may still be a head
    # batched before (a reorg check reading it would find nothing removed).
    deadline = time.monotonic() + 60
    while w3.eth.get_transaction_count(USER.address, "latest") < nonce + count:
        assert time.monotonic() < deadline, "transfers not sealed"
        time.sleep(0.05)


def l1_blocks(w3: Web3, deployment) -> list[tuple[int, list[bytes]]]:
    """(timestamp, raw txs) of every L2 block batched on L1, in order."""
    reader = InboxReader(w3, deployment)
    out: list[tuple[int, list[bytes]]] = []
    for entry in reader.entries(0, 0, 10_000):
        for message in decode_batch(entry.payload, 901):
            if isinstance(message, BlockStart):
                out.append((message.timestamp, []))
            elif isinstance(message, L2Tx):
                out[-1][1].append(message.raw)
    return out


def sequencer_blocks(sequencer: EmbeddedSequencer, upto: int) -> list[tuple[int, list[bytes]]]:
    chain = sequencer.sequencer.chain
    blocks = []
    for n in range(1, upto + 1):
        header = chain.header_by_number(n)
        blocks.append((header.timestamp, [tx.encode() for tx in chain.transactions(header)]))
    return blocks


def wait_batched(
    w3: Web3, deployment, sequencer: EmbeddedSequencer, at_least: int, log: Path | None = None, timeout: float = 180.0
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batched = len(l1_blocks(w3, deployment))
        if batched >= at_least:
            return batched
        time.sleep(0.3)
    tail = log.read_text()[-6000:] if log is not None else ""
    raise AssertionError(
        f"only {len(l1_blocks(w3, deployment))} L2 blocks on L1 after {timeout} s, wanted {at_least}\n{tail}"
    )


def test_batches_decode_back_to_the_sequencers_blocks_across_kill_and_reorg(l1, deployment_file, sequencer, anvil,
                                                                           tmp_path):
    w3, deployment = l1
    log = tmp_path / "batcher.log"
    batcher = start_batcher(anvil.url, deployment_file, sequencer.grpc_target, log)
    try:
        send_transfers(sequencer, 30)
        target = sequencer.sequencer.chain.heads().unsafe.block_number
        wait_batched(w3, deployment, sequencer, target, log)

        # kill -9 while a batch sits in L1's pool (mining paused), then restart: no duplicate.
        w3.provider.make_request("evm_setAutomine", [False])
        send_transfers(sequencer, 10)
        deadline = time.monotonic() + 30
        batcher_address = Account.from_key(DEPLOYER_KEY).address
        while w3.eth.get_transaction_count(batcher_address, "pending") == w3.eth.get_transaction_count(
            batcher_address, "latest"
        ):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        batcher.send_signal(signal.SIGKILL)
        batcher.wait()
        batcher = start_batcher(anvil.url, deployment_file, sequencer.grpc_target, log)
        time.sleep(1.0)
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])
        send_transfers(sequencer, 5)
        target = sequencer.sequencer.chain.heads().unsafe.block_number
        wait_batched(w3, deployment, sequencer, target, log)

        # L1 reorg: a batch disappears from L1; the batcher notices and posts those blocks again.
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        send_transfers(sequencer, 5)
        target = sequencer.sequencer.chain.heads().unsafe.block_number
        wait_batched(w3, deployment, sequencer, target, log)
        w3.provider.make_request("evm_revert", [snapshot])
        assert len(l1_blocks(w3, deployment)) < target
        send_transfers(sequencer, 3)
        target = sequencer.sequencer.chain.heads().unsafe.block_number
        wait_batched(w3, deployment, sequencer, target, log)
    finally:
        batcher.send_signal(signal.SIGTERM)
        try:
            batcher.wait(timeout=20)
        except subprocess.TimeoutExpired:
            batcher.kill()
    on_l1 = l1_blocks(w3, deployment)  # the batcher may have posted more before it stopped
    assert on_l1 == sequencer_blocks(sequencer, len(on_l1)), log.read_text()[-4000:]
    sent = sum(len(txs) for _, txs in on_l1)
    assert sent >= 53  # every transfer the sequencer took, once


def test_batcher_survives_l1_errors_it_has_no_case_for(l1, sequencer, anvil):
    """An L1 answer the batcher does not foresee (here every eth_call fails with an internal error)
    is logged and counted; the batcher keeps recovering and posts once L1 answers again."""
    w3, deployment = l1
    proxy = FlakyProxy(anvil.url).start()
    stop = threading.Event()
    flaky = Web3(Web3.HTTPProvider(proxy.url))
    transactor = L1Transactor(
        flaky, Account.from_key(DEPLOYER_KEY), TransactorConfig(confirmations=1, resubmit_after=3, poll_interval=0.2)
    )
    feed = BlockFeed(sequencer.grpc_target)
    metrics = BatcherMetrics()
    batcher = Batcher(flaky, InboxReader(flaky, deployment, confirmations=0), transactor, feed, metrics, 901,
                      max_batch_age=0.3)  # fmt: skip
    feed.start(1)
    thread = threading.Thread(target=batcher.run, args=(stop, 0.1), daemon=True)
    thread.start()
    try:
        send_transfers(sequencer, 2)
        wait_batched(w3, deployment, sequencer, sequencer.sequencer.chain.heads().unsafe.block_number)
        failed = metrics.failed._value.get()
        proxy.mode = "rpc-error:eth_call"
        send_transfers(sequencer, 2)
        target = sequencer.sequencer.chain.heads().unsafe.block_number
        deadline = time.monotonic() + 60
        while metrics.failed._value.get() == failed:
            assert time.monotonic() < deadline, "the batcher never met the failing eth_call"
            time.sleep(0.1)
        assert thread.is_alive()
        assert len(l1_blocks(w3, deployment)) < target  # nothing could be checked, so nothing posted
        proxy.mode = "up"
        wait_batched(w3, deployment, sequencer, target)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=30)
        feed.stop()
        proxy.stop()
    on_l1 = l1_blocks(w3, deployment)
    assert on_l1 == sequencer_blocks(sequencer, len(on_l1))
