// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./osp/Buf.sol";

/// @title CodeOracle
/// @notice Code records for the one-step prover (docs/fraud-proofs.md 1.4.3, D4): anyone
///         registers a code once, the contract itself computes its size, its depth-11 word
///         tree root and the root of its JUMPDEST bitmap, so a step proves a code word or a
///         jump destination with 11 siblings instead of carrying up to 24 KiB of code.
contract CodeOracle {
    uint256 public constant CODE_DEPTH = 11;
    /// @notice The initcode limit (EIP-3860); every runtime code (24 KiB) fits too.
    uint256 public constant MAX_CODE_SIZE = 49152;
    bytes32 internal constant EMPTY_CODE_HASH = keccak256("");

    struct Record {
        bool registered;
        uint32 size;
        bytes32 codeRoot;
        bytes32 jumpRoot;
    }

    mapping(bytes32 => Record) internal records;

    event CodeRegistered(bytes32 indexed codeHash, uint256 size, bytes32 codeRoot, bytes32 jumpRoot);

    error CodeTooLarge(uint256 size);

    /// @notice Register `code` (idempotent: a second call for the same code changes nothing).
    function register(bytes calldata code) external returns (bytes32 codeHash) {
        codeHash = keccak256(code);
        if (records[codeHash].registered) return codeHash;
        if (code.length > MAX_CODE_SIZE) revert CodeTooLarge(code.length);
        bytes memory c = code;
        bytes32 codeRoot = Buf.rootOf(CODE_DEPTH, c);
        bytes32 jumpRoot = Buf.rootOf(CODE_DEPTH, jumpdests(c));
        records[codeHash] = Record(true, uint32(code.length), codeRoot, jumpRoot);
        emit CodeRegistered(codeHash, code.length, codeRoot, jumpRoot);
    }

    /// @notice The record of `codeHash`; the empty code is known without registration.
    function get(bytes32 codeHash) external view returns (bool known, uint256 size, bytes32 codeRoot, bytes32 jumpRoot) {
        if (codeHash == EMPTY_CODE_HASH) {
            bytes32 z = Buf.zero(CODE_DEPTH);
            return (true, 0, z, z);
        }
        Record storage r = records[codeHash];
        return (r.registered, r.size, r.codeRoot, r.jumpRoot);
    }

    /// @notice The frame's `code` field for a known code: H(0x43 ++ codeHash ++ codeRoot ++ jumpRoot ++ u32 size).
    function recordHash(bytes32 codeHash) external view returns (bytes32) {
        (bool known, uint256 size, bytes32 codeRoot, bytes32 jumpRoot) = this.get(codeHash);
        require(known, "unknown code");
        return keccak256(abi.encodePacked(uint8(0x43), codeHash, codeRoot, jumpRoot, uint32(size)));
    }

    /// @notice JUMPDEST bitmap: bit 7 - i % 8 of byte i / 8 is set iff byte i is 0x5b outside PUSH data.
    function jumpdests(bytes memory code) public pure returns (bytes memory bitmap) {
        uint256 n = code.length;
        bitmap = new bytes((n + 7) / 8);
        assembly {
            let src := add(code, 32)
            let dst := add(bitmap, 32)
            let i := 0
            for {} lt(i, n) {} {
                let op := byte(0, mload(add(src, i)))
                if eq(op, 0x5b) {
                    let at := add(dst, shr(3, i))
                    mstore8(at, or(byte(0, mload(at)), shr(and(i, 7), 0x80)))
                }
                // PUSH1..PUSH32 skip their immediate: sub wraps below 0x60, so lt is false there
                i := add(i, add(1, mul(lt(sub(op, 0x60), 0x20), sub(op, 0x5f))))
            }
        }
    }
}
