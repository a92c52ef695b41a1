// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IDelayedInbox {
    function accumulators(uint256 index) external view returns (bytes32);
    function timestamps(uint256 index) external view returns (uint64);
    function messageCount() external view returns (uint256);
}

/// @title Inbox
/// @notice The ordered list of inbox entries the L2 chain is derived from (DESIGN section 4).
///         Entry i stores
///           acc(i) = keccak256(abi.encodePacked(acc(i-1), keccak256(payload), messageRoot,
///                                               messageCount, delayedAcc(delayedRead-1)))
///         with acc(-1) = 0 and delayedAcc(-1) = 0. A batch always has a non-empty payload;
///         an entry with an empty payload is a forced inclusion (messageRoot = 0,
///         messageCount = number of delayed messages it pulls in), so the two never collide.
contract Inbox {
    /// @notice Who may change the batcher.
    address public immutable owner;
    /// @notice Source of delayed messages (deposits).
    IDelayedInbox public immutable delayedInbox;
    /// @notice Seconds after which an unread delayed message may be forced in by anyone.
    uint256 public immutable forceInclusionDelay;

    /// @notice The only sender of batches.
    address public batcher;
    /// @notice acc(i) of every entry i.
    bytes32[] public accumulators;
    /// @notice Delayed messages consumed by the entries so far (non-decreasing).
    uint256 public delayedRead;

    event BatchAppended(
        uint256 indexed index,
        bytes32 accumulator,
        bytes32 payloadHash,
        bytes32 messageRoot,
        uint256 messageCount,
        uint256 delayedRead,
        bytes32 delayedAccumulator,
        bool forced
    );
    event BatcherChanged(address indexed previous, address indexed batcher);

    error NotOwner();
    error NotBatcher();
    error ZeroAddress();
    error EmptyPayload();
    error ZeroMessageCount();
    error DelayedReadDecreased(uint256 delayedRead, uint256 current);
    error DelayedReadTooHigh(uint256 delayedRead, uint256 available);
    error NothingToForce();
    error NotOverdue(uint256 index, uint256 forcibleAt);

    constructor(address owner_, address batcher_, IDelayedInbox delayedInbox_, uint256 forceInclusionDelay_) {
        if (owner_ == address(0) || batcher_ == address(0) || address(delayedInbox_) == address(0)) {
            revert ZeroAddress();
        }
        owner = owner_;
        batcher = batcher_;
        delayedInbox = delayedInbox_;
        forceInclusionDelay = forceInclusionDelay_;
        emit BatcherChanged(address(0), batcher_);
    }

    /// @notice Replaces the batcher (key rotation); owner only.
    function setBatcher(address batcher_) external {
        if (msg.sender != owner) revert NotOwner();
        if (batcher_ == address(0)) revert ZeroAddress();
        emit BatcherChanged(batcher, batcher_);
        batcher = batcher_;
    }

    /// @notice Appends a batch; `delayedRead_` is the total of delayed messages consumed after it.
    function appendBatch(bytes calldata payload, bytes32 messageRoot, uint256 messageCount, uint256 delayedRead_)
        external
        returns (uint256 index)
    {
        if (msg.sender != batcher) revert NotBatcher();
        if (payload.length == 0) revert EmptyPayload();
        if (messageCount == 0) revert ZeroMessageCount();
        if (delayedRead_ < delayedRead) revert DelayedReadDecreased(delayedRead_, delayedRead);
        uint256 available = delayedInbox.messageCount();
        if (delayedRead_ > available) revert DelayedReadTooHigh(delayedRead_, available);
        return _append(keccak256(payload), messageRoot, messageCount, delayedRead_, false);
    }

    /// @notice Anyone: once the oldest unread delayed message is overdue, appends an entry
    ///         that consumes every overdue delayed message (the sequencer can delay, not censor).
    function forceInclude() external returns (uint256 index) {
        uint256 start = delayedRead;
        uint256 available = delayedInbox.messageCount();
        if (start >= available) revert NothingToForce();
        uint256 forcibleAt = uint256(delayedInbox.timestamps(start)) + forceInclusionDelay;
        if (block.timestamp < forcibleAt) revert NotOverdue(start, forcibleAt);
        // Timestamps never decrease: binary search for the first message not yet overdue.
        uint256 lo = start + 1;
        uint256 hi = available;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (uint256(delayedInbox.timestamps(mid)) + forceInclusionDelay <= block.timestamp) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return _append(keccak256(""), bytes32(0), lo - start, lo, true);
    }

    /// @notice Number of inbox entries so far.
    function entryCount() external view returns (uint256) {
        return accumulators.length;
    }

    function _append(bytes32 payloadHash, bytes32 messageRoot, uint256 messageCount, uint256 delayedRead_, bool forced)
        internal
        returns (uint256 index)
    {
        bytes32 delayedAcc = delayedRead_ == 0 ? bytes32(0) : delayedInbox.accumulators(delayedRead_ - 1);
        index = accumulators.length;
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, payloadHash, messageRoot, messageCount, delayedAcc));
        accumulators.push(acc);
        delayedRead = delayedRead_;
        emit BatchAppended(index, acc, payloadHash, messageRoot, messageCount, delayedRead_, delayedAcc, forced);
    }
}
