"""GAME PLAY of the dispute agent through level 2, on anvil, with SYNTHETIC traces and the test-double prover.

What is real: anvil, the real Rollup and DisputeGame, two real `DisputeAgent`s (own keys, own
LMDB, own L1 transactors) that discover the game, move, prove, time out and withdraw by
themselves. What is synthetic, so that the game play is tested on its own (the real block
trace, `l1.proofs`, is tested where it is built):

- `SyntheticClaims`: each side's level-1 block claims (the honest and the bad chain agree up to
  block b* - 1);
- `SyntheticTrace`: each side's level-2 trace of block b* (agreeing up to step j* - 1, each with
  its own step count T), with proof bytes "proof:<side>:<j>";
- `GamePlayAgent`: an agent whose replay verdict is given (the challenger judges the assertion
  wrong, the defender right), since no L2 chain stands behind the synthetic claims;
- `TestStepProver` (tests/contracts), programmed with the honest step at j* - 1 for the honest
  proof, and with the same post for the bad side's proof (so a bad proof is refused as the real
  prover would: StepMatchesClaim).

Time moves with `evm_increaseTime`; every test is a few seconds of anvil round trips.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3 import Web3
from web3.types import RPCEndpoint

from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.assertions import Verdict
from l1.bindings import Assertion, AssertionStatus, InboxBinding, RollupBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.dispute_agent import AgentConfig, DisputeAgent, StepContext, Unprovable
from l1.dispute_game import DisputeGameBinding, GameStatus, assertion_claim, opening_inputs
from l1.inbox_reader import InboxReader
from l1.transactions import L1Transactor, TransactorConfig
from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.replay import Replayer
from l2.spec import devnet_spec
from verifier.metrics import VerifierMetrics

OWNER, BATCHER, DEFENDER, CHALLENGER, OTHER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:5])
BOND = 10**17
CHALLENGE = 900
CLOCK = 300
BURN = BOND * 5_000 // 10_000
ROOT = keccak(b"the assertion's output root")
ENTRIES = 2
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"
MAX_ROUNDS = 40


def h(*parts: Any) -> bytes:
    return keccak(repr(parts).encode())


# -- synthetic sources ---------------------------------------------------------------------


@dataclass
class SyntheticClaims:
    """Level-1 claims of one side: `blocks[p]` is its claim at position p (0: the agreed start)."""

    blocks: list[bytes]

    def at(self, position: int, parent_block: int, start: bytes, entry_limit: int) -> bytes:
        return start if position == 0 else self.blocks[min(position, len(self.blocks) - 1)]


@dataclass
class SyntheticTrace:
    """A side's trace of the disputed block: states[0..T]; past T the final claim (identity)."""

    side: str
    states: list[bytes]
    unprovable: dict[int, str] = field(default_factory=dict)
    proofs_made: list[int] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return len(self.states) - 1

    def state(self, j: int) -> bytes:
        return self.states[min(j, self.steps)]

    def proof(self, j: int) -> bytes:
        if j in self.unprovable:
            raise Unprovable(self.unprovable[j])
        self.proofs_made.append(j)
        return proof_bytes(self.side, j)


def proof_bytes(side: str, j: int) -> bytes:
    return f"proof:{side}:{j}".encode()


@dataclass
class SyntheticSource:
    trace_: SyntheticTrace
    block: int
    asked: list[StepContext] = field(default_factory=list)

    def trace(self, ctx: StepContext) -> SyntheticTrace | None:
        self.asked.append(ctx)
        return self.trace_ if ctx.l2_block == self.block else None


class GamePlayAgent(DisputeAgent):
    """A real agent whose replay verdict on the disputed assertion is given (synthetic chains)."""

    judged: Verdict = Verdict.MATCH

    def _verdict(self, a: Assertion) -> Verdict:
        return Verdict.MATCH if a.id == 0 else self.judged


# -- the environment ---------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    account: LocalAccount
    honest: bool
    claims: SyntheticClaims
    source: SyntheticSource
    chain: L2Chain
    agent: GamePlayAgent


@dataclass
class Scenario:
    env: Env
    assertion_id: int
    blocks: int  # N
    disputed: int  # b*: the first block offset the sides disagree on
    wrong_step: int  # j*
    challenger: Side
    defender: Side
    ctx: StepContext

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.challenger, self.defender

    @property
    def honest(self) -> Side:
        return self.challenger if self.challenger.honest else self.defender

    @property
    def dishonest(self) -> Side:
        return self.defender if self.challenger.honest else self.challenger


