"""`rollup devnet` as a subprocess on free ports, for the end-to-end and ops tests."""

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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PORT_FLAGS = (
    "l1_port", "rpc_port", "grpc_port", "verifier_rpc_port",
    "metrics_port", "batcher_metrics_port", "proposer_metrics_port", "verifier_metrics_port",
)
READY_LINE = "devnet ready"


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def rpc(port: int, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise AssertionError(f"{method} {params}: {answer['error']}")
    return answer["result"]


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class DevnetProcess:
    """One `rollup devnet` run; its whole output is kept (`output`) for assertion messages."""

    def __init__(
        self, datadir: Path, ports: dict[str, int] | None = None, env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.datadir = datadir
        self.args = list(args or [])  # further `rollup devnet` flags
        self.ports = ports or dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-400:])

    def start(self, timeout: float = 300.0) -> DevnetProcess:
        cmd = [sys.executable, "-m", "rollup", "devnet", "--datadir", str(self.datadir)]
        for name, port in self.ports.items():
            cmd += [f"--{name.replace('_', '-')}", str(port)]
        cmd += self.args
        self.ready.clear()
        self.lines.append(f"--- start: {' '.join(cmd)}")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"devnet exited with {self.proc.returncode} before ready:\n{self.output}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"devnet not ready within {timeout:.0f} s:\n{self.output}")
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY_LINE):
                self.ready.set()

    def children(self) -> list[int]:
        """Pids whose parent is the devnet (anvil and the roles), read from /proc."""
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid:
                found.append(int(entry.name))
        return found

    def stop(self, sig: int = signal.SIGINT, timeout: float = 90.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        """The devnet's exit code, once it and the reader of its output are done."""
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"devnet did not stop within {timeout:.0f} s:\n{self.output}") from None
        if self._reader is not None:
            self._reader.join(5)
        return code

    def kill(self) -> None:
        """Last resort of a failed test: the devnet and every child's process group."""
        if self.proc is None:
            return
        pids = self.children() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> DevnetProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def surviving_groups(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The process groups among `pids` that still have a member after `timeout` (each child leads one)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                os.killpg(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
