// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Buf
/// @notice The fixed-depth word tree of docs/fraud-proofs.md 1.4.2 (memory, code, JUMPDEST
///         bitmap, block byte store): leaves are raw 32-byte words, nodes H(left ++ right),
///         empty subtrees Z_d. A proof of consecutive words carries, level by level from the
///         leaves, the left boundary sibling when the range starts on a right child, then the
///         right boundary sibling when it ends on a left child.
library Buf {
    /// @notice Z_level, the root of an all-zero subtree of that height.
    function zero(uint256 level) internal pure returns (bytes32 z) {
        for (uint256 i = 0; i < level; i++) {
            z = _node(z, z);
        }
    }

    /// @notice The root implied by `words` at `first..` and the siblings at `proof[p:]`.
    /// @return root the implied root
    /// @return next the proof offset after the siblings
    function rangeRoot(uint256 depth, uint256 first, bytes32[] memory words, bytes calldata proof, uint256 p)
        internal
        pure
        returns (bytes32 root, uint256 next)
    {
        uint256 n = words.length;
        bytes32[] memory row = new bytes32[](n + 2);
        for (uint256 i = 0; i < n; i++) {
            row[i] = words[i];
        }
        uint256 lo = first;
        uint256 hi = first + n - 1;
        for (uint256 level = 0; level < depth; level++) {
            uint256 start = 0;
            // Row layout: [left sibling] nodes [right sibling], always starting on a left child.
            if (lo & 1 == 1) {
                for (uint256 i = n; i > 0; i--) {
                    row[i] = row[i - 1];
                }
                row[0] = _word(proof, p);
                p += 32;
                n += 1;
            }
            if (hi & 1 == 0) {
                row[n] = _word(proof, p);
                p += 32;
                n += 1;
            }
            uint256 m = n / 2;
            for (uint256 i = 0; i < m; i++) {
                row[i] = _node(row[start + 2 * i], row[start + 2 * i + 1]);
            }
            n = m;
            lo >>= 1;
            hi >>= 1;
        }
        return (row[0], p);
    }

    /// @notice The root of a depth-`depth` tree holding `data` from word 0 (last word zero-padded).
    function rootOf(uint256 depth, bytes memory data) internal pure returns (bytes32 root) {
        uint256 n = (data.length + 31) / 32;
        if (n == 0) return zero(depth);
        bytes memory row = new bytes(32 * n + 32); // the words, hashed in place level by level
        assembly {
            let src := add(data, 32)
            let dst := add(row, 32)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(dst, mul(i, 32)), mload(add(src, mul(i, 32))))
            }
            let tail := mod(mload(data), 32)
            if tail {
                let last := add(dst, mul(sub(n, 1), 32))
                mstore(last, and(mload(last), not(shr(mul(8, tail), not(0)))))
            }
            let z := 0
            for { let level := 0 } lt(level, depth) { level := add(level, 1) } {
                if and(n, 1) {
                    mstore(add(dst, mul(n, 32)), z)
                    n := add(n, 1)
                }
                let m := shr(1, n)
                for { let i := 0 } lt(i, m) { i := add(i, 1) } {
                    mstore(add(dst, mul(i, 32)), keccak256(add(dst, mul(i, 64)), 64))
                }
                n := m
                mstore(0, z)
                mstore(32, z)
                z := keccak256(0, 64)
            }
            root := mload(dst)
        }
    }

    function _word(bytes calldata proof, uint256 p) private pure returns (bytes32 w) {
        require(p + 32 <= proof.length, "proof too short");
        assembly {
            w := calldataload(add(proof.offset, p))
        }
    }

    function _node(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly {
            mstore(0, a)
            mstore(32, b)
            h := keccak256(0, 64)
        }
    }
}
