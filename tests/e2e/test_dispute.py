"""End to end on anvil: a wrong root over ERC-20 transfers is challenged and rejected by the verifier.

The whole pipeline runs for real (sequencer -> batcher -> L1 -> proposer and verifier, each
on its own thread and L1 key): ERC-20 transfers go in through the sequencer's JSON-RPC; the
proposer, started once they are on L1, posts ONE wrong root (test-only option) and defends
its assertions with its dispute agent; the verifier's dispute agent challenges the wrong
assertion on its own. Level 2 (one-step proofs) is not played yet (docs/fraud-proofs.md 10),
so the game ends at level 1: the liar does not defend a root its own replay disagrees with,
and loses on time. Then the proposer's honest assertions confirm.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from batcher.batcher import Batcher
from batcher.config import ProposerConfig
from batcher.feed import BlockFeed
from batcher.metrics import BatcherMetrics, ProposerMetrics
from batcher.proposer import Proposer, make_defender
from batcher.service import make_transactor
from bench.threads import Role, receipt_or_none, wait_for
from bench.workloads import erc20_transfers
from l1.anvil import Anvil
from l1.bindings import AssertionStatus, RollupBinding
from l1.deploy import DeployParams, deploy
from l1.dispute_game import DisputeGameBinding, GameStatus
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.replay import Replayer
from l2.spec import devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from verifier.config import VerifierConfig
from verifier.service import VerifierService

pytestmark = pytest.mark.slow

DEPLOYER, VERIFIER, BATCHER, PROPOSER = (DEV_ACCOUNTS[i][1] for i in (0, 7, 8, 9))
BOND = 10**17
CHALLENGE = 600
CLOCK = 120
BURN = BOND // 2


def test_wrong_root_over_erc20_transfers_is_challenged_rejected_and_the_next_honest_one_confirms(tmp_path: Path):
    workload = erc20_transfers(40, 901, senders=8)
    spec = workload.spec(devnet_spec())
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(spec.to_json()))
    anvil = Anvil(block_time=1).start()
    roles: list[Role] = []
    chains: list[L2Chain] = []
    stack: list[Any] = []
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        params = DeployParams(
            batcher=Account.from_key(BATCHER).address, proposers=(Account.from_key(PROPOSER).address,),
            challenge_period=CHALLENGE, bond=BOND, game_clock=CLOCK, burn_bps=5_000,
        )
        deployment = deploy(w3, Account.from_key(DEPLOYER), spec, params)
        deployment_file = tmp_path / "deployment.json"
        deployment.save(deployment_file)
        rollup = RollupBinding(w3, deployment.contracts["Rollup"])
        game = DisputeGameBinding(w3, deployment.contracts["DisputeGame"])
        sequencer = EmbeddedSequencer(SequencerConfig(
            datadir=str(tmp_path / "sequencer"), genesis=str(genesis), rpc_port=0, grpc_port=0, metrics_port=0,
            block_time=0.5, l1_rpc=anvil.url, deployment=str(deployment_file), l1_poll_interval=0.3,
        )).__enter__()
        stack.append(sequencer)
        feed = BlockFeed(sequencer.grpc_target)
        stack.append(feed)
        batcher = Batcher(
            w3, InboxReader(w3, deployment, confirmations=0),
            make_transactor(w3, ProposerConfig(private_key=BATCHER, confirmations=1, resubmit_after=10)),
            feed, BatcherMetrics(), 901, max_batch_age=2.0,
        )
        feed.start(1)
        roles.append(Role("batcher", lambda stop: batcher.run(stop, 0.2)))
        verifier = VerifierService(VerifierConfig(
            l1_rpc=anvil.url, deployment=str(deployment_file), datadir=str(tmp_path / "verifier"),
            genesis=str(genesis), rpc_port=0, metrics_port=0, poll_interval=0.3, dispute_key=VERIFIER,
        )).start()
        stack.append(verifier)

        # ERC-20 transfers through the sequencer, until they are on L1 and derived by the verifier.
        rpc = Web3(Web3.HTTPProvider(sequencer.rpc_url))
        for raw in workload.setup:
            rpc.eth.send_raw_transaction(raw)
        wait_for(lambda: receipt_or_none(rpc, Web3.keccak(workload.setup[-1])), 120, "the token to be deployed")
        hashes = [rpc.eth.send_raw_transaction(raw) for raw in workload.txs]
        wait_for(lambda: receipt_or_none(rpc, hashes[-1]), 300, "the last transfer to be sequenced")
        assert all(receipt_or_none(rpc, h)["status"] == 1 for h in hashes)
        last = int(receipt_or_none(rpc, hashes[-1])["blockNumber"])
        assert verifier.chain is not None
        ver_chain = verifier.chain
        wait_for(lambda: ver_chain.head(Head.SAFE).block_number >= last, 300, "the verifier to derive the transfers")

        # The proposer, started now, covers the transfers with one WRONG root, then honest ones.
        config = ProposerConfig(private_key=PROPOSER, propose_every=5, confirmations=1, resubmit_after=10,
                                test_only_wrong_root_once=True)
        chain = L2Chain.open(tmp_path / "proposer", spec, map_size=1 << 30)
        chains.append(chain)
        replayer = Replayer(chain, InboxReader(w3, deployment, confirmations=1))
        transactor = make_transactor(w3, config)
        proposer = Proposer(replayer, rollup, transactor, ProposerMetrics(), config.propose_every,
                            agent=make_defender(deployment, replayer, transactor), test_only_wrong_root_once=True)
        roles.append(Role("proposer", lambda stop: proposer.run(stop, 0.3)))

        wait_for(lambda: rollup.assertion_count() >= 2, 300, "the wrong assertion")
        wrong = rollup.assertion(1)
        assert wrong.l2_block_number >= last  # it covers the ERC-20 transfers
        wait_for(lambda: game.game_count() >= 1, 300, "the verifier's challenge")
        g = game.game(0)
        verifier_address = Account.from_key(VERIFIER).address
        assert (g.assertion_id, g.challenger) == (1, verifier_address)

        w3.provider.make_request("evm_increaseTime", [CLOCK + 1])  # type: ignore[arg-type]
        wait_for(lambda: game.game(0).status is not GameStatus.OPEN, 300, "the end of the game")
        assert game.game(0).status is GameStatus.CHALLENGER_WON
        assert rollup.assertion(1).status is AssertionStatus.REJECTED
        assert verifier.verifier is not None and verifier.verifier.agent is not None
        agent = verifier.verifier.agent
        wait_for(lambda: agent.stats.withdrawn_wei >= 2 * BOND - BURN, 120, "the challenger's withdrawal")
        assert game.burnt() >= BURN

        # The honest assertions (built on genesis, never on the wrong one) confirm.
        wait_for(lambda: rollup.assertion_count() >= 3, 300, "an honest assertion")
        assert rollup.assertion(2).parent_id == 0
        w3.provider.make_request("evm_increaseTime", [CHALLENGE + 1])  # type: ignore[arg-type]
        wait_for(lambda: rollup.latest_confirmed() >= 2, 300, "the honest assertion to confirm")
        assert rollup.assertion(2).status is AssertionStatus.CONFIRMED
        assert all(rollup.assertion(i).parent_id != 1 for i in range(2, rollup.assertion_count()))
    finally:
        for role in roles:
            role.close()
        for item in reversed(stack):
            if isinstance(item, VerifierService | BlockFeed):
                item.stop()
            else:
                item.__exit__()
        for chain in chains:
            chain.close()
        anvil.stop()
