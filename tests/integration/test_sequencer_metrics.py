"""Prometheus metrics on /metrics move with blocks, the pool, rejections and RPC traffic."""

from __future__ import annotations

import json
import time
import urllib.request

from eth_account import Account
from prometheus_client.parser import text_string_to_metric_families

from l2.devkeys import DEV_ACCOUNTS

ALICE_KEY = DEV_ACCOUNTS[0][1]


def scrape(sequencer_node) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(sequencer_node.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def post(sequencer_node, payload) -> dict:
    req = urllib.request.Request(sequencer_node.rpc_url, data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_metrics_follow_blocks_rejections_and_rpc(sequencer_node):
    raw = Account.sign_transaction(
        {"type": 2, "chainId": 901, "nonce": 0, "to": DEV_ACCOUNTS[1][0], "value": 1, "gas": 21000,
         "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**6}, ALICE_KEY,
    ).raw_transaction
    tx_hash = post(
        sequencer_node, {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
    )
    assert "result" in tx_hash
    for _ in range(600):
        receipt = post(sequencer_node, {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt",
                              "params": [tx_hash["result"]]})["result"]
        if receipt:
            break
        time.sleep(0.05)
    assert receipt is not None
    post(sequencer_node, {"jsonrpc": "2.0", "id": 2, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]})
    post(sequencer_node, {"jsonrpc": "2.0", "id": 3, "method": "eth_sendRawTransaction", "params": ["0x01"]})
    for i in range(5):
        post(sequencer_node, {"jsonrpc": "2.0", "id": 4, "method": f"made_up_{i}", "params": []})

    m = scrape(sequencer_node)
    head = m[("rollup_sequencer_head_block_number", (("head", "unsafe"),))]
    assert head >= int(receipt["blockNumber"], 16)
    assert m[("rollup_sequencer_head_block_number", (("head", "safe"),))] == 0
    assert m[("rollup_sequencer_transactions_included_total", ())] >= 1
    assert m[("rollup_sequencer_gas_used_total", ())] >= 21000
    assert m[("rollup_sequencer_block_build_seconds_count", ())] >= head
    assert m[("rollup_sequencer_transactions_rejected_total", (("reason", "nonce_too_low"),))] == 1
    assert m[("rollup_sequencer_transactions_rejected_total", (("reason", "encoding"),))] == 1
    assert m[("rollup_sequencer_mempool_transactions_count", (("state", "pending"),))] == 0
    assert m[("rollup_sequencer_rpc_requests_total", (("method", "eth_sendRawTransaction"), ("outcome", "ok")))] == 1
    assert m[("rollup_sequencer_rpc_requests_total", (("method", "eth_sendRawTransaction"), ("outcome", "error")))] == 2
    assert m[("rollup_sequencer_rpc_requests_total", (("method", "unknown"), ("outcome", "error")))] == 5
    assert not any("made_up" in str(labels) for _, labels in m)
    assert m[("rollup_sequencer_rpc_latency_seconds_count", (("method", "eth_getTransactionReceipt"),))] >= 1
