// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IPhaseStep
/// @notice A step contract that proves every step of one `MachineState` phase on its own
///         (docs/fraud-proofs.md 2.3 as built, 6.1): OneStepProver decodes the phase of `pre` and
///         hands `(pre, proof)` unchanged to the contract registered for that phase. The contract
///         checks the MachineState preimage against `pre` itself and reverts `Unsupported(name)`
///         (the same selector as IOneStepProver's) on a step it cannot prove.
interface IPhaseStep {
    /// @return post the state hash after one step from `pre`, given `proof`
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32 post);
}
