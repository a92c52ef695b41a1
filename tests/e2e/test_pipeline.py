"""The whole pipeline on anvil: sequencer -> batcher -> L1 -> verifier, with an honest and a lying proposer.

Thousands of transactions of a mixed workload (ETH and ERC-20 transfers) go in through the
sequencer's JSON-RPC; the verifier, reading L1 only, must end with the sequencer's exact
chain (every block hash and state root), and must report the lying proposer's assertion.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from batcher.config import ProposerConfig
from batcher.metrics import ProposerMetrics
from batcher.proposer import Proposer
from batcher.service import make_transactor
from bench.pipeline import GRIEFER, PROPOSER, Pipeline, pipeline
from bench.threads import Role, receipt_or_none, wait_for
from bench.workloads import Workload, mixed
from l1.deploy import DeployParams
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.replay import Replayer
from l2.types import Head
from verifier.service import DivergenceLog

pytestmark = pytest.mark.slow

TXS = 2_000
HONEST, LIAR = PROPOSER, GRIEFER


@pytest.fixture
def run(tmp_path: Path) -> Iterator[tuple[Pipeline, Workload, DivergenceLog]]:
    workload = mixed(TXS, 901, senders=32)
    handoff = DivergenceLog()
    params = DeployParams(challenge_period=3600)
    with pipeline(tmp_path, workload, params, None, proposers=(HONEST, LIAR), handoff=handoff) as p:
        for key, wrong in ((HONEST, False), (LIAR, True)):
            config = ProposerConfig(private_key=key, propose_every=20, confirmations=1, resubmit_after=10,
                                    test_only_post_wrong_root=wrong)  # fmt: skip
            chain = L2Chain.open(tmp_path / f"proposer-{wrong}", p.spec, map_size=1 << 30)
            p.chains.append(chain)
            proposer = Proposer(
                Replayer(chain, InboxReader(p.w3, p.deployment, confirmations=1)),
                p.rollup, make_transactor(p.w3, config), ProposerMetrics(), config.propose_every, wrong,
            )
            p.roles.append(Role(f"proposer-{wrong}", lambda stop, q=proposer: q.run(stop, 0.5)))
        yield p, workload, handoff


def test_verifier_rebuilds_the_sequencers_chain_and_reports_the_lying_proposer(run):
    p, workload, handoff = run
    sequencer, verifier = p.sequencer, p.verifier
    sent = p.send(workload)
    seq_chain = sequencer.sequencer.chain
    head = seq_chain.head(Head.UNSAFE).block_number
    ver_chain = verifier.chain
    assert ver_chain is not None
    wait_for(lambda: ver_chain.head(Head.SAFE).block_number >= head, 300, f"the verifier to derive block {head}")

    for n in range(head + 1):
        ours, theirs = seq_chain.header_by_number(n), ver_chain.header_by_number(n)
        assert (theirs.hash, theirs.state_root) == (ours.hash, ours.state_root), f"block {n} differs"
    included = sum(len(seq_chain.transactions(seq_chain.header_by_number(n))) for n in range(1, head + 1))
    assert included == len(workload.setup) + len(workload.txs)
    rpc = Web3(Web3.HTTPProvider(sequencer.rpc_url))
    sample: list[Any] = [receipt_or_none(rpc, h) for h in sent.hashes[:: len(sent.hashes) // 50]]
    assert all(r is not None and r["status"] == 1 for r in sample)

    # the lying proposer's assertion is reported as a divergence, the honest one matches
    wait_for(lambda: handoff.divergences, 120, "a divergence to be reported")
    divergence = handoff.divergences[0]
    assert p.rollup.assertion(divergence.assertion_id).asserter == Account.from_key(LIAR).address
    assert verifier.metrics.divergences._value.get() >= 1
