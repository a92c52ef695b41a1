"""kill -9 a writer mid-way: the store reopens at the last sealed block, uncorrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from l2.chain import L2Chain
from l2.types import Head
from tests.unit.chain_writer import BLOCKS, build, workload

ROOT = Path(__file__).resolve().parents[2]


def _run_until_killed(path: Path, blocks_to_see: int) -> tuple[int, dict[int, str]]:
    """Start the writer, SIGKILL it after `blocks_to_see` seals; returns (start head, sealed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.unit.chain_writer", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    sealed: dict[int, str] = {}
    assert proc.stdout is not None
    start = int(proc.stdout.readline().split()[1])
    for line in proc.stdout:
        _, number, block_hash = line.split()
        sealed[int(number)] = block_hash
        if len(sealed) >= blocks_to_see:
            break
    os.kill(proc.pid, signal.SIGKILL)  # mid-way through sealing the next block
    proc.wait()
    return start, sealed


@pytest.mark.slow
def test_kill_9_leaves_the_last_sealed_block(tmp_path):
    path = tmp_path / "chain"
    acknowledged: dict[int, str] = {}
    for round_ in range(3):
        start, sealed = _run_until_killed(path, blocks_to_see=4 + round_)
        assert start >= max(acknowledged, default=0)
        acknowledged.update(sealed)

    work, spec = workload()
    chain = L2Chain.open(path, spec, map_size=1 << 30)
    head = chain.head(Head.UNSAFE)
    # nothing acknowledged was lost, and the head is a whole block
    assert head.block_number >= max(acknowledged)
    assert head.block_number < BLOCKS
    for number, block_hash in acknowledged.items():
        assert chain.header_by_number(number).hash.hex() == block_hash
    # every block is readable with its receipts
    for number in range(1, head.block_number + 1):
        header = chain.header_by_number(number)
        assert len(chain.receipts(header)) == len(chain.transactions(header)) == 20
    # the crashed store keeps building, and equals a store that never crashed
    next_hash = build(chain, work, spec, head.block_number + 1)
    chain.close()
    clean = L2Chain.open(tmp_path / "clean", spec, map_size=1 << 30)
    for number in range(1, head.block_number + 2):
        clean_hash = build(clean, work, spec, number)
    assert clean_hash == next_hash
    clean.close()
