"""Typed client of `DisputeGame.sol` and the pure game arithmetic the dispute agent shares with it.

The claim and cursor hashes, the dissection positions and the dissection hash are written here
once, byte for byte as the contract computes them (docs/fraud-proofs.md 1.1 and 4.1; a test
compares both), so an agent can compute every point it posts and check every point it reads.
`opening_inputs` reads from L1 what `challenge` needs besides the points: the delayed-message
counts after the parent's and the assertion's inbox entries, and the accumulator preimages
that prove them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_hash.auto import keccak
from eth_utils import to_canonical_address, to_checksum_address
from web3.logs import DISCARD
from web3.types import TxReceipt

from l1.accumulators import ZERO32, inbox_accumulator
from l1.bindings import Assertion, ContractBinding, InboxBinding, L1Error, RollupBinding

K = 16
MAX_STEPS = 1 << 40
CURSOR_TAG = b"\x4d"
BLOCK_CLAIM_TAG = b"\x42"


# -- pure arithmetic (mirrors DisputeGame.sol) ----------------------------------------------


def cursor(entry: int, msg: int, delayed_next: int) -> bytes:
    """Cursor = keccak256(0x4D ++ u64 entryIndex ++ u32 msgIndex ++ u64 delayedNext)."""
    return keccak(CURSOR_TAG + entry.to_bytes(8, "big") + msg.to_bytes(4, "big") + delayed_next.to_bytes(8, "big"))


def block_claim(number: int, output_root: bytes, cursor_: bytes) -> bytes:
    """BlockClaim = keccak256(0x42 ++ u64 l2BlockNumber ++ b32 outputRoot ++ b32 cursor)."""
    if len(output_root) != 32 or len(cursor_) != 32:
        raise ValueError("output root and cursor are 32 bytes")
    return keccak(BLOCK_CLAIM_TAG + number.to_bytes(8, "big") + output_root + cursor_)


def assertion_claim(assertion: Assertion, delayed: int) -> bytes:
    """The block claim an assertion stands for: its block, its root, cursor (its entries, 0, delayed)."""
    return block_claim(assertion.l2_block_number, assertion.output_root, cursor(assertion.inbox_entries, 0, delayed))


def segment_count(lo: int, hi: int, k: int = K) -> int:
    """Number of sub-segments a dissection of [lo, hi] makes: min(k, hi - lo)."""
    if hi <= lo:
        raise ValueError(f"empty range [{lo}, {hi}]")
    return min(k, hi - lo)


def dissection_positions(lo: int, hi: int, k: int = K) -> list[int]:
    """Positions of the inner points of a dissection of [lo, hi]: lo + floor(m·(hi-lo)/n), m = 1..n-1."""
    n = segment_count(lo, hi, k)
    return [lo + m * (hi - lo) // n for m in range(1, n)]


def segment_bounds(lo: int, hi: int, m: int, k: int = K) -> tuple[int, int]:
    """[lo_m, hi_m] of sub-segment m of a dissection of [lo, hi]."""
    n = segment_count(lo, hi, k)
    if not 0 <= m < n:
        raise ValueError(f"segment {m} of {n}")
    return lo + m * (hi - lo) // n, lo + (m + 1) * (hi - lo) // n


def dissection_hash(
    level: int, lo: int, hi: int, start: bytes, points: Sequence[bytes], end: bytes, poster: str | bytes
) -> bytes:
    """keccak256(u8 level ++ u64 lo ++ u64 hi ++ start ++ points ++ end ++ poster), as the game stores it."""
    poster_bytes = to_canonical_address(poster)
    return keccak(
        level.to_bytes(1, "big")
        + lo.to_bytes(8, "big")
        + hi.to_bytes(8, "big")
        + start
        + b"".join(points)
        + end
        + poster_bytes
    )


# -- records --------------------------------------------------------------------------------


class GameStatus(IntEnum):
    NONE = 0
    OPEN = 1
    CHALLENGER_WON = 2
    DEFENDER_WON = 3
    MOOT = 4


@dataclass(frozen=True)
class EntryPreimage:
    """The inputs of an inbox accumulator acc(i) (Inbox.sol); `delayed_acc` = delayedAcc(delayedRead - 1)."""

    prev: bytes
    payload_hash: bytes
    message_root: bytes
    message_count: int
    delayed_acc: bytes

    def accumulator(self) -> bytes:
        return inbox_accumulator(self.prev, self.payload_hash, self.message_root, self.message_count, self.delayed_acc)

    def as_abi(self) -> tuple[bytes, bytes, bytes, int, bytes]:
        return (self.prev, self.payload_hash, self.message_root, self.message_count, self.delayed_acc)


EMPTY_PREIMAGE = EntryPreimage(ZERO32, ZERO32, ZERO32, 0, ZERO32)


@dataclass(frozen=True)
class OpeningInputs:
    """What `challenge` needs besides the points: delayed counts and the preimages proving them."""

    d_start: int
    d_end: int
    start_entry: EntryPreimage
    end_entry: EntryPreimage


@dataclass(frozen=True)
class Game:
    """DisputeGame.getGame: the game and the segment of its last dissection."""

    id: int
    challenger: str
    assertion_id: int
    status: GameStatus
    level: int
    challenger_to_move: bool
    defender: str
    last_move_at: int
    challenger_clock: int
    defender_clock: int
    lo: int
    hi: int
    base_block: int
    disputed_block: int
    start: bytes
    dissection: bytes

    @property
    def to_move(self) -> str | None:
        if self.status != GameStatus.OPEN:
            return None
        return self.challenger if self.challenger_to_move else self.defender

    @property
    def disputed_l2_block(self) -> int:
        """Level 2: the L2 block number whose steps are disputed."""
        return self.base_block + self.disputed_block + 1


@dataclass(frozen=True)
class Dissection:
    """A Dissected event: `points` sit at dissection_positions(lo, hi), `end` at hi, `start` at lo."""

    game_id: int
    poster: str
    level: int
    lo: int
    hi: int
    start: bytes
    points: tuple[bytes, ...]
    end: bytes
    l1_block_number: int

    @property
    def positions(self) -> list[int]:
        return dissection_positions(self.lo, self.hi)

    def segment(self, m: int) -> tuple[int, int, bytes, bytes]:
        """(lo, hi, start state, end state) of sub-segment m."""
        lo, hi = segment_bounds(self.lo, self.hi, m)
        start = self.start if m == 0 else self.points[m - 1]
        end = self.end if m == len(self.points) else self.points[m]
        return lo, hi, start, end

    def hash(self) -> bytes:
        return dissection_hash(self.level, self.lo, self.hi, self.start, self.points, self.end, self.poster)


@dataclass(frozen=True)
class GameCreated:
    """A GameCreated event: who challenged which assertion, and the claims the game derived."""

    game_id: int
    assertion_id: int
    challenger: str
    defender: str
    start_claim: bytes
    defender_claim: bytes
    d_start: int
    d_end: int
    l1_block_number: int
    l1_block_hash: bytes = b""


@dataclass(frozen=True)
class GameEnded:
    game_id: int
    assertion_id: int
    outcome: GameStatus
    winner: str
    burnt: int


def _dissection(log: Any) -> Dissection:
    a = log["args"]
    return Dissection(
        game_id=a["gameId"],
        poster=a["poster"],
        level=a["level"],
        lo=a["lo"],
        hi=a["hi"],
        start=bytes(a["start"]),
        points=tuple(bytes(p) for p in a["points"]),
        end=bytes(a["end"]),
        l1_block_number=log["blockNumber"],
    )


def choose_segment(theirs: Dissection, state_at: Callable[[int], bytes]) -> int:
    """The honest answer to `theirs` (4.1): the first sub-segment whose end differs from our own
    state at that position (`state_at(position)` at the dissection's level); its start we accept.
    Raises ValueError when we agree with every point, their end included: then there is no move."""
    ends = [*theirs.points, theirs.end]
    for m, (position, claimed) in enumerate(zip([*theirs.positions, theirs.hi], ends, strict=True)):
        if state_at(position) != claimed:
            return m
    raise ValueError(f"game {theirs.game_id}: we agree with every point of the dissection")


# -- binding --------------------------------------------------------------------------------


class DisputeGameBinding(ContractBinding):
    name = "DisputeGame"

    # transactions

    def challenge(
        self, assertion_id: int, opening: OpeningInputs, points: Sequence[bytes], end: bytes, value: int | None = None
    ) -> TxReceipt:
        bond = self.bond() if value is None else value
        return self.transact(
            "challenge",
            assertion_id,
            opening.d_start,
            opening.d_end,
            opening.start_entry.as_abi(),
            opening.end_entry.as_abi(),
            list(points),
            end,
            value=bond,
        )

    def move(
        self, game_id: int, theirs: Dissection, segment: int, points: Sequence[bytes], end: bytes, steps: int = 0
    ) -> TxReceipt:
        """Answer `theirs` (the opponent's last dissection) on `segment`; `steps` only when it is one block."""
        return self.transact("move", game_id, list(theirs.points), theirs.end, segment, list(points), end, steps)

    def prove_step(self, game_id: int, theirs: Dissection, segment: int, proof: bytes) -> TxReceipt:
        return self.transact("proveStep", game_id, list(theirs.points), theirs.end, segment, proof)

    def timeout(self, game_id: int) -> TxReceipt:
        return self.transact("timeout", game_id)

    def moot(self, game_id: int) -> TxReceipt:
        return self.transact("moot", game_id)

    def reject_descendant(self, assertion_id: int) -> TxReceipt:
        return self.transact("rejectDescendant", assertion_id)

    def withdraw(self) -> TxReceipt:
        return self.transact("withdraw")

    # views

    def bond(self) -> int:
        return self.call("bond")

    def clock(self) -> int:
        return self.call("clock")

    def burn_bps(self) -> int:
        return self.call("burnBps")

    def prover(self) -> str:
        return self.call("prover")

    def rollup(self) -> str:
        return self.call("rollup")

    def game_count(self) -> int:
        return self.call("gameCount")

    def game(self, game_id: int) -> Game:
        raw = self.call("getGame", game_id)
        return Game(
            game_id,
            raw[0],
            raw[1],
            GameStatus(raw[2]),
            raw[3],
            raw[4],
            raw[5],
            raw[6],
            raw[7],
            raw[8],
            raw[9],
            raw[10],
            raw[11],
            raw[12],
            bytes(raw[13]),
            bytes(raw[14]),
        )

    def to_move(self, game_id: int) -> str | None:
        """Who must move now; None once the game is over."""
        mover = self.call("toMove", game_id)
        return None if int(mover, 16) == 0 else mover

    def clocks(self, game_id: int) -> tuple[int, int]:
        """Seconds left (challenger, defender) as of the latest L1 block."""
        left = self.call("clocks", game_id)
        return left[0], left[1]

    def credit(self, account: str | bytes) -> int:
        return self.call("credits", to_checksum_address(account))

    def credits_owed(self) -> int:
        return self.call("creditsOwed")

    def burnt(self) -> int:
        return self.call("burnt")

    def bonds_held(self) -> int:
        return self.call("bondsHeld")

    def beneficiary(self, assertion_id: int) -> str:
        return self.call("beneficiary", assertion_id)

    def claims(self, assertion_id: int, opening: OpeningInputs) -> tuple[bytes, bytes]:
        """(start claim, defender's end claim) the contract computes for these opening inputs."""
        start, end = self.call(
            "claims",
            assertion_id,
            opening.d_start,
            opening.d_end,
            opening.start_entry.as_abi(),
            opening.end_entry.as_abi(),
        )
        return bytes(start), bytes(end)

    # events

    def created_id(self, receipt: TxReceipt) -> int:
        events = self.contract.events.GameCreated().process_receipt(receipt, errors=DISCARD)
        if len(events) != 1:
            raise L1Error(f"expected one GameCreated event, found {len(events)}")
        return events[0]["args"]["gameId"]

    def games_created(
        self, from_block: int = 0, to_block: int | str = "latest", assertion_id: int | None = None
    ) -> list[GameCreated]:
        """GameCreated events (a defender finds the games against its assertions here)."""
        filters = {} if assertion_id is None else {"argument_filters": {"assertionId": assertion_id}}
        logs = self.contract.events.GameCreated().get_logs(from_block=from_block, to_block=to_block, **filters)
        return [
            GameCreated(
                a["gameId"],
                a["assertionId"],
                a["challenger"],
                a["defender"],
                bytes(a["startClaim"]),
                bytes(a["defenderClaim"]),
                a["dStart"],
                a["dEnd"],
                log["blockNumber"],
                bytes(log["blockHash"]),
            )
            for log in logs
            for a in [log["args"]]
        ]

    def dissections_in(self, receipt: TxReceipt) -> list[Dissection]:
        return [_dissection(ev) for ev in self.contract.events.Dissected().process_receipt(receipt, errors=DISCARD)]

    def dissections(self, game_id: int, from_block: int = 0, to_block: int | str = "latest") -> list[Dissection]:
        """Every dissection posted in `game_id`, oldest first."""
        logs = self.contract.events.Dissected().get_logs(
            from_block=from_block, to_block=to_block, argument_filters={"gameId": game_id}
        )
        return [_dissection(log) for log in logs]

    def last_dissection(self, game_id: int, from_block: int = 0) -> Dissection:
        """The dissection the side to move must answer, checked against the stored hash."""
        found = self.dissections(game_id, from_block)
        if not found:
            raise L1Error(f"game {game_id}: no Dissected event since L1 block {from_block}")
        last = found[-1]
        if last.hash() != self.game(game_id).dissection:
            raise L1Error(f"game {game_id}: the last Dissected event does not match the stored hash")
        return last

    def ended_in(self, receipt: TxReceipt) -> list[GameEnded]:
        return [
            GameEnded(
                ev["args"]["gameId"],
                ev["args"]["assertionId"],
                GameStatus(ev["args"]["outcome"]),
                ev["args"]["winner"],
                ev["args"]["burnt"],
            )
            for ev in self.contract.events.GameEnded().process_receipt(receipt, errors=DISCARD)
        ]


# -- opening inputs from L1 -------------------------------------------------------------------


def entry_preimage(inbox: InboxBinding, entries: int, from_block: int = 0) -> tuple[int, EntryPreimage]:
    """(delayed count after the first `entries` entries, preimage of acc(entries - 1)), from the BatchAppended event."""
    if entries == 0:
        return 0, EMPTY_PREIMAGE
    index = entries - 1
    logs = inbox.contract.events.BatchAppended().get_logs(
        from_block=from_block, to_block="latest", argument_filters={"index": index}
    )
    if len(logs) != 1:
        raise L1Error(f"inbox entry {index}: expected one BatchAppended event, found {len(logs)}")
    args = logs[0]["args"]
    prev = ZERO32 if index == 0 else inbox.accumulator(index - 1)
    preimage = EntryPreimage(
        prev,
        bytes(args["payloadHash"]),
        bytes(args["messageRoot"]),
        args["messageCount"],
        bytes(args["delayedAccumulator"]),
    )
    if preimage.accumulator() != inbox.accumulator(index):
        raise L1Error(f"inbox entry {index}: event does not hash to the stored accumulator")
    return args["delayedRead"], preimage


def opening_inputs(inbox: InboxBinding, rollup: RollupBinding, assertion_id: int, from_block: int = 0) -> OpeningInputs:
    """dStart, dEnd and their preimages for a challenge of `assertion_id` (read from L1)."""
    assertion = rollup.assertion(assertion_id)
    parent = rollup.assertion(assertion.parent_id)
    d_start, start_entry = entry_preimage(inbox, parent.inbox_entries, from_block)
    d_end, end_entry = entry_preimage(inbox, assertion.inbox_entries, from_block)
    return OpeningInputs(d_start, d_end, start_entry, end_entry)
