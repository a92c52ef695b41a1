// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title EnvReads
/// @notice Test contract of the one-step proofs of BLOCKHASH and EXTCODECOPY
///         (tests/integration/test_osp_env_reads.py, docs/fraud-proofs.md 20): each function runs
///         the opcode on the arguments it is given and returns what it read, so a real py-evm
///         trace shows every range case and the transaction's output checks the values.
contract EnvReads {
    /// @notice BLOCKHASH of number - 1, number - 256, number - 257, number and a far future block.
    function hashes() external view returns (bytes32[5] memory out) {
        uint256 n = block.number;
        out[0] = blockhash(n - 1);
        out[1] = blockhash(n - 256);
        out[2] = blockhash(n - 257);
        out[3] = blockhash(n);
        out[4] = blockhash(n + 1_000_000);
    }

    /// @notice BLOCKHASH of each block number given.
    function hashesOf(uint256[] calldata ns) external view returns (bytes32[] memory out) {
        out = new bytes32[](ns.length);
        for (uint256 i = 0; i < ns.length; i++) {
            out[i] = blockhash(ns[i]);
        }
    }

    /// @notice EXTCODECOPY of `len` bytes of `a`'s code from `off` (zero past its end).
    function copy(address a, uint256 off, uint256 len) external view returns (bytes memory out) {
        out = new bytes(len);
        assembly {
            extcodecopy(a, add(out, 32), off, len)
        }
    }

    /// @notice EXTCODECOPY of the same account twice (cold, then warm) into one buffer.
    function copyTwice(address a, uint256 off, uint256 len) external view returns (bytes memory out) {
        out = new bytes(2 * len);
        assembly {
            extcodecopy(a, add(out, 32), off, len)
            extcodecopy(a, add(add(out, 32), len), off, len)
        }
    }
}
