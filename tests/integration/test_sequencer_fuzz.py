"""Fuzzing the real JSON-RPC server: any body, params or transaction bytes get a standard answer.

The server must answer every request with a well-formed JSON-RPC response (never an internal
error, never a dropped connection) and keep serving afterwards.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2.devkeys import DEV_ACCOUNTS

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True)
STANDARD_CODES = {-32700, -32600, -32601, -32602, -32000, -32005, 3}


class Client:
    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)

    def post(self, body: bytes) -> object:
        self.conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        assert response.status == 200
        return json.loads(data) if data else None


@pytest.fixture(scope="module")
def client(sequencer_node):
    return Client(sequencer_node.rpc_url)


def check_answer(answer: object) -> None:
    answers = answer if isinstance(answer, list) else [answer]
    for one in answers:
        assert isinstance(one, dict) and one["jsonrpc"] == "2.0" and "id" in one
        assert ("result" in one) != ("error" in one)
        if "error" in one:
            assert one["error"]["code"] in STANDARD_CODES, one
            assert isinstance(one["error"]["message"], str)


def still_serving(client: Client) -> None:
    answer = client.post(b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}')
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": "0x385"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=40)
    | st.sampled_from(["latest", "pending", "earliest", "safe", "finalized", "0x", "0x0", "0x1", "0xzz",
                       "0x" + "00" * 20, "0x" + "ff" * 32, "0x" + "ab" * 21]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["from", "to", "data", "input", "value", "gas", "blockHash", "address", "topics",
                         "fromBlock", "toBlock", "blockNumber", "requireCanonical"]) | st.text(max_size=8),
        children, max_size=5),
    max_leaves=12,
)


@FUZZ
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes(client, body):
    answer = client.post(body)
    if answer is not None:
        check_answer(answer)


@FUZZ
@given(
    method=st.sampled_from([
        "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_call",
        "eth_estimateGas", "eth_feeHistory", "eth_getTransactionByHash", "eth_getTransactionReceipt",
        "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts", "eth_getLogs", "eth_getProof",
        "eth_sendRawTransaction", "eth_blockNumber", "rollup_getHeads", "no_such_method",
    ]),
    params=st.lists(json_values, max_size=4) | json_values,
    req_id=st.none() | st.integers() | st.text(max_size=5),
)
def test_methods_with_arbitrary_params(client, method, params, req_id):
    answer = client.post(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}).encode())
    check_answer(answer)


@FUZZ
@given(raw=st.binary(max_size=400))
def test_garbage_transactions_are_rejected(client, raw):
    answer = client.post(json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + raw.hex()]}
    ).encode())
    check_answer(answer)
    assert "error" in answer and answer["error"]["code"] == -32000


VALID = bytes(Account.sign_transaction(
    {"type": 2, "chainId": 901, "nonce": 10**6, "to": DEV_ACCOUNTS[1][0], "value": 1, "gas": 21000,
     "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 1}, DEV_ACCOUNTS[9][1],
).raw_transaction)


@FUZZ
@given(position=st.integers(0, len(VALID) - 1), value=st.integers(0, 255))
def test_mutated_transactions(client, position, value):
    raw = bytearray(VALID)
    raw[position] = value
    answer = client.post(json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x" + bytes(raw).hex()]}
    ).encode())
    check_answer(answer)


def test_server_still_serves_after_fuzzing(client):
    still_serving(client)
