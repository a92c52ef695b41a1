"""The dispute game on a real anvil node, with a test-double prover (tests/contracts/TestStepProver.sol).

The prover double returns the post state the test programmed for exactly (context, pre,
proof), so the game is tested on its own: full games to a one-step proof won by either side,
timeouts of each side at each level, every refusal, bonds to the wei, moot games, descendants.
Both sides are played by `play`, which follows the honest rule of docs/fraud-proofs.md 4.1
(answer on the first point that differs from one's own trace) over a scripted trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from web3.contract import Contract

from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.bindings import AssertionStatus, ContractBinding, DelayedInboxBinding, InboxBinding, L1Reverted, RollupBinding
from l1.deploy import PHASE_STEPS, Deployment, DeployParams, deploy
from l1.dispute_game import (
    EMPTY_PREIMAGE,
    MAX_STEPS,
    DisputeGameBinding,
    GameStatus,
    OpeningInputs,
    assertion_claim,
    block_claim,
    choose_segment,
    cursor,
    dissection_hash,
    dissection_positions,
    opening_inputs,
)
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec

OWNER, BATCHER, DEFENDER, CHALLENGER, CHALLENGER2, OTHER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:6])
BOND = 10**17
CHALLENGE = 2_000
CLOCK = 500
BURN_BPS = 5_000
BURN = BOND * BURN_BPS // 10_000
GOOD_ROOT = keccak(b"good output root")
BAD_ROOT = keccak(b"bad output root")
ENTRIES = 3  # inbox entries on L1 before each test; delayed read after them: 1, 2, 2
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"


@dataclass(frozen=True)
class Env:
    anvil: Anvil
    deployment: Deployment
    prover: Contract


@pytest.fixture(scope="module")
def env(anvil: Anvil) -> Env:
    w3 = anvil.w3
    artifact = load_artifact("TestStepProver", TEST_ARTIFACTS)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": OTHER.address}))
    prover = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    params = DeployParams(
        batcher=BATCHER.address,
        proposers=(DEFENDER.address, OTHER.address),
        challenge_period=CHALLENGE,
        bond=BOND,
        game_clock=CLOCK,
        burn_bps=BURN_BPS,
        prover=prover.address,
    )
    deployment = deploy(w3, OWNER, devnet_spec(), params)
    delayed = DelayedInboxBinding(w3, deployment.contracts["DelayedInbox"], OTHER)
    inbox = InboxBinding(w3, deployment.contracts["Inbox"], BATCHER)
    delayed.deposit(OTHER.address, 21_000, b"", 1)
    delayed.deposit(OTHER.address, 21_000, b"\x01", 2)
    for i, read in enumerate((1, 2, 2)):
        inbox.append_batch(bytes([i + 1]) * 10, keccak(bytes([i])), 1, read)
    return Env(anvil, deployment, prover)


@pytest.fixture(autouse=True)
def fresh_state(env: Env) -> Iterator[None]:
    snapshot = env.anvil.w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    env.anvil.w3.provider.make_request("evm_revert", [snapshot])


def game_as(env: Env, who: Any) -> DisputeGameBinding:
    return DisputeGameBinding(env.anvil.w3, env.deployment.contracts["DisputeGame"], who)


def rollup_as(env: Env, who: Any) -> RollupBinding:
    return RollupBinding(env.anvil.w3, env.deployment.contracts["Rollup"], who)


def inbox(env: Env) -> InboxBinding:
    return InboxBinding(env.anvil.w3, env.deployment.contracts["Inbox"])


def reverts(error: str):
    return pytest.raises(L1Reverted, match=rf"reverted: {error}\b")


def fee(receipt: Any) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


def balance_invariant(env: Env) -> None:
    """The game holds exactly the open bonds, the credits owed and the burnt wei."""
    g = game_as(env, None)
    assert env.anvil.w3.eth.get_balance(g.address) == g.bonds_held() + g.credits_owed() + g.burnt()


# -- traces and the honest strategy ----------------------------------------------------------


def h(*parts: Any) -> bytes:
    return keccak(repr(parts).encode())


@dataclass
class Trace:
    """One side's states: level-1 block claims at 0..N, level-2 states 0..T of the disputed block."""

    blocks: list[bytes]
    steps: list[bytes]
    proof: bytes = b""

    def state(self, level: int, pos: int) -> bytes:
        if level == 1:
            return self.blocks[pos]
        return self.steps[min(pos, len(self.steps) - 1)]  # past its end, a trace repeats its last state


@dataclass(frozen=True)
class Scenario:
    assertion_id: int
    opening: OpeningInputs
    honest: Trace
    bad: Trace
    block: int  # the disputed L2 block
    wrong_step: int  # first step index where the bad trace differs


