// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title DelayedInbox
/// @notice Deposits from L1 to L2 (ETH and/or an L2 call): each one is a delayed message.
///         It holds the deposited ETH, so it is kept apart from the batcher-facing Inbox:
///         the custody code stays small and the withdrawal side (a later issue) joins it.
///
///         messageHash(j) = keccak256(abi.encode(j, sender, to, value, gasLimit,
///                                               l1BlockNumber, l1Timestamp, keccak256(data)))
///         acc(j)         = keccak256(abi.encodePacked(acc(j-1), messageHash(j))), acc(-1) = 0
///         `sender` is the raw L1 caller; aliasing of contract callers happens on L2.
contract DelayedInbox {
    /// @notice Intrinsic gas of an L2 call: a deposit may not ask for less.
    uint256 public constant MIN_GAS_LIMIT = 21_000;
    /// @notice Upper bound of `data`, so that one deposit always fits an L2 block.
    uint256 public constant MAX_DATA_BYTES = 120_000;

    /// @notice Upper bound of a deposit's L2 gas limit (set at deployment).
    uint256 public immutable maxGasLimit;

    /// @notice acc(j) of every delayed message j.
    bytes32[] public accumulators;
    /// @notice L1 timestamp of every delayed message j (the Inbox reads it for force inclusion).
    uint64[] public timestamps;

    event MessageDelivered(
        uint256 indexed index,
        address indexed sender,
        address indexed to,
        uint256 value,
        uint256 gasLimit,
        uint256 l1BlockNumber,
        uint256 l1Timestamp,
        bytes data,
        bytes32 messageHash,
        bytes32 accumulator
    );

    error GasLimitTooLow(uint256 gasLimit, uint256 minimum);
    error GasLimitTooHigh(uint256 gasLimit, uint256 maximum);
    error DataTooLarge(uint256 size, uint256 maximum);
    error ZeroRecipient();
    error BadMaxGasLimit();

    constructor(uint256 maxGasLimit_) {
        if (maxGasLimit_ < MIN_GAS_LIMIT) revert BadMaxGasLimit();
        maxGasLimit = maxGasLimit_;
    }

    /// @notice Queues an L2 call from msg.sender to `to` carrying msg.value.
    function depositTransaction(address to, uint256 gasLimit, bytes calldata data)
        external
        payable
        returns (uint256 index)
    {
        if (to == address(0)) revert ZeroRecipient();
        if (gasLimit < MIN_GAS_LIMIT) revert GasLimitTooLow(gasLimit, MIN_GAS_LIMIT);
        if (gasLimit > maxGasLimit) revert GasLimitTooHigh(gasLimit, maxGasLimit);
        if (data.length > MAX_DATA_BYTES) revert DataTooLarge(data.length, MAX_DATA_BYTES);
        return _deliver(msg.sender, to, gasLimit, data);
    }

    /// @notice Plain ETH sent here is a deposit of that value to the same address on L2.
    receive() external payable {
        _deliver(msg.sender, msg.sender, MIN_GAS_LIMIT, "");
    }

    /// @notice Number of delayed messages so far.
    function messageCount() external view returns (uint256) {
        return accumulators.length;
    }

    function _deliver(address sender, address to, uint256 gasLimit, bytes memory data)
        internal
        returns (uint256 index)
    {
        index = accumulators.length;
        bytes32 messageHash = keccak256(
            abi.encode(index, sender, to, msg.value, gasLimit, block.number, block.timestamp, keccak256(data))
        );
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, messageHash));
        accumulators.push(acc);
        timestamps.push(uint64(block.timestamp));
        emit MessageDelivered(
            index, sender, to, msg.value, gasLimit, block.number, block.timestamp, data, messageHash, acc
        );
    }
}
