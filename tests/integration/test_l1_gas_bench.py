"""`rollup bench l1gas` runs on its own anvil and reports sane figures in the shared format."""

from __future__ import annotations

import json

from bench.l1gas import PAYLOAD_KIB, calldata_floor_gas, calldata_gas, run_bench


def test_calldata_cost_models():
    assert calldata_gas(b"\x00\x01\x00\xff") == 4 + 16 + 4 + 16
    assert calldata_floor_gas(b"\x00\x01") == 21_000 + 10 * (1 + 4)


def test_l1gas_bench_reports_every_call():
    result = run_bench(None)
    data = json.loads(result.to_json())
    assert data["bench"] == "l1gas"
    for kib in PAYLOAD_KIB:
        name = f"appendBatch_{kib}KiB_gas_per_KiB"
        # never below the bare calldata cost of the payload
        assert data["figures"][name] >= data["baselines"][name] and 0 < data["advantage"][name] <= 1
    for name in ("deposit_eth_gas", "createAssertion_gas", "confirmAssertion_gas", "forceInclude_1_deposit_gas"):
        assert 21_000 < data["figures"][name] < 1_000_000
    assert 0 < data["figures"]["appendBatch_64KiB_gas_above_eip7623_floor"] < 100_000
    # two new storage slots (44,200) plus the ~610-byte header's calldata, keccak and parse
    assert 44_200 < data["figures"]["appendBatch_record_1_l1_origin_gas"] < 100_000