def scenario(
    env: Env,
    blocks: int,
    steps: int,
    disputed: int,
    wrong_step: int,
    wrong_assertion: bool = True,
    parent: int = 0,
    entries: int = ENTRIES,
) -> Scenario:
    """An assertion of `blocks` blocks and two traces that agree up to block offset `disputed` - 1
    and, inside that block, up to step `wrong_step` - 1. The prover double is programmed with the
    honest step at `wrong_step`. `wrong_assertion`: the defender's root is the bad trace's."""
    rollup = rollup_as(env, DEFENDER)
    base = rollup.assertion(parent).l2_block_number
    root = BAD_ROOT if wrong_assertion else GOOD_ROOT
    aid = rollup.created_id(rollup.create_assertion(parent, entries, base + blocks, root))
    opening = opening_inputs(inbox(env), rollup, aid)
    assertion = rollup.assertion(aid)
    parent_claim = assertion_claim(rollup.assertion(parent), opening.d_start)
    claimed = assertion_claim(assertion, opening.d_end)
    honest_end = claimed if not wrong_assertion else h("true end")
    bad_end = claimed if wrong_assertion else h("wrong end")
    honest_blocks = [parent_claim] + [h("block", i) for i in range(1, blocks)] + [honest_end]
    bad_blocks = honest_blocks[:disputed] + [h("bad block", i) for i in range(disputed, blocks)] + [bad_end]
    honest_steps = [honest_blocks[disputed - 1]] + [h("step", j) for j in range(1, steps)] + [honest_blocks[disputed]]
    bad_inner = [h("bad step", j) for j in range(wrong_step, steps)]
    bad_steps = honest_steps[:wrong_step] + bad_inner + [bad_blocks[disputed]]
    block = base + disputed
    ctx = (block, assertion.inbox_entries, assertion.created_at)
    pre, post = honest_steps[wrong_step - 1], honest_steps[wrong_step]
    env.prover.functions.setStep(ctx, pre, b"", post).transact({"from": OTHER.address})
    return Scenario(aid, opening, Trace(honest_blocks, honest_steps), Trace(bad_blocks, bad_steps), block, wrong_step)


def open_game(env: Env, sc: Scenario, challenger: Any = CHALLENGER, trace: Trace | None = None) -> tuple[int, Any]:
    """The challenger's opening: its dissection of [0, N] from `trace` (default: the honest one
    against a wrong assertion, the bad one against a good assertion)."""
    g = game_as(env, challenger)
    trace = trace or sc.honest
    n = len(trace.blocks) - 1
    points = [trace.blocks[p] for p in dissection_positions(0, n)]
    receipt = g.challenge(sc.assertion_id, sc.opening, points, trace.blocks[n])
    return g.created_id(receipt), receipt


@dataclass
class Played:
    receipts: list[Any]
    stuck: Any = None  # the side left without a valid move (its one-step proof failed)


def play(env: Env, game_id: int, sides: dict[str, Trace], until: int = 100) -> Played:
    """Both sides play the honest rule on their own traces until the game ends, a side is stuck
    (its proveStep is refused: it is wrong about that step) or `until` moves were made."""
    reader = game_as(env, None)
    played = Played([])
    signers = {a.address: a for a in (DEFENDER, CHALLENGER, CHALLENGER2, OTHER)}
    while len(played.receipts) < until:
        game = reader.game(game_id)
        if game.status != GameStatus.OPEN:
            break
        mover = game.to_move
        assert mover is not None
        trace, g = sides[mover], game_as(env, signers[mover])
        theirs = reader.last_dissection(game_id)
        level = theirs.level
        m = choose_segment(theirs, lambda position: trace.state(level, position))  # noqa: B023 (used at once)
        lo, hi, _, _ = theirs.segment(m)
        if hi - lo > 1:
            points = [trace.state(level, p) for p in dissection_positions(lo, hi)]
            played.receipts.append(g.move(game_id, theirs, m, points, trace.state(level, hi)))
        elif level == 1:
            t = len(trace.steps) - 1
            points = [trace.steps[p] for p in dissection_positions(0, t)]
            played.receipts.append(g.move(game_id, theirs, m, points, trace.steps[t], steps=t))
        else:
            try:
                played.receipts.append(g.prove_step(game_id, theirs, m, trace.proof))
            except L1Reverted as exc:
                assert exc.error == "StepMatchesClaim"
                played.stuck = mover
                break
    return played


def honest_sides(sc: Scenario, challenger_honest: bool = True, challenger: Any = CHALLENGER) -> dict[str, Trace]:
    if challenger_honest:
        return {challenger.address: sc.honest, DEFENDER.address: sc.bad}
    return {challenger.address: sc.bad, DEFENDER.address: sc.honest}


# -- hashing agrees with Solidity --------------------------------------------------------------