@dataclass
class Env:
    anvil: Anvil
    w3: Web3
    deployment: Deployment
    prover: Any  # the TestStepProver contract
    tmp: Path
    chains: list[L2Chain] = field(default_factory=list)

    @property
    def game(self) -> DisputeGameBinding:
        return DisputeGameBinding(self.w3, self.deployment.contracts["DisputeGame"])

    @property
    def rollup(self) -> RollupBinding:
        return RollupBinding(self.w3, self.deployment.contracts["Rollup"])

    def mine(self, seconds: int = 0) -> None:
        if seconds:
            self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [seconds])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])

    def agent(self, name: str, account: LocalAccount, claims: SyntheticClaims, source: SyntheticSource,
              judged: Verdict, challenge: bool) -> tuple[L2Chain, GamePlayAgent]:
        chain = L2Chain.open(self.tmp / name, devnet_spec(), map_size=1 << 26)
        self.chains.append(chain)
        replayer = Replayer(chain, InboxReader(self.w3, self.deployment, confirmations=0))
        transactor = L1Transactor(self.w3, account, TransactorConfig(confirmations=1, poll_interval=0.05,
                                                                      resubmit_after=30, min_balance=0))
        agent = GamePlayAgent(
            replayer, claims, self.rollup, InboxBinding(self.w3, self.deployment.contracts["Inbox"]),
            self.game, transactor, self.deployment.l1_start_block_number, AgentConfig(challenge=challenge), source,
        )
        agent.judged = judged
        return chain, agent


@pytest.fixture
def env(anvil: Anvil, tmp_path: Path) -> Iterator[Env]:
    w3 = anvil.w3
    artifact = load_artifact("TestStepProver", TEST_ARTIFACTS)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": OTHER.address}))
    prover = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    params = DeployParams(batcher=BATCHER.address, proposers=(DEFENDER.address,), challenge_period=CHALLENGE,
                          bond=BOND, game_clock=CLOCK, burn_bps=5_000, prover=prover.address)
    deployment = deploy(w3, OWNER, devnet_spec(), params)
    inbox = InboxBinding(w3, deployment.contracts["Inbox"], BATCHER)
    for i in range(ENTRIES):  # payloads are never derived here: the claims are synthetic
        inbox.append_batch(bytes([i + 1]) * 10, keccak(bytes([i])), 1, 0)
    e = Env(anvil, w3, deployment, prover, tmp_path)
    try:
        yield e
    finally:
        for chain in e.chains:
            chain.close()


