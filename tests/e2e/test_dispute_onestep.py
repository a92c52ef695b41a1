"""End to end on anvil, down to a real one-step proof (issue 8 item 5).

Real anvil with the real Rollup, DisputeGame and the EVM `OneStepProver` (the deployment's
default); the sequencer, the batcher and ERC-20 transfers through the sequencer's JSON-RPC.
The scenario is `bench.dispute.run_scenario` (the bench `rollup bench dispute` replays it).

The lying side is the TEST-ONLY liar of `bench.dispute` (`LiarAgent` + `LiarClaims` +
`LiarLevel2Source`, wired by the `liar_defends_a_wrong_root` fixture below): the proposer posts
a wrong root (`test_only_wrong_root_once`) and the liar, with the proposer's key and transactor,
defends it: honest level-1 claims before the disputed block (the block of the first transfer),
lies from there on ending at the wrong root; at level 2 the honest block trace up to step j*,
whose step j* - 1 is a plain opcode (ADD first, then MSTORE, ...) of an ERC-20 transfer, and
H(honest state || "lie") from j* on. The liar picks j* so that the honest side is the one left
to prove the single step (`side_that_proves`). The honest verifier (its service and dispute
agent) opens the game on its own, bisects, and proves step j* - 1 -> j* on L1.

The second test runs a griefing challenger (the same liar as a challenger) against an honest
assertion. Its honest defender is the proposer's own (`batcher.proposer.make_defender`, what
`rollup proposer` runs): the ASSERTER's key, level 2 played from the proposer's own chain
(`l1.dispute_level2`), no verifier involved.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from bench.dispute import BOND, BURN_BPS, DisputeRun, move_target, run_scenario, side_that_proves
from bench.pipeline import PROPOSER, VERIFIER
from l1.bindings import AssertionStatus
from l1.dispute_game import GameStatus

BURN = BOND * BURN_BPS // 10_000


@pytest.fixture
def liar_defends_a_wrong_root(tmp_path: Path) -> DisputeRun:
    """The TEST-ONLY liar defends the proposer's wrong root; the honest verifier challenges."""
    return run_scenario(tmp_path, honest_side="challenger", log=lambda s: None)


@pytest.fixture
def liar_griefs_an_honest_root(tmp_path: Path) -> DisputeRun:
    """The TEST-ONLY liar challenges an honest assertion; the asserter's agent defends at level 2."""
    return run_scenario(tmp_path, honest_side="defender", log=lambda s: None)


def _assert_played_to_one_step(run: DisputeRun, prover: str) -> None:
    assert 1 <= run.wrong_step <= run.steps and run.opcode, (run.wrong_step, run.steps, run.opcode)
    event = run.step_proven
    assert event, "no StepProven event: the game did not end by a one-step proof"
    pre, honest_post, lie = run.honest_trace
    assert event["stepIndex"] == run.wrong_step - 1 and event["l2Block"] == run.disputed_block
    assert (event["pre"], event["post"], event["claimed"]) == (pre, honest_post, lie)
    assert event["by"] == prover
    assert run.moves == run.predicted_moves, (run.moves, run.predicted_moves)
    bound = move_target(run.blocks, run.steps)
    assert all(m <= bound for m in run.moves.values()), (run.moves, bound, run.blocks, run.steps)
    assert run.invariant  # the game's ETH == bonds held + credits owed + burnt
    assert run.burnt == BURN


@pytest.mark.slow
def test_wrong_root_is_bisected_to_one_erc20_opcode_proven_on_l1_and_rejected(liar_defends_a_wrong_root):
    _assert_challenger_won(liar_defends_a_wrong_root)


# Step kinds other than opcodes the game is played to, end to end: the end of a transaction and a
# step of the block's end (a trie insertion). SEAL, the block's last step, is one position only,
# which the segment sizes of this scenario leave to the liar (side_that_proves); it is proven on L1
# in tests/integration/test_osp_trie_steps.py.
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["TX_END", "TRIE"])
def test_wrong_root_is_bisected_to_a_non_opcode_step_proven_on_l1_and_rejected(tmp_path: Path, kind: str):
    run = run_scenario(tmp_path, honest_side="challenger", log=lambda s: None, lie_at=kind)
    assert run.opcode == kind
    _assert_challenger_won(run)


def _assert_challenger_won(run: DisputeRun) -> None:
    verifier = Account.from_key(VERIFIER).address
    _assert_played_to_one_step(run, verifier)
    assert run.status is GameStatus.CHALLENGER_WON
    assert run.assertion_status is AssertionStatus.REJECTED
    # the challenger gets its bond back and (1 - burn) of the assertion's bond, to the wei
    assert run.withdrawn == BOND + (BOND - BURN) and run.credits["loser"] == 0
    stats = run.verifier_stats
    assert stats.challenges == 1 and stats.proofs == 1 and stats.won == 1 and not stats.unprovable
    assert run.confirmed_next > 1  # the next honest assertion confirms


@pytest.mark.slow
def test_griefing_challenger_loses_its_bond_to_a_level2_defence(liar_griefs_an_honest_root):
    run = liar_griefs_an_honest_root
    asserter = Account.from_key(PROPOSER).address
    _assert_played_to_one_step(run, asserter)
    assert run.status is GameStatus.DEFENDER_WON
    assert run.assertion_status is AssertionStatus.PENDING or run.assertion_status is AssertionStatus.CONFIRMED
    assert run.withdrawn == BOND - BURN  # the defender gets (1 - burn) of the challenger's bond
    assert run.confirmed_next == 1  # the honest assertion, defended, confirms


def test_who_proves_follows_the_segment_sizes():
    """The liar's parity rule against the games of tests/integration/test_dispute_level2.py
    (moves 3/2 and 3/3 measured there on L1) and the move bound."""
    assert side_that_proves(40, 2, 300, 2) == ("challenger", {"challenger": 3, "defender": 2})
    assert side_that_proves(17, 17, 300, 100) == ("defender", {"challenger": 3, "defender": 3})
    assert move_target(40, 300) == 7 and move_target(5, 614) == 6
    # T = 614: every step is three picks deep, so the level-1 shape alone decides who proves;
    # T = 360: segments of 1 and 2 steps after two picks, so the first wrong step decides
    assert {side_that_proves(5, 4, 614, j)[0] for j in range(1, 614)} == {"challenger"}
    assert {side_that_proves(5, 4, 360, j)[0] for j in range(1, 360)} == {"challenger", "defender"}
