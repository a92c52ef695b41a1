// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {StorageGas} from "l1/contracts/osp/StorageGas.sol";

/// @notice Test-only: exposes the StorageGas library (tests/integration/test_osp_storage_gas.py).
contract StorageGasHarness {
    function sload(bool warm) external pure returns (uint256) {
        return StorageGas.sload(warm);
    }

    function sstore(uint256 original, uint256 current, uint256 newValue, bool warm, uint256 gasLeft)
        external
        pure
        returns (bool ok, uint256 gas, int256 refund)
    {
        return StorageGas.sstore(original, current, newValue, warm, gasLeft);
    }

    /// @notice Many cases in one call: fewer round trips for the property test.
    function sstoreBatch(uint256[5][] calldata cases)
        external
        pure
        returns (bool[] memory ok, uint256[] memory gas, int256[] memory refund)
    {
        ok = new bool[](cases.length);
        gas = new uint256[](cases.length);
        refund = new int256[](cases.length);
        for (uint256 i = 0; i < cases.length; i++) {
            uint256[5] calldata c = cases[i];
            (ok[i], gas[i], refund[i]) = StorageGas.sstore(c[0], c[1], c[2], c[3] != 0, c[4]);
        }
    }
}
