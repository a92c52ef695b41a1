"""A local anvil L1 node on a free loopback port, for the devnet, the tests and benches."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from web3 import Web3

from l2.errors import RollupError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PINNED_ANVIL = PROJECT_ROOT / "tools" / "node" / "node_modules" / ".bin" / "anvil"
DEFAULT_L1_CHAIN_ID = 900


class AnvilUnavailable(RollupError):
    """anvil is not installed (run ./dev setup) or did not start."""


def anvil_path() -> str:
    """The pinned anvil of tools/node, else the one on PATH."""
    if PINNED_ANVIL.exists():
        return str(PINNED_ANVIL)
    found = shutil.which("anvil")
    if found is None:
        raise AnvilUnavailable("anvil not found: run ./dev setup (installs it under tools/node)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Anvil:
    """`with Anvil() as node:` runs anvil until the block ends; `node.url`, `node.w3`."""

    def __init__(self, chain_id: int = DEFAULT_L1_CHAIN_ID, port: int | None = None, block_time: int | None = None):
        self.chain_id = chain_id
        self.port = port or free_port()
        self.block_time = block_time
        self.url = f"http://127.0.0.1:{self.port}"
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 30}))
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Anvil:
        cmd = [anvil_path(), "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(self.chain_id)]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise AnvilUnavailable(f"anvil exited with {self._proc.returncode}: {err.strip()}")
            try:
                answered = self.w3.eth.chain_id == self.chain_id
            except (OSError, ValueError):  # not listening yet
                answered = False
            if answered:
                # Another node may hold the port (free_port races): only ours staying alive counts.
                time.sleep(0.1)
                if self._proc.poll() is None:
                    return self
            time.sleep(0.05)
        self.stop()
        raise AnvilUnavailable(f"anvil did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def increase_time(self, seconds: int) -> None:
        """Move L1 time forward and mine a block at the new time."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
