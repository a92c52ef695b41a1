"""The gRPC API (block stream, submission, status, admin, health) and the committed stubs."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from grpc_health.v1 import health_pb2, health_pb2_grpc
from web3 import Web3

from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, L1Origin
from proto import generate
from proto import sequencer_pb2 as pb
from proto import sequencer_pb2_grpc as pb_grpc

ALICE, ALICE_KEY = DEV_ACCOUNTS[0]


@pytest.fixture(scope="module")
def stub(sequencer_node):
    channel = grpc.insecure_channel(sequencer_node.grpc_target)
    yield pb_grpc.SequencerStub(channel)
    channel.close()


def transfer(nonce: int, value: int = 1) -> bytes:
    return bytes(Account.sign_transaction(
        {"type": 2, "chainId": 901, "nonce": nonce, "to": DEV_ACCOUNTS[5][0], "value": value, "gas": 21000,
         "maxFeePerGas": 3 * 10**9, "maxPriorityFeePerGas": 10**6}, ALICE_KEY,
    ).raw_transaction)


def test_committed_stubs_are_fresh(tmp_path):
    for fresh in generate.generate(tmp_path):
        committed = generate.ROOT / fresh.relative_to(tmp_path)
        assert committed.exists(), f"{committed} missing: run python -m proto.generate"
        assert Path(committed).read_text() == fresh.read_text(), f"{committed} stale: run python -m proto.generate"


def test_health_service_reports_serving(sequencer_node):
    with grpc.insecure_channel(sequencer_node.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "rollup.v1.Sequencer"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_submit_then_stream_rebuilds_the_same_chain(sequencer_node, stub, tmp_path):
    accepted = stub.SubmitTransaction(pb.SubmitTransactionRequest(raw_transaction=transfer(0)), timeout=10)
    assert accepted.rejected_rule == "" and len(accepted.transaction_hash) == 32
    again = stub.SubmitTransaction(pb.SubmitTransactionRequest(raw_transaction=transfer(0)), timeout=10)
    assert again.rejected_rule == "already_known" and again.transaction_hash == b""
    registry = sequencer_node.sequencer.metrics.registry
    rejected = "rollup_sequencer_transactions_rejected_total"
    before = registry.get_sample_value(rejected, {"reason": "encoding"}) or 0
    garbage = stub.SubmitTransaction(pb.SubmitTransactionRequest(raw_transaction=b"\x02garbage"), timeout=10)
    assert garbage.rejected_rule == "encoding"
    # The same admission path as eth_sendRawTransaction (sequencer.rpc.Submission): counted by rule.
    assert registry.get_sample_value(rejected, {"reason": "encoding"}) == before + 1
    deadline = time.monotonic() + 30
    while sequencer_node.sequencer.chain.transaction_location(accepted.transaction_hash) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    target = sequencer_node.sequencer.chain.transaction_location(accepted.transaction_hash)[0] + 1

    # A consumer rebuilds every streamed block with l2 alone and must get the same hashes.
    replica = L2Chain.open(tmp_path / "replica", devnet_spec())
    try:
        stream = stub.StreamBlocks(pb.StreamBlocksRequest(from_number=1), timeout=60)
        for block in stream:
            assert keccak(block.header_rlp) == block.hash
            assert rlp.decode(block.block_rlp)[0] == rlp.decode(block.header_rlp)
            txs = [decode_transaction(raw, replica.spec) for raw in block.transactions]
            attrs = BlockAttributes(block.timestamp, L1Origin(block.l1_origin_number))
            sealed, skipped = replica.build_block(attrs, txs)
            assert skipped == [] and sealed.hash == block.hash, f"block {block.number} differs"
            if block.number >= target:
                stream.cancel()
                break
    finally:
        replica.close()
    got = stub.GetBlock(pb.GetBlockRequest(number=target - 1), timeout=10)
    assert accepted.transaction_hash in [keccak(t) for t in got.transactions]
    assert stub.GetBlock(pb.GetBlockRequest(hash=got.hash), timeout=10).number == got.number
    with pytest.raises(grpc.RpcError) as err:
        stub.GetBlock(pb.GetBlockRequest(number=10**9), timeout=10)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_pause_stops_sealing_and_resume_restarts(sequencer_node, stub):
    status = stub.PauseSequencing(pb.PauseRequest(), timeout=10)
    assert status.paused and status.chain_id == 901
    try:
        time.sleep(0.3)  # a block already being built may still land
        frozen = stub.GetStatus(pb.GetStatusRequest(), timeout=10).unsafe.number
        nonce = Web3(Web3.HTTPProvider(sequencer_node.rpc_url)).eth.get_transaction_count(ALICE, "pending")
        sent = stub.SubmitTransaction(pb.SubmitTransactionRequest(raw_transaction=transfer(nonce)), timeout=10)
        assert sent.rejected_rule == ""
        time.sleep(0.5)
        status = stub.GetStatus(pb.GetStatusRequest(), timeout=10)
        assert status.unsafe.number == frozen and status.mempool_pending == 1
    finally:
        stub.ResumeSequencing(pb.ResumeRequest(), timeout=10)
    deadline = time.monotonic() + 30
    while stub.GetStatus(pb.GetStatusRequest(), timeout=10).unsafe.number <= frozen:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not stub.GetStatus(pb.GetStatusRequest(), timeout=10).paused
