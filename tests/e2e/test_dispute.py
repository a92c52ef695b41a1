"""End to end on anvil: a wrong root over ERC-20 transfers is challenged and rejected by the verifier.

The whole pipeline runs for real (`bench.pipeline`: sequencer -> batcher -> L1 -> verifier, each
on its own thread and L1 key); ERC-20 transfers go in through the sequencer's JSON-RPC; the
proposer (`rollup proposer`'s own classes), started once they are on L1, posts ONE wrong root
(test-only option) and defends its assertions with its own dispute agent; the verifier's dispute
agent challenges the wrong assertion on its own. The proposer's agent only defends claims its
own replay agrees with, so it does not defend the lie: the game ends on the proposer's clock at
level 1, and its honest assertions confirm. (A liar that defends to the last step and loses
to a one-step proof: tests/e2e/test_dispute_onestep.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from batcher.config import ProposerConfig
from batcher.metrics import ProposerMetrics
from batcher.proposer import Proposer, make_defender
from batcher.service import make_transactor
from bench.pipeline import PROPOSER, VERIFIER, pipeline
from bench.threads import Role, wait_for
from bench.workloads import erc20_transfers
from l1.bindings import AssertionStatus
from l1.deploy import DeployParams
from l1.dispute_game import GameStatus
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.replay import Replayer

pytestmark = pytest.mark.slow

BOND = 10**17
CHALLENGE = 600
CLOCK = 120
BURN = BOND // 2


def test_wrong_root_over_erc20_transfers_is_challenged_rejected_and_the_next_honest_one_confirms(tmp_path: Path):
    workload = erc20_transfers(40, 901, senders=8)
    params = DeployParams(challenge_period=CHALLENGE, bond=BOND, game_clock=CLOCK, burn_bps=5_000)
    with pipeline(tmp_path, workload, params, VERIFIER) as p:
        w3, rollup, game = p.w3, p.rollup, p.game
        last = p.send(workload).last

        # The proposer, started now, covers the transfers with one WRONG root, then honest ones.
        config = ProposerConfig(private_key=PROPOSER, propose_every=5, confirmations=1, resubmit_after=10,
                                test_only_wrong_root_once=True)  # fmt: skip
        chain = L2Chain.open(tmp_path / "proposer", p.spec, map_size=1 << 30)
        p.chains.append(chain)
        replayer = Replayer(chain, InboxReader(w3, p.deployment, confirmations=1))
        transactor = make_transactor(w3, config)
        proposer = Proposer(replayer, rollup, transactor, ProposerMetrics(), config.propose_every,
                            agent=make_defender(p.deployment, replayer, transactor),
                            test_only_wrong_root_once=True)  # fmt: skip
        p.roles.append(Role("proposer", lambda stop: proposer.run(stop, 0.3)))

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
        assert p.verifier.verifier is not None and p.verifier.verifier.agent is not None
        agent = p.verifier.verifier.agent
        wait_for(lambda: agent.stats.withdrawn_wei >= 2 * BOND - BURN, 120, "the challenger's withdrawal")
        assert game.burnt() >= BURN

        # The honest assertions (built on genesis, never on the wrong one) confirm.
        wait_for(lambda: rollup.assertion_count() >= 3, 300, "an honest assertion")
        assert rollup.assertion(2).parent_id == 0
        w3.provider.make_request("evm_increaseTime", [CHALLENGE + 1])  # type: ignore[arg-type]
        wait_for(lambda: rollup.latest_confirmed() >= 2, 300, "the honest assertion to confirm")
        assert rollup.assertion(2).status is AssertionStatus.CONFIRMED
        assert all(rollup.assertion(i).parent_id != 1 for i in range(2, rollup.assertion_count()))
