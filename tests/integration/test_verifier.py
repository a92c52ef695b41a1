"""The verifier on a real anvil L1: it rebuilds the chain from L1 alone and judges assertions.

A stand-in sequencer (an `L2Chain` built with the same spec, L1 origins taken from anvil)
makes the blocks, and the test posts them itself as batches with `InboxBinding.append_batch`,
recording their new L1 origins with them, exactly as the batcher would. The verifier runs as
`VerifierService` (real LMDB, real HTTP servers on loopback) or as a `rollup verifier` subprocess for the kill -9 test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from prometheus_client.parser import text_string_to_metric_families
from web3 import Web3

from bench.workloads import Workload, mixed
from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding, DeliveredMessage, InboxBinding, RollupBinding
from l1.deploy import DeployParams, deploy
from l1.headers import header_rlp
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.deposits import Deposit, deposit_transaction
from l2.derivation import choose_origin, origin_of
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.output_root import output_root_at
from l2.rpc import JsonRpc
from l2.spec import ChainSpec, devnet_spec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, Head, L1Origin
from tests.integration.l2_users import wait_for
from verifier.config import VerifierConfig
from verifier.service import DivergenceLog, VerifierService

OWNER = Account.from_key(DEV_ACCOUNTS[0][1])  # deployer, batcher and proposer
DEPOSITOR = Account.from_key(DEV_ACCOUNTS[1][1])
OTHER = Account.from_key(DEV_ACCOUNTS[2][1])
CHALLENGE_PERIOD = 60
FORCE_DELAY = 300
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workload() -> Workload:
    return mixed(600, devnet_spec().chain_id, senders=16)


@pytest.fixture(scope="module")
def spec(workload: Workload) -> ChainSpec:
    return workload.spec(devnet_spec())


class StandIn:
    """The sequencer and batcher, by hand: blocks built with `l2`, posted as batches to the Inbox."""

    def __init__(self, anvil: Anvil, spec: ChainSpec, tmp: Path) -> None:
        self.anvil = anvil
        self.w3 = anvil.w3
        self.spec = spec
        params = DeployParams(challenge_period=CHALLENGE_PERIOD, force_inclusion_delay=FORCE_DELAY, bond=10**17)
        self.deployment = deploy(self.w3, OWNER, spec, params)
        self.deployment_path = tmp / "deployment.json"
        self.deployment.save(self.deployment_path)
        self.genesis_path = tmp / "genesis.json"
        self.genesis_path.write_text(json.dumps(spec.to_json()))
        self.inbox = InboxBinding(self.w3, self.deployment.contracts["Inbox"], OWNER)
        self.delayed = DelayedInboxBinding(self.w3, self.deployment.contracts["DelayedInbox"], DEPOSITOR)
        self.rollup = RollupBinding(self.w3, self.deployment.contracts["Rollup"], OWNER)
        self.chain = L2Chain.open(tmp / "standin", spec, map_size=1 << 30)
        self.reader = InboxReader(self.w3, self.deployment)
        self.delayed_read = 0
        self.tmp = tmp

    def close(self) -> None:
        self.chain.close()

    def origin(self) -> L1Origin:
        """One block behind the L1 head, as the sequencer: L1 does not know the head's own hash yet."""
        block = self.w3.eth.get_block(max(self.w3.eth.block_number - 1, 0))
        return L1Origin(block["number"], bytes(block["hash"]), int(block["baseFeePerGas"]))

    def block(self, raws: Sequence[bytes], deposits: Sequence[Deposit] = ()) -> list[Message]:
        """Build one block on the current L1 head as origin; its messages as the batcher sends them."""
        head = self.chain.head(Head.UNSAFE)
        timestamp, origin = head.timestamp + 1, self.origin()
        txs = [deposit_transaction(d) for d in deposits] + [decode_transaction(r, self.spec) for r in raws]
        self.chain.build_block(BlockAttributes(timestamp, origin), txs)
        self.delayed_read = max([self.delayed_read] + [d.index + 1 for d in deposits])
        return [BlockStart(timestamp, origin.number), *(Delayed(d.index) for d in deposits), *map(L2Tx, raws)]

    def post(self, messages: Sequence[Message], root: bytes | None = None, payload: bytes | None = None) -> int:
        """Append a batch; returns its L1 block number."""
        body = encode_batch(messages, self.spec.chain_id) if payload is None else payload
        # As the batcher: the new L1 origins the blocks name are recorded with the batch (D2).
        origins = {m.l1_origin_number for m in messages if isinstance(m, BlockStart)} - {0}
        head = self.w3.eth.block_number  # L1 does not know its hash yet: left out, as the batcher does
        headers = [header_rlp(self.w3, n) for n in sorted(origins) if n < head and self.inbox.l1_origin(n) is None]
        receipt = self.inbox.append_batch(
            body, message_root(messages) if root is None else root, len(messages), self.delayed_read, headers
        )
        return int(receipt["blockNumber"])

    def blocks(self, raws: Sequence[bytes], per_block: int, blocks_per_batch: int) -> int:
        """Build and post `raws` in blocks of `per_block` transactions; returns the batches posted."""
        chunks = [raws[i : i + per_block] for i in range(0, len(raws), per_block)]
        batches = 0
        for i in range(0, len(chunks), blocks_per_batch):
            messages: list[Message] = []
            for chunk in chunks[i : i + blocks_per_batch]:
                messages += self.block(chunk)
            self.post(messages)
            batches += 1
        return batches

    def deposit(self, to: bytes, value: int, gas_limit: int = 100_000) -> tuple[Deposit, int, int]:
        """A deposit on L1: (the deposit, its L1 block, its L1 timestamp)."""
        receipt = self.delayed.deposit(to, gas_limit, b"", value)
        (delivered,) = self.delayed.messages_in(receipt)
        return _deposit(delivered), delivered.message.l1_block_number, delivered.message.l1_timestamp

    def mirror_delayed_block(self, deposits: Sequence[Deposit], l1_number: int, l1_timestamp: int) -> None:
        """The block derivation makes of delayed messages alone (forced entry, invalid batch)."""
        head = self.chain.head(Head.UNSAFE)
        # The entry was just appended; its block takes the deposit's L1 block only if recorded (D2).
        parent = origin_of(self.chain.l1_origin_number(head), self.reader)
        origin = choose_origin(l1_number, parent, self.inbox.entry_count() - 1, self.reader)
        attrs = BlockAttributes(max(head.timestamp, l1_timestamp), origin)
        self.chain.build_block(attrs, [deposit_transaction(d) for d in deposits])
        self.delayed_read = max(self.delayed_read, deposits[-1].index + 1)

    def config(self, datadir: Path, **overrides: object) -> VerifierConfig:
        values: dict[str, object] = dict(
            l1_rpc=self.anvil.url,
            deployment=str(self.deployment_path),
            datadir=str(datadir),
            genesis=str(self.genesis_path),
            confirmations=0,
            poll_interval=0.05,
            rpc_port=0,
            metrics_port=0,
        )
        values.update(overrides)
        return VerifierConfig(**values)  # type: ignore[arg-type]


