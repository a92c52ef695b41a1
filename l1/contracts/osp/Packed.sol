// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Packed
/// @notice The commitments of docs/fraud-proofs.md section 1 as packed memory buffers
///         `tag ++ preimage`: a preimage is copied from the proof once, its fields are read
///         and rewritten in place at their spec offsets, and the node hash is keccak of the
///         buffer. One codec for every node type, the twin of l1/proofs/commitments.py.
library Packed {
    error BadPreimage(bytes32 what);
    error ProofTooShort();

    // node tags and preimage sizes (1.1 - 1.5)
    uint8 internal constant TAG_MS = 0x01;
    uint256 internal constant MS_SIZE = 293;
    uint8 internal constant TAG_BLOCK = 0x02;
    uint256 internal constant BLOCK_SIZE = 153;
    uint8 internal constant TAG_ACC = 0x03;
    uint256 internal constant ACC_SIZE = 148;
    uint8 internal constant TAG_FRAME = 0x46;
    uint256 internal constant FRAME_SIZE = 428;
    uint8 internal constant TAG_TX = 0x54;
    uint256 internal constant TX_SIZE = 344;
    uint8 internal constant TAG_CODE = 0x43;
    uint256 internal constant CODE_SIZE = 100;

    // MachineState field offsets
    uint256 internal constant MS_PHASE = 0;
    uint256 internal constant MS_BLOCK = 65;
    uint256 internal constant MS_JOURNAL_ROOT = 129;
    uint256 internal constant MS_JOURNAL_COUNT = 161;
    uint256 internal constant MS_ACC = 165;
    uint256 internal constant MS_TX = 197;
    uint256 internal constant MS_FRAME = 229;

    // BlockCtx
    uint256 internal constant B_NUMBER = 0;
    uint256 internal constant B_TIMESTAMP = 8;
    uint256 internal constant B_PARENT_HASH = 16;
    uint256 internal constant B_BASE_FEE = 48;

    // BlockAcc
    uint256 internal constant A_BUF_ROOT = 76;
    uint256 internal constant A_BUF_LEN = 108;

    // Frame
    uint256 internal constant F_PARENT = 0;
    uint256 internal constant F_STATIC = 35;
    uint256 internal constant F_ADDRESS = 36;
    uint256 internal constant F_CALLER = 56;
    uint256 internal constant F_VALUE = 76;
    uint256 internal constant F_CODE = 108;
    uint256 internal constant F_PC = 140;
    uint256 internal constant F_GAS = 144;
    uint256 internal constant F_STACK = 152;
    uint256 internal constant F_STACK_DEPTH = 184;
    uint256 internal constant F_MEM_ROOT = 186;
    uint256 internal constant F_MEM_WORDS = 218;
    uint256 internal constant F_CD_ROOT = 222;
    uint256 internal constant F_CD_OFF = 254;
    uint256 internal constant F_CD_LEN = 262;
    uint256 internal constant F_RD_ROOT = 270;
    uint256 internal constant F_RD_OFF = 302;
    uint256 internal constant F_RD_LEN = 310;
    uint256 internal constant F_SNAP_JOURNAL_ROOT = 334;
    uint256 internal constant F_SNAP_JOURNAL_COUNT = 366;
    uint256 internal constant F_SNAP_REFUND = 370;
    uint256 internal constant F_SNAP_BUF_LEN = 378;
    uint256 internal constant F_SNAP_LOG_COUNT = 386;
    uint256 internal constant F_SNAP_BLOOM = 390;

    // TxCtx
    uint256 internal constant T_SENDER = 34;
    uint256 internal constant T_GAS_PRICE = 186;
    uint256 internal constant T_REFUND = 290;
    uint256 internal constant T_LOG_COUNT = 306;
    uint256 internal constant T_BLOOM = 310;
    uint256 internal constant T_STATUS = 342;

    // CodeRecord
    uint256 internal constant C_CODE_ROOT = 32;
    uint256 internal constant C_JUMP_ROOT = 64;
    uint256 internal constant C_CODE_SIZE = 96;

    /// @notice Copy `size` preimage bytes at `proof[p:]` into a new `tag ++ preimage` buffer.
    function load(bytes calldata proof, uint256 p, uint8 tag, uint256 size) internal pure returns (bytes memory b) {
        if (p + size > proof.length) revert ProofTooShort();
        b = new bytes(size + 1);
        assembly {
            mstore8(add(b, 32), tag)
            calldatacopy(add(b, 33), add(proof.offset, p), size)
        }
    }

    /// @notice `load`, then check the buffer hashes to `expected`.
    function loadChecked(bytes calldata proof, uint256 p, uint8 tag, uint256 size, bytes32 expected, bytes32 what)
        internal
        pure
        returns (bytes memory b)
    {
        b = load(proof, p, tag, size);
        if (keccak256(b) != expected) revert BadPreimage(what);
    }

    /// @notice Unsigned big-endian field of `size` bytes at preimage offset `off`.
    function rd(bytes memory b, uint256 off, uint256 size) internal pure returns (uint256 v) {
        assembly {
            v := shr(sub(256, mul(8, size)), mload(add(add(b, 33), off)))
        }
    }

    function rd32(bytes memory b, uint256 off) internal pure returns (bytes32 v) {
        assembly {
            v := mload(add(add(b, 33), off))
        }
    }

    /// @notice Overwrite the `size`-byte field at preimage offset `off` with the low bytes of `v`.
    function wr(bytes memory b, uint256 off, uint256 size, uint256 v) internal pure {
        assembly {
            let ptr := add(add(b, 33), off)
            let shift := sub(256, mul(8, size))
            let mask := shl(shift, sub(shl(mul(8, size), 1), 1))
            mstore(ptr, or(and(mload(ptr), not(mask)), and(shl(shift, v), mask)))
        }
    }

    function wr32(bytes memory b, uint256 off, bytes32 v) internal pure {
        assembly {
            mstore(add(add(b, 33), off), v)
        }
    }
}
