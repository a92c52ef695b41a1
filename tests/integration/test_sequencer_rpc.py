"""The sequencer's JSON-RPC through web3.py (HTTPProvider) against a real server on loopback."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from trie import HexaryTrie
from web3 import Web3
from web3.exceptions import ContractCustomError, Web3RPCError

from bench.workloads import token_artifact
from l2.devkeys import DEV_ACCOUNTS

ALICE, ALICE_KEY = DEV_ACCOUNTS[0]
BOB, BOB_KEY = DEV_ACCOUNTS[1]
CAROL = DEV_ACCOUNTS[2][0]


@pytest.fixture(scope="module")
def w3(sequencer_node):
    return Web3(Web3.HTTPProvider(sequencer_node.rpc_url, request_kwargs={"timeout": 30}))


def raw_post(sequencer_node, body: bytes | str):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(sequencer_node.rpc_url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def rpc(sequencer_node, method, *params):
    return raw_post(sequencer_node, json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}))


def sign(key, nonce, to=BOB, value=1, tip=10**6, cap=3 * 10**9, gas=21_000, data=b""):
    tx = {"type": 2, "chainId": 901, "nonce": nonce, "value": value, "gas": gas,
          "maxFeePerGas": cap, "maxPriorityFeePerGas": tip, "data": data}
    if to:
        tx["to"] = to
    return Account.sign_transaction(tx, key)


def wait(w3, tx_hash):
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)


@pytest.fixture(scope="module")
def token(w3):
    artifact = token_artifact()
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    nonce = w3.eth.get_transaction_count(ALICE, "pending")
    tx = factory.constructor("Test", "TST", [ALICE, BOB], 10**24).build_transaction(
        {"from": ALICE, "nonce": nonce, "chainId": 901}
    )
    signed = Account.sign_transaction(tx, ALICE_KEY)
    receipt = wait(w3, w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt.status == 1
    return w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])


def test_identity_methods(w3, sequencer_node):
    assert w3.eth.chain_id == 901
    assert w3.net.version == "901"
    assert w3.client_version.startswith("pyrollup-sequencer/")
    assert w3.eth.syncing is False
    assert w3.eth.accounts == []


def test_blocks_are_sealed_every_block_time_even_when_empty(w3):
    first = w3.eth.block_number
    for _ in range(400):
        if w3.eth.block_number >= first + 2:
            break
        time.sleep(0.05)
    latest = w3.eth.get_block("latest")
    assert latest.number >= first + 2
    parent = w3.eth.get_block(latest.number - 1)
    assert latest.parentHash == parent.hash
    assert latest.timestamp >= parent.timestamp


def test_eth_transfer_receipt_block_and_balances(w3):
    before = w3.eth.get_balance(CAROL)
    signed = sign(BOB_KEY, w3.eth.get_transaction_count(BOB, "pending"), to=CAROL, value=12345)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert tx_hash == signed.hash
    receipt = wait(w3, tx_hash)
    assert receipt.status == 1 and receipt.gasUsed == 21_000
    assert receipt["from"] == BOB and receipt.to == CAROL
    assert w3.eth.get_balance(CAROL) == before + 12345
    assert w3.eth.get_balance(CAROL, receipt.blockNumber - 1) == before
    tx = w3.eth.get_transaction(tx_hash)
    assert tx.blockHash == receipt.blockHash and tx.value == 12345 and tx['from'] == BOB
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.hash == receipt.blockHash
    assert [t.hash for t in block.transactions][receipt.transactionIndex] == tx_hash
    by_hash = w3.eth.get_block(receipt.blockHash)
    assert by_hash.number == receipt.blockNumber and by_hash.transactions[receipt.transactionIndex] == tx_hash
    receipts = w3.eth.get_block_receipts(receipt.blockNumber)
    assert receipts[receipt.transactionIndex].transactionHash == tx_hash
    assert receipt.effectiveGasPrice == block.baseFeePerGas + 10**6


def test_pending_nonce_and_pending_transaction_while_paused(w3, sequencer_node):
    sequencer_node.sequencer.producer.paused = True
    try:
        latest = w3.eth.get_transaction_count(BOB)
        signed = sign(BOB_KEY, w3.eth.get_transaction_count(BOB, "pending"))
        queued = sign(BOB_KEY, latest + 5)
        w3.eth.send_raw_transaction(signed.raw_transaction)
        w3.eth.send_raw_transaction(queued.raw_transaction)
        assert w3.eth.get_transaction_count(BOB, "pending") == latest + 1
        assert w3.eth.get_transaction_count(BOB, "latest") == latest
        pending = w3.eth.get_transaction(signed.hash)
        assert pending.blockNumber is None and pending.blockHash is None
        assert rpc(sequencer_node, "eth_getTransactionReceipt", "0x" + signed.hash.hex())["result"] is None
        assert sequencer_node.sequencer.mempool.counts() == (1, 1)
    finally:
        sequencer_node.sequencer.producer.paused = False
    assert wait(w3, signed.hash).status == 1
    assert sequencer_node.sequencer.mempool.counts() == (0, 1)


def test_transaction_rejections_use_geth_codes_and_messages(w3, sequencer_node):
    nonce = w3.eth.get_transaction_count(ALICE, "pending")
    wait(w3, w3.eth.send_raw_transaction(sign(ALICE_KEY, nonce).raw_transaction))
    low = rpc(sequencer_node, "eth_sendRawTransaction", "0x" + sign(ALICE_KEY, nonce).raw_transaction.hex())
    assert low["error"]["code"] == -32000 and low["error"]["message"].startswith("nonce too low")
    poor_key = "0x" + "42" * 32
    poor = rpc(sequencer_node, "eth_sendRawTransaction", "0x" + sign(poor_key, 0).raw_transaction.hex())
    assert poor["error"]["code"] == -32000
    assert poor["error"]["message"].startswith("insufficient funds for gas * price + value")
    sequencer_node.sequencer.producer.paused = True
    try:
        first = sign(ALICE_KEY, nonce + 1)
        assert "result" in rpc(sequencer_node, "eth_sendRawTransaction", "0x" + first.raw_transaction.hex())
        again = rpc(sequencer_node, "eth_sendRawTransaction", "0x" + first.raw_transaction.hex())
        assert again["error"] == {"code": -32000, "message": "already known"}
        cheap_raw = sign(ALICE_KEY, nonce + 1, value=2).raw_transaction
        cheap = rpc(sequencer_node, "eth_sendRawTransaction", "0x" + cheap_raw.hex())
        assert cheap["error"] == {"code": -32000, "message": "replacement transaction underpriced"}
        bumped = sign(ALICE_KEY, nonce + 1, value=3, tip=2 * 10**6, cap=4 * 10**9)
        assert rpc(sequencer_node, "eth_sendRawTransaction", "0x" + bumped.raw_transaction.hex())["result"] == "0x" + (
            bumped.hash.hex()
        )
    finally:
        sequencer_node.sequencer.producer.paused = False
    assert wait(w3, bumped.hash).status == 1
    assert w3.eth.get_transaction(bumped.hash).value == 3
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(first.raw_transaction)
    wrong_chain = Account.sign_transaction(
        {"type": 2, "chainId": 1, "nonce": 0, "to": BOB, "value": 1, "gas": 21000, "maxFeePerGas": 3 * 10**9,
         "maxPriorityFeePerGas": 1}, ALICE_KEY,
    )
    err = rpc(sequencer_node, "eth_sendRawTransaction", "0x" + wrong_chain.raw_transaction.hex())["error"]
    assert err["code"] == -32000 and err["message"].startswith("invalid chain id for signer")


def test_erc20_deploy_call_transact_and_logs(w3, token):
    assert token.functions.symbol().call() == "TST"
    assert token.functions.balanceOf(BOB).call() == 10**24
    nonce = w3.eth.get_transaction_count(BOB, "pending")
    tx = token.functions.transfer(CAROL, 777).build_transaction({"from": BOB, "nonce": nonce, "chainId": 901})
    assert 21_000 < tx["gas"] < 100_000  # from eth_estimateGas
    receipt = wait(w3, w3.eth.send_raw_transaction(Account.sign_transaction(tx, BOB_KEY).raw_transaction))
    assert receipt.status == 1
    assert receipt.gasUsed <= tx["gas"]
    events = token.events.Transfer().process_receipt(receipt)
    assert [(e.args["from"], e.args.to, e.args.value) for e in events] == [(BOB, CAROL, 777)]
    assert token.functions.balanceOf(CAROL).call() == 777
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token.address})
    assert len(logs) == 3  # two mints and the transfer
    topic_to_carol = "0x" + bytes.fromhex(CAROL[2:]).rjust(32, b"\0").hex()
    only = w3.eth.get_logs({"fromBlock": 0, "address": token.address, "topics": [None, None, topic_to_carol]})
    assert [log.transactionHash for log in only] == [receipt.transactionHash]
    by_hash = w3.eth.get_logs({"blockHash": receipt.blockHash})
    assert any(log.logIndex == receipt.logs[0].logIndex for log in by_hash)
    assert w3.eth.get_logs({"fromBlock": 0, "address": CAROL}) == []


def test_eth_call_revert_returns_code_3_and_data(w3, sequencer_node, token):
    calldata = token.encode_abi("transfer", [BOB, 10**30])
    answer = rpc(sequencer_node, "eth_call", {"from": CAROL, "to": token.address, "data": calldata}, "latest")
    assert answer["error"]["code"] == 3
    assert answer["error"]["message"].startswith("execution reverted")
    data = bytes.fromhex(answer["error"]["data"][2:])
    assert data[:4] == keccak(b"InsufficientBalance(uint256,uint256)")[:4]
    assert int.from_bytes(data[36:68], "big") == 10**30
    estimate = rpc(sequencer_node, "eth_estimateGas", {"from": CAROL, "to": token.address, "data": calldata})
    assert estimate["error"]["code"] == 3 and estimate["error"]["data"] == answer["error"]["data"]
    with pytest.raises(ContractCustomError):
        token.functions.transfer(BOB, 10**30).call({"from": CAROL})


def test_storage_code_and_proofs(w3, token):
    code = w3.eth.get_code(token.address)
    assert len(code) > 100
    slot = keccak(bytes.fromhex(BOB[2:]).rjust(32, b"\0") + (3).to_bytes(32, "big"))  # balanceOf[BOB]
    stored = int.from_bytes(w3.eth.get_storage_at(token.address, slot), "big")
    assert stored == token.functions.balanceOf(BOB).call()
    block = w3.eth.get_block("latest")
    proof = w3.eth.get_proof(token.address, ["0x" + slot.hex()], block.number)
    account = HexaryTrie.get_from_proof(
        block.stateRoot, keccak(bytes.fromhex(token.address[2:])), [rlp.decode(bytes(n)) for n in proof.accountProof]
    )
    nonce, balance, storage_root, code_hash = rlp.decode(account)
    assert storage_root == proof.storageHash and code_hash == keccak(code)
    value = HexaryTrie.get_from_proof(
        proof.storageHash, keccak(slot), [rlp.decode(bytes(n)) for n in proof.storageProof[0].proof]
    )
    assert rlp.decode(value, sedes=rlp.sedes.big_endian_int) == stored
    assert int.from_bytes(proof.storageProof[0].value, "big") == stored


def test_block_tags_and_eip1898(w3, sequencer_node):
    head = w3.eth.get_block("latest")
    assert w3.eth.get_block("pending").number >= head.number
    assert w3.eth.get_block("safe").number == 0 and w3.eth.get_block("finalized").number == 0
    assert w3.eth.get_block("earliest").number == 0
    by_hash = rpc(sequencer_node, "eth_getBalance", ALICE, {"blockHash": "0x" + head.hash.hex()})
    by_number = rpc(sequencer_node, "eth_getBalance", ALICE, hex(head.number))
    assert by_hash["result"] == by_number["result"]
    assert rpc(sequencer_node, "eth_getBlockByNumber", hex(10**9), False)["result"] is None
    missing = rpc(sequencer_node, "eth_getBalance", ALICE, hex(10**9))["error"]
    assert missing == {"code": -32000, "message": "header not found"}
    heads = rpc(sequencer_node, "rollup_getHeads")["result"]
    assert int(heads["unsafe"]["number"], 16) >= head.number and heads["safe"]["number"] == "0x0"


def test_fees(w3):
    latest = w3.eth.get_block("latest")
    assert w3.eth.max_priority_fee == 10**6
    assert w3.eth.gas_price >= 10**6
    history = w3.eth.fee_history(4, "latest", [10, 90])
    assert len(history.baseFeePerGas) == len(history.gasUsedRatio) + 1
    assert history.oldestBlock + len(history.gasUsedRatio) - 1 >= latest.number
    assert all(len(r) == 2 for r in history.reward)


def test_standard_jsonrpc_errors_and_batches(sequencer_node):
    assert raw_post(sequencer_node, b"{not json")["error"]["code"] == -32700
    assert raw_post(sequencer_node, b"[]")["error"]["code"] == -32600
    assert raw_post(sequencer_node, b'{"jsonrpc":"2.0","id":1}')["error"]["code"] == -32600
    assert rpc(sequencer_node, "eth_nope")["error"]["code"] == -32601
    assert rpc(sequencer_node, "eth_getBalance")["error"]["code"] == -32602
    assert rpc(sequencer_node, "eth_getBalance", "0x12", "latest")["error"]["code"] == -32602
    assert rpc(sequencer_node, "eth_sendRawTransaction", "0xdeadbeef")["error"]["code"] == -32000
    batch = raw_post(sequencer_node, json.dumps([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_nope"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},  # notification: no answer
        5,
    ]))
    assert [a.get("id") for a in batch] == [1, 2, None]
    assert batch[0]["result"] == "0x385" and batch[1]["error"]["code"] == -32601 and batch[2]["error"]["code"] == -32600