def _deposit(delivered: DeliveredMessage) -> Deposit:
    m = delivered.message
    return Deposit(index=m.index, sender=m.sender, to=m.to, value=m.value, gas_limit=m.gas_limit, data=m.data)


@pytest.fixture
def standin(anvil: Anvil, spec: ChainSpec, tmp_path: Path) -> Iterator[StandIn]:
    s = StandIn(anvil, spec, tmp_path)
    yield s
    s.close()


@pytest.fixture
def verifier(standin: StandIn, tmp_path: Path) -> Iterator[VerifierService]:
    service = VerifierService(standin.config(tmp_path / "verifier"), DivergenceLog()).start()
    yield service
    service.stop()


# -- helpers -----------------------------------------------------------------------------


def head_hash(chain: L2Chain) -> bytes:
    return chain.head(Head.UNSAFE).hash


def wait_synced(service: VerifierService, standin: StandIn, timeout: float = 60.0) -> None:
    """Until the verifier's head is the stand-in's head (same hash) and its poll has ended (metrics counted)."""
    assert service.chain is not None
    chain = service.chain
    wait_for(lambda: head_hash(chain) == head_hash(standin.chain), "the verifier to reach the stand-in's head", timeout)
    service.wait_caught_up(timeout)


def assert_same_chain(ours: L2Chain, theirs: L2Chain) -> None:
    """Every block hash and state root equal, genesis to head."""
    head = theirs.head(Head.UNSAFE).block_number
    assert ours.head(Head.UNSAFE).block_number == head
    for n in range(head + 1):
        a, b = ours.header_by_number(n), theirs.header_by_number(n)
        assert (a.hash, a.state_root) == (b.hash, b.state_root), f"block {n} differs"


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(port: int, name: str, **labels: str) -> float:
    return metrics(port).get((name, tuple(sorted(labels.items()))), 0.0)