def scenario(env: Env, blocks: int, disputed: int, wrong_step: int, steps: tuple[int, int], honest: str,
             unprovable: dict[int, str] | None = None) -> Scenario:
    """An assertion of `blocks` blocks by DEFENDER; the honest side (`challenger` or `defender`)
    and the other agree on blocks < `disputed` and, in block `disputed`, on steps < `wrong_step`.
    `steps` = (T of the challenger, T of the defender). `unprovable`: steps the HONEST side
    cannot prove."""
    rollup = RollupBinding(env.w3, env.deployment.contracts["Rollup"], DEFENDER)
    aid = rollup.created_id(rollup.create_assertion(0, ENTRIES, blocks, ROOT))
    a = rollup.assertion(aid)
    opening = opening_inputs(InboxBinding(env.w3, env.deployment.contracts["Inbox"]), rollup, aid)
    start = assertion_claim(rollup.assertion(0), opening.d_start)
    asserted = assertion_claim(a, opening.d_end)
    honest_end, bad_end = (h("true end"), asserted) if honest == "challenger" else (asserted, h("bad end"))
    good = [start] + [h("block", i) for i in range(1, blocks)] + [honest_end]
    bad = good[:disputed] + [h("bad block", i) for i in range(disputed, blocks)] + [bad_end]
    t_challenger, t_defender = steps
    t_good, t_bad = (t_challenger, t_defender) if honest == "challenger" else (t_defender, t_challenger)
    good_steps = [good[disputed - 1]] + [h("step", j) for j in range(1, t_good)] + [good[disputed]]

    def good_at(j: int) -> bytes:  # past its T, the honest trace repeats its final claim (identity)
        return good_steps[min(j, t_good)]

    bad_steps = [good_at(j) for j in range(wrong_step)] + [h("bad step", j) for j in range(wrong_step, t_bad)]
    bad_steps.append(bad[disputed])
    assert wrong_step <= t_bad and len(bad_steps) == t_bad + 1
    ctx = StepContext(disputed, a.inbox_entries, a.created_at)  # parent block 0: L2 block = offset
    pre, post = good_at(wrong_step - 1), good_at(wrong_step)
    assert bad_steps[wrong_step - 1] == pre and bad_steps[wrong_step] != post
    good_side, bad_side = ("challenger", "defender") if honest == "challenger" else ("defender", "challenger")
    sender: Any = {"from": OTHER.address}
    game_ctx = (ctx.l2_block, ctx.entry_limit, ctx.created_at)
    env.prover.functions.setStep(game_ctx, pre, proof_bytes(good_side, wrong_step - 1), post).transact(sender)
    # The real prover computes the true post whoever proves: a bad side's proof gives the honest post.
    env.prover.functions.setStep(game_ctx, pre, proof_bytes(bad_side, wrong_step - 1), post).transact(sender)
    traces = {good_side: SyntheticTrace(good_side, good_steps, dict(unprovable or {})),
              bad_side: SyntheticTrace(bad_side, bad_steps)}
    claims = {good_side: SyntheticClaims(good), bad_side: SyntheticClaims(bad)}
    made = {}
    for name, account, judged in (("challenger", CHALLENGER, Verdict.MISMATCH), ("defender", DEFENDER, Verdict.MATCH)):
        source = SyntheticSource(traces[name], disputed)
        chain, agent = env.agent(name, account, claims[name], source, judged, challenge=name == "challenger")
        made[name] = Side(name, account, name == good_side, claims[name], source, chain, agent)
    return Scenario(env, aid, blocks, disputed, wrong_step, made["challenger"], made["defender"], ctx)


def play(sc: Scenario, until: Any = None) -> int:
    """Ticks both agents in turn until `until(game)` holds, or else until the game ends and both
    have seen it end (they record the outcome and withdraw); returns the rounds."""
    game = sc.env.game
    for rounds in range(1, MAX_ROUNDS + 1):
        for side in sc.sides:
            side.agent.tick()
            if until is not None and game.game_count() and until(game):
                return rounds
        if until is None and game.game_count() and game.game(0).status is not GameStatus.OPEN:
            for side in sc.sides:
                side.agent.tick()
            return rounds
    raise AssertionError(f"the game did not end in {MAX_ROUNDS} rounds")


def moves_by(sc: Scenario) -> dict[str, int]:
    """Dissections (the opening included) and proofs each side sent, read from L1 events."""
    game = sc.env.game
    count: dict[str, int] = {s.account.address: 0 for s in sc.sides}
    for d in game.dissections(0):
        count[d.poster] += 1
    for ev in game.contract.events.StepProven().get_logs(from_block=0):
        count[ev["args"]["by"]] += 1
    return {s.name: count[s.account.address] for s in sc.sides}


def bound(blocks: int, steps: int) -> int:
    """Issue 8's target: moves per side <= ceil(log16 blocks) + ceil(log16 steps) + 2."""
    return math.ceil(math.log(blocks, 16)) + math.ceil(math.log(steps, 16)) + 2


def fees_paid(w3: Web3, address: str, first_block: int) -> int:
    total = 0
    for n in range(first_block, int(w3.eth.block_number) + 1):
        txs: list[Any] = list(w3.eth.get_block(n, full_transactions=True)["transactions"])
        for tx in txs:
            if tx["from"] == address:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return total


