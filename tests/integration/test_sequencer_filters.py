"""Polling filters on a real sequencer through web3.py (HTTPProvider) and raw HTTP.

`cast` has no command that installs or polls a filter (only `cast logs`, which is eth_getLogs),
so it is not exercised here. ethers is not among the pinned tools.
"""

from __future__ import annotations

import json
import time

import grpc
import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st
from web3 import Web3
from web3.exceptions import Web3RPCError

from l2.devkeys import DEV_ACCOUNTS
from proto import sequencer_pb2 as pb
from proto import sequencer_pb2_grpc as pb_grpc
from tests.integration.test_sequencer_fuzz import FUZZ, STANDARD_CODES, Client, check_answer, still_serving
from tests.integration.test_sequencer_rpc import ALICE, ALICE_KEY, BOB, BOB_KEY, CAROL, sign, wait
from tests.integration.test_sequencer_rpc import token as token  # the module fixture, re-exported

DAVE = DEV_ACCOUNTS[3][0]


@pytest.fixture(scope="module")
def w3(sequencer_node):
    return Web3(Web3.HTTPProvider(sequencer_node.rpc_url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def client(sequencer_node):
    return Client(sequencer_node.rpc_url)


def wait_for_block(w3, number: int) -> None:
    for _ in range(2000):  # 0.1 s blocks: a few dozen rounds
        if w3.eth.block_number >= number:
            return
        time.sleep(0.02)
    raise AssertionError(f"block {number} never came")


def test_block_filter_sees_every_new_block_once_in_order(w3):
    block_filter = w3.eth.filter("latest")
    start = w3.eth.block_number
    wait_for_block(w3, start + 2)
    first = block_filter.get_new_entries()  # at least one: the head passed the install's
    assert first
    wait_for_block(w3, w3.eth.get_block(first[-1]).number + 2)
    second = block_filter.get_new_entries()  # at least one: the head passed the last delivered
    hashes = first + second
    assert len(first) >= 1 and len(second) >= 1
    numbers = [w3.eth.get_block(h).number for h in hashes]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no gap, no repeat
    assert numbers[0] <= start + 1  # from the first block sealed after the install


def test_contract_event_filter_gets_a_transfers_log(w3, token):
    start = w3.eth.block_number + 1  # after the token's deployment (its mints)
    event_filter = token.events.Transfer.create_filter(from_block=start)
    to_carol = token.events.Transfer.create_filter(from_block=start, argument_filters={"to": CAROL})
    nonce = w3.eth.get_transaction_count(BOB, "pending")
    tx = token.functions.transfer(DAVE, 4321).build_transaction({"from": BOB, "nonce": nonce, "chainId": 901})
    receipt = wait(w3, w3.eth.send_raw_transaction(Account.sign_transaction(tx, BOB_KEY).raw_transaction))
    new = event_filter.get_new_entries()
    assert [(e.args["from"], e.args.to, e.args.value, e.transactionHash) for e in new] == [
        (BOB, DAVE, 4321, receipt.transactionHash)
    ]
    assert new[0].blockNumber == receipt.blockNumber
    assert event_filter.get_new_entries() == []
    assert to_carol.get_new_entries() == []  # topic filter on the indexed `to`
    # eth_getFilterLogs: every log of the criteria's whole range, here the same one transfer.
    assert [e.transactionHash for e in event_filter.get_all_entries()] == [receipt.transactionHash]


def test_get_filter_logs_and_uninstall(w3, token, sequencer_node):
    flt = w3.eth.filter({"fromBlock": 0, "address": token.address})
    everything = w3.eth.get_filter_logs(flt.filter_id)
    assert len(everything) >= 3  # the deploy's mints and the transfers so far
    assert everything == w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address})
    assert w3.eth.uninstall_filter(flt.filter_id) is True
    assert w3.eth.uninstall_filter(flt.filter_id) is False
    with pytest.raises(Web3RPCError, match="filter not found"):
        w3.eth.get_filter_changes(flt.filter_id)
    with pytest.raises(Web3RPCError, match="filter not found"):
        w3.eth.get_filter_logs(w3.eth.filter("latest").filter_id)  # not a log filter


def test_pending_filter_sees_a_sent_transaction(w3, sequencer_node):
    pending = w3.eth.filter("pending")
    assert isinstance(pending.filter_id, str) and len(pending.filter_id) <= 34
    nonce = w3.eth.get_transaction_count(ALICE, "pending")
    tx_hash = w3.eth.send_raw_transaction(sign(ALICE_KEY, nonce, to=CAROL, value=5).raw_transaction)
    assert pending.get_new_entries() == [tx_hash]
    wait(w3, tx_hash)
    assert pending.get_new_entries() == []
    # gRPC's SubmitTransaction admits through the same path, so it reaches the filter too.
    raw = sign(ALICE_KEY, nonce + 1, to=CAROL, value=6).raw_transaction
    with grpc.insecure_channel(sequencer_node.grpc_target) as channel:
        sent = pb_grpc.SequencerStub(channel).SubmitTransaction(
            pb.SubmitTransactionRequest(raw_transaction=bytes(raw)), timeout=10
        )
    assert pending.get_new_entries() == [sent.transaction_hash]


filter_params = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers()), max_size=6),
    st.fixed_dictionaries({}, optional={
        "fromBlock": st.one_of(st.none(), st.integers(-2, 2**70), st.sampled_from(
            ["latest", "earliest", "pending", "safe", "finalized", "0x", "0x1", "0xzz", "1"])),
        "toBlock": st.one_of(st.none(), st.integers(-2, 10), st.sampled_from(["latest", "0x0", "0x10000000"])),
        "address": st.one_of(st.none(), st.text(max_size=4), st.integers(), st.lists(st.sampled_from(
            ["0x" + "11" * 20, "0x11", 5, None]), max_size=3), st.just("0x" + "22" * 20)),
        "topics": st.one_of(st.none(), st.text(max_size=3), st.lists(st.one_of(
            st.none(), st.just("0x" + "33" * 32), st.just("0x33"), st.integers(),
            st.lists(st.sampled_from(["0x" + "44" * 32, "0x", None]), max_size=3)), max_size=6)),
        "blockHash": st.sampled_from(["0x" + "55" * 32, "0x55", None]),
    }),
)


@pytest.mark.slow
@FUZZ
@given(method=st.sampled_from(["eth_newFilter", "eth_getFilterChanges", "eth_getFilterLogs",
                               "eth_uninstallFilter", "eth_newPendingTransactionFilter", "eth_newBlockFilter"]),
       params=st.lists(filter_params, max_size=2))
def test_fuzzed_filter_params_get_standard_answers(client, method, params):
    answer = client.post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode())
    check_answer(answer)
    if "error" in answer:
        assert answer["error"]["code"] in STANDARD_CODES - {-32005, 3}
    elif method.startswith("eth_new"):  # a filter installed: uninstall it (the cap is shared)
        uninstall = {"jsonrpc": "2.0", "id": 2, "method": "eth_uninstallFilter", "params": [answer["result"]]}
        assert client.post(json.dumps(uninstall).encode())["result"] is True
    still_serving(client)
