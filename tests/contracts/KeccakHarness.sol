// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Keccak} from "l1/contracts/osp/Keccak.sol";

/// @title KeccakHarness
/// @notice Test-only: exposes the Keccak sponge library one micro-step per call
///         (tests/integration/test_osp_keccak.py), and measures a permutation's gas.
contract KeccakHarness {
    function empty() external pure returns (bytes memory) {
        return Keccak.empty();
    }

    function absorb(bytes memory state, bytes memory block_) external pure returns (bytes memory) {
        return Keccak.absorb(state, block_);
    }

    function absorbFinal(bytes memory state, bytes memory tail)
        external
        pure
        returns (bytes memory finalState, bytes32 digest)
    {
        return Keccak.absorbFinal(state, tail);
    }

    function pad(bytes memory tail) external pure returns (bytes memory) {
        return Keccak.pad(tail);
    }

    function pendingHash(
        bytes memory state,
        uint64 absorbed,
        uint8 source,
        uint64 srcOff,
        uint64 remaining,
        uint8 purpose
    ) external pure returns (bytes32) {
        return Keccak.pendingHash(state, absorbed, source, srcOff, remaining, purpose);
    }

    /// @return next the permuted state
    /// @return gasUsed gas of `Keccak.permute` alone (gasleft before and after, in this frame)
    function permuteGas(bytes memory state) external view returns (bytes memory next, uint256 gasUsed) {
        uint256 before = gasleft();
        next = Keccak.permute(state);
        gasUsed = before - gasleft();
    }

    /// @return next the state after absorbing `block_`
    /// @return gasUsed gas of `Keccak.absorb` alone
    function absorbGas(bytes memory state, bytes memory block_)
        external
        view
        returns (bytes memory next, uint256 gasUsed)
    {
        uint256 before = gasleft();
        next = Keccak.absorb(state, block_);
        gasUsed = before - gasleft();
    }

    /// @notice A whole message, block by block inside one call (checks that memory stays intact
    ///         across permutations: the region saved and restored around each).
    function hashAll(bytes memory message) external pure returns (bytes32 digest) {
        bytes memory state = Keccak.empty();
        uint256 full = message.length / Keccak.RATE;
        for (uint256 k = 0; k < full; k++) {
            bytes memory blk = new bytes(Keccak.RATE);
            for (uint256 i = 0; i < Keccak.RATE; i++) {
                blk[i] = message[k * Keccak.RATE + i];
            }
            state = Keccak.absorb(state, blk);
        }
        bytes memory tail = new bytes(message.length - full * Keccak.RATE);
        for (uint256 i = 0; i < tail.length; i++) {
            tail[i] = message[full * Keccak.RATE + i];
        }
        (, digest) = Keccak.absorbFinal(state, tail);
    }
}