def level2_dissections(sc: Scenario) -> list[Any]:
    return [d for d in sc.env.game.dissections(0) if d.level == 2]


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("honest", "blocks", "disputed", "wrong_step", "expected_moves"),
    [
        ("challenger", 40, 2, 2, {"challenger": 3, "defender": 2}),  # the challenger opens level 2 and proves
        ("defender", 17, 17, 100, {"challenger": 3, "defender": 3}),  # a griefer opens level 2; the defender proves
    ],
)
def test_honest_side_wins_by_proving_the_first_wrong_step(
    env: Env, honest: str, blocks: int, disputed: int, wrong_step: int, expected_moves: dict[str, int]
):
    w3, game = env.w3, env.game
    sc = scenario(env, blocks, disputed, wrong_step, (300, 300), honest)
    start = {s.name: w3.eth.get_balance(s.account.address) for s in sc.sides}
    first_block = int(w3.eth.block_number) + 1

    play(sc)

    g = game.game(0)
    expected = GameStatus.CHALLENGER_WON if honest == "challenger" else GameStatus.DEFENDER_WON
    assert g.status is expected
    assert g.level == 2 and g.disputed_l2_block == disputed
    proven = game.contract.events.StepProven().get_logs(from_block=0)
    assert len(proven) == 1
    args = proven[0]["args"]
    assert args["by"] == sc.honest.account.address
    assert (args["l2Block"], args["stepIndex"]) == (disputed, wrong_step - 1)
    assert args["pre"] == sc.honest.source.trace_.state(wrong_step - 1)
    assert args["post"] == sc.honest.source.trace_.state(wrong_step) != args["claimed"]
    assert args["claimed"] == sc.dishonest.source.trace_.state(wrong_step)
    assert sc.honest.source.trace_.proofs_made == [wrong_step - 1]
    assert sc.dishonest.source.trace_.proofs_made == []  # never asked to prove: the honest side was
    # The sources were asked for exactly the game's context (block, entry limit, creation time).
    assert {c for s in sc.sides for c in s.source.asked} == {sc.ctx}

    moves = moves_by(sc)
    assert moves == expected_moves
    limit = bound(blocks, 300)  # 2 + 3 + 2 = 7
    assert all(n <= limit for n in moves.values()), (moves, limit)
    for side in sc.sides:  # the agent's own counters agree with L1
        stats = side.agent.stats
        opened = 1 if side.name == "challenger" else 0
        assert stats.moves + stats.proofs + opened == moves[side.name]
        assert stats.moves_by_level[2] == sum(1 for d in level2_dissections(sc) if d.poster == side.account.address)
    assert sc.honest.agent.stats.proofs == 1 and sc.honest.agent.stats.won == 1
    assert sc.dishonest.agent.stats.lost == 1 and sc.dishonest.agent.stats.proofs == 0

    # Bonds to the wei (both sides withdrew in their own rounds).
    for side in sc.sides:
        assert game.credit(side.account.address) == 0
    fees = {s.name: fees_paid(w3, s.account.address, first_block) for s in sc.sides}
    if honest == "challenger":  # its bond back plus the assertion's, minus the burn
        assert w3.eth.get_balance(CHALLENGER.address) == start["challenger"] - fees["challenger"] + BOND - BURN
        assert w3.eth.get_balance(DEFENDER.address) == start["defender"] - fees["defender"]
        assert env.rollup.assertion(sc.assertion_id).status is AssertionStatus.REJECTED
    else:  # the griefer's bond: half to the defender, half burnt
        assert w3.eth.get_balance(CHALLENGER.address) == start["challenger"] - fees["challenger"] - BOND
        assert w3.eth.get_balance(DEFENDER.address) == start["defender"] - fees["defender"] + BOND - BURN
        assert env.rollup.assertion(sc.assertion_id).status is AssertionStatus.PENDING
    assert game.burnt() == BURN
    assert w3.eth.get_balance(game.address) == game.bonds_held() + game.credits_owed() + game.burnt()


def test_different_step_counts_positions_past_a_trace_are_its_final_claim(env: Env):
    """The honest challenger's block takes 300 steps, the defender claims 260: the challenger
    opens level 2 on [0, 300]; the defender compares positions past its own T with its final
    claim, and they first differ at step 260 (where the defender's trace has ended)."""
    sc = scenario(env, 40, 40, 260, (300, 260), "challenger")
    play(sc)
    game = env.game
    assert game.game(0).status is GameStatus.CHALLENGER_WON
    level2 = level2_dissections(sc)
    opening = level2[0]
    assert opening.poster == CHALLENGER.address and (opening.lo, opening.hi) == (0, 300)
    answer = level2[1]  # the defender's: on the sub-segment that crosses its own end
    assert answer.poster == DEFENDER.address and answer.lo < 260 < answer.hi <= 300
    bad = sc.defender.source.trace_
    assert answer.end == bad.state(answer.hi) == bad.states[-1]  # its final claim, past its T
    proven = game.contract.events.StepProven().get_logs(from_block=0)
    assert [(e["args"]["by"], e["args"]["stepIndex"]) for e in proven] == [(CHALLENGER.address, 259)]
    assert proven[0]["args"]["claimed"] == bad.states[-1]
    assert all(n <= bound(40, 300) for n in moves_by(sc).values())