def rpc(port: int, method: str, *params: object) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/", data=body, headers={"Content-Type": "application/json"}
    )
    return json.loads(urllib.request.urlopen(request, timeout=10).read())


def balance(chain: L2Chain, address: bytes) -> int:
    return chain.state_at(chain.head(Head.UNSAFE)).get_balance(address)


# -- 1. same chain as the sequencer ------------------------------------------------------


def test_replays_a_mixed_workload_to_the_same_blocks(standin, verifier, workload):
    standin.post(standin.block(workload.setup))
    batches = 1 + standin.blocks(workload.txs[:400], per_block=40, blocks_per_batch=2)
    wait_synced(verifier, standin)
    assert_same_chain(verifier.chain, standin.chain)
    heads = verifier.chain.heads()
    assert heads.unsafe.hash == heads.safe.hash == head_hash(standin.chain)
    port = verifier.metrics_port
    assert metric(port, "rollup_verifier_blocks_replayed_total") == heads.unsafe.block_number == 11
    assert metric(port, "rollup_verifier_transactions_replayed_total") == 401
    assert metric(port, "rollup_verifier_inbox_entries") == batches
    assert metric(port, "rollup_verifier_head_block_number", head="safe") == 11
    assert metric(port, "rollup_verifier_replay_seconds_count") == batches
    assert metric(port, "rollup_verifier_invalid_batches_total") == 0
    wait_for(lambda: metric(port, "rollup_verifier_l1_lag_blocks") == 0, "lag 0 once caught up")


def test_waits_for_confirmations(standin, workload, tmp_path):
    service = VerifierService(standin.config(tmp_path / "v", confirmations=2)).start()
    try:
        standin.post(standin.block(workload.setup))
        time.sleep(0.5)
        assert service.chain.head(Head.UNSAFE).block_number == 0  # the batch is 0 blocks deep
        standin.anvil.w3.provider.make_request("evm_mine", [])
        standin.anvil.w3.provider.make_request("evm_mine", [])
        wait_synced(service, standin)
    finally:
        service.stop()


# -- 2. invalid batches and forced inclusion -----------------------------------------------


def test_invalid_batches_are_no_ops_but_their_deposits_execute(standin, verifier, workload):
    standin.post(standin.block(workload.setup))
    alice, bob = keccak(b"alice")[:20], keccak(b"bob")[:20]
    skipped_tx = workload.txs[0]

    # Garbage payload that consumed deposit 0: the deposit still runs, in a block of its own.
    dep0, l1_block, l1_time = standin.deposit(alice, 10**18)
    standin.delayed_read = 1
    standin.post([BlockStart(0, 0)], payload=b"\x01not a batch at all")
    standin.mirror_delayed_block([dep0], l1_block, l1_time)

    # A lying message root: its transaction must not run; deposit 1 still does.
    dep1, l1_block, l1_time = standin.deposit(bob, 2 * 10**18)
    messages = [BlockStart(standin.chain.head(Head.UNSAFE).timestamp + 1, l1_block), L2Tx(skipped_tx)]
    standin.delayed_read = 2
    standin.post(messages, root=keccak(b"a root that is not the messages'"))
    standin.mirror_delayed_block([dep1], l1_block, l1_time)

    # The chain goes on; the transaction of the invalid batch can still be included later.
    standin.post(standin.block([skipped_tx]))
    wait_synced(verifier, standin)
    assert_same_chain(verifier.chain, standin.chain)
    assert balance(verifier.chain, alice) == 10**18
    assert balance(verifier.chain, bob) == 2 * 10**18
    assert metric(verifier.metrics_port, "rollup_verifier_invalid_batches_total") == 2
    deposit_block = verifier.chain.header_by_number(2)
    assert [tx.hash for tx in verifier.chain.transactions(deposit_block)] == [deposit_transaction(dep0).hash]


