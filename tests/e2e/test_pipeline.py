"""The whole pipeline on anvil: sequencer -> batcher -> L1 -> verifier, with an honest and a lying proposer.

Thousands of transactions of a mixed workload (ETH and ERC-20 transfers) go in through the
sequencer's JSON-RPC; the verifier, reading L1 only, must end with the sequencer's exact
chain (every block hash and state root), and must report the lying proposer's assertion.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from batcher.batcher import Batcher
from batcher.config import ProposerConfig
from batcher.feed import BlockFeed
from batcher.metrics import BatcherMetrics, ProposerMetrics
from batcher.proposer import Proposer
from batcher.service import make_transactor
from bench.threads import Role
from bench.workloads import mixed
from l1.anvil import Anvil
from l1.bindings import RollupBinding
from l1.deploy import DeployParams, deploy
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.replay import Replayer
from l2.spec import devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from verifier.config import VerifierConfig
from verifier.service import DivergenceLog, VerifierService

pytestmark = pytest.mark.slow

TXS = 2_000
DEPLOYER, BATCHER, HONEST, LIAR = (DEV_ACCOUNTS[i][1] for i in (0, 7, 8, 9))


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[dict]:
    workload = mixed(TXS, 901, senders=32)
    spec = workload.spec(devnet_spec())
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(spec.to_json()))
    anvil = Anvil(block_time=1).start()
    roles: list[Role] = []
    chains: list[L2Chain] = []
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.url))
        params = DeployParams(
            batcher=Account.from_key(BATCHER).address,
            proposers=(Account.from_key(HONEST).address, Account.from_key(LIAR).address),
            challenge_period=3600,
        )
        deployment = deploy(w3, Account.from_key(DEPLOYER), spec, params)
        deployment_file = tmp_path / "deployment.json"
        deployment.save(deployment_file)
        sequencer = EmbeddedSequencer(SequencerConfig(
            datadir=str(tmp_path / "sequencer"), genesis=str(genesis), rpc_port=0, grpc_port=0, metrics_port=0,
            block_time=0.5, l1_rpc=anvil.url, deployment=str(deployment_file), l1_poll_interval=0.3,
        )).__enter__()
        feed = BlockFeed(sequencer.grpc_target)
        batcher = Batcher(
            w3, InboxReader(w3, deployment, confirmations=0),
            make_transactor(w3, ProposerConfig(private_key=BATCHER, confirmations=1, resubmit_after=10)),
            feed, BatcherMetrics(), 901, max_batch_age=2.0,
        )
        feed.start(1)
        roles.append(Role("batcher", lambda stop: batcher.run(stop, 0.2)))
        for key, wrong in ((HONEST, False), (LIAR, True)):
            config = ProposerConfig(private_key=key, propose_every=20, confirmations=1, resubmit_after=10,
                                    test_only_post_wrong_root=wrong)
            chain = L2Chain.open(tmp_path / f"proposer-{wrong}", spec, map_size=1 << 30)
            chains.append(chain)
            proposer = Proposer(
                Replayer(chain, InboxReader(w3, deployment, confirmations=1)),
                RollupBinding(w3, deployment.contracts["Rollup"]),
                make_transactor(w3, config), ProposerMetrics(), config.propose_every, wrong,
            )
            roles.append(Role(f"proposer-{wrong}", lambda stop, p=proposer: p.run(stop, 0.5)))
        handoff = DivergenceLog()
        verifier = VerifierService(VerifierConfig(
            l1_rpc=anvil.url, deployment=str(deployment_file), datadir=str(tmp_path / "verifier"),
            genesis=str(genesis), rpc_port=0, metrics_port=0, poll_interval=0.3,
        ), handoff).start()
        yield {"w3": w3, "workload": workload, "sequencer": sequencer, "verifier": verifier, "handoff": handoff,
               "rollup": RollupBinding(w3, deployment.contracts["Rollup"])}
        verifier.stop()
        for role in roles:
            role.close()
        feed.stop()
        sequencer.__exit__()
    finally:
        for chain in chains:
            chain.close()
        anvil.stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_verifier_rebuilds_the_sequencers_chain_and_reports_the_lying_proposer(pipeline):
    sequencer, verifier = pipeline["sequencer"], pipeline["verifier"]
    rpc = Web3(Web3.HTTPProvider(sequencer.rpc_url))
    workload = pipeline["workload"]
    for raw in workload.setup:
        rpc.eth.send_raw_transaction(raw)
    wait_for(lambda: _receipt(rpc, Web3.keccak(workload.setup[-1])), 60, "the token to be deployed")
    hashes = [rpc.eth.send_raw_transaction(raw) for raw in workload.txs]
    wait_for(lambda: _receipt(rpc, hashes[-1]), 300, "the last transfer to be sequenced")
    seq_chain = sequencer.sequencer.chain
    head = seq_chain.head(Head.UNSAFE).block_number
    wait_for(lambda: verifier.chain.head(Head.SAFE).block_number >= head, 300, f"the verifier to derive block {head}")

    ver_chain = verifier.chain
    for n in range(head + 1):
        ours, theirs = seq_chain.header_by_number(n), ver_chain.header_by_number(n)
        assert (theirs.hash, theirs.state_root) == (ours.hash, ours.state_root), f"block {n} differs"
    included = sum(len(seq_chain.transactions(seq_chain.header_by_number(n))) for n in range(1, head + 1))
    assert included == len(workload.setup) + len(workload.txs)
    assert all(_receipt(rpc, h)["status"] == 1 for h in hashes[:: len(hashes) // 50])

    # the lying proposer's assertion is reported as a divergence, the honest one matches
    wait_for(lambda: pipeline["handoff"].divergences, 120, "a divergence to be reported")
    divergence = pipeline["handoff"].divergences[0]
    liar = Account.from_key(LIAR).address
    assert pipeline["rollup"].assertion(divergence.assertion_id).asserter == liar
    assert verifier.metrics.divergences._value.get() >= 1


def _receipt(rpc: Web3, tx_hash: bytes) -> Any:
    try:
        return rpc.eth.get_transaction_receipt(tx_hash)
    except Exception:
        return None
