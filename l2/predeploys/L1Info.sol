// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title L1Info
/// @notice The L1 origin of the current L2 block. The state transition writes slots
///         0..2 directly at block start (a system write, not a transaction), so reading
///         them costs an ordinary SLOAD and no L2 gas is spent on the update.
contract L1Info {
    /// @notice L1 block number of the current L2 block's L1 origin.
    uint256 public number;
    /// @notice L1 block hash of the origin (zero when the derivation source does not carry it).
    bytes32 public blockHash;
    /// @notice L1 base fee at the origin (zero when the derivation source does not carry it).
    uint256 public baseFee;
}