def test_a_longer_lying_trace_is_answered_past_our_end_by_an_identity_step(env: Env):
    """A griefer claims the block takes 300 steps and copies the honest trace up to step 267,
    where the honest trace (T = 260) has long ended; the honest defender compares positions past
    its T with its final claim, and proves the identity step 267 -> 268 (pre = post = its final
    claim), which differs from the griefer's state at 268."""
    sc = scenario(env, 17, 17, 268, (300, 260), "defender")
    play(sc)
    game = env.game
    assert game.game(0).status is GameStatus.DEFENDER_WON
    opening = level2_dissections(sc)[0]
    assert opening.poster == CHALLENGER.address and (opening.lo, opening.hi) == (0, 300)
    final = sc.defender.source.trace_.states[-1]
    proven = game.contract.events.StepProven().get_logs(from_block=0)
    assert [(e["args"]["by"], e["args"]["stepIndex"]) for e in proven] == [(DEFENDER.address, 267)]
    assert proven[0]["args"]["pre"] == proven[0]["args"]["post"] == final
    assert moves_by(sc) == {"challenger": 3, "defender": 3}


def test_unprovable_last_step_alerts_sends_nothing_and_loses_on_time(env: Env, caplog: pytest.LogCaptureFixture):
    sc = scenario(env, 40, 2, 2, (300, 300), "challenger", unprovable={1: "SSTORE"})
    game = env.game
    with caplog.at_level(logging.ERROR, logger="l1.dispute_agent"):
        play(sc, until=lambda g: g.game(0).level == 2 and len(level2_dissections(sc)) == 2)
        for _ in range(3):  # the honest side's turn, round after round: nothing is sent
            sc.challenger.agent.tick()
            sc.defender.agent.tick()
    g = game.game(0)
    assert g.status is GameStatus.OPEN and g.to_move == CHALLENGER.address
    stats = sc.challenger.agent.stats
    assert stats.unprovable == {"SSTORE": 1} and stats.unprovable_games == {0}  # counted once per game
    assert stats.proofs == 0 and stats.errors == 0
    assert game.contract.events.StepProven().get_logs(from_block=0) == []
    assert "step 1 of L2 block 2 (SSTORE) is unprovable" in caplog.text
    metrics = VerifierMetrics()
    metrics.sync_dispute(stats)
    text = metrics.exposition().decode()
    assert 'rollup_verifier_dispute_unprovable_steps_total{step="SSTORE"} 1.0' in text
    assert "rollup_verifier_dispute_unprovable_open 1.0" in text

    env.mine(CLOCK + 1)
    sc.defender.agent.tick()  # the opponent times us out
    assert game.game(0).status is GameStatus.DEFENDER_WON
    sc.challenger.agent.tick()
    assert stats.lost == 1 and stats.unprovable_games == set()
    assert sc.defender.agent.stats.timeouts == 1 and sc.defender.agent.stats.won == 1
    assert env.rollup.assertion(sc.assertion_id).status is AssertionStatus.PENDING
    # Still inside its challenge period, still wrong to us: never challenged a second time (each
    # try would lose another bond on the same unprovable step); the set is kept in LMDB.
    now = int(env.w3.eth.get_block("latest")["timestamp"])
    assert now < env.rollup.assertion(sc.assertion_id).created_at + CHALLENGE
    sc.challenger.agent.tick()
    assert game.game_count() == 1
    assert sc.challenger.agent.challenged == {sc.assertion_id}
    stored = sc.challenger.agent.store.get_meta(b"dispute:challenged")
    assert [int.from_bytes(x, "big") for x in rlp.decode(stored)] == [sc.assertion_id]


