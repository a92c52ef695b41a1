// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title IOneStepProver
/// @notice The one-step verifier as the dispute game sees it (docs/fraud-proofs.md 1.1, 2, 4.1):
///         a pure function from an agreed state hash and a proof to the next state hash.
///         It reverts `Unsupported(name)` on a step it cannot prove yet, never guesses.
interface IOneStepProver {
    /// @notice The constants of one dispute a step may depend on.
    /// @param l2Block the disputed L2 block number (the block built between the two agreed claims)
    /// @param entryLimit the disputed assertion's inbox entry count (a cursor there steps to itself)
    /// @param createdAt the disputed assertion's creation time (Inbox.invalid is trusted only
    ///        after createdAt + INVALIDATION_WINDOW)
    struct GameContext {
        uint64 l2Block;
        uint64 entryLimit;
        uint64 createdAt;
    }

    error Unsupported(bytes32 name);

    /// @return post the state hash after one step from `pre`, given `proof` (preimages and paths)
    function step(GameContext calldata ctx, bytes32 pre, bytes calldata proof) external view returns (bytes32 post);
}
