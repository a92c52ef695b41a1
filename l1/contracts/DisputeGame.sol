// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./osp/IOneStepProver.sol";

interface IGameRollup {
    /// @dev Rollup.Assertion, with its Status enum as a uint8 (1 pending, 2 confirmed, 3 rejected).
    struct Assertion {
        uint64 parentId;
        uint64 inboxEntries;
        uint64 l2BlockNumber;
        uint64 createdAt;
        address asserter;
        uint8 status;
        bytes32 outputRoot;
        bytes32 inboxAccumulator;
    }

    function getAssertion(uint256 id) external view returns (Assertion memory);
    function bond() external view returns (uint256);
    function challengePeriod() external view returns (uint256);
    function inbox() external view returns (address);
    function rejectAssertion(uint256 id) external;
    function rejectDescendant(uint256 id) external;
    function gameStarted(uint256 id) external;
    function gameEnded(uint256 id) external;
}

interface IGameInbox {
    function delayedInbox() external view returns (address);
}

interface IGameDelayedInbox {
    function accumulators(uint256 index) external view returns (bytes32);
    function messageCount() external view returns (uint256);
}

/// @title DisputeGame
/// @notice The interactive fraud-proof game of docs/fraud-proofs.md section 4: a challenger
///         bonds as much as the asserter and the two sides alternately narrow their
///         disagreement by 16-ary dissection, first over the assertion's L2 blocks (level 1),
///         then over the steps of the one disputed block (level 2), until one step is left,
///         which the one-step prover decides. Chess clocks bound the game: the side to move is
///         charged, and a side whose time is spent loses (`timeout`, anyone).
///
///         Payments are pull-only: outcomes credit `credits[account]` and `withdraw()` pays it,
///         so a recipient that reverts can never block a game's end or another's payout.
///         Burnt shares stay in this contract forever (`burnt`); the ETH here always equals
///         `bondsHeld + creditsOwed + burnt`.
contract DisputeGame {
    /// @notice Dissection arity: a dissection posts K-1 inner points (fewer on short ranges).
    uint256 public constant K = 16;
    /// @notice Largest step count a level-2 dissection may declare.
    uint64 public constant MAX_STEPS = uint64(1) << 40;
    uint256 internal constant BPS = 10_000;
    uint8 internal constant PENDING = 1;
    uint8 internal constant REJECTED = 3;

    enum Status {
        None,
        Open,
        ChallengerWon,
        DefenderWon,
        Moot
    }

    /// @notice One game. `lo`, `hi`, `start`, `level` describe the segment of the last posted
    ///         dissection, whose hash is `dissection`; the side to move must answer it.
    struct Game {
        address challenger;
        uint64 assertionId;
        Status status;
        uint8 level;
        bool challengerToMove;
        address defender;
        uint64 lastMoveAt;
        uint64 challengerClock; // seconds left as of lastMoveAt
        uint64 defenderClock;
        uint64 lo;
        uint64 hi;
        uint64 baseBlock; // the parent assertion's L2 block number
        uint64 disputedBlock; // level 2: offset (from baseBlock) of the block before the disputed one
        bytes32 start;
        bytes32 dissection;
    }

    /// @notice Preimage of an inbox accumulator (Inbox.sol: acc(i) = keccak256(acc(i-1) ++
    ///         payloadHash ++ messageRoot ++ uint256 messageCount ++ delayedAcc(delayedRead-1))).
    struct EntryPreimage {
        bytes32 prev;
        bytes32 payloadHash;
        bytes32 messageRoot;
        uint256 messageCount;
        bytes32 delayedAcc;
    }

    IGameRollup public immutable rollup;
    IGameDelayedInbox public immutable delayedInbox;
    IOneStepProver public immutable prover;
    /// @notice Seconds on each side's chess clock.
    uint256 public immutable clock;
    /// @notice Share of a loser's bond that is burnt, in basis points.
    uint256 public immutable burnBps;
    /// @notice Challenge bond: Rollup.bond, the same as an assertion's.
    uint256 public immutable bond;
    uint256 public immutable challengePeriod;

    Game[] internal _games;
    /// @notice Wei each account may withdraw.
    mapping(address => uint256) public credits;
    /// @notice Sum of `credits`.
    uint256 public creditsOwed;
    /// @notice Wei burnt: kept here forever, withdrawable by nobody.
    uint256 public burnt;
    /// @notice Challenge bonds of the open games.
    uint256 public bondsHeld;
    /// @notice Who receives (1 - burn) of the bond of a rejected assertion's rejected descendants:
    ///         the challenger that won against it, inherited down the rejected subtree.
    mapping(uint256 => address) public beneficiary;
    /// @dev Set only around our own calls into Rollup that pay us a bond.
    bool internal transient _expectingBond;

    event GameCreated(
        uint256 indexed gameId,
        uint256 indexed assertionId,
        address indexed challenger,
        address defender,
        bytes32 startClaim,
        bytes32 defenderClaim,
        uint64 dStart,
        uint64 dEnd
    );
    /// @notice A dissection of [lo, hi] at `level`: `points` at dissectionPositions(lo, hi), then `end`.
    event Dissected(
        uint256 indexed gameId,
        address indexed poster,
        uint8 level,
        uint64 lo,
        uint64 hi,
        bytes32 start,
        bytes32[] points,
        bytes32 end
    );
    event StepProven(
        uint256 indexed gameId, address indexed by, uint64 l2Block, uint64 stepIndex, bytes32 pre, bytes32 post, bytes32 claimed
    );
    event GameEnded(uint256 indexed gameId, uint256 indexed assertionId, Status outcome, address winner, uint256 burnt);
    event DescendantRejected(uint256 indexed assertionId, address beneficiary, uint256 paid, uint256 burnt);
    event Credited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

    error ZeroAddress();
    error BadClock(uint256 clock);
    error BadBurnBps(uint256 burnBps);
    error WrongBond(uint256 sent, uint256 required);
    error UnknownAssertion(uint256 id);
    error NotPending(uint256 id);
    error ParentRejected(uint256 parentId);
    error ParentNotRejected(uint256 parentId);
    error ChallengePeriodOver(uint256 id, uint256 closedAt);
    error WrongEntryPreimage(uint256 entries);
    error WrongDelayedCount(uint256 entries, uint256 delayedCount);
    error EndNotDisputed(bytes32 end);
    error UnknownGame(uint256 gameId);
    error GameNotOpen(uint256 gameId, Status status);
    error NotYourTurn(uint256 gameId, address toMove);
    error ClockExpired(uint256 gameId, uint256 elapsed, uint256 left);
    error ClockNotExpired(uint256 gameId, uint256 left);
    error WrongDissection(uint256 gameId);
    error BadSegment(uint256 segment, uint256 segments);
    error WrongPointCount(uint256 given, uint256 expected);
    error StepsOutOfRange(uint256 steps);
    error UnexpectedSteps(uint256 steps);
    error SegmentIsOneStep(uint256 gameId);
    error NotOneStep(uint256 gameId, uint8 level, uint256 length);
    error StepMatchesClaim(bytes32 post);
    error NotMoot(uint256 gameId);
    error NothingToWithdraw();
    error TransferFailed();
    error UnexpectedPayment();
    /// @notice IOneStepProver's refusal of a step it cannot prove, bubbled up by proveStep.
    error Unsupported(bytes32 name);

    constructor(IGameRollup rollup_, IOneStepProver prover_, uint256 clock_, uint256 burnBps_) {
        if (address(rollup_) == address(0) || address(prover_) == address(0)) revert ZeroAddress();
        if (clock_ == 0 || clock_ > type(uint64).max) revert BadClock(clock_);
        if (burnBps_ > BPS) revert BadBurnBps(burnBps_);
        rollup = rollup_;
        prover = prover_;
        clock = clock_;
        burnBps = burnBps_;
        bond = rollup_.bond();
        challengePeriod = rollup_.challengePeriod();
        delayedInbox = IGameDelayedInbox(IGameInbox(rollup_.inbox()).delayedInbox());
    }

    /// @notice Only Rollup, paying a bond we asked for (rejectAssertion, rejectDescendant).
    receive() external payable {
        if (msg.sender != address(rollup) || !_expectingBond) revert UnexpectedPayment();
    }

    // -- opening ---------------------------------------------------------------------------

    /// @notice Opens a game against pending assertion `assertionId` during its challenge
    ///         period, with msg.value == bond. `dStart`/`dEnd` are the delayed-message counts
    ///         read after the parent's / the assertion's inbox entries, proven by the preimages of
    ///         those entries' accumulators (ignored when the entry count is 0). `points`/`end` are
    ///         the challenger's level-1 dissection of [0, N] blocks; `end` must differ from the
    ///         defender's claim. The defender moves next.
    function challenge(
        uint256 assertionId,
        uint64 dStart,
        uint64 dEnd,
        EntryPreimage calldata startEntry,
        EntryPreimage calldata endEntry,
        bytes32[] calldata points,
        bytes32 end
    ) external payable returns (uint256 gameId) {
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        Opening memory o = _opening(assertionId, dStart, dEnd, startEntry, endEntry);
        if (end == o.defenderClaim) revert EndNotDisputed(end);
        gameId = _games.length;
        Game storage g = _games.push();
        g.challenger = msg.sender;
        g.assertionId = uint64(assertionId);
        g.status = Status.Open;
        g.defender = o.defender;
        g.lastMoveAt = uint64(block.timestamp);
        g.challengerClock = uint64(clock);
        g.defenderClock = uint64(clock);
        g.baseBlock = o.baseBlock;
        bondsHeld += msg.value;
        rollup.gameStarted(assertionId);
        _emitCreated(gameId, assertionId, o, dStart, dEnd);
        _post(g, gameId, 1, 0, o.blocks, o.startClaim, points, end);
    }

    /// @dev What `challenge` needs to know about the assertion, checked.
    struct Opening {
        address defender;
        uint64 baseBlock;
        uint64 blocks;
        bytes32 startClaim;
        bytes32 defenderClaim;
    }

    function _opening(
        uint256 assertionId,
        uint64 dStart,
        uint64 dEnd,
        EntryPreimage calldata startEntry,
        EntryPreimage calldata endEntry
    ) internal view returns (Opening memory o) {
        IGameRollup.Assertion memory a = rollup.getAssertion(assertionId);
        if (a.status != PENDING) revert NotPending(assertionId);
        uint256 closesAt = uint256(a.createdAt) + challengePeriod;
        if (block.timestamp >= closesAt) revert ChallengePeriodOver(assertionId, closesAt);
        IGameRollup.Assertion memory p = rollup.getAssertion(a.parentId);
        if (p.status == REJECTED) revert ParentRejected(a.parentId);
        o.defender = a.asserter;
        o.baseBlock = p.l2BlockNumber;
        o.blocks = a.l2BlockNumber - p.l2BlockNumber;
        o.startClaim = _claimOf(p, dStart, startEntry);
        o.defenderClaim = _claimOf(a, dEnd, endEntry);
    }

    function _emitCreated(uint256 gameId, uint256 assertionId, Opening memory o, uint64 dStart, uint64 dEnd) internal {
        emit GameCreated(gameId, assertionId, msg.sender, o.defender, o.startClaim, o.defenderClaim, dStart, dEnd);
    }

    // -- moves -----------------------------------------------------------------------------

    /// @notice The side to move answers the opponent's last dissection (`oppPoints`, `oppEnd`,
    ///         checked against its stored hash) by picking sub-segment `segment` (whose start it
    ///         accepts and whose end it rejects) and posting its own dissection of it with its
    ///         own `end`. On a one-block level-1 segment the new dissection is of the block's
    ///         steps [0, `steps`] (level 2, 1 <= steps <= MAX_STEPS); otherwise `steps` is 0.
    function move(
        uint256 gameId,
        bytes32[] calldata oppPoints,
        bytes32 oppEnd,
        uint256 segment,
        bytes32[] calldata points,
        bytes32 end,
        uint64 steps
    ) external {
        Game storage g = _openGame(gameId);
        _checkTurn(g, gameId);
        (uint64 lo, uint64 hi, bytes32 start, bytes32 theirs) = _pick(g, gameId, oppPoints, oppEnd, segment);
        if (end == theirs) revert EndNotDisputed(end);
        _charge(g, gameId);
        if (hi - lo > 1) {
            if (steps != 0) revert UnexpectedSteps(steps);
            _post(g, gameId, g.level, lo, hi, start, points, end);
        } else {
            if (g.level != 1) revert SegmentIsOneStep(gameId);
            if (steps == 0 || steps > MAX_STEPS) revert StepsOutOfRange(steps);
            g.disputedBlock = lo;
            _post(g, gameId, 2, 0, steps, start, points, end);
        }
    }

    /// @notice The side to move, at a one-step level-2 sub-segment of the opponent's last
    ///         dissection: the prover computes the step from the segment's agreed start; the
    ///         mover wins iff the result differs from the opponent's claim. A reverting prover
    ///         (bad proof, unsupported step) reverts this call.
    function proveStep(
        uint256 gameId,
        bytes32[] calldata oppPoints,
        bytes32 oppEnd,
        uint256 segment,
        bytes calldata proof
    ) external {
        Game storage g = _openGame(gameId);
        _checkTurn(g, gameId);
        (uint64 lo, uint64 hi, bytes32 pre, bytes32 claimed) = _pick(g, gameId, oppPoints, oppEnd, segment);
        if (g.level != 2 || hi - lo != 1) revert NotOneStep(gameId, g.level, hi - lo);
        bool challengerWins = g.challengerToMove;
        _charge(g, gameId);
        _step(g, gameId, lo, pre, claimed, proof);
        _finish(g, gameId, challengerWins);
    }

    /// @dev Runs the prover on step `stepIndex` of the disputed block; reverts unless its
    ///      result differs from `claimed`.
    function _step(Game storage g, uint256 gameId, uint64 stepIndex, bytes32 pre, bytes32 claimed, bytes calldata proof)
        internal
    {
        IGameRollup.Assertion memory a = rollup.getAssertion(g.assertionId);
        uint64 l2Block = g.baseBlock + g.disputedBlock + 1;
        bytes32 post = prover.step(IOneStepProver.GameContext(l2Block, a.inboxEntries, a.createdAt), pre, proof);
        if (post == claimed) revert StepMatchesClaim(post);
        emit StepProven(gameId, msg.sender, l2Block, stepIndex, pre, post, claimed);
    }

    /// @notice Anyone: ends a game whose side to move has spent its clock; the other side wins.
    function timeout(uint256 gameId) external {
        Game storage g = _openGame(gameId);
        bool challengerLate = g.challengerToMove;
        uint256 elapsed = block.timestamp - g.lastMoveAt;
        uint256 left = challengerLate ? g.challengerClock : g.defenderClock;
        if (elapsed < left) revert ClockNotExpired(gameId, left - elapsed);
        if (challengerLate) g.challengerClock = 0;
        else g.defenderClock = 0;
        g.lastMoveAt = uint64(block.timestamp);
        _finish(g, gameId, !challengerLate);
    }

    /// @notice Anyone: ends an open game whose assertion was rejected (by another game) or
    ///         whose parent was rejected; the challenger gets its bond back.
    function moot(uint256 gameId) external {
        Game storage g = _openGame(gameId);
        if (!_isMoot(g.assertionId)) revert NotMoot(gameId);
        _endMoot(g, gameId);
    }

    /// @notice Anyone: rejects a pending child of a rejected assertion (Rollup.rejectDescendant
    ///         pays its bond only through here). (1 - burn) of the bond is credited to the
    ///         beneficiary of the parent (the challenger who won against the nearest ancestor
    ///         rejected by a game), the rest is burnt (all of it when there is none).
    function rejectDescendant(uint256 assertionId) external {
        IGameRollup.Assertion memory a = rollup.getAssertion(assertionId);
        _expectingBond = true;
        rollup.rejectDescendant(assertionId);
        _expectingBond = false;
        address to = beneficiary[a.parentId];
        beneficiary[assertionId] = to;
        uint256 burn = to == address(0) ? bond : bond * burnBps / BPS;
        burnt += burn;
        if (to != address(0)) _credit(to, bond - burn);
        emit DescendantRejected(assertionId, to, bond - burn, burn);
    }

    /// @notice Pays out the caller's credit.
    function withdraw() external {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        creditsOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // -- views -----------------------------------------------------------------------------

    function gameCount() external view returns (uint256) {
        return _games.length;
    }

    function getGame(uint256 gameId) external view returns (Game memory) {
        if (gameId >= _games.length) revert UnknownGame(gameId);
        return _games[gameId];
    }

    /// @notice The address that must move next (zero once the game is over).
    function toMove(uint256 gameId) external view returns (address) {
        if (gameId >= _games.length) revert UnknownGame(gameId);
        Game storage g = _games[gameId];
        if (g.status != Status.Open) return address(0);
        return g.challengerToMove ? g.challenger : g.defender;
    }

    /// @notice Seconds left on each clock now (the side to move is charged since lastMoveAt).
    function clocks(uint256 gameId) external view returns (uint256 challengerLeft, uint256 defenderLeft) {
        if (gameId >= _games.length) revert UnknownGame(gameId);
        Game storage g = _games[gameId];
        challengerLeft = g.challengerClock;
        defenderLeft = g.defenderClock;
        if (g.status != Status.Open) return (challengerLeft, defenderLeft);
        uint256 elapsed = block.timestamp - g.lastMoveAt;
        if (g.challengerToMove) challengerLeft = elapsed >= challengerLeft ? 0 : challengerLeft - elapsed;
        else defenderLeft = elapsed >= defenderLeft ? 0 : defenderLeft - elapsed;
    }

    /// @notice The start claim and the defender's end claim of a game against `assertionId`
    ///         with these delayed counts (reverts as `challenge` would on a wrong preimage).
    function claims(
        uint256 assertionId,
        uint64 dStart,
        uint64 dEnd,
        EntryPreimage calldata startEntry,
        EntryPreimage calldata endEntry
    ) external view returns (bytes32 startClaim, bytes32 defenderClaim) {
        IGameRollup.Assertion memory a = rollup.getAssertion(assertionId);
        IGameRollup.Assertion memory p = rollup.getAssertion(a.parentId);
        return (_claimOf(p, dStart, startEntry), _claimOf(a, dEnd, endEntry));
    }

    /// @notice Cursor = keccak256(0x4D ++ u64 entryIndex ++ u32 msgIndex ++ u64 delayedNext).
    function cursor(uint64 entryIndex, uint32 msgIndex, uint64 delayedNext) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x4D), entryIndex, msgIndex, delayedNext));
    }

    /// @notice BlockClaim = keccak256(0x42 ++ u64 l2BlockNumber ++ b32 outputRoot ++ b32 cursor).
    function blockClaim(uint64 l2BlockNumber, bytes32 outputRoot, bytes32 cursor_) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x42), l2BlockNumber, outputRoot, cursor_));
    }

    /// @notice keccak256(u8 level ++ u64 lo ++ u64 hi ++ start ++ points ++ end ++ poster).
    function dissectionHash(
        uint8 level,
        uint64 lo,
        uint64 hi,
        bytes32 start,
        bytes32[] calldata points,
        bytes32 end,
        address poster
    ) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(level, lo, hi, start, points, end, poster));
    }

    /// @notice Positions of a dissection's points of [lo, hi]: lo + floor(m·(hi-lo)/n) for
    ///         m = 1..n-1, n = min(K, hi-lo) segments; the `end` is at hi.
    function dissectionPositions(uint64 lo, uint64 hi) external pure returns (uint64[] memory positions) {
        uint256 len = hi - lo;
        uint256 n = len < K ? len : K;
        positions = new uint64[](n == 0 ? 0 : n - 1);
        for (uint256 m = 1; m < n; m++) {
            positions[m - 1] = uint64(lo + m * len / n);
        }
    }

    // -- internals -------------------------------------------------------------------------

    function _claimOf(IGameRollup.Assertion memory x, uint64 d, EntryPreimage calldata e)
        internal
        view
        returns (bytes32)
    {
        if (x.inboxEntries == 0) {
            if (d != 0) revert WrongDelayedCount(0, d);
        } else {
            bytes32 acc = keccak256(abi.encodePacked(e.prev, e.payloadHash, e.messageRoot, e.messageCount, e.delayedAcc));
            if (acc != x.inboxAccumulator) revert WrongEntryPreimage(x.inboxEntries);
            bytes32 expected;
            if (d != 0) {
                if (d > delayedInbox.messageCount()) revert WrongDelayedCount(x.inboxEntries, d);
                expected = delayedInbox.accumulators(d - 1);
            }
            if (e.delayedAcc != expected) revert WrongDelayedCount(x.inboxEntries, d);
        }
        return blockClaim(x.l2BlockNumber, x.outputRoot, cursor(x.inboxEntries, 0, d));
    }

    function _openGame(uint256 gameId) internal view returns (Game storage g) {
        if (gameId >= _games.length) revert UnknownGame(gameId);
        g = _games[gameId];
        if (g.status != Status.Open) revert GameNotOpen(gameId, g.status);
    }

    function _checkTurn(Game storage g, uint256 gameId) internal view {
        address mover = g.challengerToMove ? g.challenger : g.defender;
        if (msg.sender != mover) revert NotYourTurn(gameId, mover);
    }

    /// @dev Sub-segment `m` of the opponent's last dissection, checked against its hash.
    function _pick(Game storage g, uint256 gameId, bytes32[] calldata pts, bytes32 oppEnd, uint256 m)
        internal
        view
        returns (uint64 lo, uint64 hi, bytes32 start, bytes32 end)
    {
        address poster = g.challengerToMove ? g.defender : g.challenger;
        if (dissectionHash(g.level, g.lo, g.hi, g.start, pts, oppEnd, poster) != g.dissection) {
            revert WrongDissection(gameId);
        }
        uint256 len = g.hi - g.lo;
        uint256 n = len < K ? len : K;
        if (m >= n) revert BadSegment(m, n);
        lo = uint64(g.lo + m * len / n);
        hi = uint64(g.lo + (m + 1) * len / n);
        start = m == 0 ? g.start : pts[m - 1];
        end = m + 1 == n ? oppEnd : pts[m];
    }

    /// @dev Charges the mover's clock (refusing the move once it is spent) and passes the turn.
    function _charge(Game storage g, uint256 gameId) internal {
        bool challengerMoves = g.challengerToMove;
        uint256 elapsed = block.timestamp - g.lastMoveAt;
        uint256 left = challengerMoves ? g.challengerClock : g.defenderClock;
        if (elapsed >= left) revert ClockExpired(gameId, elapsed, left);
        if (challengerMoves) g.challengerClock = uint64(left - elapsed);
        else g.defenderClock = uint64(left - elapsed);
        g.lastMoveAt = uint64(block.timestamp);
        g.challengerToMove = !challengerMoves;
    }

    function _post(
        Game storage g,
        uint256 gameId,
        uint8 level,
        uint64 lo,
        uint64 hi,
        bytes32 start,
        bytes32[] calldata points,
        bytes32 end
    ) internal {
        uint256 len = hi - lo;
        uint256 expected = (len < K ? len : K) - 1;
        if (points.length != expected) revert WrongPointCount(points.length, expected);
        g.level = level;
        g.lo = lo;
        g.hi = hi;
        g.start = start;
        g.dissection = dissectionHash(level, lo, hi, start, points, end, msg.sender);
        emit Dissected(gameId, msg.sender, level, lo, hi, start, points, end);
    }

    function _isMoot(uint256 assertionId) internal view returns (bool) {
        IGameRollup.Assertion memory a = rollup.getAssertion(assertionId);
        return a.status != PENDING || rollup.getAssertion(a.parentId).status == REJECTED;
    }

    function _endMoot(Game storage g, uint256 gameId) internal {
        g.status = Status.Moot;
        bondsHeld -= bond;
        _credit(g.challenger, bond);
        rollup.gameEnded(g.assertionId);
        emit GameEnded(gameId, g.assertionId, Status.Moot, address(0), 0);
    }

    /// @dev Settles a decided game (section 4.4), or ends it Moot if its assertion was
    ///      rejected meanwhile or its parent was.
    function _finish(Game storage g, uint256 gameId, bool challengerWins) internal {
        uint256 id = g.assertionId;
        if (_isMoot(id)) return _endMoot(g, gameId);
        uint256 burn = bond * burnBps / BPS;
        bondsHeld -= bond;
        burnt += burn;
        address winner;
        if (challengerWins) {
            g.status = Status.ChallengerWon;
            winner = g.challenger;
            beneficiary[id] = winner;
            _expectingBond = true;
            rollup.rejectAssertion(id); // pays the assertion's bond here
            _expectingBond = false;
            _credit(winner, 2 * bond - burn);
        } else {
            g.status = Status.DefenderWon;
            winner = g.defender;
            _credit(winner, bond - burn);
        }
        rollup.gameEnded(id);
        emit GameEnded(gameId, id, g.status, winner, burn);
    }

    function _credit(address to, uint256 amount) internal {
        credits[to] += amount;
        creditsOwed += amount;
        emit Credited(to, amount);
    }
}
