"""The dispute agent: challenges wrong assertions, defends honest ones, on its own (issue 8 item 4).

A shared library: the verifier runs it as challenger (and defender of anything it asserted),
the proposer as defender of its own assertions, in the same process and with the same L1 key
as its proposals (two processes on one key would collide on nonces). Each `tick`:

1. finds the games it is a party to (`GameCreated` events, scanned incrementally);
2. (challenger) opens a game against every pending assertion inside its challenge period that
   our replay judges MISMATCH while it agrees with the parent, unless it already played one;
3. in every open game: on our turn, answers the opponent's last dissection on the first
   sub-segment whose end we reject (`choose_segment`) with our own dissection of it; when the
   opponent's clock is spent, calls `timeout`; a game made moot by another rejection, `moot`;
4. (challenger) rejects the pending children of rejected assertions (`rejectDescendant`: their
   bonds go to the winner of the game that rejected the ancestor), and withdraws its credits.

Level 2 (the steps inside one block) is played against a `Level2Source` (below), the agent's only
view of a block's machine trace: at a one-block level-1 segment the agent posts the level-2
dissection [0, T] of that block with its own states; it answers level-2 dissections like level-1
ones (positions past a side's T are that side's final claim: `Level2Trace.state` pads); at a
one-step segment it proves step lo -> lo+1 (`proveStep`, whose `pre` the contract reads from the
picked segment's start). A step the source cannot prove yet (`Unprovable`) is an alert: nothing
is sent and the game is lost on time, the honest outcome while a step is unsupported
(docs/fraud-proofs.md 4.5). Without a source (an agent built with none) or without a trace for the block, the game is
counted (`AgentStats.level2_needed`) and logged ("level-2 trace not built"); the agent never
makes states up, it lets its clock run.

Persistence: L1 is the source of truth (every game, dissection and clock is readable there);
the chain's LMDB meta keeps only what makes a restart cheap and safe: how far `GameCreated`
was scanned and the games we are a party to (with their opening block and start claim), so a
restarted agent resumes its games at once and never challenges the same assertion twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import rlp
from eth_utils import to_checksum_address
from web3 import Web3

from l1.assertions import AssertionCache, Verdict, judge
from l1.bindings import Assertion, AssertionStatus, InboxBinding, L1Error, L1Reverted, RollupBinding
from l1.dispute_claims import ClaimError, LevelOneClaims
from l1.dispute_game import (
    MAX_STEPS,
    DisputeGameBinding,
    Dissection,
    Game,
    GameStatus,
    choose_segment,
    dissection_positions,
    opening_inputs,
)
from l1.transactions import L1Receipt, L1Transactor
from l2.replay import Replayer

log = logging.getLogger(__name__)

_SCANNED_KEY = b"dispute:scanned"
_GAME_PREFIX = b"dispute:game:"
# Assertions we ever opened a game against: never challenged twice (a lost game, e.g. on a step
# we cannot prove yet, would otherwise be re-opened and cost a bond every time).
_CHALLENGED_KEY = b"dispute:challenged"
SCAN_RANGE = 2_000


def _game_key(game_id: int) -> bytes:
    return _GAME_PREFIX + game_id.to_bytes(8, "big")


# -- what the agent needs from its chain ------------------------------------------------------


class ClaimSource(Protocol):
    """Level-1 claims (`l1.dispute_claims.LevelOneClaims` is the real one)."""

    def at(self, position: int, parent_block: int, start: bytes, entry_limit: int) -> bytes: ...


class Unprovable(Exception):
    """The source cannot make the proof of this step yet; `name` names the step kind (an alert)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class StepContext:
    """IOneStepProver.GameContext of a level-2 game: the disputed L2 block and the assertion's
    entry limit and creation time (docs/fraud-proofs.md 4.6, "Level-2 context")."""

    l2_block: int
    entry_limit: int
    created_at: int


class Level2Trace(Protocol):
    """Our machine trace of one block (docs/fraud-proofs.md 1.2, 2): `state(0)` is the block claim
    before it, `state(steps)` our claim after it; positions past `steps` repeat that final claim
    (identity steps). `proof(j)` is the proof of step j -> j + 1 for `IOneStepProver.step`, or
    raises `Unprovable`."""

    @property
    def steps(self) -> int: ...

    def state(self, j: int) -> bytes: ...

    def proof(self, j: int) -> bytes: ...


