// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title StorageGas
/// @notice SLOAD / SSTORE gas and refunds as pure functions of a journal slot entry
///         (docs/fraud-proofs.md 2.3, section 8): EIP-2929 cold/warm, EIP-2200 net metering and
///         its 2300-gas stipend guard, EIP-3529 refunds, as py-evm's Prague fork charges them.
///         Python twin: l1/proofs/storage_gas.py.
library StorageGas {
    uint256 internal constant COLD_SLOAD = 2100;
    uint256 internal constant WARM_READ = 100;
    uint256 internal constant SSTORE_SET = 20000;
    uint256 internal constant SSTORE_RESET = 2900;
    int256 internal constant SSTORE_CLEARS = 4800;
    uint256 internal constant STIPEND = 2300;

    /// @notice Gas of SLOAD on a slot that was (not) accessed earlier in the transaction.
    function sload(bool warm) internal pure returns (uint256) {
        return warm ? WARM_READ : COLD_SLOAD;
    }

    /// @notice Gas and refund delta of SSTORE(slot, newValue) given the slot's value at tx start
    ///         (`original`), now (`current`), its warm flag and the frame's gas left before it.
    ///         `ok` false: out of gas (stipend guard, or `gas > gasLeft`): exceptional halt.
    function sstore(uint256 original, uint256 current, uint256 newValue, bool warm, uint256 gasLeft)
        internal
        pure
        returns (bool ok, uint256 gas, int256 refund)
    {
        if (current == newValue) {
            gas = WARM_READ;
        } else if (original == current) {
            if (original == 0) {
                gas = SSTORE_SET;
            } else {
                gas = SSTORE_RESET;
                if (newValue == 0) refund += SSTORE_CLEARS;
            }
        } else {
            gas = WARM_READ;
            if (original != 0) {
                if (current == 0) refund -= SSTORE_CLEARS;
                if (newValue == 0) refund += SSTORE_CLEARS;
            }
            if (original == newValue) {
                refund += int256((original == 0 ? SSTORE_SET : SSTORE_RESET) - WARM_READ);
            }
        }
        if (!warm) gas += COLD_SLOAD;
        ok = gasLeft > STIPEND && gas <= gasLeft;
    }
}
