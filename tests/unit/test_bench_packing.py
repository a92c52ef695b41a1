"""`bench.core.run_l2` packs blocks by the producer's rules when given its byte cap (like with like)."""

from __future__ import annotations

from dataclasses import replace

from bench.core import run_l2
from bench.workloads import eth_transfers
from l2.spec import ChainSpec
from tests.conftest import CHAIN_ID


def test_blocks_close_on_the_byte_cap_or_the_gas_limit():
    workload = eth_transfers(20, CHAIN_ID, senders=4)
    spec = workload.spec(ChainSpec(chain_id=CHAIN_ID))
    size = max(len(raw) for raw in workload.txs)
    assert min(len(raw) for raw in workload.txs) > size - 4  # same-shape transfers

    _, gas, blocks = run_l2(spec, workload, max_block_bytes=5 * size)  # 5 per block by bytes
    assert gas == 20 * 21_000 and blocks == 4

    by_gas = replace(spec, gas_limit=3 * 21_000)  # 3 per block by gas, bytes to spare
    _, gas, blocks = run_l2(by_gas, workload, max_block_bytes=10**6)
    assert gas == 20 * 21_000 and blocks == 7

    _, gas, blocks = run_l2(spec, workload)  # fixed blocks of BLOCK_TXS (400): one
    assert gas == 20 * 21_000 and blocks == 1
