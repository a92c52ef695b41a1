"""ops.processes.Supervisor with small Python children: prefixes, readiness, stop order, no orphans."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ops.processes import ChildFailed, Supervisor

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]


def script(body: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(body)]


GRACEFUL = """
    import signal, sys, time
    name = sys.argv[1]
    def bye(*_):
        print("bye", name, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, bye)
    print("starting", name, flush=True)
    print("ready", name, flush=True)
    while True:
        time.sleep(0.1)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_output_is_prefixed_ready_lines_are_seen_and_children_stop_newest_first():
    out = io.StringIO()
    sup = Supervisor(out, color=False)
    first = sup.start("first", [*script(GRACEFUL), "first"], ready_prefix="ready")
    second = sup.start("second-role", [*script(GRACEFUL), "second"], ready_prefix="ready")
    try:
        assert sup.wait_ready([first, second], 30, threading.Event())
    finally:
        assert sup.stop_all(grace=10) == []
    text = out.getvalue()
    assert "      first | starting first" in text
    assert "second-role | ready second" in text
    assert text.index("bye second") < text.index("bye first")  # reverse start order
    assert first.exited() == 0 and second.exited() == 0


def test_a_child_that_ignores_sigterm_is_killed_with_its_group():
    out = io.StringIO()
    sup = Supervisor(out, color=False)
    stubborn = sup.start("stubborn", script("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print("ready", worker.pid, flush=True)
        time.sleep(60)
    """), ready_prefix="ready")
    assert sup.wait_ready([stubborn], 30, threading.Event())
    worker = int(out.getvalue().split("ready ")[1].split()[0])
    started = time.monotonic()
    assert sup.stop_all(grace=0.5) == ["stubborn"]
    assert time.monotonic() - started < 10
    assert wait_dead(worker), "the child's own child outlived it"


def test_a_grandchild_left_behind_by_a_clean_exit_is_cleaned_up():
    out = io.StringIO()
    sup = Supervisor(out, color=False)
    parent = sup.start("parent", script("""
        import signal, subprocess, sys, time
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print("ready", worker.pid, flush=True)
        time.sleep(60)
    """), ready_prefix="ready")
    assert sup.wait_ready([parent], 30, threading.Event())
    worker = int(out.getvalue().split("ready ")[1].split()[0])
    assert sup.stop_all(grace=10) == []
    assert wait_dead(worker)


def test_watch_returns_the_child_that_died_and_wait_ready_reports_an_early_exit():
    out = io.StringIO()
    sup = Supervisor(out, color=False)
    steady = sup.start("steady", [*script(GRACEFUL), "steady"], ready_prefix="ready")
    flaky = sup.start("flaky", script("import time; print('ready', flush=True); time.sleep(0.5); raise SystemExit(3)"),
                      ready_prefix="ready")
    try:
        assert sup.wait_ready([steady, flaky], 30, threading.Event())
        died = sup.watch(threading.Event())
        assert died is flaky and died.exited() == 3
    finally:
        sup.stop_all()
    broken = sup.start("broken", script("print('no config', flush=True); raise SystemExit(2)"), ready_prefix="ready")
    with pytest.raises(ChildFailed, match="broken exited with code 2 while starting"):
        sup.wait_ready([broken], 30, threading.Event())
    sup.stop_all()
    assert "broken | no config" in out.getvalue()


def test_wait_ready_gives_up_when_asked_to_stop():
    sup = Supervisor(io.StringIO(), color=False)
    slow = sup.start("slow", script("import time; time.sleep(60)"), ready_prefix="ready")
    stop = threading.Event()
    stop.set()
    try:
        assert sup.wait_ready([slow], 30, stop) is False
    finally:
        sup.stop_all(grace=5)


def test_run_once_raises_on_failure_and_streams_output():
    out = io.StringIO()
    sup = Supervisor(out, color=False)
    sup.run_once("ok", script("print('done')"))
    with pytest.raises(ChildFailed, match="deploy failed with exit code 1"):
        sup.run_once("deploy", script("import sys; print('boom'); sys.exit(1)"))
    assert "ok | done" in out.getvalue() and "deploy | boom" in out.getvalue()
    assert sup.children == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_children_die_with_a_supervisor_killed_by_sigkill():
    supervisor = subprocess.Popen(
        script("""
            import threading, time
            from ops.processes import Supervisor
            sup = Supervisor()
            child = sup.start("sleeper", ["sleep", "60"])
            print("child", child.pid, flush=True)
            time.sleep(60)
        """),
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert supervisor.stdout is not None
    line = supervisor.stdout.readline()
    child = int(line.split()[1])
    assert alive(child)
    supervisor.send_signal(signal.SIGKILL)
    supervisor.wait()
    assert wait_dead(child), "an orphan survived its supervisor"