def test_claim_cursor_and_dissection_hashing_agree_with_solidity(env):
    g = game_as(env, None)
    top64, top32 = 2**64 - 1, 2**32 - 1
    for entry, msg, delayed in [(0, 0, 0), (3, 1, 2), (top64, top32, top64), (2**40 + 7, 65_000, 12)]:
        assert g.call("cursor", entry, msg, delayed) == cursor(entry, msg, delayed)
        for number, root in [(0, b"\x00" * 32), (top64, GOOD_ROOT), (12345, BAD_ROOT)]:
            c = cursor(entry, msg, delayed)
            assert g.call("blockClaim", number, root, c) == block_claim(number, root, c)
    for level, lo, hi, count in [(1, 0, 40, 15), (2, 7, 9, 1), (2, 0, MAX_STEPS, 15), (1, 5, 6, 0)]:
        points = [h("p", i) for i in range(count)]
        assert g.call("dissectionHash", level, lo, hi, h("s"), points, h("e"), OTHER.address) == dissection_hash(
            level, lo, hi, h("s"), points, h("e"), OTHER.address
        )
    for lo, hi in [(0, 1), (0, 3), (10, 26), (0, 40), (5, 17), (0, 255), (0, MAX_STEPS), (2**63, 2**63 + 1000)]:
        assert g.call("dissectionPositions", lo, hi) == dissection_positions(lo, hi)
    # The claims the game derives for an assertion are the Python ones.
    sc = scenario(env, blocks=4, steps=2, disputed=1, wrong_step=1, parent=0, entries=2)
    rollup = rollup_as(env, None)
    assert (sc.opening.d_start, sc.opening.d_end) == (0, 2)
    assert g.claims(sc.assertion_id, sc.opening) == (
        assertion_claim(rollup.assertion(0), 0),
        assertion_claim(rollup.assertion(sc.assertion_id), 2),
    )


# -- full games --------------------------------------------------------------------------------


def test_challenger_wins_by_one_step_proof_and_bonds_move_to_the_wei(env):
    w3 = env.anvil.w3
    sc = scenario(env, blocks=40, steps=256, disputed=23, wrong_step=100)
    rollup = rollup_as(env, OTHER)
    game_id, opening = open_game(env, sc)
    assert rollup.open_games(sc.assertion_id) == 1
    played = play(env, game_id, honest_sides(sc))
    assert played.stuck is None
    g = game_as(env, CHALLENGER)
    game = g.game(game_id)
    assert game.status == GameStatus.CHALLENGER_WON and game.level == 2
    assert game.disputed_l2_block == sc.block
    # opening + 2 level-1 moves + level-2 move + proof: ceil(log16 40) + ceil(log16 256) + 1 in total
    assert len(played.receipts) + 1 == 2 + 2 + 1
    (proven,) = g.contract.events.StepProven().process_receipt(played.receipts[-1])
    assert proven["args"]["l2Block"] == sc.block and proven["args"]["stepIndex"] == sc.wrong_step - 1
    assert bytes(proven["args"]["post"]) == sc.honest.steps[sc.wrong_step]
    assert bytes(proven["args"]["claimed"]) == sc.bad.steps[sc.wrong_step]
    (ended,) = g.ended_in(played.receipts[-1])
    assert (ended.outcome, ended.winner, ended.burnt) == (GameStatus.CHALLENGER_WON, CHALLENGER.address, BURN)
    assert rollup.assertion(sc.assertion_id).status == AssertionStatus.REJECTED
    assert rollup.open_games(sc.assertion_id) == 0
    assert g.credit(CHALLENGER.address) == 2 * BOND - BURN
    assert g.credit(DEFENDER.address) == 0
    assert g.burnt() == BURN and g.bonds_held() == 0
    assert g.beneficiary(sc.assertion_id) == CHALLENGER.address
    balance_invariant(env)
    before = w3.eth.get_balance(CHALLENGER.address)
    receipt = g.withdraw()
    assert w3.eth.get_balance(CHALLENGER.address) == before + 2 * BOND - BURN - fee(receipt)
    assert w3.eth.get_balance(g.address) == BURN == g.burnt()
    with reverts("NothingToWithdraw"):
        g.withdraw()
    with reverts("GameNotOpen"):
        g.timeout(game_id)


def test_defender_wins_by_one_step_proof_and_the_assertion_confirms_after(env):
    sc = scenario(env, blocks=5, steps=100, disputed=3, wrong_step=41, wrong_assertion=False)
    rollup = rollup_as(env, OTHER)
    game_id, _ = open_game(env, sc, trace=sc.bad)
    played = play(env, game_id, honest_sides(sc, challenger_honest=False))
    g = game_as(env, DEFENDER)
    # opening [0,5] -> defender posts steps [0,100] -> challenger dissects -> defender proves
    assert len(played.receipts) == 3 and played.stuck is None
    assert played.receipts[-1]["from"] == DEFENDER.address
    assert g.game(game_id).status == GameStatus.DEFENDER_WON
    assert g.credit(DEFENDER.address) == BOND - BURN and g.credit(CHALLENGER.address) == 0
    assert g.burnt() == BURN
    balance_invariant(env)
    assert rollup.assertion(sc.assertion_id).status == AssertionStatus.PENDING
    env.anvil.increase_time(CHALLENGE)
    rollup.confirm_assertion(sc.assertion_id)
    assert rollup.assertion(sc.assertion_id).status == AssertionStatus.CONFIRMED