def test_defender_restarted_mid_level2_resumes_and_wins(env: Env, caplog: pytest.LogCaptureFixture):
    sc = scenario(env, 17, 17, 100, (300, 300), "defender")
    game = env.game
    play(sc, until=lambda g: g.game(0).level == 2 and g.game(0).to_move == DEFENDER.address)
    before = len(game.dissections(0))
    # The defender stops (its trace cache and counters are lost) and starts again on its datadir.
    sc.defender.chain.close()
    env.chains.remove(sc.defender.chain)
    fresh = SyntheticSource(SyntheticTrace("defender", list(sc.defender.source.trace_.states)), sc.disputed)
    with caplog.at_level(logging.INFO, logger="l1.dispute_agent"):
        chain, agent = env.agent("defender", DEFENDER, sc.defender.claims, fresh, Verdict.MATCH, challenge=False)
    assert "resuming games [0]" in caplog.text  # from LMDB, before any L1 scan
    sc.defender = Side("defender", DEFENDER, True, sc.defender.claims, fresh, chain, agent)
    play(sc)
    assert game.game(0).status is GameStatus.DEFENDER_WON
    assert len(game.dissections(0)) > before  # it kept dissecting at level 2 after the restart
    assert agent.stats.moves_by_level[2] >= 1 and agent.stats.proofs == 1
    assert fresh.trace_.proofs_made == [99]
    assert game.game_count() == 1


def test_a_dishonest_proof_is_refused_and_the_honest_side_wins_on_time(env: Env):
    """Here the parity makes the LIAR face the one-step segment: its proof of step j* - 1 gives
    the honest post (as the real prover would), which equals the honest claim: StepMatchesClaim.
    It never wins; the honest challenger times it out."""
    sc = scenario(env, 40, 2, 100, (300, 300), "challenger")
    game = env.game
    play(sc, until=lambda g: g.game(0).level == 2 and sc.defender.source.trace_.proofs_made != [])
    sc.defender.agent.tick()  # tries again: refused again, nothing lands
    assert game.game(0).status is GameStatus.OPEN and game.game(0).to_move == DEFENDER.address
    assert sc.defender.source.trace_.proofs_made[0] == 99 and sc.defender.agent.stats.proofs == 0
    assert sc.defender.agent.stats.errors >= 2  # each refusal is an error (L1Reverted StepMatchesClaim)
    env.mine(CLOCK + 1)
    play(sc)
    assert game.game(0).status is GameStatus.CHALLENGER_WON
    assert sc.challenger.agent.stats.timeouts == 1 and sc.challenger.agent.stats.won == 1
    assert game.contract.events.StepProven().get_logs(from_block=0) == []


# -- the verifier's level-2 source: building traces from its claims (proofs: test_osp_tx_steps.py) --


class FakeBlockTrace:
    """l1.proofs.block_machine.BlockTrace's build and states, made up."""

    built: list[tuple[Any, ...]] = []

    def __init__(self, steps: int) -> None:
        self.steps = steps

    @classmethod
    def build(cls, chain: Any, reader: Any, block: int, entry_limit: int, start: tuple[int, int, int],
              keep_machines: bool = True) -> FakeBlockTrace:
        cls.built.append((block, entry_limit, start))
        if block == 13:
            raise NotImplementedError("BLOCK_START")
        return cls(5)

    def state(self, j: int) -> bytes:
        assert 0 <= j <= self.steps
        return h("state", j)



class FakeClaims:
    def cursor_after(self, block: int, entry_limit: int) -> tuple[int, int, int]:
        return (block, 0, entry_limit)


def test_verifier_source_adapts_the_block_trace_api(monkeypatch: pytest.MonkeyPatch):
    import types

    from l1 import dispute_level2
    from l1.dispute_level2 import ProofsLevel2Source

    source = ProofsLevel2Source(replayer=types.SimpleNamespace(chain="chain"), reader="reader",  # type: ignore[arg-type]
                                claims=FakeClaims())  # type: ignore[arg-type]
    monkeypatch.setattr(dispute_level2, "BlockTrace", FakeBlockTrace)
    trace = source.trace(StepContext(7, 2, 1000))
    assert trace is not None and FakeBlockTrace.built[-1] == (7, 2, (6, 0, 2))  # start: the cursor after block 6
    assert source.trace(StepContext(1, 2, 1000)) is not None and FakeBlockTrace.built[-1] == (1, 2, (0, 0, 0))
    assert trace.steps == 5 and trace.state(0) == h("state", 0)
    assert trace.state(9) == trace.state(5) == h("state", 5)  # past T: the final claim
    # Proofs come from l1.proofs.tx_proofs.proof_for on a real trace: tested in
    # tests/integration/test_osp_tx_steps.py and end to end in tests/e2e/test_dispute_onestep.py.
    assert source.trace(StepContext(13, 2, 1000)) is None  # the tracer failed on this block
