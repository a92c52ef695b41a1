"""The L1 transaction sender on a real anvil: confirmations, fee bumps, fee caps, nonce conflicts,
restarts, reorgs, RPC faults (through a real loopback proxy that is stopped, answers 503, hangs,
or loses replies) and the low-balance alarm. A fresh anvil per test keeps nonces independent.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from l1.anvil import Anvil, free_port
from l1.bindings import InboxBinding, L1Reverted
from l1.deploy import DeployParams, deploy
from l1.transactions import (
    GWEI,
    L1FeeCapExceeded,
    L1InsufficientFunds,
    L1NonceGap,
    L1Transactor,
    L1TxReverted,
    TransactorConfig,
    TxStatus,
)
from l2.devkeys import DEV_ACCOUNTS
from l2.errors import ConfigError
from l2.spec import devnet_spec

OWNER = Account.from_key(DEV_ACCOUNTS[0][1])
SENDER = Account.from_key(DEV_ACCOUNTS[1][1])
RECIPIENT = DEV_ACCOUNTS[9][0]
ETHER = 10**18

FAST = TransactorConfig(
    confirmations=1,
    resubmit_after=0.3,
    poll_interval=0.05,
    receipt_timeout=20.0,
    rpc_timeout=0.5,
    rpc_backoff_initial=0.05,
    rpc_backoff_max=0.2,
    balance_check_interval=0.1,
    min_balance=ETHER,
)


@pytest.fixture
def node() -> Iterator[Anvil]:
    """A fresh anvil per test: every test starts at nonce 0 with automine on."""
    anvil = Anvil().start()
    try:
        yield anvil
    finally:
        anvil.stop()


def rpc(node: Anvil, method: str, *params: Any) -> Any:
    response = node.w3.provider.make_request(method, list(params))
    assert "error" not in response, response
    return response["result"]


def transactor(url: str, **overrides: Any) -> L1Transactor:
    return L1Transactor.connect(url, SENDER, TransactorConfig(**{**FAST.__dict__, **overrides}))


def chain_nonce(node: Anvil, block: str = "latest") -> int:
    return node.w3.eth.get_transaction_count(SENDER.address, block)


def drive(t: L1Transactor, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `t` until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "condition not reached in time"
        t.poll()
        time.sleep(0.02)


def mined(node: Anvil, tx_hash: bytes) -> bool:
    try:
        node.w3.eth.get_transaction_receipt(tx_hash)
    except Exception:
        return False
    return True


class FlakyProxy:
    """A real HTTP proxy on loopback in front of anvil.

    Stopped (connection refused), or in a mode: "up", "503", "hang" (past the client's timeout),
    "lose-send-replies" (forwards eth_sendRawTransaction, drops the reply), "hide-receipts"
    (answers null to eth_getTransactionReceipt, like a replica whose index lags), "rpc-error:METHOD"
    (answers METHOD with a JSON-RPC internal error); modes combine with ",".
    """

    def __init__(self, target: str, hang_seconds: float = 1.0) -> None:
        self.target = target
        self.hang_seconds = hang_seconds
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = "up"
        self._server: ThreadingHTTPServer | None = None

    def start(self, mode: str = "up") -> FlakyProxy:
        self.mode = mode
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                mode = proxy.mode
                if mode == "503":
                    self.send_error(503)
                    return
                if mode == "hang":
                    time.sleep(proxy.hang_seconds)
                    self.send_error(504)
                    return
                method = json.loads(body).get("method")
                if f"rpc-error:{method}" in mode.split(","):
                    # the node answers this method with an error the client has no special case for
                    error = {"code": -32603, "message": f"injected failure of {method}"}
                    reply = json.dumps({"jsonrpc": "2.0", "id": json.loads(body)["id"], "error": error}).encode()
                elif "hide-receipts" in mode and method == "eth_getTransactionReceipt":
                    # a replica whose receipt index lags behind its state
                    reply = json.dumps({"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": None}).encode()
                else:
                    request = urllib.request.Request(proxy.target, body, {"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=10) as response:
                        reply = response.read()
                if "lose-send-replies" in mode and method == "eth_sendRawTransaction":
                    return  # anvil got it; the client only sees the connection close
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close the listening socket: clients get connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# -- plain sends -----------------------------------------------------------------------


def test_send_counts_a_receipt_only_when_confirmations_deep(node: Anvil) -> None:
    t = transactor(node.url, confirmations=3)
    p = t.submit(RECIPIENT, value=1)
    drive(t, lambda: p.status is TxStatus.MINED)
    block = int(p.mined["blockNumber"]) if p.mined else -1
    rpc(node, "evm_mine")  # 2 deep
    for _ in range(5):
        t.poll()
    assert p.status is TxStatus.MINED
    rpc(node, "evm_mine")  # 3 deep
    receipt = t.wait(p, timeout=5)
    assert p.status is TxStatus.CONFIRMED
    assert receipt.status == 1 and receipt.nonce == 0 and receipt.block_number == block
    assert node.w3.eth.get_block(block)["hash"] == receipt.block_hash
    assert receipt.fee_wei == receipt.gas_used * receipt.effective_gas_price > 0
    stats = t.stats()
    assert (stats.confirmed_total, stats.fees_paid_wei_total, stats.last_confirmed_nonce) == (1, receipt.fee_wei, 0)
    assert (stats.in_flight, stats.next_nonce, stats.resubmissions_total) == (0, 1, 0)
    assert chain_nonce(node) == 1


def test_several_in_flight_get_consecutive_nonces(node: Anvil) -> None:
    t = transactor(node.url, confirmations=2)
    rpc(node, "evm_setAutomine", False)
    pending = [t.submit(RECIPIENT, value=i + 1) for i in range(3)]
    assert [p.nonce for p in pending] == [0, 1, 2]
    rpc(node, "evm_mine")
    rpc(node, "evm_mine")
    receipts = [t.wait(p, timeout=5) for p in pending]
    assert [r.nonce for r in receipts] == [0, 1, 2]
    assert len({r.block_number for r in receipts}) == 1
    assert chain_nonce(node) == 3


# -- resubmission and fee caps ---------------------------------------------------------


def test_stuck_tx_is_resubmitted_with_both_fees_bumped_and_mined_once(node: Anvil) -> None:
    t = transactor(node.url, resubmit_after=0.2)
    rpc(node, "evm_setAutomine", False)
    p = t.submit(RECIPIENT, value=1)
    drive(t, lambda: len(p.attempts) >= 3)
    for old, new in zip(p.attempts, p.attempts[1:], strict=False):
        assert new.nonce == old.nonce == 0
        assert new.max_fee_per_gas * 100 >= old.max_fee_per_gas * 110
        assert new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * 110
    rpc(node, "evm_mine")
    receipt = t.wait(p, timeout=5)
    assert [h for h in p.tx_hashes if mined(node, h)] == [receipt.tx_hash]
    assert receipt.attempts == len(p.attempts) >= 3
    assert chain_nonce(node) == 1
    assert t.stats().resubmissions_total == len(p.attempts) - 1


def test_resubmission_never_goes_above_the_cap(node: Anvil) -> None:
    base = node.w3.eth.fee_history(1, "latest")["baseFeePerGas"][-1]
    first = 2 * base + GWEI
    t = transactor(
        node.url, resubmit_after=0.1, max_fee_per_gas=first * 105 // 100,
        min_priority_fee_per_gas=GWEI, max_priority_fee_per_gas=GWEI,
    )
    rpc(node, "evm_setAutomine", False)
    p = t.submit(RECIPIENT, value=1)
    assert [a.max_fee_per_gas for a in p.attempts] == [first]
    time.sleep(0.3)
    for _ in range(5):
        t.poll()
    assert len(p.attempts) == 1 and p.status is TxStatus.PENDING
    assert p.fee_capped and t.stats().fee_capped and t.stats().fee_cap_holds_total == 1
    rpc(node, "evm_mine")
    assert t.wait(p, timeout=5).effective_gas_price <= first


def test_fee_cap_holds_the_tx_back_then_sends_when_the_base_fee_drops(node: Anvil) -> None:
    cap = 20 * GWEI
    t = transactor(node.url, max_fee_per_gas=cap)
    rpc(node, "anvil_setNextBlockBaseFeePerGas", hex(50 * GWEI))
    p = t.submit(RECIPIENT, value=1)
    assert p.status is TxStatus.FEE_CAPPED and p.attempts == []
    with pytest.raises(L1FeeCapExceeded) as held:
        t.wait(p, timeout=0.3)
    assert held.value.pending is p and held.value.required > cap == held.value.cap
    assert chain_nonce(node, "pending") == 0  # nothing was sent
    assert t.stats().fee_capped

    rpc(node, "anvil_setNextBlockBaseFeePerGas", hex(GWEI))
    receipt = t.wait(p, timeout=5)
    assert all(a.max_fee_per_gas <= cap for a in p.attempts)
    assert receipt.effective_gas_price <= cap and receipt.nonce == 0
    assert not t.stats().fee_capped


# -- nonces: other processes and restarts ----------------------------------------------


def test_nonce_taken_by_another_process_resyncs_once(node: Anvil) -> None:
    t = transactor(node.url)
    assert t.send(RECIPIENT, value=1).nonce == 0
    other = Web3(Web3.HTTPProvider(node.url))  # another process with the same key
    tx = {"type": 2, "chainId": other.eth.chain_id, "nonce": 1, "to": RECIPIENT, "value": 2, "gas": 21_000,
          "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
    other.eth.send_raw_transaction(SENDER.sign_transaction(tx).raw_transaction)

    receipt = t.send(RECIPIENT, value=3)
    assert receipt.nonce == 2
    stats = t.stats()
    assert (stats.nonce_too_low_total, stats.nonce_resyncs_total, stats.next_nonce) == (1, 1, 3)
    assert chain_nonce(node) == 3


def test_restart_with_a_tx_in_the_pool_neither_skips_nor_reuses_its_nonce(node: Anvil) -> None:
    rpc(node, "evm_setAutomine", False)
    before = transactor(node.url).submit(RECIPIENT, value=1)  # then the process dies
    assert before.nonce == 0 and before.status is TxStatus.PENDING

    t = transactor(node.url, resubmit_after=60)
    p = t.submit(RECIPIENT, value=2)
    assert p.nonce == 1 and t.stats().inherited_total == 1
    rpc(node, "evm_mine")
    t.wait(p, timeout=5)
    drive(t, lambda: not t.in_flight())
    assert mined(node, before.tx_hashes[0])  # the earlier run's transaction, not replaced
    assert chain_nonce(node) == 2 and t.stats().cancellations_total == 0


def test_restart_cancels_a_stuck_tx_left_in_the_pool(node: Anvil) -> None:
    rpc(node, "evm_setAutomine", False)
    before = transactor(node.url).submit(RECIPIENT, value=1)
    rpc(node, "anvil_setNextBlockBaseFeePerGas", hex(10 * before.attempts[0].max_fee_per_gas))  # now stuck

    t = transactor(node.url, resubmit_after=0.2)
    p = t.submit(RECIPIENT, value=2)
    assert p.nonce == 1
    filler = t.in_flight()[0]
    assert filler.filler and filler.nonce == 0
    drive(t, lambda: any(a.acknowledged for a in filler.attempts))
    rpc(node, "evm_mine")
    t.wait(p, timeout=5)
    drive(t, lambda: not t.in_flight())
    assert not mined(node, before.tx_hashes[0])
    assert chain_nonce(node) == 2
    stats = t.stats()
    assert (stats.inherited_total, stats.cancellations_total, stats.confirmed_total) == (1, 1, 1)


# -- reorgs ----------------------------------------------------------------------------


def test_reorg_that_drops_the_tx_resends_it_until_confirmed(node: Anvil) -> None:
    t = transactor(node.url, confirmations=3)
    p = t.submit(RECIPIENT, value=1)
    drive(t, lambda: p.status is TxStatus.MINED)
    assert p.mined is not None
    first_block = bytes(p.mined["blockHash"])
    rpc(node, "anvil_reorg", 1, [])  # replace the tx's block with an empty one
    assert not mined(node, p.tx_hashes[0])
    drive(t, lambda: p.status is TxStatus.MINED and bytes(p.mined["blockHash"]) != first_block)
    rpc(node, "evm_mine")
    rpc(node, "evm_mine")
    receipt = t.wait(p, timeout=5)
    assert receipt.block_hash != first_block
    assert node.w3.eth.get_block(receipt.block_number)["hash"] == receipt.block_hash
    assert t.stats().reorgs_total == 1 and receipt.nonce == 0
    assert chain_nonce(node) == 1


# -- reverts ---------------------------------------------------------------------------


def test_reverted_tx_is_reported_with_its_decoded_error_and_not_retried(node: Anvil) -> None:
    deployment = deploy(node.w3, OWNER, devnet_spec(), DeployParams(batcher=SENDER.address))
    inbox = InboxBinding(node.w3, deployment.contracts["Inbox"])
    data = bytes.fromhex(inbox.contract.encode_abi("appendBatch", [b"batch", b"\x01" * 32, 1, 5, []])[2:])
    t = transactor(node.url)

    with pytest.raises(L1Reverted) as estimated:  # the gas estimate reverts: nothing sent
        t.submit(inbox.address, data, abi=inbox.abi)
    assert estimated.value.error == "DelayedReadTooHigh"
    assert t.stats().next_nonce == 0 and chain_nonce(node, "pending") == 0

    with pytest.raises(L1TxReverted) as reverted:  # an explicit gas limit: mined, reverted
        t.send(inbox.address, data, gas=200_000, abi=inbox.abi)
    assert (reverted.value.error, reverted.value.args_) == ("DelayedReadTooHigh", (5, 0))
    assert reverted.value.receipt.status == 0 and reverted.value.receipt.nonce == 0
    stats = t.stats()
    assert (stats.reverted_total, stats.in_flight, stats.fees_paid_wei_total) == (1, 0, reverted.value.receipt.fee_wei)
    assert chain_nonce(node) == 1


# -- RPC faults ------------------------------------------------------------------------


def test_rpc_down_503_and_timeouts_are_ridden_out_without_a_second_nonce(node: Anvil) -> None:
    proxy = FlakyProxy(node.url).start()
    try:
        t = transactor(proxy.url)
        assert t.send(RECIPIENT, value=1).nonce == 0
        proxy.stop()  # connection refused
        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(t.send, RECIPIENT, value=2)
            time.sleep(0.4)
            proxy.start("503")
            time.sleep(0.4)
            proxy.mode = "hang"  # longer than rpc_timeout
            time.sleep(1.2)
            proxy.mode = "up"
            receipt = future.result(timeout=15)
        assert receipt.nonce == 1
        assert t.stats().rpc_errors_total >= 3
        assert chain_nonce(node) == 2
    finally:
        proxy.stop()


def test_lost_send_reply_is_resolved_by_our_own_receipt_not_a_new_nonce(node: Anvil) -> None:
    proxy = FlakyProxy(node.url).start("lose-send-replies")
    try:
        t = transactor(proxy.url)
        p = t.submit(RECIPIENT, value=1)  # anvil mined it; we never heard back
        assert p.rebroadcast and p.status is TxStatus.QUEUED and t.stats().rpc_errors_total == 1
        proxy.mode = "up"
        receipt = t.wait(p, timeout=5)
        assert receipt.tx_hash == p.tx_hashes[0] and len(p.attempts) == 1
        assert t.stats().nonce_resyncs_total == 0
        assert chain_nonce(node) == 1
    finally:
        proxy.stop()


def test_nonce_too_low_from_our_own_tx_waits_for_its_receipt_instead_of_resyncing(node: Anvil) -> None:
    proxy = FlakyProxy(node.url).start("lose-send-replies,hide-receipts")
    try:
        t = transactor(proxy.url, resubmit_after=30)
        p = t.submit(RECIPIENT, value=1)  # mined, reply lost
        proxy.mode = "hide-receipts"
        drive(t, lambda: t.stats().nonce_too_low_total >= 1)  # the re-send hears "nonce too low"
        for _ in range(10):
            t.poll()
        assert p.nonce == 0 and p.nonce_gone_at and t.stats().nonce_resyncs_total == 0
        proxy.mode = "up"  # the receipt shows up: it was ours
        receipt = t.wait(p, timeout=5)
        assert receipt.nonce == 0 and receipt.tx_hash == p.tx_hashes[0]
        assert t.stats().nonce_resyncs_total == 0 and t.stats().next_nonce == 1
        assert chain_nonce(node) == 1
    finally:
        proxy.stop()


# -- balance ---------------------------------------------------------------------------


def test_low_balance_alarm_fires_once_and_clears(node: Anvil) -> None:
    alarms: list[int] = []
    t = L1Transactor.connect(node.url, SENDER, FAST, on_low_balance=alarms.append)
    t.send(RECIPIENT, value=1)
    assert alarms == [] and not t.stats().balance_low

    rpc(node, "anvil_setBalance", SENDER.address, hex(ETHER // 2))
    assert t.refresh_balance() == ETHER // 2
    t.refresh_balance()
    assert alarms == [ETHER // 2]
    assert t.stats().balance_low and t.stats().balance_wei == ETHER // 2

    rpc(node, "anvil_setBalance", SENDER.address, hex(100 * ETHER))
    time.sleep(FAST.balance_check_interval)
    t.poll()  # polling re-reads the balance on its own
    assert not t.stats().balance_low and alarms == [ETHER // 2]

    rpc(node, "anvil_setBalance", SENDER.address, hex(1000))
    with pytest.raises(L1InsufficientFunds):
        t.submit(RECIPIENT, value=1)
    assert t.stats().next_nonce == 1 and t.stats().in_flight == 0  # no nonce reserved


def test_config_refuses_a_bump_geth_would_refuse() -> None:
    with pytest.raises(ConfigError):
        TransactorConfig(fee_bump_percent=5)
    with pytest.raises(ConfigError):
        TransactorConfig(confirmations=0)


def test_nonce_gap_left_by_a_deep_reorg_fails_the_stale_tx_and_never_lets_it_land(node: Anvil) -> None:
    """A settled transaction vanishes (reverted past our confirmation depth) and the next one waits
    on its nonce forever: it fails with L1NonceGap, is replaced by a no-op before the gap is filled
    (filled first, the stale version would be mined), and the key is usable again after a resync."""
    t = transactor(node.url)
    snapshot = rpc(node, "evm_snapshot")
    t.send(RECIPIENT, value=1)  # nonce 0, final at 1 confirmation
    rpc(node, "evm_revert", snapshot)  # L1 forgets it: the chain is back at nonce 0
    assert chain_nonce(node) == 0
    stale = t.submit(RECIPIENT, value=7)  # nonce 1: behind a gap, in the pool, never mineable
    assert stale.nonce == 1
    with pytest.raises(L1NonceGap):
        t.wait(stale, timeout=15)
    drive(t, lambda: not t.in_flight())  # the no-ops at nonces 1 (replacement) then 0 (the gap)
    assert chain_nonce(node) == 2
    assert not any(mined(node, h) for h in stale.tx_hashes)  # the stale transaction never landed
    ours = [tx for n in range(node.w3.eth.block_number + 1)
            for tx in node.w3.eth.get_block(n, full_transactions=True)["transactions"] if tx["from"] == SENDER.address]
    assert sorted(tx["nonce"] for tx in ours) == [0, 1]
    assert all(tx["to"] == SENDER.address and tx["value"] == 0 for tx in ours)  # both no-ops
    t.resync()
    receipt = t.send(RECIPIENT, value=3)
    assert receipt.nonce == 2 and chain_nonce(node) == 3