def test_a_wrong_side_cannot_prove_its_step_and_times_out_at_level_2(env):
    """Defender honest: the challenger must prove a step of [0, 4] and cannot; it loses on time."""
    sc = scenario(env, blocks=3, steps=4, disputed=2, wrong_step=3, wrong_assertion=False)
    game_id, _ = open_game(env, sc, trace=sc.bad)
    played = play(env, game_id, honest_sides(sc, challenger_honest=False))
    assert played.stuck == CHALLENGER.address and len(played.receipts) == 1
    g = game_as(env, CHALLENGER)
    theirs = g.last_dissection(game_id)
    assert (theirs.level, theirs.lo, theirs.hi) == (2, 0, 4)
    with reverts("Unsupported"):  # a step the prover cannot prove reverts the move
        g.prove_step(game_id, theirs, 0, b"not a proof")
    with reverts("ClockNotExpired"):
        g.timeout(game_id)
    env.anvil.increase_time(CLOCK)
    with reverts("ClockExpired"):
        g.prove_step(game_id, theirs, 2, b"")
    receipt = game_as(env, OTHER).timeout(game_id)
    (ended,) = g.ended_in(receipt)
    assert (ended.outcome, ended.winner) == (GameStatus.DEFENDER_WON, DEFENDER.address)
    assert g.clocks(game_id)[0] == 0
    assert g.credit(DEFENDER.address) == BOND - BURN
    balance_invariant(env)


@pytest.mark.parametrize(
    ("level", "late"),
    [(1, "defender"), (1, "challenger"), (2, "defender"), (2, "challenger")],
)
def test_timeout_of_each_side_at_each_level(env, level, late):
    """Wrong assertion (challenger honest). Moves are made until `late` is to move at `level`."""
    blocks, steps = (40, 300) if level == 1 else (3, 100)
    sc = scenario(env, blocks=blocks, steps=steps, disputed=2, wrong_step=50)
    game_id, _ = open_game(env, sc)
    g = game_as(env, OTHER)
    late_address = DEFENDER.address if late == "defender" else CHALLENGER.address
    while not (g.game(game_id).level == level and g.to_move(game_id) == late_address):
        play(env, game_id, honest_sides(sc), until=1)
    game = g.game(game_id)
    assert game.status == GameStatus.OPEN
    with reverts("ClockNotExpired"):
        g.timeout(game_id)
    env.anvil.increase_time(CLOCK)
    receipt = g.timeout(game_id)
    (ended,) = g.ended_in(receipt)
    challenger_wins = late == "defender"
    assert ended.winner == (CHALLENGER.address if challenger_wins else DEFENDER.address)
    status = rollup_as(env, None).assertion(sc.assertion_id).status
    assert status == (AssertionStatus.REJECTED if challenger_wins else AssertionStatus.PENDING)
    assert g.credit(CHALLENGER.address) == (2 * BOND - BURN if challenger_wins else 0)
    assert g.credit(DEFENDER.address) == (0 if challenger_wins else BOND - BURN)
    assert rollup_as(env, None).open_games(sc.assertion_id) == 0
    balance_invariant(env)


def test_clocks_charge_only_the_side_to_move(env):
    sc = scenario(env, blocks=40, steps=300, disputed=2, wrong_step=5)
    game_id, opened = open_game(env, sc)
    g = game_as(env, OTHER)
    w3 = env.anvil.w3
    env.anvil.increase_time(100)
    now = w3.eth.get_block("latest")["timestamp"]
    opened_at = w3.eth.get_block(opened["blockNumber"])["timestamp"]
    assert g.clocks(game_id) == (CLOCK, CLOCK - (now - opened_at))
    (receipt,) = play(env, game_id, honest_sides(sc), until=1).receipts
    moved_at = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    game = g.game(game_id)
    assert (game.challenger_clock, game.defender_clock, game.last_move_at) == (
        CLOCK,
        CLOCK - (moved_at - opened_at),
        moved_at,
    )
    env.anvil.increase_time(30)
    now = w3.eth.get_block("latest")["timestamp"]
    assert g.clocks(game_id) == (CLOCK - (now - moved_at), game.defender_clock)


# -- refusals ----------------------------------------------------------------------------------


