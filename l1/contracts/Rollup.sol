// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IInbox {
    function accumulators(uint256 index) external view returns (bytes32);
    function entryCount() external view returns (uint256);
}

/// @title Rollup
/// @notice Assertions about the L2 chain, each backed by a bond (DESIGN section 5).
///         An assertion (parent, inbox entries consumed, L2 block number, output root)
///         confirms once its challenge period is over, its parent is the latest confirmed
///         assertion, no dispute game against it is still open (`openGames`) and the game has
///         not rejected it. Confirmation returns the bond
///         to the asserter; a rejected assertion's bond goes to the dispute game, which pays
///         the winner. An assertion stranded by a sibling branch that confirmed first (it can
///         never confirm) gets its bond back once nobody can challenge it any more
///         (`releaseStranded`). Every wei sent in is either held for a pending assertion or paid out.
contract Rollup {
    enum Status {
        None,
        Pending,
        Confirmed,
        Rejected,
        Released
    }

    struct Assertion {
        uint64 parentId;
        uint64 inboxEntries;
        uint64 l2BlockNumber;
        uint64 createdAt;
        address asserter;
        Status status;
        bytes32 outputRoot;
        bytes32 inboxAccumulator;
    }

    /// @notice Manages proposers and sets the dispute game once.
    address public immutable owner;
    IInbox public immutable inbox;
    /// @notice Seconds between an assertion's creation and the earliest confirmation.
    uint256 public immutable challengePeriod;
    /// @notice Exact value every createAssertion must carry.
    uint256 public immutable bond;

    /// @notice The only caller of rejectAssertion, and the recipient of rejected bonds.
    address public disputeGame;
    /// @notice When true anyone may propose; otherwise only the allow-list.
    bool public permissionless;
    mapping(address => bool) public isProposer;

    Assertion[] internal _assertions;
    uint256 public latestConfirmed;
    /// @notice Sum of the bonds of pending assertions; equals this contract's balance.
    uint256 public bondsHeld;
    /// @notice Dispute games still open against each assertion (maintained by the dispute game);
    ///         an assertion cannot confirm while it has one.
    mapping(uint256 => uint256) public openGames;

    event AssertionCreated(
        uint256 indexed id,
        uint256 indexed parentId,
        address indexed asserter,
        uint256 inboxEntries,
        bytes32 inboxAccumulator,
        uint256 l2BlockNumber,
        bytes32 outputRoot,
        uint256 confirmableAt
    );
    event AssertionConfirmed(uint256 indexed id, bytes32 outputRoot);
    event AssertionRejected(uint256 indexed id, address recipient, uint256 bond);
    event AssertionReleased(uint256 indexed id, address asserter, uint256 bond);
    event ProposerSet(address indexed proposer, bool allowed);
    event PermissionlessSet(bool permissionless);
    event DisputeGameSet(address disputeGame);

    error NotOwner();
    error NotProposer();
    error NotDisputeGame();
    error ZeroAddress();
    error ZeroBond();
    error DisputeGameAlreadySet();
    error WrongBond(uint256 sent, uint256 required);
    error UnknownAssertion(uint256 id);
    error ParentRejected(uint256 parentId);
    error ParentNotRejected(uint256 parentId);
    error ParentNotLatestConfirmed(uint256 parentId, uint256 latestConfirmed);
    error NotPending(uint256 id);
    error InboxEntriesDecreased(uint256 inboxEntries, uint256 parentInboxEntries);
    error InboxEntriesTooHigh(uint256 inboxEntries, uint256 available);
    error BlockNumberNotIncreasing(uint256 l2BlockNumber, uint256 parentL2BlockNumber);
    error ValueTooLarge();
    error ZeroOutputRoot();
    error ChallengePeriodNotOver(uint256 id, uint256 confirmableAt);
    error GamesOpen(uint256 id, uint256 openGames);
    error NoOpenGame(uint256 id);
    error NotStranded(uint256 id);
    error TransferFailed();

    constructor(
        address owner_,
        IInbox inbox_,
        bytes32 genesisOutputRoot,
        uint256 challengePeriod_,
        uint256 bond_,
        address[] memory proposers,
        bool permissionless_
    ) {
        if (owner_ == address(0) || address(inbox_) == address(0)) revert ZeroAddress();
        if (genesisOutputRoot == bytes32(0)) revert ZeroOutputRoot();
        if (bond_ == 0) revert ZeroBond();
        owner = owner_;
        inbox = inbox_;
        challengePeriod = challengePeriod_;
        bond = bond_;
        permissionless = permissionless_;
        for (uint256 i = 0; i < proposers.length; i++) {
            if (proposers[i] == address(0)) revert ZeroAddress();
            isProposer[proposers[i]] = true;
            emit ProposerSet(proposers[i], true);
        }
        _assertions.push(
            Assertion({
                parentId: 0,
                inboxEntries: 0,
                l2BlockNumber: 0,
                createdAt: uint64(block.timestamp),
                asserter: address(0),
                status: Status.Confirmed,
                outputRoot: genesisOutputRoot,
                inboxAccumulator: bytes32(0)
            })
        );
        emit AssertionCreated(0, 0, address(0), 0, bytes32(0), 0, genesisOutputRoot, block.timestamp);
        emit AssertionConfirmed(0, genesisOutputRoot);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    function setProposer(address proposer, bool allowed) external onlyOwner {
        if (proposer == address(0)) revert ZeroAddress();
        isProposer[proposer] = allowed;
        emit ProposerSet(proposer, allowed);
    }

    function setPermissionless(bool permissionless_) external onlyOwner {
        permissionless = permissionless_;
        emit PermissionlessSet(permissionless_);
    }

    /// @notice Sets the dispute game, once: from then on it alone can reject assertions.
    function setDisputeGame(address game) external onlyOwner {
        if (game == address(0)) revert ZeroAddress();
        if (disputeGame != address(0)) revert DisputeGameAlreadySet();
        disputeGame = game;
        emit DisputeGameSet(game);
    }

    /// @notice Claims that after the first `inboxEntries` inbox entries, L2 block
    ///         `l2BlockNumber` has output root `outputRoot`; msg.value must be the bond.
    function createAssertion(uint256 parentId, uint256 inboxEntries, uint256 l2BlockNumber, bytes32 outputRoot)
        external
        payable
        returns (uint256 id)
    {
        if (!permissionless && !isProposer[msg.sender]) revert NotProposer();
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        if (parentId >= _assertions.length) revert UnknownAssertion(parentId);
        Assertion storage parent = _assertions[parentId];
        if (parent.status == Status.Rejected) revert ParentRejected(parentId);
        if (inboxEntries < parent.inboxEntries) revert InboxEntriesDecreased(inboxEntries, parent.inboxEntries);
        uint256 available = inbox.entryCount();
        if (inboxEntries > available) revert InboxEntriesTooHigh(inboxEntries, available);
        if (l2BlockNumber <= parent.l2BlockNumber) {
            revert BlockNumberNotIncreasing(l2BlockNumber, parent.l2BlockNumber);
        }
        if (l2BlockNumber > type(uint64).max) revert ValueTooLarge();
        if (outputRoot == bytes32(0)) revert ZeroOutputRoot();
        // Pin the exact inbox content: a later reorg of L1 cannot change what was asserted.
        bytes32 inboxAcc = inboxEntries == 0 ? bytes32(0) : inbox.accumulators(inboxEntries - 1);
        id = _assertions.length;
        _assertions.push(
            Assertion({
                parentId: uint64(parentId),
                inboxEntries: uint64(inboxEntries),
                l2BlockNumber: uint64(l2BlockNumber),
                createdAt: uint64(block.timestamp),
                asserter: msg.sender,
                status: Status.Pending,
                outputRoot: outputRoot,
                inboxAccumulator: inboxAcc
            })
        );
        bondsHeld += msg.value;
        emit AssertionCreated(
            id, parentId, msg.sender, inboxEntries, inboxAcc, l2BlockNumber, outputRoot, block.timestamp + challengePeriod
        );
    }

    /// @notice Anyone: confirms a pending assertion whose period is over and whose parent
    ///         is the latest confirmed one, and returns its bond to the asserter.
    function confirmAssertion(uint256 id) external {
        if (id >= _assertions.length) revert UnknownAssertion(id);
        Assertion storage a = _assertions[id];
        if (a.status != Status.Pending) revert NotPending(id);
        if (_assertions[a.parentId].status == Status.Rejected) revert ParentRejected(a.parentId);
        if (a.parentId != latestConfirmed) revert ParentNotLatestConfirmed(a.parentId, latestConfirmed);
        uint256 confirmableAt = uint256(a.createdAt) + challengePeriod;
        if (block.timestamp < confirmableAt) revert ChallengePeriodNotOver(id, confirmableAt);
        uint256 open = openGames[id];
        if (open > 0) revert GamesOpen(id, open);
        a.status = Status.Confirmed;
        latestConfirmed = id;
        emit AssertionConfirmed(id, a.outputRoot);
        _pay(a.asserter);
    }

    /// @notice The dispute game only: rejects an assertion that lost a game.
    function rejectAssertion(uint256 id) external {
        _onlyDisputeGame();
        if (id >= _assertions.length) revert UnknownAssertion(id);
        _reject(id);
    }

    /// @notice The dispute game only: a game against `id` opened (confirmation now waits for it).
    function gameStarted(uint256 id) external {
        _onlyDisputeGame();
        if (id >= _assertions.length) revert UnknownAssertion(id);
        openGames[id] += 1;
    }

    /// @notice The dispute game only: a game against `id` ended (won, lost or moot).
    function gameEnded(uint256 id) external {
        _onlyDisputeGame();
        if (openGames[id] == 0) revert NoOpenGame(id);
        openGames[id] -= 1;
    }

    /// @notice Anyone: rejects a pending child of a rejected assertion (descendants of a
    ///         rejected assertion are rejected lazily; they can never confirm anyway).
    ///         The bond goes to the dispute game, which only accepts it through its own
    ///         `rejectDescendant` (it credits the bond to whoever rejected the ancestor).
    function rejectDescendant(uint256 id) external {
        if (id >= _assertions.length) revert UnknownAssertion(id);
        uint256 parentId = _assertions[id].parentId;
        if (_assertions[parentId].status != Status.Rejected) revert ParentNotRejected(parentId);
        _reject(id);
    }

    /// @notice Anyone: returns the bond of a pending assertion that can never confirm because
    ///         the confirmed chain left its parent through another child (its parent is
    ///         confirmed but no longer `latestConfirmed`, or was itself released). Only once its
    ///         challenge period is over with no game open: by then it can no longer be
    ///         challenged, and had it been on the confirmed branch it would have confirmed and
    ///         been paid the same bond. The status becomes Released (final).
    function releaseStranded(uint256 id) external {
        if (id >= _assertions.length) revert UnknownAssertion(id);
        Assertion storage a = _assertions[id];
        if (a.status != Status.Pending) revert NotPending(id);
        uint256 parentId = a.parentId;
        Status parent = _assertions[parentId].status;
        bool stranded =
            parent == Status.Released || (parent == Status.Confirmed && parentId != latestConfirmed);
        if (!stranded) revert NotStranded(id);
        uint256 confirmableAt = uint256(a.createdAt) + challengePeriod;
        if (block.timestamp < confirmableAt) revert ChallengePeriodNotOver(id, confirmableAt);
        uint256 open = openGames[id];
        if (open > 0) revert GamesOpen(id, open);
        a.status = Status.Released;
        emit AssertionReleased(id, a.asserter, bond);
        _pay(a.asserter);
    }

    function assertionCount() external view returns (uint256) {
        return _assertions.length;
    }

    function getAssertion(uint256 id) external view returns (Assertion memory) {
        if (id >= _assertions.length) revert UnknownAssertion(id);
        return _assertions[id];
    }

    function _onlyDisputeGame() internal view {
        if (msg.sender != disputeGame || msg.sender == address(0)) revert NotDisputeGame();
    }

    function _reject(uint256 id) internal {
        Assertion storage a = _assertions[id];
        if (a.status != Status.Pending) revert NotPending(id);
        a.status = Status.Rejected;
        emit AssertionRejected(id, disputeGame, bond);
        _pay(disputeGame);
    }

    function _pay(address to) internal {
        bondsHeld -= bond;
        (bool ok,) = to.call{value: bond}("");
        if (!ok) revert TransferFailed();
    }
}
