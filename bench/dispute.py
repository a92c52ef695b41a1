"""`rollup bench dispute`: the end-to-end dispute of issue 8 on anvil, down to a real one-step proof.

The scenario (also run by tests/e2e/test_dispute_onestep.py): anvil with the real contracts and
the real `OneStepProver`; the sequencer, the batcher, ERC-20 transfers through the sequencer;
the proposer posts ONE wrong root (`test_only_wrong_root_once`) and, as its dispute agent,
runs the TEST-ONLY LIAR below (its own key, the proposer's transactor): it defends the wrong
root with honest claims before the disputed block and lies from there on, and at level 2 with
the honest trace of that block up to a chosen step `j*` (a plain opcode of an ERC-20 transfer)
and `H(state || "lie")` from `j*` on, ending at its wrong block claim. The honest verifier
(`verifier.service`, with its dispute agent and `l1.dispute_level2.ProofsLevel2Source`) opens the
game on its own, bisects blocks then steps, and proves step `j* - 1 -> j*` with `proveStep`.

Who proves the single step is fixed by the arity and the position of the first wrong step
(`side_that_proves`): the liar picks `j*` so that the honest side has to prove, as an adversary
that wants the game decided by a proof would; a liar that leaves a one-step segment to itself
can only lose on time.

The bench prints moves and L1 gas per side and the largest one-step proof over EVERY provable
step of the disputed block's honest trace (`eth_call` / `eth_estimateGas` of
`OneStepProver.step`), with the steps not provable yet counted by kind. Its "baseline" column is
the TARGET of issue 8 (moves <= ceil(log16 blocks) + ceil(log16 steps) + 2, proof <= 10 KB and
<= 2M gas), not another system's figure.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from web3 import Web3

from batcher.config import ProposerConfig
from batcher.metrics import ProposerMetrics
from batcher.proposer import Proposer, make_defender
from batcher.service import make_transactor
from bench.pipeline import DEPLOYER, GRIEFER, PROPOSER, VERIFIER, pipeline
from bench.report import BenchResult
from bench.threads import Role, wait_for
from bench.workloads import erc20_transfers
from l1.assertions import Verdict
from l1.bindings import Assertion, AssertionStatus, InboxBinding, RollupBinding
from l1.deploy import Deployment, DeployParams
from l1.dispute_agent import AgentConfig, DisputeAgent, StepContext, Unprovable
from l1.dispute_claims import LevelOneClaims
from l1.dispute_game import DisputeGameBinding, GameStatus, K, block_claim, cursor, segment_bounds, segment_count
from l1.dispute_level2 import BlockTraceAdapter, ProofsLevel2Source, ProverCheck, Registrar, revert_name
from l1.inbox_reader import InboxReader
from l1.proofs.prover import GameContext, step_calldata
from l1.transactions import L1Transactor
from l2.chain import L2Chain
from l2.replay import Replayer

BOND = 10**17
BURN_BPS = 5_000
CHALLENGE = 7_200  # s: long enough for the whole game on a loaded machine; skipped with evm_increaseTime
CLOCK = 1_800  # s per side
# Plain opcodes proven on L1 today, in the order the liar prefers them for its first wrong step.
PLAIN = {0x01: "ADD", 0x52: "MSTORE", 0x5B: "JUMPDEST", 0x03: "SUB", 0x16: "AND", 0x14: "EQ", 0x10: "LT",
         0x50: "POP", **{0x80 + i: f"DUP{i + 1}" for i in range(16)}, **{0x90 + i: f"SWAP{i + 1}" for i in range(16)},
         **{0x60 + i: f"PUSH{i + 1}" for i in range(32)}}  # fmt: skip
# Step kinds whose proof reads an oracle record (PreimageOracle: the message, the deposit data;
# CodeOracle: the callee's code), registered before the sweep checks them.
ORACLE_READERS = {"NEXT_MESSAGE", "TX_LOAD", "DATA_LOAD", "DEPOSIT_LOAD", "TX_CALL", "EXEC"}
MAX_PROOF_BYTES = 10 * 1024
MAX_PROOF_GAS = 2_000_000


# -- the game's shape -------------------------------------------------------------------------


def _other(side: str) -> str:
    return "defender" if side == "challenger" else "challenger"


def _first_disputed(lo: int, hi: int, first_wrong: int) -> tuple[int, int]:
    """The sub-segment an honest side picks when every position >= first_wrong is disputed."""
    for m in range(segment_count(lo, hi)):
        a, b = segment_bounds(lo, hi, m)
        if b >= first_wrong:
            return a, b
    raise ValueError(f"position {first_wrong} is past [{lo}, {hi}]")


def side_that_proves(blocks: int, disputed: int, steps: int, wrong_step: int) -> tuple[str, dict[str, int]]:
    """Which side sends `proveStep` when the claims first differ at block position `disputed` of
    [0, blocks] and step `wrong_step` of [0, steps], and the moves per side (dissections and the
    proof; the challenger's opening dissection included)."""
    moves = {"challenger": 1, "defender": 0}
    mover, lo, hi = "defender", 0, blocks  # the challenger opened with [0, blocks]
    while True:
        lo, hi = _first_disputed(lo, hi, disputed)
        moves[mover] += 1  # a level-1 dissection of [lo, hi], or the level-2 opening [0, steps]
        if hi - lo <= 1:
            break
        mover = _other(mover)
    mover, lo, hi = _other(mover), 0, steps
    while True:
        lo, hi = _first_disputed(lo, hi, wrong_step)
        moves[mover] += 1
        if hi - lo == 1:
            return mover, moves
        mover = _other(mover)


def move_target(blocks: int, steps: int, k: int = K) -> int:
    """Issue 8's bound on moves per side: ceil(log_k blocks) + ceil(log_k steps) + 2."""
    return math.ceil(math.log(max(blocks, 1), k)) + math.ceil(math.log(max(steps, 1), k)) + 2


def opcode_of(trace: BlockTraceAdapter, j: int) -> int | None:
    st = trace.block_trace.machine(j).exec
    if st is None or trace.kind(j) != "EXEC":
        return None
    pc = st.frame.pc
    return st.code.code[pc] if pc < len(st.code.code) else None


def choose_wrong_step(trace: BlockTraceAdapter, blocks: int, disputed: int, honest_side: str,
                      lie_at: str | None = None) -> int:
    """The liar's first wrong state j*: step j* - 1 is a plain opcode (ADD first, then MSTORE, ...)
    or, with `lie_at`, a step of that kind ("TX_END", "SEAL", ...), that the deployed prover
    proves, and the honest side is the one left to prove it."""
    by_key: dict[int | str, list[int]] = {}
    for j in range(trace.steps):  # j* = steps: only the block's end claim is wrong (the last step, SEAL)
        key: int | str | None = opcode_of(trace, j) if lie_at is None else trace.kind(j)
        if key is not None and (key in PLAIN if lie_at is None else key == lie_at):
            by_key.setdefault(key, []).append(j)
    for key in (PLAIN if lie_at is None else [lie_at]):
        for j in by_key.get(key, []):
            if side_that_proves(blocks, disputed, trace.steps, j + 1)[0] != honest_side:
                continue
            try:
                trace.proof(j)  # checked by eth_call on the deployed prover
            except Unprovable:
                continue
            return j + 1
    raise ValueError(f"no {lie_at or 'plain opcode'} step the honest side would prove")


# -- the TEST-ONLY liar -------------------------------------------------------------------------


class LiarPlan:
    """TEST-ONLY. Where the liar starts lying: the disputed block D (one of `candidates`, blocks of
    ERC-20 transfers, in order) and its first wrong step j*, chosen once the disputed assertion
    exists so that the honest side is the one left to prove step j* - 1 (`side_that_proves`; the
    number of picks at each level depends on the segment sizes, so not every (D, j*) does)."""

    def __init__(self, honest: ProofsLevel2Source, rollup: RollupBinding, target: int, candidates: list[int],
                 honest_side: str, lie_at: str | None = None) -> None:
        self.lie_at = lie_at
        self.honest = honest
        self.rollup = rollup
        self.target = target
        self.candidates = candidates
        self.honest_side = honest_side
        self.error: str | None = None
        self._plan: tuple[int, int, BlockTraceAdapter, int, int] | None = None

    def shape(self) -> tuple[int, int]:
        """(blocks in the game, position of D)."""
        return self.get()[3], self.get()[4]

    def get(self) -> tuple[int, int, BlockTraceAdapter, int, int]:
        """(D, j*, the honest trace of D, blocks in the game, position of D)."""
        if self._plan is not None:
            return self._plan
        if self.error is not None:
            raise ValueError(self.error)
        a = self.rollup.assertion(self.target)
        base = self.rollup.assertion(a.parent_id).l2_block_number
        for block in self.candidates:
            if not base < block <= a.l2_block_number:
                continue
            trace = self.honest.trace(StepContext(block, a.inbox_entries, a.created_at))
            if trace is None:
                continue
            try:
                j = choose_wrong_step(trace, a.l2_block_number - base, block - base, self.honest_side, self.lie_at)
            except ValueError:
                continue
            self._plan = (block, j, trace, a.l2_block_number - base, block - base)
            return self._plan
        self.error = f"no (block, step) among {self.candidates} leaves the proof to the {self.honest_side}"
        raise ValueError(self.error)


class LiarClaims:
    """TEST-ONLY. Level-1 claims that are honest before the plan's block D and `H(claim || "lie")`
    from there on; the last one is the wrong assertion's claim (`wrong_root`, for a lying
    defender) or a lie too (a griefing challenger)."""

    def __init__(self, honest: LevelOneClaims, plan: LiarPlan, wrong_root: Callable[[], bytes] | None) -> None:
        self.honest = honest
        self.plan = plan
        self.wrong_root = wrong_root

    def claim(self, block: int, entry_limit: int) -> bytes:
        last = self.honest.replayer.last_block_after(entry_limit)
        assert last is not None
        honest = self.honest.claim_after(min(block, last), entry_limit)
        if block < self.plan.get()[0]:
            return honest
        if block >= last and self.wrong_root is not None:
            return block_claim(last, self.wrong_root(), cursor(*self.honest.cursor_after(last, entry_limit)))
        return keccak(honest + b"lie")

    def at(self, position: int, parent_block: int, start: bytes, entry_limit: int) -> bytes:
        if position == 0:
            return start
        return self.claim(parent_block + position, entry_limit)


class LiarTrace:
    """TEST-ONLY. The honest trace up to `wrong_step`, `H(state || "lie")` from there, ending at `end`."""

    def __init__(self, honest: BlockTraceAdapter, wrong_step: int, end: bytes) -> None:
        self.honest = honest
        self.wrong_step = wrong_step
        self.end = end

    @property
    def steps(self) -> int:
        return self.honest.steps

    def state(self, j: int) -> bytes:
        if j < self.wrong_step:
            return self.honest.state(j)
        if j >= self.steps:
            return self.end
        return keccak(self.honest.state(j) + b"lie")

    def proof(self, j: int) -> bytes:
        raise Unprovable("LIAR")  # a lie has no proof


class LiarLevel2Source:
    """TEST-ONLY. The liar's level-2 trace of the plan's block D."""

    def __init__(self, plan: LiarPlan, claims: LiarClaims) -> None:
        self.plan = plan
        self.claims = claims

    def trace(self, ctx: StepContext) -> LiarTrace | None:
        block, wrong_step, honest, _, _ = self.plan.get()
        if ctx.l2_block != block:
            return None
        return LiarTrace(honest, wrong_step, self.claims.claim(ctx.l2_block, ctx.entry_limit))


class LiarAgent(DisputeAgent):
    """TEST-ONLY. A dispute agent whose own replay is overruled on `target`: it defends it
    (`verdict` MATCH) or challenges it (MISMATCH) whatever its chain says."""

    def __init__(self, *args: Any, target: int, verdict: Verdict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.target = target
        self.forced = verdict

    def _verdict(self, a: Assertion) -> Verdict:
        if a.id == self.target:
            return self.forced
        return super()._verdict(a)


# -- the scenario -------------------------------------------------------------------------------


@dataclass
class ProofSweep:
    """Every step of the disputed block's honest trace against the deployed prover."""

    steps: int = 0
    provable: int = 0
    largest_bytes: int = 0
    largest_bytes_kind: str = ""
    most_gas: int = 0
    most_gas_kind: str = ""
    not_provable: dict[str, int] = field(default_factory=dict)  # by step kind (or the prover's refusal)
    wrong_post: int = 0  # proofs the prover accepted with another post-state than the trace's (must be 0)


@dataclass
class DisputeRun:
    """What one run of the scenario measured."""

    honest_side: str
    game_id: int = -1
    status: GameStatus | None = None
    assertion_id: int = -1
    assertion_status: AssertionStatus | None = None
    blocks: int = 0
    disputed_block: int = 0
    steps: int = 0
    wrong_step: int = 0
    opcode: str = ""
    step_proven: dict[str, Any] = field(default_factory=dict)
    honest_trace: tuple[bytes, bytes, bytes] = (b"", b"", b"")  # state(j*-1), state(j*), the liar's state(j*)
    moves: dict[str, int] = field(default_factory=dict)
    predicted_moves: dict[str, int] = field(default_factory=dict)
    gas: dict[str, int] = field(default_factory=dict)
    credits: dict[str, int] = field(default_factory=dict)
    withdrawn: int = 0
    burnt: int = 0
    invariant: bool = False
    confirmed_next: int = -1
    verifier_stats: Any = None
    sweep: ProofSweep | None = None

    @property
    def target(self) -> int:
        return move_target(self.blocks, self.steps)


def _json_batch(url: str, method: str, params: list[list[Any]], chunk: int = 200) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(params), chunk):
        part = params[i : i + chunk]
        payload = [{"jsonrpc": "2.0", "id": n, "method": method, "params": p} for n, p in enumerate(part)]
        out.extend(sorted(requests.post(url, json=payload, timeout=600).json(), key=lambda r: r["id"]))
    return out


def sweep_proofs(url: str, prover: str, trace: BlockTraceAdapter, ctx: StepContext,
                 registrar: Registrar | None = None) -> ProofSweep:
    """Prove every provable step of `trace` against `prover` (eth_call, then eth_estimateGas:
    the gas of a transaction calling `step`, calldata and the 21k base included). With a
    `registrar`, the oracle records the steps read are registered first, as the agent does."""
    sweep = ProofSweep(steps=trace.steps)
    gctx = GameContext(ctx.l2_block, ctx.entry_limit, ctx.created_at)
    calls: list[tuple[int, bytes, bytes]] = []
    for j in range(trace.steps):
        try:
            proof = trace.raw_proof(j)
        except Unprovable as exc:  # refused by the packer: named by its phase when the kind has no packer
            key = exc.name if exc.name == trace.kind(j) else f"{trace.kind(j)} ({exc.name})"
            sweep.not_provable[key] = sweep.not_provable.get(key, 0) + 1
            continue
        if registrar is not None and trace.kind(j) in ORACLE_READERS:
            registrar.prepare(trace.block_trace, j)
        calls.append((j, proof, step_calldata(gctx, trace.state(j), proof)))
    to = to_checksum_address(prover)
    replies = _json_batch(url, "eth_call", [[{"to": to, "data": "0x" + c.hex(), "gas": hex(30_000_000)}, "latest"]
                                           for _, _, c in calls])  # fmt: skip
    ok: list[tuple[int, bytes, bytes]] = []
    for (j, proof, data), reply in zip(calls, replies, strict=True):
        if "result" not in reply:
            raw = reply["error"].get("data") or "0x"
            name = revert_name(bytes.fromhex(raw[2:]) if isinstance(raw, str) else b"")
            key = f"{trace.kind(j)}:{name}"
            sweep.not_provable[key] = sweep.not_provable.get(key, 0) + 1
            continue
        if bytes.fromhex(reply["result"][2:]) != trace.state(j + 1):
            sweep.wrong_post += 1
            continue
        ok.append((j, proof, data))
    sweep.provable = len(ok)
    gas = _json_batch(url, "eth_estimateGas", [[{"to": to, "data": "0x" + d.hex()}] for _, _, d in ok])
    for (j, proof, _), reply in zip(ok, gas, strict=True):
        name = _step_name(trace, j)
        if len(proof) > sweep.largest_bytes:
            sweep.largest_bytes, sweep.largest_bytes_kind = len(proof), name
        used = int(reply["result"], 16) if "result" in reply else 0
        if used > sweep.most_gas:
            sweep.most_gas, sweep.most_gas_kind = used, name
    return sweep


def _step_name(trace: BlockTraceAdapter, j: int) -> str:
    op = opcode_of(trace, j)
    if op is not None:
        return f"EXEC {op:#04x}"
    return trace.kind(j)


def _side_gas(w3: Web3, game: str, sides: dict[str, str], first_block: int) -> dict[str, int]:
    """Total L1 gas of every transaction each side sent to the game (challenge, moves, proof, timeout, withdraw)."""
    out = dict.fromkeys(sides, 0)
    by_address = {to_checksum_address(a): s for s, a in sides.items()}
    for n in range(first_block, int(w3.eth.block_number) + 1):
        block = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            sender = to_checksum_address(tx["from"])
            if tx.get("to") and to_checksum_address(tx["to"]) == game and sender in by_address:
                out[by_address[sender]] += int(w3.eth.get_transaction_receipt(tx["hash"])["gasUsed"])
    return out


def _moves(game: DisputeGameBinding, game_id: int, sides: dict[str, str]) -> dict[str, int]:
    moves = dict.fromkeys(sides, 0)
    by_address = {to_checksum_address(a): s for s, a in sides.items()}
    for d in game.dissections(game_id):
        moves[by_address[to_checksum_address(d.poster)]] += 1
    for ev in game.contract.events.StepProven().get_logs(from_block=0, argument_filters={"gameId": game_id}):
        moves[by_address[to_checksum_address(ev["args"]["by"])]] += 1
    return moves


def run_scenario(workdir: Path, honest_side: str = "challenger", transfers: int = 24, senders: int = 6,
                 sweep: bool = False, log: Callable[[str], None] = print, lie_at: str | None = None,
                 plan_checked: bool = True) -> DisputeRun:
    """Run the dispute end to end. `honest_side`: "challenger" (a wrong root defended by the liar,
    challenged by the honest verifier) or "defender" (an honest assertion, a griefing liar
    challenger, the honest defender: the asserter's key with the verifier's level-2 source).
    `lie_at`: the kind of the step the game ends on (default: a plain ERC-20 opcode).
    `plan_checked`: the liar picks only steps the deployed prover accepts (eth_call; it reads the
    oracles, so what a proof needs must be registered first); False leaves every registration to
    the honest side's agent (a test of its Registrar)."""
    run = DisputeRun(honest_side)
    workload = erc20_transfers(transfers, 901, senders=senders)
    params = DeployParams(challenge_period=CHALLENGE, bond=BOND, game_clock=CLOCK, burn_bps=BURN_BPS)
    verifier_key = VERIFIER if honest_side == "challenger" else None
    with pipeline(workdir, workload, params, verifier_key) as p:  # the real OneStepProver: the default
        w3, spec, deployment, rollup, game, verifier = p.w3, p.spec, p.deployment, p.rollup, p.game, p.verifier
        sent = p.send(workload)
        candidates = sent.blocks  # blocks of ERC-20 transfers
        log(f"transfers in L2 blocks {candidates}")

        config = ProposerConfig(private_key=PROPOSER, propose_every=5, confirmations=1, resubmit_after=10,
                                test_only_wrong_root_once=honest_side == "challenger")  # fmt: skip
        chain = L2Chain.open(workdir / "proposer", spec, map_size=1 << 30)
        p.chains.append(chain)
        replayer = Replayer(chain, InboxReader(w3, deployment, confirmations=1))
        transactor = make_transactor(w3, config)
        target = 1  # the proposer's first assertion: the wrong one, or the honest one the griefer attacks

        if honest_side == "challenger":
            honest_claims = LevelOneClaims(replayer, InboxReader(w3, deployment, confirmations=0))
            plan = LiarPlan(_honest_source(w3, deployment, replayer, honest_claims, plan_checked), rollup, target,
                            candidates,
                            honest_side, lie_at)
            liar_claims = LiarClaims(honest_claims, plan, lambda: rollup.assertion(target).output_root)
            agent = _agent(w3, deployment, replayer, liar_claims, transactor, LiarLevel2Source(plan, liar_claims),
                           challenge=False, target=target, verdict=Verdict.MATCH)
            liar_address, honest_address = transactor.address, Account.from_key(VERIFIER).address
        else:
            agent = make_defender(deployment, replayer, transactor)  # `rollup proposer`'s own defender
            assert agent is not None
            gchain = L2Chain.open(workdir / "griefer", spec, map_size=1 << 30)
            p.chains.append(gchain)
            greplayer = Replayer(gchain, InboxReader(w3, deployment, confirmations=1))
            gclaims = LevelOneClaims(greplayer, InboxReader(w3, deployment, confirmations=0))
            plan = LiarPlan(_honest_source(w3, deployment, greplayer, gclaims, plan_checked), rollup, target,
                            candidates,
                            honest_side, lie_at)
            liar_claims = LiarClaims(gclaims, plan, None)
            liar_source = LiarLevel2Source(plan, liar_claims)
            gtransactor = make_transactor(w3, ProposerConfig(private_key=GRIEFER, confirmations=1, resubmit_after=10))
            griefer = _agent(w3, deployment, greplayer, liar_claims, gtransactor, liar_source, challenge=True,
                             target=target, verdict=Verdict.MISMATCH)

            def grief(stop: threading.Event) -> None:
                while not stop.is_set():
                    try:
                        while greplayer.step(limit=32):
                            pass
                        griefer.tick()
                    except Exception as exc:  # a bench loop: log, retry
                        log(f"griefer: {type(exc).__name__}: {exc}")
                    stop.wait(0.3)

            liar_address, honest_address = gtransactor.address, transactor.address
        proposer = Proposer(replayer, rollup, transactor, ProposerMetrics(), config.propose_every, agent=agent,
                            test_only_wrong_root_once=config.test_only_wrong_root_once)
        p.roles.append(Role("proposer", lambda stop: proposer.run(stop, 0.3)))
        griefer_role = Role("griefer", grief) if honest_side == "defender" else None
        if griefer_role is not None:
            p.roles.append(griefer_role)

        wait_for(lambda: rollup.assertion_count() > target, 600, "the disputed assertion")
        run.assertion_id = target
        wait_for(lambda: game.game_count() >= 1, 600, "the challenge")
        run.game_id = 0
        g = game.game(0)
        assert g.assertion_id == target
        sides = {"challenger": g.challenger, "defender": g.defender}
        opened_at = int(game.games_created(0, int(w3.eth.block_number))[0].l1_block_number)
        kind = "wrong" if honest_side == "challenger" else "honest"
        log(f"game 0 opened by {g.challenger} against the {kind} assertion {target}")

        def ended() -> bool:
            if plan.error is not None:
                raise AssertionError(f"the liar has no plan: {plan.error}")
            return game.game(0).status is not GameStatus.OPEN

        wait_for(ended, 3 * CLOCK, "the end of the game")
        if griefer_role is not None:
            griefer_role.close()  # one game: a griefer may challenge again (and pay another bond); not tested here
        g = game.game(0)
        run.status = g.status
        run.assertion_status = rollup.assertion(target).status
        disputed, run.wrong_step, ht, run.blocks, position = plan.get()
        run.disputed_block, run.steps = disputed, ht.steps
        op = opcode_of(ht, run.wrong_step - 1)
        run.opcode = PLAIN.get(op, hex(op)) if op is not None else ht.kind(run.wrong_step - 1)
        run.honest_trace = (ht.state(run.wrong_step - 1), ht.state(run.wrong_step),
                            keccak(ht.state(run.wrong_step) + b"lie"))
        _, run.predicted_moves = side_that_proves(run.blocks, position, ht.steps, run.wrong_step)
        for ev in game.contract.events.StepProven().get_logs(from_block=0, argument_filters={"gameId": 0}):
            a = ev["args"]
            run.step_proven = {"by": a["by"], "l2Block": a["l2Block"], "stepIndex": a["stepIndex"],
                               "pre": bytes(a["pre"]), "post": bytes(a["post"]), "claimed": bytes(a["claimed"])}
        run.moves = _moves(game, 0, sides)
        winner = honest_address
        run.credits = {"winner": game.credit(winner), "loser": game.credit(liar_address)}
        if honest_side == "challenger":
            vagent = verifier.verifier.agent if verifier.verifier is not None else None
            assert vagent is not None
            wait_for(lambda: vagent.stats.withdrawn_wei >= 2 * BOND - BOND * BURN_BPS // 10_000, 300,
                     "the challenger's withdrawal")
            run.withdrawn = vagent.stats.withdrawn_wei
            run.verifier_stats = vagent.stats
        else:
            wait_for(lambda: agent.stats.withdrawn_wei >= BOND - BOND * BURN_BPS // 10_000, 300,
                     "the defender's withdrawal")
            run.withdrawn = agent.stats.withdrawn_wei
            run.verifier_stats = agent.stats
        run.burnt = game.burnt()
        run.invariant = w3.eth.get_balance(game.address) == game.bonds_held() + game.credits_owed() + game.burnt()
        run.gas = _side_gas(w3, game.address, sides, opened_at - 1)
        log(f"game 0 ended {run.status.name}; assertion {target} {run.assertion_status.name}; moves {run.moves}")

        if sweep:
            a = rollup.assertion(target)
            ctx = StepContext(disputed, a.inbox_entries, a.created_at)
            c = deployment.contracts
            sweeper = make_transactor(w3, ProposerConfig(private_key=DEPLOYER, confirmations=1, resubmit_after=10))
            registrar = Registrar(w3, sweeper, c.get("PreimageOracle"), c.get("CodeOracle"))
            run.sweep = sweep_proofs(p.anvil.url, c["OneStepProver"], ht, ctx, registrar)

        # An honest assertion after the game confirms.
        def honest_pending() -> Assertion | None:
            if honest_side == "defender":
                return rollup.assertion(target)  # the assertion the griefer attacked
            for i in range(rollup.assertion_count() - 1, 0, -1):
                a = rollup.assertion(i)
                if a.status is AssertionStatus.PENDING and a.asserter == transactor.address and (
                        honest_side == "defender" or a.id != target):
                    return a
            return None

        wait_for(lambda: honest_pending() is not None, 600, "an honest assertion")
        honest = honest_pending()
        assert honest is not None
        w3.provider.make_request("evm_increaseTime", [CHALLENGE + 1])  # type: ignore[arg-type]
        wait_for(lambda: rollup.assertion(honest.id).status is AssertionStatus.CONFIRMED, 600,
                 f"honest assertion {honest.id} to confirm")
        run.confirmed_next = honest.id
        return run


def _honest_source(w3: Web3, deployment: Deployment, replayer: Replayer, claims: LevelOneClaims,
                   checked: bool = True) -> ProofsLevel2Source:
    check = ProverCheck(w3, deployment.contracts["OneStepProver"]) if checked else None
    return ProofsLevel2Source(replayer, InboxReader(w3, deployment, confirmations=0), claims, check)


def _agent(w3: Web3, deployment: Deployment, replayer: Replayer, claims: Any, transactor: L1Transactor,
           level2: Any, challenge: bool, target: int, verdict: Verdict) -> LiarAgent:
    c = deployment.contracts
    return LiarAgent(replayer, claims, RollupBinding(w3, c["Rollup"]), InboxBinding(w3, c["Inbox"]),
                     DisputeGameBinding(w3, c["DisputeGame"]), transactor, deployment.l1_start_block_number,
                     AgentConfig(challenge=challenge), level2, target=target, verdict=verdict)


# -- the bench ----------------------------------------------------------------------------------


def run_bench(txs: int | None = None) -> BenchResult:
    import tempfile

    result = BenchResult("dispute")
    with tempfile.TemporaryDirectory(prefix="bench-dispute-") as tmp:
        run = run_scenario(Path(tmp), "challenger", transfers=txs or 24, sweep=True, log=lambda s: None)
    target = run.target
    for side in ("challenger", "defender"):
        result.compare(f"moves/{side}", run.moves.get(side, 0), target, higher_is_better=False)
    for side in ("challenger", "defender"):
        result.figures[f"L1 gas/{side}"] = run.gas.get(side, 0)
    s = run.sweep
    assert s is not None
    result.compare("largest proof (bytes)", s.largest_bytes, MAX_PROOF_BYTES, higher_is_better=False)
    result.compare("most gas of a proof", s.most_gas, MAX_PROOF_GAS, higher_is_better=False)
    result.figures["steps in the block"] = s.steps
    result.figures["steps provable on L1"] = s.provable
    result.notes.append("baseline = issue 8's TARGET: moves <= ceil(log16 blocks) + ceil(log16 steps) + 2 "
                        f"= {target} (blocks {run.blocks}, steps {run.steps}); proof <= 10 KB, <= 2M gas")
    result.notes.append(f"game {run.status.name if run.status else '?'}: the verifier proved step "
                        f"{run.wrong_step - 1} -> {run.wrong_step} ({run.opcode}) of L2 block {run.disputed_block}; "
                        f"assertion {run.assertion_status.name if run.assertion_status else '?'}; "
                        f"next honest assertion {run.confirmed_next} confirmed")
    result.notes.append(f"largest proof: {s.largest_bytes_kind}; most gas: {s.most_gas_kind} (eth_estimateGas of "
                        "a tx calling OneStepProver.step: 21k and calldata included)")
    refused = ", ".join(f"{k} {v}" for k, v in sorted(s.not_provable.items(), key=lambda kv: -kv[1]))
    result.notes.append(f"steps not provable on L1 yet, by kind: {refused or 'none'}")
    if s.wrong_post:
        result.notes.append(f"WARNING: {s.wrong_post} proofs gave another post-state than the trace")
    return result