def test_moves_are_refused_out_of_turn_wrong_equal_late_and_after_the_end(env):
    sc = scenario(env, blocks=40, steps=300, disputed=30, wrong_step=5)
    game_id, _ = open_game(env, sc)
    defender, challenger = game_as(env, DEFENDER), game_as(env, CHALLENGER)
    theirs = defender.last_dissection(game_id)
    assert theirs.positions == dissection_positions(0, 40) and len(theirs.points) == 15
    m = 11  # positions 27..30: the first segment whose end the defender (bad trace) rejects
    lo, hi, _, their_end = theirs.segment(m)
    assert (lo, hi) == (27, 30)
    mine = [sc.bad.blocks[p] for p in dissection_positions(lo, hi)]
    with reverts("NotYourTurn"):
        challenger.move(game_id, theirs, m, mine, sc.honest.blocks[hi])
    with reverts("NotYourTurn"):
        game_as(env, OTHER).move(game_id, theirs, m, mine, sc.bad.blocks[hi])
    forged = replace(theirs, points=(h("forged"), *theirs.points[1:]))
    with reverts("WrongDissection"):
        defender.move(game_id, forged, m, mine, sc.bad.blocks[hi])
    with reverts("EndNotDisputed"):
        defender.move(game_id, theirs, m, mine, their_end)
    with reverts("WrongPointCount"):
        defender.move(game_id, theirs, m, [*mine, h("extra")], sc.bad.blocks[hi])
    with reverts("BadSegment"):
        defender.move(game_id, theirs, 16, mine, sc.bad.blocks[hi])
    with reverts("UnexpectedSteps"):
        defender.move(game_id, theirs, m, mine, sc.bad.blocks[hi], steps=5)
    with reverts("NotOneStep"):
        defender.prove_step(game_id, theirs, m, b"")
    env.anvil.increase_time(CLOCK)
    with reverts("ClockExpired"):
        defender.move(game_id, theirs, m, mine, sc.bad.blocks[hi])
    challenger.timeout(game_id)
    with reverts("GameNotOpen"):
        defender.move(game_id, theirs, m, mine, sc.bad.blocks[hi])
    with reverts("UnknownGame"):
        defender.timeout(99)


def test_level_2_step_count_bounds(env):
    sc = scenario(env, blocks=2, steps=4, disputed=1, wrong_step=1)
    game_id, _ = open_game(env, sc)
    defender = game_as(env, DEFENDER)
    theirs = defender.last_dissection(game_id)
    assert len(theirs.points) == 1  # [0, 2]: one inner point
    points = [h("s", p) for p in dissection_positions(0, 4)]
    with reverts("StepsOutOfRange"):
        defender.move(game_id, theirs, 0, [], sc.bad.blocks[1], steps=0)
    with reverts("StepsOutOfRange"):
        defender.move(game_id, theirs, 0, points, sc.bad.blocks[1], steps=MAX_STEPS + 1)
    big = [h("big", p) for p in dissection_positions(0, MAX_STEPS)]
    receipt = defender.move(game_id, theirs, 0, big, sc.bad.blocks[1], steps=MAX_STEPS)
    (posted,) = defender.dissections_in(receipt)
    assert (posted.level, posted.lo, posted.hi, posted.points) == (2, 0, MAX_STEPS, tuple(big))
    assert posted.positions[0] == MAX_STEPS // 16 and posted.positions[-1] == 15 * MAX_STEPS // 16
    challenger = game_as(env, CHALLENGER)
    # A segment of 2^36 steps: dissected again, never proven in one step, and no step count given.
    with reverts("NotOneStep"):
        challenger.prove_step(game_id, posted, 0, b"")
    with reverts("UnexpectedSteps"):
        challenger.move(game_id, posted, 0, [h(i) for i in range(15)], h("x"), steps=1)
    challenger.move(game_id, posted, 0, [h(i) for i in range(15)], h("x"))


def test_one_step_segments_at_level_2_must_be_proven_not_dissected(env):
    sc = scenario(env, blocks=2, steps=4, disputed=1, wrong_step=2)
    game_id, _ = open_game(env, sc)
    play(env, game_id, honest_sides(sc), until=1)  # defender posts [0, 4]
    challenger = game_as(env, CHALLENGER)
    theirs = challenger.last_dissection(game_id)
    assert (theirs.level, theirs.hi, len(theirs.points)) == (2, 4, 3)
    with reverts("SegmentIsOneStep"):
        challenger.move(game_id, theirs, 1, [], h("x"))
    challenger.prove_step(game_id, theirs, 1, b"")
    assert challenger.game(game_id).status == GameStatus.CHALLENGER_WON


