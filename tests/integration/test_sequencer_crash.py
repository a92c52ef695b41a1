"""`rollup sequencer` as a subprocess: kill -9 under load loses nothing that had a receipt;
bad configuration exits with code 2 and a clear message, no traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from eth_account import Account

from l2.devkeys import DEV_ACCOUNTS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(datadir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rollup", "sequencer", "--datadir", str(datadir), "--rpc-port", str(port),
         "--grpc-port", str(free_port()), "--metrics-port", str(free_port()), "--block-time", "0.1", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    assert line.startswith("sequencer ready"), f"no ready line: {line!r} {proc.stderr.read() if proc.poll() else ''}"
    return proc, f"http://127.0.0.1:{port}"


def rpc(url: str, method: str, *params):
    req = urllib.request.Request(url, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                                        "params": list(params)}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def transfer(key: str, nonce: int) -> str:
    raw = Account.sign_transaction(
        {"type": 2, "chainId": 901, "nonce": nonce, "to": DEV_ACCOUNTS[9][0], "value": 1 + nonce, "gas": 21000,
         "maxFeePerGas": 5 * 10**9, "maxPriorityFeePerGas": 10**6}, key,
    ).raw_transaction
    return "0x" + raw.hex()


def test_kill_9_under_load_keeps_every_receipted_transaction(tmp_path):
    proc, url = start(tmp_path / "data")
    keys = [DEV_ACCOUNTS[i][1] for i in range(4)]
    pre_signed = [[transfer(key, n) for n in range(400)] for key in keys]
    sent: list[str] = []
    stop = threading.Event()

    def load() -> None:
        for n in range(400):
            for k in range(len(keys)):
                if stop.is_set():
                    return
                try:
                    answer = rpc(url, "eth_sendRawTransaction", pre_signed[k][n])
                except OSError:
                    return  # the server is gone
                if "result" in answer:
                    sent.append(answer["result"])

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    receipts: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 120
        while len(receipts) < 60:
            assert time.monotonic() < deadline, "receipts never arrived"
            for tx_hash in list(sent):
                if tx_hash not in receipts:
                    receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)["result"]
                    if receipt is not None:
                        receipts[tx_hash] = receipt["blockHash"]
        assert loader.is_alive(), "the load finished before the kill: not a kill under load"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        loader.join(timeout=30)
        proc.stdout.close()
        proc.stderr.close()

    proc, url = start(tmp_path / "data")
    try:
        for tx_hash, block_hash in receipts.items():
            receipt = rpc(url, "eth_getTransactionReceipt", tx_hash)["result"]
            assert receipt is not None, f"receipted tx {tx_hash} lost"
            assert receipt["blockHash"] == block_hash
        head = rpc(url, "eth_getBlockByNumber", "latest", False)["result"]
        number = int(head["number"], 16)
        assert number >= max(int(rpc(url, "eth_getBlockByHash", h, False)["result"]["number"], 16)
                             for h in receipts.values())
        child = head
        for n in range(number - 1, max(-1, number - 40), -1):  # the head links back to its ancestors
            parent = rpc(url, "eth_getBlockByNumber", hex(n), False)["result"]
            assert child["parentHash"] == parent["hash"]
            child = parent
        # The restarted node keeps sequencing from the recovered state.
        nonce = int(rpc(url, "eth_getTransactionCount", DEV_ACCOUNTS[0][0], "latest")["result"], 16)
        tx_hash = rpc(url, "eth_sendRawTransaction", transfer(keys[0], nonce))["result"]
        deadline = time.monotonic() + 60
        while rpc(url, "eth_getTransactionReceipt", tx_hash)["result"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--block-time", "0.01"], {}, "block_time"),
        (["--rpc-port", "notaport"], {}, "rpc_port"),
        ([], {"ROLLUP_SEQUENCER_MEMPOOL_GLOBAL": "0"}, "mempool_global"),
        ([], {"ROLLUP_SEQUENCER_NO_SUCH_KEY": "1"}, "NO_SUCH_KEY"),
        (["--config", "/nonexistent/seq.toml"], {}, "cannot read config file"),
        (["--genesis", "/nonexistent/genesis.json"], {}, "cannot read genesis file"),
    ],
)
def test_bad_configuration_exits_2_without_traceback(tmp_path, args, env, needle):
    done = subprocess.run(
        [sys.executable, "-m", "rollup", "sequencer", "--datadir", str(tmp_path / "d"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )
    assert done.returncode == 2
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
