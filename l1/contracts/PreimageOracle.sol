// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title PreimageOracle
/// @notice Preimage records for the one-step prover's sponge steps (docs/fraud-proofs.md 16):
///         anyone registers a preimage once (an L2Tx message `0x01 ++ raw`, a deposit's data),
///         the contract itself computes its size, its first byte and the root of its 136-byte
///         block tree, keyed by its keccak. A TX_LOAD / DATA_LOAD micro-step then proves its
///         block against that root (read live), so the bytes of every block are fixed by the
///         digest the sponge must reach, not by the proof; NEXT_MESSAGE reads the first byte to
///         tell an L2Tx leaf from a BlockStart or Delayed one.
///
///         Block tree: leaf i = keccak(preimage[136 i : 136 i + 136]) for i < n = ceil(size / 136),
///         then the binary keccak Merkle tree of l2/messages.py (an odd level padded with a zero
///         word); its depth is bitlen(n - 1), fixed by the recorded size, so an inner node can
///         never pass for a leaf.
contract PreimageOracle {
    /// @notice A block of the keccak sponge (rate of keccak-256).
    uint256 public constant BLOCK = 136;
    /// @notice The largest L2Tx message (`0x01` ++ a 128 KiB transaction, l2/spec.MAX_TX_SIZE);
    ///         a deposit's data (DelayedInbox.MAX_DATA_BYTES = 120,000) fits too.
    uint256 public constant MAX_SIZE = 128 * 1024 + 1;
    bytes32 internal constant EMPTY_HASH = keccak256("");

    struct Record {
        bool known;
        uint8 first;
        uint64 size;
        bytes32 root;
    }

    mapping(bytes32 => Record) internal records;

    event PreimageRegistered(bytes32 indexed key, uint256 size, bytes32 root);

    error PreimageTooLarge(uint256 size);

    /// @notice Register `data` under `keccak256(data)` (idempotent: a second call changes nothing).
    function register(bytes calldata data) external returns (bytes32 key) {
        key = keccak256(data);
        if (records[key].known || key == EMPTY_HASH) return key;
        if (data.length > MAX_SIZE) revert PreimageTooLarge(data.length);
        bytes32 root = blockRoot(data);
        records[key] = Record(true, uint8(data[0]), uint64(data.length), root);
        emit PreimageRegistered(key, data.length, root);
    }

    /// @notice The record of `key`; the empty preimage is known without registration (root 0).
    function get(bytes32 key) external view returns (bool known, uint256 size, uint8 first, bytes32 root) {
        if (key == EMPTY_HASH) return (true, 0, 0, bytes32(0));
        Record storage r = records[key];
        return (r.known, r.size, r.first, r.root);
    }

    /// @notice Root of the 136-byte block tree of `data` (0 for no data).
    function blockRoot(bytes calldata data) public pure returns (bytes32) {
        uint256 n = (data.length + BLOCK - 1) / BLOCK;
        if (n == 0) return bytes32(0);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 end = BLOCK * i + BLOCK;
            level[i] = keccak256(data[BLOCK * i:end < data.length ? end : data.length]);
        }
        while (n > 1) {
            uint256 m = (n + 1) / 2;
            for (uint256 k = 0; k < m; k++) {
                bytes32 right = 2 * k + 1 < n ? level[2 * k + 1] : bytes32(0);
                level[k] = keccak256(abi.encodePacked(level[2 * k], right));
            }
            n = m;
        }
        return level[0];
    }
}
