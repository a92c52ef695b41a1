// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";

/// @title CommitmentsView
/// @notice Read-only entry points to the prover's hashing, so the Python prover (and the
///         vectors of docs/vectors/fraud-proofs.json) can be checked against the Solidity
///         twin: node hashes by tag with their fixed preimage sizes, the stack chain, Buf roots.
contract CommitmentsView {
    error BadSize(uint8 tag, uint256 size);

    /// @notice Preimage size of node type `tag` (pending: by its op byte).
    function sizeOf(uint8 tag, bytes calldata preimage) public pure returns (uint256) {
        if (tag == 0x4d) return 20; // Cursor
        if (tag == 0x42) return 72; // BlockClaim
        if (tag == 0x01) return 293; // MachineState
        if (tag == 0x45) return 45; // EntryCtx
        if (tag == 0x02) return 153; // BlockCtx
        if (tag == 0x03) return 148; // BlockAcc
        if (tag == 0x52) return 294; // TxRecord
        if (tag == 0x46) return 428; // Frame
        if (tag == 0x54) return 344; // TxCtx
        if (tag == 0x43) return 100; // CodeRecord
        if (tag == 0x50 && preimage.length > 0) {
            uint8 op = uint8(preimage[0]);
            if (op == 1) return 27; // COPY
            if (op == 2) return 227; // SPONGE
            if (op == 3) return 25; // LOGDATA
            if (op == 4) return 43; // COMMIT (WorldState.CommitCursor)
        }
        revert BadSize(tag, preimage.length);
    }

    /// @notice H(tag ++ preimage), checking the preimage has its type's size.
    function nodeHash(uint8 tag, bytes calldata preimage) external pure returns (bytes32) {
        if (preimage.length != sizeOf(tag, preimage)) revert BadSize(tag, preimage.length);
        return keccak256(abi.encodePacked(tag, preimage));
    }

    /// @notice The stack hash chain (1.4.1) of `items`, bottom first.
    function stackHash(uint256[] calldata items) external pure returns (bytes32 h) {
        for (uint256 i = 0; i < items.length; i++) {
            h = keccak256(abi.encodePacked(h, items[i]));
        }
    }

    /// @notice The root of a depth-`depth` Buf holding `data` from word 0.
    function bufRoot(uint256 depth, bytes calldata data) external pure returns (bytes32) {
        return Buf.rootOf(depth, data);
    }

    /// @notice The root implied by consecutive `words` at `first` and their boundary siblings.
    function bufRangeRoot(uint256 depth, uint256 first, bytes32[] calldata words, bytes calldata siblings)
        external
        pure
        returns (bytes32 root)
    {
        (root,) = Buf.rangeRoot(depth, first, words, siblings, 0);
    }
}