def test_challenges_are_refused_when_late_confirmed_wrongly_bonded_or_wrongly_opened(env):
    sc = scenario(env, blocks=3, steps=2, disputed=1, wrong_step=1)
    g = game_as(env, CHALLENGER)
    points = [sc.honest.blocks[p] for p in dissection_positions(0, 3)]
    end = sc.honest.blocks[3]
    with reverts("WrongBond"):
        g.challenge(sc.assertion_id, sc.opening, points, end, value=BOND - 1)
    with reverts("NotPending"):
        g.challenge(0, OpeningInputs(0, 0, EMPTY_PREIMAGE, EMPTY_PREIMAGE), [], end)
    with reverts("UnknownAssertion"):
        g.challenge(99, sc.opening, points, end)
    wrong = sc.opening
    with reverts("WrongDelayedCount"):
        g.challenge(sc.assertion_id, OpeningInputs(1, wrong.d_end, wrong.start_entry, wrong.end_entry), points, end)
    with reverts("WrongDelayedCount"):
        g.challenge(sc.assertion_id, OpeningInputs(0, 1, wrong.start_entry, wrong.end_entry), points, end)
    with reverts("WrongDelayedCount"):
        g.challenge(sc.assertion_id, OpeningInputs(0, 3, wrong.start_entry, wrong.end_entry), points, end)
    bad_preimage = replace(wrong.end_entry, message_count=2)
    with reverts("WrongEntryPreimage"):
        g.challenge(sc.assertion_id, OpeningInputs(0, 2, wrong.start_entry, bad_preimage), points, end)
    with reverts("EndNotDisputed"):
        g.challenge(sc.assertion_id, sc.opening, points, sc.bad.blocks[3])
    with reverts("WrongPointCount"):
        g.challenge(sc.assertion_id, sc.opening, [*points, h("extra")], end)
    env.anvil.increase_time(CHALLENGE)
    with reverts("ChallengePeriodOver"):
        g.challenge(sc.assertion_id, sc.opening, points, end)
    rollup_as(env, OTHER).confirm_assertion(sc.assertion_id)
    with reverts("NotPending"):
        g.challenge(sc.assertion_id, sc.opening, points, end)
    assert g.game_count() == 0


def test_a_child_assertion_is_challenged_with_nonzero_delayed_counts(env):
    rollup = rollup_as(env, DEFENDER)
    parent = rollup.created_id(rollup.create_assertion(0, 2, 10, GOOD_ROOT))
    sc = scenario(env, blocks=17, steps=20, disputed=17, wrong_step=4, parent=parent, entries=3)
    assert (sc.opening.d_start, sc.opening.d_end) == (2, 2)
    assert sc.opening.start_entry != sc.opening.end_entry
    game_id, _ = open_game(env, sc)
    game = game_as(env, OTHER).game(game_id)
    assert (game.base_block, game.hi) == (10, 17)
    played = play(env, game_id, honest_sides(sc))
    assert played.stuck is None
    assert game_as(env, OTHER).game(game_id).disputed_l2_block == 27 == sc.block
    assert rollup.assertion(sc.assertion_id).status == AssertionStatus.REJECTED
    assert rollup.assertion(parent).status == AssertionStatus.PENDING


# -- confirmation, moot games, descendants -----------------------------------------------------


def test_confirmation_waits_for_open_games(env):
    sc = scenario(env, blocks=3, steps=20, disputed=2, wrong_step=4, wrong_assertion=False)
    env.anvil.increase_time(CHALLENGE - 300)  # a game lasts at most 2 x CLOCK < CHALLENGE: open it late
    game_id, _ = open_game(env, sc, trace=sc.bad)
    rollup = rollup_as(env, OTHER)
    env.anvil.increase_time(300)
    with pytest.raises(L1Reverted) as info:
        rollup.confirm_assertion(sc.assertion_id)
    assert (info.value.error, info.value.args_) == ("GamesOpen", (sc.assertion_id, 1))
    play(env, game_id, honest_sides(sc, challenger_honest=False))
    assert game_as(env, OTHER).game(game_id).status == GameStatus.DEFENDER_WON
    rollup.confirm_assertion(sc.assertion_id)
    assert rollup.assertion(sc.assertion_id).status == AssertionStatus.CONFIRMED


def test_two_games_side_by_side_and_the_loser_of_the_race_ends_moot(env):
    w3 = env.anvil.w3
    sc = scenario(env, blocks=40, steps=256, disputed=23, wrong_step=100)
    first, _ = open_game(env, sc, CHALLENGER)
    second, _ = open_game(env, sc, CHALLENGER2)
    rollup = rollup_as(env, OTHER)
    assert rollup.open_games(sc.assertion_id) == 2
    created = game_as(env, None).games_created(assertion_id=sc.assertion_id)
    assert [(c.game_id, c.challenger, c.defender) for c in created] == [
        (first, CHALLENGER.address, DEFENDER.address),
        (second, CHALLENGER2.address, DEFENDER.address),
    ]
    assert created[0].defender_claim == assertion_claim(rollup.assertion(sc.assertion_id), sc.opening.d_end)
    assert created[0].start_claim == sc.honest.blocks[0] and (created[0].d_start, created[0].d_end) == (0, 2)
    with reverts("NotMoot"):
        game_as(env, OTHER).moot(second)
    sides = {CHALLENGER.address: sc.honest, CHALLENGER2.address: sc.honest, DEFENDER.address: sc.bad}
    for _ in range(2):  # interleaved moves
        play(env, first, sides, until=1)
        play(env, second, sides, until=1)
    g = game_as(env, OTHER)
    assert g.game(first).level == g.game(second).level == 2
    play(env, first, sides)
    assert g.game(first).status == GameStatus.CHALLENGER_WON
    assert rollup.open_games(sc.assertion_id) == 1
    receipt = g.moot(second)
    (ended,) = g.ended_in(receipt)
    assert (ended.outcome, ended.winner, ended.burnt) == (GameStatus.MOOT, "0x" + "00" * 20, 0)
    assert rollup.open_games(sc.assertion_id) == 0
    assert g.credit(CHALLENGER2.address) == BOND and g.credit(CHALLENGER.address) == 2 * BOND - BURN
    assert g.burnt() == BURN
    balance_invariant(env)
    before = w3.eth.get_balance(CHALLENGER2.address)
    r = game_as(env, CHALLENGER2).withdraw()
    assert w3.eth.get_balance(CHALLENGER2.address) == before + BOND - fee(r)


