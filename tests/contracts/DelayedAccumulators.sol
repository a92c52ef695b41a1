// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title DelayedAccumulators
/// @notice Test stand-in for DelayedInbox's accumulator array (the only thing ExecMsg's
///         DEPOSIT_LOAD reads of it): the test traces' deposits are made up (senders and L1
///         blocks no L1 transaction can produce), so their message hashes are appended here and
///         chained exactly as DelayedInbox does: acc(j) = keccak256(acc(j-1) ++ messageHash(j)).
contract DelayedAccumulators {
    bytes32[] public accumulators;

    function append(bytes32 messageHash) external {
        bytes32 prev = accumulators.length == 0 ? bytes32(0) : accumulators[accumulators.length - 1];
        accumulators.push(keccak256(abi.encodePacked(prev, messageHash)));
    }
}