def test_forced_inclusion_is_derived_as_a_block_with_the_deposit(standin, verifier, workload):
    standin.post(standin.block(workload.setup))
    carol = keccak(b"carol")[:20]
    dep, l1_block, l1_time = standin.deposit(carol, 3 * 10**18)
    standin.anvil.increase_time(FORCE_DELAY + 1)
    anyone = InboxBinding(standin.w3, standin.deployment.contracts["Inbox"], OTHER)
    (entry,) = anyone.entries_in(anyone.force_include())
    assert entry.forced
    standin.mirror_delayed_block([dep], l1_block, l1_time)
    standin.post(standin.block(workload.txs[:5]))  # the sequencer goes on after it
    wait_synced(verifier, standin)
    assert_same_chain(verifier.chain, standin.chain)
    assert balance(verifier.chain, carol) == 3 * 10**18
    forced_block = verifier.chain.header_by_number(2)
    assert [tx.hash for tx in verifier.chain.transactions(forced_block)] == [deposit_transaction(dep).hash]
    assert forced_block.timestamp == l1_time


# -- 3. L1 reorg -------------------------------------------------------------------------------


def test_l1_reorg_rewinds_and_derives_again(standin, verifier, workload):
    w3 = standin.w3
    standin.post(standin.block(workload.setup))
    wait_synced(verifier, standin)
    kept_head = standin.chain.head(Head.UNSAFE).block_number
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]

    def l1_marker(value: int) -> None:
        """A block that differs between the two branches: the next L2 blocks take it as L1 origin."""
        tx = {"to": OTHER.address, "value": value, "gas": 21_000, "nonce": w3.eth.get_transaction_count(
            DEPOSITOR.address), "chainId": w3.eth.chain_id, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1}
        w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(DEPOSITOR.sign_transaction(tx).raw_transaction))

    l1_marker(1)
    standin.blocks(workload.txs[:60], per_block=20, blocks_per_batch=1)
    wait_synced(verifier, standin)
    branch_a = head_hash(standin.chain)

    w3.provider.make_request("evm_revert", [snapshot])
    standin.chain.rewind(kept_head)
    l1_marker(2)
    standin.blocks(workload.txs[:40], per_block=10, blocks_per_batch=4)  # other blocks, one batch
    assert head_hash(standin.chain) != branch_a
    wait_synced(verifier, standin)
    assert_same_chain(verifier.chain, standin.chain)
    port = verifier.metrics_port
    assert metric(port, "rollup_verifier_l1_reorgs_total") == 1
    assert metric(port, "rollup_verifier_inbox_entries") == 2


# -- 4. restart --------------------------------------------------------------------------------


def test_restart_resumes_where_it_stopped(standin, workload, tmp_path):
    datadir = tmp_path / "verifier"
    standin.post(standin.block(workload.setup))
    standin.blocks(workload.txs[:40], per_block=20, blocks_per_batch=1)
    first = VerifierService(standin.config(datadir)).start()
    try:
        wait_synced(first, standin)
    finally:
        first.stop()
    before = standin.chain.head(Head.UNSAFE).block_number
    standin.blocks(workload.txs[40:100], per_block=20, blocks_per_batch=1)
    second = VerifierService(standin.config(datadir)).start()
    try:
        wait_synced(second, standin)
        assert_same_chain(second.chain, standin.chain)
        replayed = metric(second.metrics_port, "rollup_verifier_blocks_replayed_total")
        assert replayed == standin.chain.head(Head.UNSAFE).block_number - before == 3  # only the new ones
    finally:
        second.stop()


