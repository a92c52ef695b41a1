// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Keccak
/// @notice Keccak-256 as a resumable sponge, for hashes too long for one proof step
///         (docs/fraud-proofs.md D6, 1.8 op SPONGE, section 9). A micro-step absorbs one 136-byte
///         block; between steps only the 200-byte state is carried, committed in `Pending`.
///         Python twin: l1/proofs/sponge.py.
/// @dev State encoding (FIPS 202): lane i = x + 5y at bytes 8i .. 8i+8, little-endian. Absorbing is
///      then an XOR into bytes 0..136 and the digest is bytes 0..32 of the final state.
///      The permutation runs at fixed memory addresses [0, 0x940) so every lane access is one
///      PUSH2 + MLOAD/MSTORE; that region (scratch, free pointer, zero slot, and whatever Solidity
///      had allocated there) is saved with MCOPY before and restored after, and nothing but this
///      assembly runs in between. Lanes are clean 64-bit values in 256-bit words (XOR, AND, NOT
///      then AND keep them clean); a rotation by n doubles the lane with a MUL by K = 2^64 + 1 and
///      cuts bits 64-n .. 128-n out with SHL, SHR: 6 opcodes. K lives on the stack of the Yul
///      function `rounds` (a literal would be re-expanded by the constant optimizer into 5 opcodes).
///      The round body is unrolled from sponge.py's tables: output row y, column x is
///      B[x, y] = rol(A[x', x] ^ D[x'], r[x' + 5x]) with x' = 3(y - 3x) mod 5 (pi inverted),
///      then chi; tests/integration/test_osp_keccak.py checks it against the twin and eth_hash.
library Keccak {
    uint256 internal constant RATE = 136;
    uint256 internal constant STATE_BYTES = 200;
    uint8 internal constant PENDING_TAG = 0x50;
    uint8 internal constant OP_SPONGE = 2;

    error BadStateLength(uint256 length);
    error BadBlockLength(uint256 length);
    error BadTailLength(uint256 length);

    /// @return the state of a sponge that has absorbed nothing (200 zero bytes)
    function empty() internal pure returns (bytes memory) {
        return new bytes(STATE_BYTES);
    }

    /// @notice One micro-step: XOR a full 136-byte block into the rate, then keccak-f[1600].
    function absorb(bytes memory state, bytes memory block_) internal pure returns (bytes memory) {
        if (block_.length != RATE) revert BadBlockLength(block_.length);
        return _permute(state, block_, true);
    }

    /// @notice keccak-f[1600] on the 200-byte state encoding.
    function permute(bytes memory state) internal pure returns (bytes memory) {
        return _permute(state, state, false);
    }

    /// @notice The last block of Keccak-256: `tail` (0..135 bytes), then the multi-rate padding
    ///         0x01 .. 0x80 of original Keccak (not SHA3's 0x06); 0x81 when a single byte is left.
    function pad(bytes memory tail) internal pure returns (bytes memory block_) {
        uint256 n = tail.length;
        if (n >= RATE) revert BadTailLength(n);
        block_ = new bytes(RATE);
        for (uint256 i = 0; i < n; i++) {
            block_[i] = tail[i];
        }
        block_[n] = 0x01;
        block_[RATE - 1] = bytes1(uint8(block_[RATE - 1]) | 0x80);
    }

    /// @notice The last micro-step: pad and absorb `tail`; returns the final state and its digest.
    function absorbFinal(bytes memory state, bytes memory tail)
        internal
        pure
        returns (bytes memory finalState, bytes32 digest)
    {
        finalState = absorb(state, pad(tail));
        digest = squeeze(finalState);
    }

    /// @return digest bytes 0..32 of a state whose last absorbed block was padded
    function squeeze(bytes memory state) internal pure returns (bytes32 digest) {
        if (state.length != STATE_BYTES) revert BadStateLength(state.length);
        assembly {
            digest := mload(add(state, 32))
        }
    }

    /// @notice `Pending` of op SPONGE (docs/fraud-proofs.md 1.8): H(0x50 ++ u8 2 ++ state[200]
    ///         ++ u64 absorbed ++ u8 source ++ u64 srcOff ++ u64 remaining ++ u8 purpose).
    function pendingHash(
        bytes memory state,
        uint64 absorbed,
        uint8 source,
        uint64 srcOff,
        uint64 remaining,
        uint8 purpose
    ) internal pure returns (bytes32) {
        if (state.length != STATE_BYTES) revert BadStateLength(state.length);
        return keccak256(
            abi.encodePacked(PENDING_TAG, OP_SPONGE, state, absorbed, source, srcOff, remaining, purpose)
        );
    }

    /// @dev XOR `block_` into the rate when `withBlock`, permute, return a new 200-byte state.
    ///      Memory: out = free pointer (256 bytes, allocated at the end); above max(fp, 0x940):
    ///      the saved region (0x940 bytes), then a 224-byte working copy of the state.
    function _permute(bytes memory state, bytes memory block_, bool withBlock)
        private
        pure
        returns (bytes memory out)
    {
        if (state.length != STATE_BYTES) revert BadStateLength(state.length);
        assembly {
            // Reverses the bytes of each 64-bit lane of a word: 4 little-endian lanes <-> values.
            function swap64(w) -> v {
                v := or(
                    shl(8, and(w, 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff)),
                    and(shr(8, w), 0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff)
                )
                v := or(
                    shl(16, and(v, 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff)),
                    and(shr(16, v), 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff)
                )
                v := or(
                    shl(32, and(v, 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff)),
                    and(shr(32, v), 0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff)
                )
            }

            // 24 rounds, two per iteration: P (0x000) -> Q (0x320) with RC[2i], Q -> P with RC[2i+1].
            // Row by row: the five B lanes of a row (theta, rho, pi) are formed on the stack from the
            // source buffer, chi and iota write the row into the other one: no B buffer is needed.
            function rounds(K) {
                for { let r := 0 } lt(r, 0x300) { r := add(r, 0x40) } {
                    {
                        let d0, d1, d2, d3, d4
                        {
                            let c0 := xor(xor(xor(xor(mload(0x0), mload(0xa0)), mload(0x140)), mload(0x1e0)), mload(0x280))
                            let c1 := xor(xor(xor(xor(mload(0x20), mload(0xc0)), mload(0x160)), mload(0x200)), mload(0x2a0))
                            let c2 := xor(xor(xor(xor(mload(0x40), mload(0xe0)), mload(0x180)), mload(0x220)), mload(0x2c0))
                            let c3 := xor(xor(xor(xor(mload(0x60), mload(0x100)), mload(0x1a0)), mload(0x240)), mload(0x2e0))
                            let c4 := xor(xor(xor(xor(mload(0x80), mload(0x120)), mload(0x1c0)), mload(0x260)), mload(0x300))
                            d0 := xor(c4, shr(192, shl(129, mul(c1, K))))
                            d1 := xor(c0, shr(192, shl(129, mul(c2, K))))
                            d2 := xor(c1, shr(192, shl(129, mul(c3, K))))
                            d3 := xor(c2, shr(192, shl(129, mul(c4, K))))
                            d4 := xor(c3, shr(192, shl(129, mul(c0, K))))
                        }
                        {
                            let b0 := xor(mload(0x0), d0)
                            let b1 := shr(192, shl(172, mul(xor(mload(0xc0), d1), K)))
                            let b2 := shr(192, shl(171, mul(xor(mload(0x180), d2), K)))
                            let b3 := shr(192, shl(149, mul(xor(mload(0x240), d3), K)))
                            let b4 := shr(192, shl(142, mul(xor(mload(0x300), d4), K)))
                            mstore(0x320, xor(xor(b0, and(not(b1), b2)), mload(add(0x640, r))))
                            mstore(0x340, xor(b1, and(not(b2), b3)))
                            mstore(0x360, xor(b2, and(not(b3), b4)))
                            mstore(0x380, xor(b3, and(not(b4), b0)))
                            mstore(0x3a0, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(156, mul(xor(mload(0x60), d3), K)))
                            let b1 := shr(192, shl(148, mul(xor(mload(0x120), d4), K)))
                            let b2 := shr(192, shl(131, mul(xor(mload(0x140), d0), K)))
                            let b3 := shr(192, shl(173, mul(xor(mload(0x200), d1), K)))
                            let b4 := shr(192, shl(189, mul(xor(mload(0x2c0), d2), K)))
                            mstore(0x3c0, xor(b0, and(not(b1), b2)))
                            mstore(0x3e0, xor(b1, and(not(b2), b3)))
                            mstore(0x400, xor(b2, and(not(b3), b4)))
                            mstore(0x420, xor(b3, and(not(b4), b0)))
                            mstore(0x440, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(129, mul(xor(mload(0x20), d1), K)))
                            let b1 := shr(192, shl(134, mul(xor(mload(0xe0), d2), K)))
                            let b2 := shr(192, shl(153, mul(xor(mload(0x1a0), d3), K)))
                            let b3 := shr(192, shl(136, mul(xor(mload(0x260), d4), K)))
                            let b4 := shr(192, shl(146, mul(xor(mload(0x280), d0), K)))
                            mstore(0x460, xor(b0, and(not(b1), b2)))
                            mstore(0x480, xor(b1, and(not(b2), b3)))
                            mstore(0x4a0, xor(b2, and(not(b3), b4)))
                            mstore(0x4c0, xor(b3, and(not(b4), b0)))
                            mstore(0x4e0, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(155, mul(xor(mload(0x80), d4), K)))
                            let b1 := shr(192, shl(164, mul(xor(mload(0xa0), d0), K)))
                            let b2 := shr(192, shl(138, mul(xor(mload(0x160), d1), K)))
                            let b3 := shr(192, shl(143, mul(xor(mload(0x220), d2), K)))
                            let b4 := shr(192, shl(184, mul(xor(mload(0x2e0), d3), K)))
                            mstore(0x500, xor(b0, and(not(b1), b2)))
                            mstore(0x520, xor(b1, and(not(b2), b3)))
                            mstore(0x540, xor(b2, and(not(b3), b4)))
                            mstore(0x560, xor(b3, and(not(b4), b0)))
                            mstore(0x580, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(190, mul(xor(mload(0x40), d2), K)))
                            let b1 := shr(192, shl(183, mul(xor(mload(0x100), d3), K)))
                            let b2 := shr(192, shl(167, mul(xor(mload(0x1c0), d4), K)))
                            let b3 := shr(192, shl(169, mul(xor(mload(0x1e0), d0), K)))
                            let b4 := shr(192, shl(130, mul(xor(mload(0x2a0), d1), K)))
                            mstore(0x5a0, xor(b0, and(not(b1), b2)))
                            mstore(0x5c0, xor(b1, and(not(b2), b3)))
                            mstore(0x5e0, xor(b2, and(not(b3), b4)))
                            mstore(0x600, xor(b3, and(not(b4), b0)))
                            mstore(0x620, xor(b4, and(not(b0), b1)))
                        }
                    }
                    {
                        let d0, d1, d2, d3, d4
                        {
                            let c0 := xor(xor(xor(xor(mload(0x320), mload(0x3c0)), mload(0x460)), mload(0x500)), mload(0x5a0))
                            let c1 := xor(xor(xor(xor(mload(0x340), mload(0x3e0)), mload(0x480)), mload(0x520)), mload(0x5c0))
                            let c2 := xor(xor(xor(xor(mload(0x360), mload(0x400)), mload(0x4a0)), mload(0x540)), mload(0x5e0))
                            let c3 := xor(xor(xor(xor(mload(0x380), mload(0x420)), mload(0x4c0)), mload(0x560)), mload(0x600))
                            let c4 := xor(xor(xor(xor(mload(0x3a0), mload(0x440)), mload(0x4e0)), mload(0x580)), mload(0x620))
                            d0 := xor(c4, shr(192, shl(129, mul(c1, K))))
                            d1 := xor(c0, shr(192, shl(129, mul(c2, K))))
                            d2 := xor(c1, shr(192, shl(129, mul(c3, K))))
                            d3 := xor(c2, shr(192, shl(129, mul(c4, K))))
                            d4 := xor(c3, shr(192, shl(129, mul(c0, K))))
                        }
                        {
                            let b0 := xor(mload(0x320), d0)
                            let b1 := shr(192, shl(172, mul(xor(mload(0x3e0), d1), K)))
                            let b2 := shr(192, shl(171, mul(xor(mload(0x4a0), d2), K)))
                            let b3 := shr(192, shl(149, mul(xor(mload(0x560), d3), K)))
                            let b4 := shr(192, shl(142, mul(xor(mload(0x620), d4), K)))
                            mstore(0x0, xor(xor(b0, and(not(b1), b2)), mload(add(0x660, r))))
                            mstore(0x20, xor(b1, and(not(b2), b3)))
                            mstore(0x40, xor(b2, and(not(b3), b4)))
                            mstore(0x60, xor(b3, and(not(b4), b0)))
                            mstore(0x80, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(156, mul(xor(mload(0x380), d3), K)))
                            let b1 := shr(192, shl(148, mul(xor(mload(0x440), d4), K)))
                            let b2 := shr(192, shl(131, mul(xor(mload(0x460), d0), K)))
                            let b3 := shr(192, shl(173, mul(xor(mload(0x520), d1), K)))
                            let b4 := shr(192, shl(189, mul(xor(mload(0x5e0), d2), K)))
                            mstore(0xa0, xor(b0, and(not(b1), b2)))
                            mstore(0xc0, xor(b1, and(not(b2), b3)))
                            mstore(0xe0, xor(b2, and(not(b3), b4)))
                            mstore(0x100, xor(b3, and(not(b4), b0)))
                            mstore(0x120, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(129, mul(xor(mload(0x340), d1), K)))
                            let b1 := shr(192, shl(134, mul(xor(mload(0x400), d2), K)))
                            let b2 := shr(192, shl(153, mul(xor(mload(0x4c0), d3), K)))
                            let b3 := shr(192, shl(136, mul(xor(mload(0x580), d4), K)))
                            let b4 := shr(192, shl(146, mul(xor(mload(0x5a0), d0), K)))
                            mstore(0x140, xor(b0, and(not(b1), b2)))
                            mstore(0x160, xor(b1, and(not(b2), b3)))
                            mstore(0x180, xor(b2, and(not(b3), b4)))
                            mstore(0x1a0, xor(b3, and(not(b4), b0)))
                            mstore(0x1c0, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(155, mul(xor(mload(0x3a0), d4), K)))
                            let b1 := shr(192, shl(164, mul(xor(mload(0x3c0), d0), K)))
                            let b2 := shr(192, shl(138, mul(xor(mload(0x480), d1), K)))
                            let b3 := shr(192, shl(143, mul(xor(mload(0x540), d2), K)))
                            let b4 := shr(192, shl(184, mul(xor(mload(0x600), d3), K)))
                            mstore(0x1e0, xor(b0, and(not(b1), b2)))
                            mstore(0x200, xor(b1, and(not(b2), b3)))
                            mstore(0x220, xor(b2, and(not(b3), b4)))
                            mstore(0x240, xor(b3, and(not(b4), b0)))
                            mstore(0x260, xor(b4, and(not(b0), b1)))
                        }
                        {
                            let b0 := shr(192, shl(190, mul(xor(mload(0x360), d2), K)))
                            let b1 := shr(192, shl(183, mul(xor(mload(0x420), d3), K)))
                            let b2 := shr(192, shl(167, mul(xor(mload(0x4e0), d4), K)))
                            let b3 := shr(192, shl(169, mul(xor(mload(0x500), d0), K)))
                            let b4 := shr(192, shl(130, mul(xor(mload(0x5c0), d1), K)))
                            mstore(0x280, xor(b0, and(not(b1), b2)))
                            mstore(0x2a0, xor(b1, and(not(b2), b3)))
                            mstore(0x2c0, xor(b2, and(not(b3), b4)))
                            mstore(0x2e0, xor(b3, and(not(b4), b0)))
                            mstore(0x300, xor(b4, and(not(b0), b1)))
                        }
                    }
                }
            }

            let region := 0x940
            out := mload(0x40)
            let save := out
            if lt(save, region) { save := region }
            let work := add(save, region)
            mcopy(save, 0, region)
            mcopy(work, add(state, 32), 200)
            mstore(add(work, 200), 0)
            if withBlock {
                let src := add(block_, 32)
                mstore(work, xor(mload(work), mload(src)))
                mstore(add(work, 0x20), xor(mload(add(work, 0x20)), mload(add(src, 0x20))))
                mstore(add(work, 0x40), xor(mload(add(work, 0x40)), mload(add(src, 0x40))))
                mstore(add(work, 0x60), xor(mload(add(work, 0x60)), mload(add(src, 0x60))))
                mstore(
                    add(work, 0x80),
                    xor(mload(add(work, 0x80)), and(mload(add(src, 0x80)), shl(192, 0xffffffffffffffff)))
                )
            }
            // Lanes 4k .. 4k+3 from word k of the working copy into the P buffer at 0x000.
            for { let k := 0 } lt(k, 7) { k := add(k, 1) } {
                let w := swap64(mload(add(work, shl(5, k))))
                let dst := shl(7, k)
                mstore(dst, shr(192, w))
                mstore(add(dst, 0x20), and(shr(128, w), 0xffffffffffffffff))
                mstore(add(dst, 0x40), and(shr(64, w), 0xffffffffffffffff))
                mstore(add(dst, 0x60), and(w, 0xffffffffffffffff))
            }
            // Round constants at 0x640 + 32r (word 6 also wrote "lanes" 25..27 into Q: overwritten).
            mstore(0x640, 0x0000000000000001)
            mstore(0x660, 0x0000000000008082)
            mstore(0x680, 0x800000000000808a)
            mstore(0x6a0, 0x8000000080008000)
            mstore(0x6c0, 0x000000000000808b)
            mstore(0x6e0, 0x0000000080000001)
            mstore(0x700, 0x8000000080008081)
            mstore(0x720, 0x8000000000008009)
            mstore(0x740, 0x000000000000008a)
            mstore(0x760, 0x0000000000000088)
            mstore(0x780, 0x0000000080008009)
            mstore(0x7a0, 0x000000008000000a)
            mstore(0x7c0, 0x000000008000808b)
            mstore(0x7e0, 0x800000000000008b)
            mstore(0x800, 0x8000000000008089)
            mstore(0x820, 0x8000000000008003)
            mstore(0x840, 0x8000000000008002)
            mstore(0x860, 0x8000000000000080)
            mstore(0x880, 0x000000000000800a)
            mstore(0x8a0, 0x800000008000000a)
            mstore(0x8c0, 0x8000000080008081)
            mstore(0x8e0, 0x8000000000008080)
            mstore(0x900, 0x0000000080000001)
            mstore(0x920, 0x8000000080008008)
            rounds(0x10000000000000001)
            // Back to little-endian bytes in the working copy, restore the region, copy out.
            for { let k := 0 } lt(k, 7) { k := add(k, 1) } {
                let src := shl(7, k)
                let w := or(
                    or(shl(192, and(mload(src), 0xffffffffffffffff)), shl(128, and(mload(add(src, 0x20)), 0xffffffffffffffff))),
                    or(shl(64, and(mload(add(src, 0x40)), 0xffffffffffffffff)), and(mload(add(src, 0x60)), 0xffffffffffffffff))
                )
                if eq(k, 6) { w := and(w, shl(192, 0xffffffffffffffff)) }
                mstore(add(work, shl(5, k)), swap64(w))
            }
            mcopy(0, save, region)
            mstore(out, 200)
            mcopy(add(out, 32), work, 224)
            mstore(0x40, add(out, 256))
        }
    }
}
