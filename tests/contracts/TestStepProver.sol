// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TestStepProver
/// @notice TEST DOUBLE of the one-step prover (l1/contracts/osp/IOneStepProver.sol, same ABI),
///         so the dispute game is tested on its own: the test programs the transition function.
///         step(ctx, pre, proof) returns the post state set by `setStep` for exactly that
///         (ctx, pre, proof), so a game passing a wrong context finds nothing; it reverts
///         Unsupported("UNSET") for anything not programmed. Never deploy it outside tests.
contract TestStepProver {
    struct GameContext {
        uint64 l2Block;
        uint64 entryLimit;
        uint64 createdAt;
    }

    error Unsupported(bytes32 name);

    mapping(bytes32 => bytes32) public next;

    function setStep(GameContext calldata ctx, bytes32 pre, bytes calldata proof, bytes32 post) external {
        next[_key(ctx, pre, proof)] = post;
    }

    function step(GameContext calldata ctx, bytes32 pre, bytes calldata proof) external view returns (bytes32 post) {
        post = next[_key(ctx, pre, proof)];
        if (post == bytes32(0)) revert Unsupported("UNSET");
    }

    function _key(GameContext calldata ctx, bytes32 pre, bytes calldata proof) internal pure returns (bytes32) {
        return keccak256(abi.encode(ctx.l2Block, ctx.entryLimit, ctx.createdAt, pre, keccak256(proof)));
    }
}
