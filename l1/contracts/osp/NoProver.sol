// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";

/// @title NoProver
/// @notice Placeholder one-step prover for deployments made before the real one exists: it
///         refuses every step by name, so no one-step proof can ever win a game with it (games
///         still end by timeout). Never replace it by a prover that accepts anything.
contract NoProver is IOneStepProver {
    function step(GameContext calldata, bytes32, bytes calldata) external pure returns (bytes32) {
        revert Unsupported("NOT_BUILT");
    }
}