class Level2Source(Protocol):
    """Where level-2 traces come from; None: no trace of this block (not built, not replayed)."""

    def trace(self, ctx: StepContext) -> Level2Trace | None: ...


@dataclass(frozen=True)
class AgentConfig:
    challenge: bool = True  # open games against wrong assertions (verifier); False: defend only (proposer)
    safety_margin: int = 30  # seconds: our clock below this is an alert; we always move at once anyway


@dataclass(frozen=True)
class KnownGame:
    """What the agent keeps of a game it plays (the rest is read from L1 each tick)."""

    game_id: int
    assertion_id: int
    created_block: int
    start_claim: bytes
    challenger: bool  # our role
    created_hash: bytes = b""  # the L1 block's hash: a reorg that drops the game changes it

    def encode(self) -> bytes:
        return rlp.encode([self.game_id, self.assertion_id, self.created_block, self.start_claim, int(self.challenger),
                           self.created_hash])

    @classmethod
    def decode(cls, data: bytes) -> KnownGame:
        f = rlp.decode(data)
        n = [int.from_bytes(x, "big") for x in f[:5]]
        return cls(n[0], n[1], n[2], bytes(f[3]), bool(n[4]), bytes(f[5]) if len(f) > 5 else b"")


@dataclass
class AgentStats:
    """Counters and gauges the role exports as metrics."""

    challenges: int = 0
    moves: int = 0
    timeouts: int = 0
    moots: int = 0
    descendants_rejected: int = 0
    withdrawals: int = 0
    withdrawn_wei: int = 0
    won: int = 0
    lost: int = 0
    level2_needed: int = 0  # games stuck at level 2 for want of a trace (no source, or none for the block)
    proofs: int = 0  # proveStep calls that landed
    errors: int = 0
    reorged: int = 0  # games forgotten because L1 replaced the block that created them
    moves_by_level: dict[int, int] = field(default_factory=lambda: {1: 0, 2: 0})
    unprovable: dict[str, int] = field(default_factory=dict)  # games stuck at an unprovable step, by step kind
    clocks: dict[int, int] = field(default_factory=dict)  # our remaining clock (s) by open game
    level2_games: set[int] = field(default_factory=set)
    unprovable_games: set[int] = field(default_factory=set)  # open games we cannot finish (an alert)

    @property
    def open_games(self) -> int:
        return len(self.clocks)