def test_a_decided_game_against_a_rejected_assertion_ends_moot(env):
    """A game that would end by timeout after its assertion was rejected elsewhere ends Moot."""
    sc = scenario(env, blocks=3, steps=4, disputed=1, wrong_step=1)
    first, _ = open_game(env, sc, CHALLENGER)
    second, _ = open_game(env, sc, CHALLENGER2)
    env.anvil.increase_time(CLOCK)
    g = game_as(env, OTHER)
    g.timeout(first)  # the defender never answered: rejected
    receipt = g.timeout(second)
    (ended,) = g.ended_in(receipt)
    assert ended.outcome == GameStatus.MOOT
    assert g.credit(CHALLENGER2.address) == BOND
    balance_invariant(env)


def test_games_against_a_child_of_a_rejected_assertion_are_moot_and_descendants_pay_the_winner(env):
    rollup = rollup_as(env, DEFENDER)
    sc = scenario(env, blocks=3, steps=4, disputed=1, wrong_step=1, entries=2)
    child = rollup.created_id(rollup.create_assertion(sc.assertion_id, 3, 5, BAD_ROOT))
    grandchild = rollup.created_id(rollup.create_assertion(child, 3, 6, BAD_ROOT))
    opening = opening_inputs(inbox(env), rollup, child)
    g2 = game_as(env, CHALLENGER2)
    child_game = g2.created_id(g2.challenge(child, opening, [h("c", 1)], h("c", 2)))
    game_id, _ = open_game(env, sc)
    g = game_as(env, OTHER)
    with reverts("NotMoot"):
        g.moot(child_game)
    env.anvil.increase_time(CLOCK)
    g.timeout(game_id)  # rejects sc.assertion_id, CHALLENGER its beneficiary
    g.moot(child_game)
    assert g.game(child_game).status == GameStatus.MOOT
    assert g.credit(CHALLENGER2.address) == BOND
    with reverts("ParentRejected"):
        g2.challenge(child, opening, [h("c", 1)], h("c", 2))
    with reverts("TransferFailed"):  # Rollup pays a descendant's bond only through the game
        rollup_as(env, OTHER).reject_descendant(child)
    with reverts("ParentNotRejected"):
        g.reject_descendant(grandchild)
    credit = g.credit(CHALLENGER.address)
    g.reject_descendant(child)
    g.reject_descendant(grandchild)
    assert rollup.assertion(grandchild).status == AssertionStatus.REJECTED
    assert g.beneficiary(grandchild) == CHALLENGER.address
    assert g.credit(CHALLENGER.address) == credit + 2 * (BOND - BURN)
    assert g.burnt() == 3 * BURN
    with reverts("NotPending"):
        g.reject_descendant(child)
    balance_invariant(env)
    assert rollup.bonds_held() == 0


def test_payments_are_refused_from_anyone_but_the_rollup(env):
    w3 = env.anvil.w3
    tx = {"from": OTHER.address, "to": env.deployment.contracts["DisputeGame"], "value": 1}
    with pytest.raises(Exception) as info:
        w3.eth.send_transaction(tx)
    assert "0x" + keccak(b"UnexpectedPayment()")[:4].hex() in str(info.value)


# -- gas ---------------------------------------------------------------------------------------


def test_gas_of_each_move_stays_in_budget(env):
    """Figures for docs/fraud-proofs.md 4.6 (N = 40 blocks, T = 256 steps, test-double prover)."""
    sc = scenario(env, blocks=40, steps=256, disputed=23, wrong_step=100)
    game_id, opened = open_game(env, sc)
    played = play(env, game_id, honest_sides(sc))
    gas = [opened["gasUsed"], *(r["gasUsed"] for r in played.receipts)]
    names = ["challenge", "move L1", "move L1->L2", "move L2", "proveStep"]
    assert len(gas) == len(names)
    print(dict(zip(names, gas, strict=True)))
    budget = {"challenge": 350_000, "move L1": 110_000, "move L1->L2": 130_000, "move L2": 110_000}
    for name, used in zip(names, gas, strict=True):
        if name in budget:
            assert used < budget[name], (name, used)
    assert gas[-1] < 250_000  # proveStep with the double: everything but the real prover's work
    sc2 = scenario(env, blocks=3, steps=4, disputed=1, wrong_step=1)
    other, _ = open_game(env, sc2, CHALLENGER2)
    env.anvil.increase_time(CLOCK)
    used = game_as(env, OTHER).timeout(other)["gasUsed"]
    print("timeout", used)
    assert used < 200_000


