// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {Keccak} from "./Keccak.sol";
import {Packed} from "./Packed.sol";

/// @title ExecCreate
/// @notice The EXEC memory sponge (docs/fraud-proofs.md 21.1): a CREATE / CREATE2 whose initcode,
///         or the RETURN of an initcode frame whose code, is above the inline bound (544 bytes) is
///         hashed by micro-steps at the opcode's pc before the opcode runs with the digest. One
///         micro-step absorbs a 136-byte block of the frame's memory (its words and depth-20
///         siblings), or pads and absorbs the final 0..135-byte tail, in the `Pending` of op SPONGE
///         (1.8) with source 0 (memory). A contract of its own for the 24 KiB limit: ExecCall
///         creates it in its constructor (no deployment change) and calls it. Twin:
///         l1/proofs/steps.py `_absorb`.
contract ExecCreate {
    using Packed for bytes;

    uint256 internal constant P_STATE = 1;
    uint256 internal constant P_ABSORBED = 201;
    uint256 internal constant P_SOURCE = 209;
    uint256 internal constant P_SRC_OFF = 210;
    uint256 internal constant P_REMAINING = 218;
    uint256 internal constant P_PURPOSE = 226;

    /// @notice One micro-step of the sponge `pd` (its checked preimage, tag included) over the memory
    ///         `memRoot`, reading the proof at `p`; returns the next `Pending` hash and the cursor.
    function absorbStep(bytes memory pd, bytes32 memRoot, bytes calldata proof, uint256 p)
        external
        pure
        returns (bytes32, uint256)
    {
        (bytes memory data, uint256 next) = _read(pd, memRoot, proof, p);
        return (_next(pd, data), next);
    }

    /// @dev The sponge after absorbing `data` (a full block, or the final tail, padded).
    function _next(bytes memory pd, bytes memory data) private pure returns (bytes32) {
        bytes memory state = new bytes(Keccak.STATE_BYTES);
        assembly {
            mcopy(add(state, 32), add(pd, add(33, P_STATE)), 200)
        }
        uint256 n = data.length;
        uint256 remaining = pd.rd(P_REMAINING, 8);
        uint256 purpose = pd.rd(P_PURPOSE, 1);
        if (remaining >= Keccak.RATE) {
            state = Keccak.absorb(state, data);
        } else {
            (state,) = Keccak.absorbFinal(state, data);
            purpose += 1; // the finished sponge: its digest is for the opcode at pc
        }
        return Keccak.pendingHash(
            state,
            uint64(pd.rd(P_ABSORBED, 8) + n),
            uint8(pd.rd(P_SOURCE, 1)),
            uint64(pd.rd(P_SRC_OFF, 8) + n),
            uint64(remaining - n),
            uint8(purpose)
        );
    }

    /// @dev The bytes this micro-step takes (a full block, or the final tail) from the memory
    ///      `memRoot` at `srcOff`: its words and siblings at `p`; the next cursor.
    function _read(bytes memory pd, bytes32 memRoot, bytes calldata proof, uint256 p)
        private
        pure
        returns (bytes memory data, uint256)
    {
        uint256 remaining = pd.rd(P_REMAINING, 8);
        uint256 n = remaining < Keccak.RATE ? remaining : Keccak.RATE;
        uint256 off = pd.rd(P_SRC_OFF, 8);
        data = new bytes(n);
        if (n == 0) return (data, p);
        bytes32[] memory ws = ExecBase.words(proof, p, ((off + n - 1) >> 5) - (off >> 5) + 1);
        bytes32 got;
        (got, p) = Buf.rangeRoot(ExecBase.MEM_DEPTH, off >> 5, ws, proof, p + 32 * ws.length);
        if (got != memRoot) revert Packed.BadPreimage("Buf");
        uint256 skip = off & 31;
        assembly {
            mcopy(add(data, 32), add(add(ws, 32), skip), n)
        }
        return (data, p);
    }
}
