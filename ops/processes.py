"""Supervise the devnet's child processes: start, stream prefixed output, detect readiness, stop.

Each child runs in a process group of its own, so a Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in reverse start order (L1 last, after everything
that writes to it); a child whose group outlives the leader, or that ignores SIGTERM, is
killed with its group. On Linux each child also gets SIGTERM when the supervisor dies, even
by `kill -9`, so a devnet never leaves orphans holding its ports.
"""

from __future__ import annotations

import collections
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TextIO

from l2.errors import RollupError

PR_SET_PDEATHSIG = 1
TAIL_LINES = 20
COLORS = ("36", "33", "35", "32", "34", "31", "96", "93")


class ChildFailed(RollupError):
    """A child exited, or did not get ready in time; the message names it and why."""


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


_LIBC = _load_libc()


def _die_with_parent(parent: int) -> Callable[[], None]:
    """preexec_fn: SIGTERM this child when its parent dies (prctl), or exit if it already has."""

    def setup() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return setup


class Child:
    """One supervised process; its output is streamed line by line with its role as prefix."""

    def __init__(
        self,
        role: str,
        proc: subprocess.Popen[bytes],
        stream: IO[bytes],
        write: Callable[[str, str], None],
        ready_prefix: str | None,
    ) -> None:
        self.role = role
        self.proc = proc
        self._stream = stream
        self.ready_prefix = ready_prefix
        self.ready = threading.Event()
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self._write = write
        self._reader = threading.Thread(target=self._pump, name=f"{role}-output", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self) -> None:
        for raw in self._stream:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.tail.append(line)
            self._write(self.role, line)
            if self.ready_prefix is not None and line.startswith(self.ready_prefix):
                self.ready.set()

    def exited(self) -> int | None:
        return self.proc.poll()

    def flush_output(self, timeout: float = 2.0) -> None:
        """Wait until the reader has printed everything the child wrote before it exited."""
        self._reader.join(timeout)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a zombie's group is still ours
            return True
        return True

    def signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass


class Supervisor:
    """Starts children, waits until they are ready, watches them, stops them all."""

    def __init__(self, out: TextIO | None = None, color: bool | None = None) -> None:
        self.out = out or sys.stdout
        if color is None:
            color = self.out.isatty() and not os.environ.get("NO_COLOR")
        self.color = color
        self.children: list[Child] = []
        self.width = 9
        self._lock = threading.Lock()
        self._forced = threading.Event()

    # -- output -------------------------------------------------------------------

    def write(self, role: str, line: str) -> None:
        """Print one line of a child (or of the supervisor itself) with its prefix."""
        prefix = f"{role:>{self.width}} |"
        if self.color:
            code = COLORS[sum(role.encode()) % len(COLORS)]
            prefix = f"\x1b[{code}m{prefix}\x1b[0m"
        with self._lock:
            try:
                self.out.write(f"{prefix} {line}\n")
                self.out.flush()
            except (OSError, ValueError):  # our own stdout went away: keep supervising regardless
                pass

    def say(self, text: str) -> None:
        """Unprefixed output of the supervisor (the banner, the stop notice)."""
        with self._lock:
            try:
                self.out.write(text + ("" if text.endswith("\n") else "\n"))
                self.out.flush()
            except (OSError, ValueError):
                pass

    # -- starting -----------------------------------------------------------------

    def start(
        self,
        role: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        ready_prefix: str | None = None,
        stdout_file: Path | None = None,
        cwd: Path | None = None,
    ) -> Child:
        """Start `argv`; its stderr (and stdout unless `stdout_file`) is streamed with the prefix."""
        log_file = open(stdout_file, "ab") if stdout_file is not None else None
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file if log_file is not None else subprocess.PIPE,
                stderr=subprocess.PIPE if log_file is not None else subprocess.STDOUT,
                env=dict(os.environ if env is None else env),
                cwd=cwd,
                process_group=0,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        except OSError as exc:
            raise ChildFailed(f"{role}: cannot start {argv[0]}: {exc}") from None
        finally:
            if log_file is not None:
                log_file.close()
        stream = proc.stderr if log_file is not None else proc.stdout
        assert stream is not None
        self.width = max(self.width, len(role))
        child = Child(role, proc, stream, self.write, ready_prefix)
        self.children.append(child)
        return child

    def run_once(self, role: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = 300.0) -> None:
        """Run a one-shot command (the deployment) with streamed output; raise unless it exits 0."""
        child = self.start(role, argv, env)
        try:
            code = child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ChildFailed(f"{role} did not finish within {timeout:.0f} s") from None
        finally:
            child.flush_output()
        self.children.remove(child)
        if code != 0:
            raise ChildFailed(f"{role} failed with exit code {code} (its output is above)")

    def wait_ready(
        self,
        children: Sequence[Child],
        timeout: float,
        stop: threading.Event,
        checks: Mapping[str, Callable[[], bool]] | None = None,
    ) -> bool:
        """Until each child printed its ready line (or passes its check); False if `stop` was set."""
        checks = dict(checks or {})
        deadline = time.monotonic() + timeout
        pending = list(children)
        while pending:
            if stop.is_set():
                return False
            for child in list(pending):
                code = child.exited()
                if code is not None:
                    child.flush_output()
                    raise ChildFailed(f"{child.role} exited with code {code} while starting (its output is above)")
                check = checks.get(child.role)
                if child.ready.is_set() or (check is not None and check()):
                    pending.remove(child)
            if pending and time.monotonic() > deadline:
                names = ", ".join(c.role for c in pending)
                raise ChildFailed(f"{names} not ready within {timeout:.0f} s (output above)")
            if pending:
                stop.wait(0.1)
        return True

    # -- running ------------------------------------------------------------------

    def watch(self, stop: threading.Event, poll: float = 0.2) -> Child | None:
        """Block until `stop` is set (None) or a child exits (that child)."""
        while not stop.is_set():
            for child in self.children:
                if child.exited() is not None:
                    child.flush_output()
                    return child
            stop.wait(poll)
        return None

    def force(self) -> None:
        """Make a running `stop_all` kill at once instead of waiting (a second Ctrl-C)."""
        self._forced.set()

    def stop_all(self, grace: float = 20.0) -> list[str]:
        """SIGTERM each child, newest first, and wait; kill what outlives `grace`. Returns who was killed."""
        killed: list[str] = []
        for child in reversed(self.children):
            if child.exited() is None and not self._forced.is_set():
                try:
                    child.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + grace
                while child.exited() is None and time.monotonic() < deadline and not self._forced.is_set():
                    time.sleep(0.05)
            if child.exited() is None:
                killed.append(child.role)
            # the leader is gone or stuck: whatever is left of its group (workers, a wrapped binary) goes too
            if child.exited() is None or child.group_alive():
                settle = time.monotonic() + (0 if self._forced.is_set() else 2.0)
                while child.group_alive() and child.exited() is not None and time.monotonic() < settle:
                    time.sleep(0.05)
                child.signal_group(signal.SIGKILL)
            child.proc.wait()
            child.flush_output()
        self.children.clear()
        return killed