def _start_subprocess(standin: StandIn, datadir: Path, metrics_port: int) -> subprocess.Popen[str]:
    config = standin.config(datadir)
    args = [sys.executable, "-m", "rollup", "verifier", "--log-level", "WARNING",
            "--l1-rpc", config.l1_rpc, "--deployment", config.deployment, "--datadir", config.datadir,
            "--genesis", config.genesis, "--confirmations", "0", "--poll-interval", "0.05",
            "--entries-per-step", "1", "--rpc-port", "0", "--metrics-port", str(metrics_port)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("verifier ready"):
        proc.kill()
        raise AssertionError(f"rollup verifier did not start: {line!r}")
    return proc


def test_kill_9_mid_replay_then_restart_gives_the_same_head(standin, workload, tmp_path):
    from l1.anvil import free_port

    standin.post(standin.block(workload.setup))
    standin.blocks(workload.txs, per_block=15, blocks_per_batch=1)
    final = standin.chain.head(Head.UNSAFE).block_number
    datadir, port = tmp_path / "verifier", free_port()
    proc = _start_subprocess(standin, datadir, port)
    try:
        wait_for(lambda: metric(port, "rollup_verifier_head_block_number", head="unsafe") >= 3, "replay to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    chain = L2Chain.open(datadir, standin.spec, map_size=1 << 30)
    killed_at = chain.head(Head.UNSAFE).block_number
    chain.close()
    assert 3 <= killed_at < final, "the kill did not land mid-replay"
    proc = _start_subprocess(standin, datadir, port)
    try:
        wait_for(lambda: metric(port, "rollup_verifier_head_block_number", head="unsafe") == final, "replay to end")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    chain = L2Chain.open(datadir, standin.spec, map_size=1 << 30)
    try:
        assert_same_chain(chain, standin.chain)
    finally:
        chain.close()


# -- 5. assertions -----------------------------------------------------------------------------


def test_wrong_assertion_is_reported_and_a_right_one_matches(standin, verifier, workload, caplog):
    caplog.set_level(logging.INFO, logger="verifier.service")
    standin.post(standin.block(workload.setup))
    standin.blocks(workload.txs[:40], per_block=20, blocks_per_batch=1)
    wait_synced(verifier, standin)
    entries = standin.inbox.entry_count()
    block = standin.chain.head(Head.UNSAFE)
    right = output_root_at(standin.chain, block)
    wrong = keccak(b"not the output root")
    wrong_id = standin.rollup.created_id(standin.rollup.create_assertion(0, entries, block.block_number, wrong))
    right_id = standin.rollup.created_id(standin.rollup.create_assertion(0, entries, block.block_number, right))
    port = verifier.metrics_port
    wait_for(lambda: metric(port, "rollup_verifier_assertions_checked_total", verdict="match") == 2,
             "genesis and the right assertion to match")
    assert metric(port, "rollup_verifier_divergences_total") == 1
    assert metric(port, "rollup_verifier_assertions_checked_total", verdict="mismatch") == 1
    (divergence,) = verifier.handoff.divergences  # type: ignore[attr-defined]
    assert (divergence.assertion_id, divergence.asserted_root, divergence.our_root) == (wrong_id, wrong, right)
    (line,) = [r.getMessage() for r in caplog.records if "DIVERGENCE" in r.getMessage()]
    assert wrong.hex() in line and right.hex() in line

    # Finalized: the newest confirmed assertion that matches ours.
    assert verifier.chain.head(Head.FINALIZED).block_number == 0
    standin.anvil.increase_time(CHALLENGE_PERIOD + 1)
    standin.rollup.confirm_assertion(right_id)
    wait_for(lambda: verifier.chain.head(Head.FINALIZED).hash == block.hash, "the finalized head to move")
    assert metric(port, "rollup_verifier_head_block_number", head="finalized") == block.block_number
    assert metric(port, "rollup_verifier_divergences_total") == 1  # reported once, not every poll


# -- 6. read-only JSON-RPC ---------------------------------------------------------------------


def test_serves_the_same_read_only_json_rpc_as_the_chain_it_checks(standin, verifier, workload):
    standin.post(standin.block(workload.setup))
    standin.blocks(workload.txs[:30], per_block=10, blocks_per_batch=3)
    wait_synced(verifier, standin)
    theirs = JsonRpc(standin.chain)  # the same shared method table, over the stand-in's chain
    try:
        head = standin.chain.head(Head.UNSAFE).block_number
        sender = "0x" + workload.keys[0].address.hex()
        for method, params in [
            ("eth_blockNumber", []),
            ("eth_chainId", []),
            ("eth_getBlockByNumber", ["latest", False]),
            ("eth_getBlockByNumber", [hex(1), True]),
            ("eth_getBlockByNumber", [hex(head + 1), False]),
            ("eth_getBalance", [sender, "latest"]),
            ("eth_getBalance", [sender, hex(1)]),
            ("eth_getTransactionCount", [sender, "latest"]),
            ("eth_getBlockReceipts", [hex(2)]),
        ]:
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
            expected = json.loads(asyncio.run(theirs.handle(body)) or b"null")
            assert rpc(verifier.rpc_port, method, *params) == expected, method
    finally:
        theirs.close()
    assert int(rpc(verifier.rpc_port, "eth_blockNumber")["result"], 16) == head

    refused = rpc(verifier.rpc_port, "eth_sendRawTransaction", "0x" + workload.txs[100].hex())
    assert refused["error"]["code"] == -32601
    assert "read-only" in refused["error"]["message"]

    status = rpc(verifier.rpc_port, "rollup_syncStatus")["result"]
    assert status["safe"]["number"] == hex(head) and int(status["inboxEntries"], 16) == 2

    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{verifier.rpc_port}"))  # a validator's wallet or script
    assert w3.eth.block_number == head
    assert w3.eth.get_block("safe")["hash"] == standin.chain.head(Head.UNSAFE).hash
    assert "verifier" in w3.client_version
    requests = metric(verifier.metrics_port, "rollup_verifier_rpc_requests_total",
                      method="eth_sendRawTransaction", outcome="error")
    assert requests == 1


# -- bad input and outages ---------------------------------------------------------------------


def test_keeps_serving_while_l1_is_down(spec, workload, tmp_path):
    node = Anvil().start()  # its own L1, stopped mid-test
    standin = StandIn(node, spec, tmp_path)
    service = None
    try:
        standin.post(standin.block(workload.setup))
        service = VerifierService(standin.config(tmp_path / "verifier")).start()
        wait_synced(service, standin)
        node.stop()
        port = service.metrics_port
        wait_for(lambda: metric(port, "rollup_verifier_poll_errors_total") >= 2, "polls to fail")
        assert rpc(service.rpc_port, "eth_blockNumber")["result"] == "0x1"
        assert service._replay_thread is not None and service._replay_thread.is_alive()
    finally:
        if service is not None:
            service.stop()
        standin.close()
        node.stop()


# -- configuration -----------------------------------------------------------------------------


def test_a_genesis_that_does_not_fit_the_deployment_is_refused(standin, tmp_path):
    other = tmp_path / "other-genesis.json"
    other.write_text(json.dumps(devnet_spec().to_json()))
    out = subprocess.run(
        [sys.executable, "-m", "rollup", "verifier", "--l1-rpc", standin.anvil.url, "--deployment",
         str(standin.deployment_path), "--datadir", str(tmp_path / "v"), "--genesis", str(other),
         "--rpc-port", "0", "--metrics-port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2
    assert "spec hash" in out.stderr


def test_bench_replay_prints_the_shared_json_format():
    out = subprocess.run([sys.executable, "-m", "rollup", "bench", "replay", "--txs", "40", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["bench"] == "replay"
    for name in ("replay_blocks_per_s", "replay_tx_per_s"):
        assert result["figures"][name] > 0 and result["baselines"][name] > 0 and result["advantage"][name] > 0