class DisputeAgent:
    """Plays every game of one L1 key; `tick()` is called by the role's loop thread."""

    def __init__(
        self,
        replayer: Replayer,
        claims: LevelOneClaims | ClaimSource,
        rollup: RollupBinding,
        inbox: InboxBinding,
        game: DisputeGameBinding,
        transactor: L1Transactor,
        start_block: int,
        config: AgentConfig = AgentConfig(),
        level2: Level2Source | None = None,
    ) -> None:
        self.replayer = replayer
        self.store = replayer.chain.store
        self.claims = claims
        self.rollup = rollup
        self.inbox = inbox
        self.game = game
        self.transactor = transactor
        self.w3: Web3 = rollup.w3
        self.address = to_checksum_address(transactor.address)
        self.start_block = start_block
        self.config = config
        self.stats = AgentStats()
        self._verdicts: dict[tuple[Any, ...], Verdict] = {}
        self._cache = AssertionCache(rollup)
        self.known: dict[int, KnownGame] = {}
        self.challenged: set[int] = set()
        self.level2 = level2
        self._traces: dict[tuple[int, StepContext], Level2Trace] = {}  # by game: rebuilt after a restart
        self._load()

    # -- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        raw = self.store.get_meta(_SCANNED_KEY)
        self.scanned = int.from_bytes(raw, "big") if raw else self.start_block - 1
        challenged = rlp.decode(self.store.get_meta(_CHALLENGED_KEY) or rlp.encode([]))
        self.challenged = {int.from_bytes(raw_id, "big") for raw_id in challenged}
        ids = rlp.decode(self.store.get_meta(_GAME_PREFIX + b"ids") or rlp.encode([]))
        for raw_id in ids:
            data = self.store.get_meta(_game_key(int.from_bytes(raw_id, "big")))
            if data:
                known = KnownGame.decode(data)
                self.known[known.game_id] = known
        if self.known:
            log.info("dispute agent %s: resuming games %s", self.address, sorted(self.known))

    def _save(self, scanned: int, added: Sequence[KnownGame] = (), removed: Sequence[int] = ()) -> None:
        meta: dict[bytes, bytes | None] = {_SCANNED_KEY: scanned.to_bytes(8, "big")}
        for k in added:
            self.known[k.game_id] = k
            meta[_game_key(k.game_id)] = k.encode()
            if k.challenger:
                self.challenged.add(k.assertion_id)
                meta[_CHALLENGED_KEY] = rlp.encode(sorted(self.challenged))
        for game_id in removed:
            self.known.pop(game_id, None)
            meta[_game_key(game_id)] = None
        meta[_GAME_PREFIX + b"ids"] = rlp.encode(sorted(self.known))
        self.store.commit({}, meta)
        self.scanned = scanned

    # -- the loop body -----------------------------------------------------------------------

    def tick(self) -> None:
        """One round: discover games, challenge, move, time out, moot, withdraw."""
        self._scan()
        assertions = self._assertions()
        if self.config.challenge:
            self._reject_descendants(assertions)
            self._challenge_wrong(assertions)
        for game_id in sorted(self.known):
            try:
                self._play(self.known[game_id], assertions)
            except (L1Error, ClaimError) as exc:
                self.stats.errors += 1
                log.error("dispute game %d: %s", game_id, exc)
        self._withdraw()

    def _assertions(self) -> list[Assertion]:
        return self._cache.all()

    def _now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def _verdict(self, a: Assertion) -> Verdict:
        key = (a.id, a.inbox_entries, a.l2_block_number, a.output_root, a.inbox_accumulator)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = judge(a, self.replayer).verdict
            if verdict is not Verdict.PENDING:
                self._verdicts[key] = verdict
        return verdict

    def _scan(self) -> None:
        head = int(self.w3.eth.block_number)
        start = self.scanned + 1
        while start <= head:
            end = min(start + SCAN_RANGE - 1, head)
            added = []
            for created in self.game.games_created(start, end):
                if created.game_id in self.known:
                    continue
                us_challenger = to_checksum_address(created.challenger) == self.address
                if us_challenger or to_checksum_address(created.defender) == self.address:
                    added.append(KnownGame(created.game_id, created.assertion_id, created.l1_block_number,
                                           created.start_claim, us_challenger, created.l1_block_hash))
                    log.info("dispute game %d against assertion %d: we are the %s", created.game_id,
                             created.assertion_id, "challenger" if us_challenger else "defender")
            self._save(end, added)
            start = end + 1

    # -- challenging ---------------------------------------------------------------------------

    def _challenge_wrong(self, assertions: list[Assertion]) -> None:
        disputed = self.challenged | {k.assertion_id for k in self.known.values() if k.challenger}
        period = self.rollup.challenge_period()
        now = self._now()
        for a in assertions:
            if a.id == 0 or a.status is not AssertionStatus.PENDING or a.id in disputed:
                continue
            if now >= a.created_at + period or to_checksum_address(a.asserter) == self.address:
                continue
            parent = assertions[a.parent_id]
            if parent.status is AssertionStatus.REJECTED or self._verdict(parent) is not Verdict.MATCH:
                continue  # a wrong parent is challenged itself; its children fall with it
            if self._verdict(a) is not Verdict.MISMATCH:
                continue
            try:
                self._open(a, parent)
            except (L1Error, ClaimError) as exc:
                self.stats.errors += 1
                log.error("could not challenge assertion %d: %s", a.id, exc)

    def _reject_descendants(self, assertions: list[Assertion]) -> None:
        """A pending assertion whose parent is rejected can never confirm: reject it (anyone may)."""
        for a in assertions:
            if a.id == 0 or a.status is not AssertionStatus.PENDING:
                continue
            if assertions[a.parent_id].status is not AssertionStatus.REJECTED:
                continue  # (parents come first: a grandchild follows in a later round)
            try:
                self._send("rejectDescendant", [a.id])
            except L1Error as exc:
                self.stats.errors += 1
                log.error("could not reject descendant %d: %s", a.id, exc)
                continue
            self.stats.descendants_rejected += 1
            log.warning("rejected assertion %d: its parent %d was rejected", a.id, a.parent_id)

    def _open(self, a: Assertion, parent: Assertion) -> None:
        n = a.l2_block_number - parent.l2_block_number
        if n < 1:
            log.error("assertion %d adds no block to its parent: not challengeable by dissection", a.id)
            return
        opening = opening_inputs(self.inbox, self.rollup, a.id, self.start_block)
        start, theirs = self.game.claims(a.id, opening)
        points = [self.claims.at(p, parent.l2_block_number, start, a.inbox_entries) for p in dissection_positions(0, n)]
        end = self.claims.at(n, parent.l2_block_number, start, a.inbox_entries)
        if end == theirs:
            log.error("assertion %d: judged wrong, but its end claim equals ours; not challenging", a.id)
            return
        log.warning("challenging assertion %d (L2 block %d, %d blocks after its parent)", a.id, a.l2_block_number, n)
        receipt = self._send("challenge", [
            a.id, opening.d_start, opening.d_end, opening.start_entry.as_abi(), opening.end_entry.as_abi(), points, end,
        ], value=self.game.bond())
        game_id = self.game.created_id(receipt.raw)
        self.stats.challenges += 1
        self._save(self.scanned, [KnownGame(game_id, a.id, receipt.block_number, start, True, receipt.block_hash)])
        log.warning("dispute game %d opened against assertion %d", game_id, a.id)

    # -- playing -------------------------------------------------------------------------------

    def _play(self, known: KnownGame, assertions: list[Assertion]) -> None:
        if self._reorged(known):
            return
        g = self.game.game(known.game_id)
        if g.status is not GameStatus.OPEN:
            self._finished(known, g)
            return
        a = assertions[g.assertion_id]
        parent = assertions[a.parent_id]
        if a.status is AssertionStatus.REJECTED or parent.status is AssertionStatus.REJECTED:
            self._send("moot", [known.game_id])
            self.stats.moots += 1
            self._finished(known, self.game.game(known.game_id))
            return
        challenger_left, defender_left = self.game.clocks(known.game_id)
        ours, theirs = (challenger_left, defender_left) if known.challenger else (defender_left, challenger_left)
        self.stats.clocks[known.game_id] = ours
        mover = g.to_move
        if mover is None:
            return
        if to_checksum_address(mover) != self.address:
            if theirs == 0:
                log.warning("dispute game %d: the opponent's clock is spent: timeout", known.game_id)
                self._send("timeout", [known.game_id])
                self.stats.timeouts += 1
                self._finished(known, self.game.game(known.game_id))
            return
        if not known.challenger and self._verdict(a) is not Verdict.MATCH:
            log.error("dispute game %d: not defending assertion %d, which our own replay judges wrong",
                      known.game_id, a.id)
            return
        if ours == 0:
            return  # lost: anyone may call timeout now
        if ours < self.config.safety_margin:
            log.error("dispute game %d: only %ds left on our clock", known.game_id, ours)
        self._answer(known, g, a, parent)

    def _answer(self, known: KnownGame, g: Game, a: Assertion, parent: Assertion) -> None:
        theirs = self.game.last_dissection(known.game_id, known.created_block)
        if theirs.level == 2:
            self._answer_level2(known, g, a, theirs)
            return

        def state_at(position: int) -> bytes:
            return self.claims.at(position, parent.l2_block_number, known.start_claim, a.inbox_entries)

        m = self._choose(theirs, state_at)
        lo, hi, start, _ = theirs.segment(m)
        if hi - lo <= 1:
            ctx = StepContext(parent.l2_block_number + hi, a.inbox_entries, a.created_at)
            self._open_level2(known, theirs, m, ctx, start, state_at(hi))
            return
        points = [state_at(p) for p in dissection_positions(lo, hi)]
        self._move(known.game_id, theirs, m, points, state_at(hi), level=1)
        log.info("dispute game %d: answered on segment %d [%d, %d] with %d points", known.game_id, m, lo, hi,
                 len(points))

    def _choose(self, theirs: Dissection, state_at: Callable[[int], bytes]) -> int:
        try:
            return choose_segment(theirs, state_at)
        except ValueError as exc:  # we agree with every point: our own states are inconsistent
            raise ClaimError(str(exc)) from exc

    def _open_level2(self, known: KnownGame, theirs: Dissection, m: int, ctx: StepContext, start: bytes,
                     end: bytes) -> None:
        """At a one-block level-1 segment: our dissection [0, T] of the block's steps, with our end."""
        trace = self._trace(known, ctx, f"one-block segment [{theirs.segment(m)[0]}, {theirs.segment(m)[1]}] "
                                        f"(L2 block {ctx.l2_block})")
        if trace is None:
            return
        steps = trace.steps
        if not 1 <= steps <= MAX_STEPS:
            raise ClaimError(f"our level-2 trace of L2 block {ctx.l2_block} has {steps} steps")
        if trace.state(0) != start or trace.state(steps) != end:
            raise ClaimError(f"our level-2 trace of L2 block {ctx.l2_block} does not join our level-1 claims "
                             f"(start {trace.state(0) == start}, end {trace.state(steps) == end})")
        points = [trace.state(p) for p in dissection_positions(0, steps)]
        self._move(known.game_id, theirs, m, points, trace.state(steps), level=2, steps=steps)
        log.info("dispute game %d: level 2 opened on L2 block %d: [0, %d] with %d points", known.game_id,
                 ctx.l2_block, steps, len(points))

    def _answer_level2(self, known: KnownGame, g: Game, a: Assertion, theirs: Dissection) -> None:
        ctx = StepContext(g.disputed_l2_block, a.inbox_entries, a.created_at)
        trace = self._trace(known, ctx, f"level-2 dissection [{theirs.lo}, {theirs.hi}] (L2 block {ctx.l2_block})")
        if trace is None:
            return
        if trace.state(theirs.lo) != theirs.start:  # the start is a point we posted (or the agreed block claim)
            raise ClaimError(f"our level-2 trace of L2 block {ctx.l2_block} differs from the agreed state at "
                             f"step {theirs.lo}")
        m = self._choose(theirs, trace.state)  # past our T, trace.state is our final claim
        lo, hi, _, _ = theirs.segment(m)
        if hi - lo > 1:
            points = [trace.state(p) for p in dissection_positions(lo, hi)]
            self._move(known.game_id, theirs, m, points, trace.state(hi), level=2)
            log.info("dispute game %d: level 2, answered on segment %d [%d, %d] with %d points", known.game_id, m,
                     lo, hi, len(points))
            return
        self._prove(known, theirs, m, trace, lo, ctx)

    def _prove(self, known: KnownGame, theirs: Dissection, m: int, trace: Level2Trace, lo: int,
               ctx: StepContext) -> None:
        """One step left: prove step lo -> lo + 1 from the agreed state at lo; we win at once."""
        try:
            proof = trace.proof(lo)
        except Unprovable as exc:
            self._unprovable(known, lo, ctx, exc.name)
            return
        try:
            self._send("proveStep", [known.game_id, list(theirs.points), theirs.end, m, proof])
        except L1Reverted as exc:
            if exc.error == "Unsupported" and exc.args_:
                raw = exc.args_[0]
                name = bytes(raw).rstrip(b"\0").decode(errors="replace") if isinstance(raw, bytes | bytearray) \
                    else str(raw)
                self._unprovable(known, lo, ctx, name, on_chain=True)
                return
            raise
        self.stats.proofs += 1
        log.warning("dispute game %d: proved step %d of L2 block %d (%d bytes of proof)", known.game_id, lo,
                    ctx.l2_block, len(proof))
        self._finished(known, self.game.game(known.game_id))

    def _trace(self, known: KnownGame, ctx: StepContext, where: str) -> Level2Trace | None:
        key = (known.game_id, ctx)
        trace = self._traces.get(key)
        if trace is None and self.level2 is not None:
            trace = self.level2.trace(ctx)
            if trace is not None:
                self._traces[key] = trace
        if trace is None:
            self._level2_missing(known, where)
        return trace

    def _move(self, game_id: int, theirs: Dissection, segment: int, points: list[bytes], end: bytes, level: int,
              steps: int = 0) -> None:
        self._send("move", [game_id, list(theirs.points), theirs.end, segment, points, end, steps])
        self.stats.moves += 1
        self.stats.moves_by_level[level] = self.stats.moves_by_level.get(level, 0) + 1

    def _level2_missing(self, known: KnownGame, where: str) -> None:
        if known.game_id not in self.stats.level2_games:
            self.stats.level2_games.add(known.game_id)
            self.stats.level2_needed += 1
        reason = "no level-2 source" if self.level2 is None else "the source has no trace of this block"
        log.error("dispute game %d: level-2 trace not built (%s): cannot answer the %s; our clock runs (%s)",
                  known.game_id, reason, where, "challenger" if known.challenger else "defender")

    def _unprovable(self, known: KnownGame, step: int, ctx: StepContext, name: str, on_chain: bool = False) -> None:
        """ALERT: the one step left cannot be proven; we send nothing and will lose on time (4.5)."""
        if known.game_id not in self.stats.unprovable_games:
            self.stats.unprovable_games.add(known.game_id)
            self.stats.unprovable[name] = self.stats.unprovable.get(name, 0) + 1
        log.error("dispute game %d: ALERT: step %d of L2 block %d (%s) is unprovable%s; no proof sent, the game "
                  "will be lost on time", known.game_id, step, ctx.l2_block, name,
                  " (the on-chain prover refused it)" if on_chain else "")

    def _reorged(self, known: KnownGame) -> bool:
        """L1 replaced the block that created the game (a reorg deeper than we waited for, or a
        devnet revert): the id may now name another game or none. Forget it, rescan from that
        block, and, if it was our challenge, let the assertion be challenged again."""
        if not known.created_hash:
            return False  # a record of an older version: nothing to compare with
        block = self.w3.eth.get_block(known.created_block) if known.created_block <= self.w3.eth.block_number else None
        if block is not None and bytes(block["hash"]) == known.created_hash:
            return False
        log.warning("dispute game %d: L1 block %d that created it was replaced (reorg); forgetting the game",
                    known.game_id, known.created_block)
        self.stats.reorged += 1
        if known.challenger:
            self.challenged.discard(known.assertion_id)
            self.store.commit({}, {_CHALLENGED_KEY: rlp.encode(sorted(self.challenged))})
        self.stats.clocks.pop(known.game_id, None)
        for key in [k for k in self._traces if k[0] == known.game_id]:
            del self._traces[key]
        self._save(min(self.scanned, known.created_block - 1), removed=[known.game_id])
        try:
            self.transactor.resync()  # what we sent after that block may be gone too
        except L1Error as exc:
            log.info("dispute agent: nonce not resynced: %s", exc)
        return True

    def _finished(self, known: KnownGame, g: Game) -> None:
        ours_won = (g.status is GameStatus.CHALLENGER_WON) == known.challenger
        if g.status is GameStatus.MOOT:
            log.info("dispute game %d ended moot", known.game_id)
        elif ours_won:
            self.stats.won += 1
            log.warning("dispute game %d won (%s)", known.game_id, g.status.name)
        else:
            self.stats.lost += 1
            log.error("dispute game %d LOST (%s)", known.game_id, g.status.name)
        self.stats.clocks.pop(known.game_id, None)
        self.stats.unprovable_games.discard(known.game_id)
        for key in [k for k in self._traces if k[0] == known.game_id]:
            del self._traces[key]
        self._save(self.scanned, removed=[known.game_id])

    def _withdraw(self) -> None:
        credit = self.game.credit(self.address)
        if credit == 0:
            return
        try:
            self._send("withdraw", [])
        except L1Error as exc:
            self.stats.errors += 1
            log.error("withdrawing %d wei of dispute credits failed: %s", credit, exc)
            return
        self.stats.withdrawals += 1
        self.stats.withdrawn_wei += credit
        log.info("withdrew %d wei of dispute credits", credit)

    def _send(self, fn: str, args: list[Any], value: int = 0) -> L1Receipt:
        data = self.game.contract.encode_abi(fn, args=args)
        try:
            return self.transactor.send(self.game.address, bytes.fromhex(data[2:]), value=value, abi=self.game.abi)
        except L1Reverted as exc:
            log.error("DisputeGame.%s reverted: %s", fn, exc)
            raise
