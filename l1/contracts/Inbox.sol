// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BatchDecoder} from "./BatchDecoder.sol";

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
///         Anyone can prove a batch invalid (`markInvalid`): its payload does not decode
///         (BatchDecoder, codec v1) to exactly its messageCount messages with root messageRoot.
contract Inbox {
    /// @notice Largest batch payload (codec v1 caps, docs/batch-codec.md).
    uint256 public constant MAX_PAYLOAD_BYTES = BatchDecoder.MAX_PAYLOAD_BYTES;
    uint256 public constant MAX_DECOMPRESSED_BYTES = BatchDecoder.MAX_DECOMPRESSED_BYTES;
    uint256 public constant MAX_MESSAGES = BatchDecoder.MAX_MESSAGES;
    uint256 public constant MAX_CALLDATA_BYTES = BatchDecoder.MAX_CALLDATA_BYTES;

    /// @notice Who may change the batcher.
    address public immutable owner;
    /// @notice Source of delayed messages (deposits).
    IDelayedInbox public immutable delayedInbox;
    /// @notice Seconds after which an unread delayed message may be forced in by anyone.
    uint256 public immutable forceInclusionDelay;
    /// @notice Chain id of the L2: batches leave it out of transactions, the decoder puts it back.
    uint256 public immutable l2ChainId;

    /// @notice The only sender of batches.
    address public batcher;
    /// @notice acc(i) of every entry i.
    bytes32[] public accumulators;
    /// @notice Delayed messages consumed by the entries so far (non-decreasing).
    uint256 public delayedRead;
    /// @notice Entries proven invalid: all their messages are no-ops.
    mapping(uint256 => bool) public invalid;

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
    event BatchInvalidated(uint256 indexed index);

    error NotOwner();
    error NotBatcher();
    error ZeroAddress();
    error EmptyPayload();
    error ZeroMessageCount();
    error DelayedReadDecreased(uint256 delayedRead, uint256 current);
    error DelayedReadTooHigh(uint256 delayedRead, uint256 available);
    error NothingToForce();
    error NotOverdue(uint256 index, uint256 forcibleAt);
    error InvalidChainId(uint256 chainId);
    error PayloadTooLarge(uint256 length, uint256 max);
    error UnknownEntry(uint256 index);
    error WrongPreimage(uint256 index);
    error ForcedEntry(uint256 index);
    error BatchIsValid(uint256 index);
    error AlreadyInvalid(uint256 index);
    /// @notice The decoder failed for another reason than an invalid payload (out of gas):
    ///         nothing is concluded, retry with more gas.
    error DecodeFailed();

    constructor(
        address owner_,
        address batcher_,
        IDelayedInbox delayedInbox_,
        uint256 forceInclusionDelay_,
        uint256 l2ChainId_
    ) {
        if (owner_ == address(0) || batcher_ == address(0) || address(delayedInbox_) == address(0)) {
            revert ZeroAddress();
        }
        if (l2ChainId_ == 0 || l2ChainId_ >= 2 ** 64) revert InvalidChainId(l2ChainId_);
        owner = owner_;
        batcher = batcher_;
        delayedInbox = delayedInbox_;
        forceInclusionDelay = forceInclusionDelay_;
        l2ChainId = l2ChainId_;
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
        if (payload.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(payload.length, MAX_PAYLOAD_BYTES);
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

    /// @notice Anyone: proves that batch entry `index` is invalid. The caller supplies the
    ///         entry's payload and the other inputs of its accumulator (the Inbox stores only
    ///         accumulators); if the payload does not decode to exactly `messageCount` messages
    ///         with root `messageRoot`, the entry is flagged and all its messages become no-ops.
    function markInvalid(
        uint256 index,
        bytes calldata payload,
        bytes32 messageRoot,
        uint256 messageCount,
        bytes32 delayedAcc
    ) external {
        if (index >= accumulators.length) revert UnknownEntry(index);
        if (invalid[index]) revert AlreadyInvalid(index);
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, keccak256(payload), messageRoot, messageCount, delayedAcc));
        if (acc != accumulators[index]) revert WrongPreimage(index);
        if (payload.length == 0) revert ForcedEntry(index);
        (bool valid,, uint256 count, bytes32 root) = checkBatch(payload);
        if (valid && count == messageCount && root == messageRoot) revert BatchIsValid(index);
        invalid[index] = true;
        emit BatchInvalidated(index);
    }

    /// @notice Decodes a payload: (valid, reason, messageCount, messageRoot); `reason` is the
    ///         BatchDecoder rule an invalid payload breaks. Reverts DecodeFailed when the decoder
    ///         did not finish (out of gas), so a short gas limit cannot pass for an invalid batch.
    function checkBatch(bytes calldata payload)
        public
        view
        returns (bool valid, uint256 reason, uint256 messageCount, bytes32 messageRoot)
    {
        try this.decodeBatch(payload) returns (uint256 count, bytes32 root) {
            return (true, 0, count, root);
        } catch (bytes memory err) {
            if (err.length != 36 || bytes4(err) != BatchDecoder.InvalidBatch.selector) revert DecodeFailed();
            assembly {
                reason := mload(add(err, 36))
            }
            return (false, reason, 0, bytes32(0));
        }
    }

    /// @notice (messageCount, messageRoot) of a valid payload; reverts InvalidBatch(reason).
    function decodeBatch(bytes calldata payload) external view returns (uint256 messageCount, bytes32 messageRoot) {
        return BatchDecoder.decode(payload, l2ChainId);
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