# -- deployment ----------------------------------------------------------------------------------


class NoProverBinding(ContractBinding):
    name = "NoProver"


def test_deployment_wires_the_game_and_defaults_to_a_prover_that_refuses_every_step(env):
    w3 = env.anvil.w3
    g = game_as(env, None)
    assert rollup_as(env, None).dispute_game() == g.address == env.deployment.contracts["DisputeGame"]
    assert g.prover() == env.prover.address == env.deployment.contracts["OneStepProver"]
    assert (g.clock(), g.burn_bps(), g.bond()) == (CLOCK, BURN_BPS, BOND)
    assert (env.deployment.game_clock, env.deployment.burn_bps) == (CLOCK, BURN_BPS)
    default = deploy(w3, OWNER, devnet_spec(), DeployParams(bond=BOND, prover_kind="none"))
    game = DisputeGameBinding(w3, default.contracts["DisputeGame"])
    assert game.prover() == default.contracts["OneStepProver"]
    assert (default.game_clock, default.burn_bps) == (DeployParams().game_clock, 5_000)
    no_prover = NoProverBinding(w3, default.contracts["OneStepProver"])
    for pre, proof in [(b"\x00" * 32, b""), (h("any"), b"\x01" * 100)]:
        with pytest.raises(L1Reverted) as info:
            no_prover.call("step", (1, 2, 3), pre, proof)
        assert info.value.error == "Unsupported" and info.value.args_[0].rstrip(b"\x00") == b"NOT_BUILT"
    onestep = deploy(w3, OWNER, devnet_spec(), DeployParams(bond=BOND))  # the default: the EVM OneStepProver
    prover = w3.eth.contract(address=onestep.contracts["OneStepProver"], abi=load_artifact("OneStepProver")["abi"])
    spec = devnet_spec()
    assert (prover.functions.chainId().call(), prover.functions.gasLimit().call()) == (spec.chain_id, spec.gas_limit)
    assert bytes.fromhex(prover.functions.coinbase().call()[2:]) == bytes(spec.fee_recipient)
    # the step contracts are deployed on their own (initcode limit) and recorded; the prover holds them
    c = onestep.contracts
    assert {"CodeOracle", "ExecWorld", "ExecTx", "ExecTxEnd"} <= set(c)
    assert len({c[n] for n in ("CodeOracle", "ExecWorld", "ExecTx", "ExecTxEnd", "OneStepProver")}) == 5
    assert (prover.functions.world().call(), prover.functions.txSteps().call()) == (c["ExecWorld"], c["ExecTx"])
    assert prover.functions.codeOracle().call() == c["CodeOracle"]
    assert prover.functions.phaseSteps(6).call() == c["ExecTxEnd"]  # TX_END
    # every other slot holds its PHASE_STEPS contract when that was deployed, else nothing
    zero = "0x" + "00" * 20
    assert all(prover.functions.phaseSteps(i).call() == c.get(PHASE_STEPS.get(i, ""), zero) for i in range(1, 10))


def test_a_winner_that_refuses_eth_cannot_block_the_game_or_its_rejection(env):
    w3 = env.anvil.w3
    artifact = load_artifact("ForwardingAccount", TEST_ARTIFACTS)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": OTHER.address}))
    account = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    sc = scenario(env, blocks=3, steps=4, disputed=1, wrong_step=1)
    g = game_as(env, OTHER)
    o = sc.opening
    points = [sc.honest.blocks[p] for p in dissection_positions(0, 3)]
    end = sc.honest.blocks[3]
    args = [sc.assertion_id, o.d_start, o.d_end, o.start_entry.as_abi(), o.end_entry.as_abi(), points, end]
    call = account.functions.exec(g.address, g.contract.encode_abi("challenge", args=args))
    w3.eth.wait_for_transaction_receipt(call.transact({"from": OTHER.address, "value": BOND}))
    game_id = g.game_count() - 1
    assert g.game(game_id).challenger == account.address
    env.anvil.increase_time(CLOCK)
    g.timeout(game_id)  # the defender never answered
    assert g.game(game_id).status == GameStatus.CHALLENGER_WON
    assert rollup_as(env, None).assertion(sc.assertion_id).status == AssertionStatus.REJECTED
    assert g.credit(account.address) == 2 * BOND - BURN
    with pytest.raises(Exception) as info:
        account.functions.exec(g.address, g.contract.encode_abi("withdraw", args=[])).transact({"from": OTHER.address})
    assert "0x" + keccak(b"TransferFailed()")[:4].hex() in str(info.value)
    assert g.credit(account.address) == 2 * BOND - BURN  # still owed, nobody else affected
    balance_invariant(env)
