// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {Packed} from "./Packed.sol";

using Packed for bytes;

/// @title ExecBase
/// @notice What the EXEC step contracts share (docs/fraud-proofs.md 2.3): the decoded step `S`
///         and the proof readers over it (word ranges of a tree, the TxCtx / BlockAcc
///         preimages). OneStepProver decodes and dispatches; ExecWorld (the world-state
///         opcodes, a contract of its own for the 24 KiB limit) receives `S` and continues
///         reading the same proof at `S.p`.
library ExecBase {
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant INLINE = 544;

    /// @dev The proven parts of one EXEC step.
    struct S {
        bytes ms;
        bytes fr;
        bytes code;
        uint256 p; // proof cursor
        uint256 op;
        uint256 pc;
        uint256 nextPc;
        uint256 gas;
        uint256 depth;
        uint256 pops;
        uint256[] items; // top first
        bytes32 below;
        uint256[] out; // pushed results, top first
        uint256 memWords;
        bytes32 memRoot;
        uint256 push; // PUSHn immediate
        uint256 outOff; // RETURN / REVERT output view
        uint256 outLen;
    }

    /// @dev Reads and proves the words covering bytes [off, off+size) of a tree with `root`.
    function range(S memory s, bytes calldata proof, bytes32 root, uint256 depth, uint256 off, uint256 size)
        internal
        pure
        returns (bytes32[] memory ws)
    {
        ws = words(proof, s.p, ((off + size - 1) >> 5) - (off >> 5) + 1);
        bytes32 got;
        (got, s.p) = Buf.rangeRoot(depth, off >> 5, ws, proof, s.p + 32 * ws.length);
        if (got != root) revert Packed.BadPreimage("Buf");
    }

    function words(bytes calldata proof, uint256 p, uint256 count) internal pure returns (bytes32[] memory ws) {
        ws = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            ws[i] = w(proof, p + 32 * i);
        }
    }

    /// @dev The 32-byte word at `proof[p:]`.
    function w(bytes calldata proof, uint256 p) internal pure returns (bytes32 v) {
        if (p + 32 > proof.length) revert Packed.ProofTooShort();
        assembly {
            v := calldataload(add(proof.offset, p))
        }
    }

    function loadTx(S memory s, bytes calldata proof) internal pure returns (bytes memory t) {
        t = Packed.loadChecked(proof, s.p, Packed.TAG_TX, Packed.TX_SIZE, s.ms.rd32(Packed.MS_TX), "TxCtx");
        s.p += Packed.TX_SIZE;
    }

    /// @notice An MPT proof's `bytes[]` encoding is not the canonical ABI one.
    error NonCanonicalNodes();

    /// @dev An MPT proof inside a step proof: `u32 length ++` the ABI tail of a `bytes[]` (its
    ///      length word, offsets, items), read in place as the `bytes[] calldata` MptUpdate takes;
    ///      only the canonical encoding is accepted, so no two proofs of one step differ. Shared by
    ///      ExecWorld (LOADs) and ExecTx (COMMIT).
    function nodes(bytes calldata proof, uint256 p) internal pure returns (bytes[] calldata ns, uint256 next) {
        if (p + 4 > proof.length) revert Packed.ProofTooShort();
        uint256 len = uint32(bytes4(proof[p:p + 4]));
        if (p + 4 + len > proof.length) revert Packed.ProofTooShort();
        bytes calldata body = proof[p + 4:p + 4 + len];
        if (len < 32) revert Packed.ProofTooShort();
        uint256 n = uint256(bytes32(body[0:32]));
        if (n > len / 32) revert NonCanonicalNodes();
        uint256 expect = 32 * n; // item offsets count from the end of the length word
        for (uint256 i = 0; i < n; i++) {
            if (uint256(bytes32(body[32 + 32 * i:64 + 32 * i])) != expect) revert NonCanonicalNodes();
            uint256 l = uint256(bytes32(body[32 + expect:64 + expect]));
            if (l > len) revert NonCanonicalNodes();
            uint256 padded = (l + 31) & ~uint256(31);
            if (padded > l) {
                uint256 last = 64 + expect + padded - 32;
                if (uint256(bytes32(body[last:last + 32])) & ((1 << (8 * (padded - l))) - 1) != 0) {
                    revert NonCanonicalNodes();
                }
            }
            expect += 32 + padded;
        }
        if (32 + expect != len) revert NonCanonicalNodes();
        assembly {
            ns.length := n
            ns.offset := add(body.offset, 32)
        }
        next = p + 4 + len;
    }

    /// @dev `u32 length ++ bytes` at `proof[p:]`, as a calldata slice.
    function sized(bytes calldata proof, uint256 p) internal pure returns (bytes calldata b, uint256 next) {
        if (p + 4 > proof.length) revert Packed.ProofTooShort();
        uint256 len = uint32(bytes4(proof[p:p + 4]));
        if (p + 4 + len > proof.length) revert Packed.ProofTooShort();
        b = proof[p + 4:p + 4 + len];
        next = p + 4 + len;
    }

    function loadAcc(S memory s, bytes calldata proof) internal pure returns (bytes memory a) {
        a = Packed.loadChecked(proof, s.p, Packed.TAG_ACC, Packed.ACC_SIZE, s.ms.rd32(Packed.MS_ACC), "BlockAcc");
        s.p += Packed.ACC_SIZE;
    }
}
