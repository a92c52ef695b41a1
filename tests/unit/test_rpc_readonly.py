"""`l2.rpc` as a read-only node (what a verifier serves): every read, a clear error for writes;
and the two-step (staged) methods a role plugs in."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import rlp
from eth_account import Account
from eth_utils import to_checksum_address

from bench.workloads import Key
from l2.chain import L2Chain
from l2.deposits import Deposit, deposit_transaction
from l2.rpc import JsonRpc, RpcSettings, Staged
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from tests.conftest import CHAIN_ID, attrs

RECIPIENT = to_checksum_address("0x" + "ab" * 20)


def call(rpc: JsonRpc, payload: Any) -> Any:
    answer = asyncio.run(rpc.handle(json.dumps(payload).encode()))
    return None if answer is None else json.loads(answer)


def req(method: str, *params: Any, id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": list(params)}


def signed(key: Key, nonce: int) -> bytes:
    return bytes(Account.sign_transaction(
        {"type": 2, "chainId": CHAIN_ID, "nonce": nonce, "to": RECIPIENT, "value": 1000 + nonce, "gas": 21_000,
         "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**6}, key.private,
    ).raw_transaction)


def test_read_only_node_serves_reads_and_refuses_writes_clearly(chain: L2Chain, spec: ChainSpec, keys: list[Key]):
    raw = signed(keys[0], 0)
    sealed, _ = chain.build_block(attrs(1), [decode_transaction(raw, spec)])
    seen: list[tuple[str, str]] = []
    rpc = JsonRpc(chain, RpcSettings(client_version="pyrollup-verifier/test"),
                  observe=lambda method, outcome, seconds: seen.append((method, outcome)))
    try:
        assert call(rpc, req("eth_chainId"))["result"] == hex(CHAIN_ID)
        assert call(rpc, req("web3_clientVersion"))["result"] == "pyrollup-verifier/test"
        assert call(rpc, req("eth_blockNumber"))["result"] == "0x1"
        assert call(rpc, req("eth_getBalance", RECIPIENT.lower(), "latest"))["result"] == hex(1000)
        assert call(rpc, req("eth_getTransactionCount", "0x" + keys[0].address.hex(), "pending"))["result"] == "0x1"
        block = call(rpc, req("eth_getBlockByNumber", "0x1", False))["result"]
        assert block["hash"] == "0x" + sealed.hash.hex() and len(block["transactions"]) == 1
        receipt = call(rpc, req("eth_getTransactionReceipt", block["transactions"][0]))["result"]
        assert receipt["status"] == "0x1" and receipt["blockNumber"] == "0x1"
        assert call(rpc, req("eth_getLogs", {"fromBlock": "0x0"}))["result"] == []  # threaded
        assert "paused" not in call(rpc, req("rollup_getHeads"))["result"]

        refused = call(rpc, req("eth_sendRawTransaction", "0x" + signed(keys[0], 1).hex()))["error"]
        assert refused["code"] == -32601
        assert refused["message"] == (
            "the method eth_sendRawTransaction is not supported by a read-only node: send transactions to the sequencer"
        )
        batch = call(rpc, [req("eth_sendRawTransaction", "0x00", id=1), req("eth_blockNumber", id=2)])
        assert batch[0]["error"]["code"] == -32601 and batch[1]["result"] == "0x1"
        assert call(rpc, req("eth_nope"))["error"]["code"] == -32601
        assert chain.transaction_location(decode_transaction(signed(keys[0], 1), spec).hash) is None
        assert ("eth_sendRawTransaction", "error") in seen and ("unknown", "error") in seen
    finally:
        rpc.close()


def test_block_size_and_hashes_without_decoding_match_the_block_rlp(chain: L2Chain, spec: ChainSpec, keys: list[Key]):
    legacy = bytes(Account.sign_transaction(
        {"chainId": CHAIN_ID, "nonce": 0, "to": RECIPIENT, "value": 1, "gas": 21_000, "gasPrice": 3 * 10**9},
        keys[1].private,
    ).raw_transaction)
    deposit = deposit_transaction(Deposit(0, b"\x01" * 20, b"\x02" * 20, 5, 100_000, b"\x00\x01"))
    txs = [deposit, decode_transaction(signed(keys[0], 0), spec), decode_transaction(legacy, spec)]
    sealed, skipped = chain.build_block(attrs(1), txs)
    assert not skipped
    rpc = JsonRpc(chain)
    try:
        lean = call(rpc, req("eth_getBlockByNumber", "0x1", False))["result"]
        full = call(rpc, req("eth_getBlockByHash", "0x" + sealed.hash.hex(), True))["result"]
        assert int(lean["size"], 16) == int(full["size"], 16) == len(rlp.encode(chain.block(sealed.header)))
        assert lean["transactions"] == [t["hash"] for t in full["transactions"]] == ["0x" + t.hash.hex() for t in txs]
        assert call(rpc, req("eth_getBlockTransactionCountByNumber", "0x1"))["result"] == "0x3"
    finally:
        rpc.close()


def test_staged_method_prepares_a_whole_batch_once_then_applies_in_order(chain: L2Chain):
    prepared_calls: list[list[list[Any]]] = []
    applied: list[Any] = []

    async def prepare(calls: list[list[Any]]) -> list[Any]:
        prepared_calls.append(calls)
        return [ValueError("odd") if p[0] % 2 else p[0] * 10 for p in calls]

    def apply(params: list[Any], prepared: Any) -> Any:
        if isinstance(prepared, BaseException):
            raise prepared
        applied.append(prepared)
        return prepared

    rpc = JsonRpc(chain)
    rpc.register("test_double", Staged(prepare, apply))
    try:
        answers = call(rpc, [req("test_double", 2, id=1), req("eth_chainId", id=2), req("test_double", 3, id=3),
                             req("test_double", 4, id=4)])
        assert prepared_calls == [[[2], [3], [4]]]
        assert applied == [20, 40]
        assert [a.get("result") for a in answers] == [20, hex(CHAIN_ID), None, 40]
        assert answers[2]["error"]["code"] == -32603  # prepare's error reported at its position
        assert call(rpc, req("test_double", 6))["result"] == 60
        assert "test_double" in rpc.methods
    finally:
        rpc.close()
