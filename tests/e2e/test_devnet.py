"""The README's first command: `rollup devnet` serves a chain that cast can transact on."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rpc(port: int, method: str, params: list) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["result"]


@pytest.mark.slow
def test_devnet_serves_and_resumes(tmp_path):
    rpc, grpc, metrics = _free_port(), _free_port(), _free_port()
    cmd = [
        sys.executable,
        "-m",
        "rollup",
        "devnet",
        "--datadir",
        str(tmp_path),
        "--rpc-port",
        str(rpc),
        "--grpc-port",
        str(grpc),
        "--metrics-port",
        str(metrics),
    ]
    heights = []
    first_blocks = []
    for _ in range(2):
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("sequencer ready"):
                break
        text = "".join(banner)
        assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in text
        assert int(_rpc(rpc, "eth_chainId", []), 16) == 901
        deadline = time.monotonic() + 30
        target = heights[-1] + 2 if heights else 2
        while int(_rpc(rpc, "eth_blockNumber", []), 16) < target and time.monotonic() < deadline:
            time.sleep(0.2)
        heights.append(int(_rpc(rpc, "eth_blockNumber", []), 16))
        first_blocks.append(_rpc(rpc, "eth_getBlockByNumber", ["0x1", False])["hash"])  # type: ignore[index]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    # the second start resumed the same chain rather than a new genesis
    assert heights[1] > heights[0] >= 2
    assert first_blocks[0] == first_blocks[1]
