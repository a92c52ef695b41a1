"""The sequencer follows L1 reorgs of inbox entries it had already checked (real anvil, real batcher).

A batch lands and the sequencer's safe head moves onto its blocks; L1 then drops the batch
(`evm_revert`). The safe head must come back down (its blocks are no longer on L1), the
entries must be checked again from the last one still on L1, and when the batcher posts the
blocks again the safe head rises again.
"""

from __future__ import annotations

import logging

import pytest
from eth_account import Account
from web3 import Web3

from l1.anvil import Anvil
from l1.deploy import DeployParams, deploy
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from tests.integration.l2_users import start_batcher, stop, transfer, wait_for

DEPLOYER_KEY = DEV_ACCOUNTS[0][1]  # deployer and batcher
USER = Account.from_key(DEV_ACCOUNTS[5][1])


@pytest.mark.slow
def test_safe_head_comes_back_down_when_l1_drops_a_batch_and_rises_when_it_is_posted_again(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="sequencer")
    with Anvil() as node:
        w3 = node.w3
        deployment = deploy(w3, Account.from_key(DEPLOYER_KEY), devnet_spec(), DeployParams())
        path = tmp_path / "deployment.json"
        deployment.save(path)
        config = SequencerConfig(
            datadir=str(tmp_path / "seq"), rpc_port=0, grpc_port=0, metrics_port=0, block_time=0.2,
            l1_rpc=node.url, deployment=str(path), l1_confirmations=1, l1_poll_interval=0.1,
        )  # fmt: skip
        with EmbeddedSequencer(config) as seq:
            chain, follower = seq.sequencer.chain, seq.sequencer.follower
            assert chain is not None and follower is not None
            l2 = Web3(Web3.HTTPProvider(seq.rpc_url))
            transfer(l2, USER, 1)
            before_batch = w3.provider.make_request("evm_snapshot", [])["result"]
            batcher = start_batcher(node.url, path, seq.grpc_target, DEPLOYER_KEY, tmp_path / "batcher.log")
            try:
                wait_for(lambda: chain.head(Head.SAFE).block_number > 0, "a batch to make blocks safe")
            finally:
                stop(batcher)
            safe = chain.head(Head.SAFE).block_number
            assert follower.reorgs == 0

            assert w3.provider.make_request("evm_revert", [before_batch])["result"] is True
            w3.provider.make_request("anvil_mine", ["0x3"])  # L1 moves on without the batch
            wait_for(lambda: chain.head(Head.SAFE).block_number == 0, "the safe head back at genesis")
            assert follower.reorgs == 1
            assert follower.snapshot().safe_block == 0 and follower.snapshot().reorgs == 1
            assert any("L1 reorg" in r.getMessage() for r in caplog.records)
            assert chain.head(Head.UNSAFE).block_number >= safe  # the unsafe chain is kept

            batcher = start_batcher(node.url, path, seq.grpc_target, DEPLOYER_KEY, tmp_path / "batcher.log")
            try:
                wait_for(lambda: chain.head(Head.SAFE).block_number >= safe, "the blocks safe again")
            finally:
                stop(batcher)
            assert follower.reorgs == 1
