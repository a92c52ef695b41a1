// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MptUpdate} from "l1/contracts/osp/MptUpdate.sol";

/// @notice Test-only: exposes the MptUpdate library (l1/contracts/osp/MptUpdate.sol) with the gas
///         each call took (tests/integration/test_osp_mpt.py).
contract MptUpdateHarness {
    function read(bytes32 root, bytes calldata key, bytes[] calldata proof)
        external
        view
        returns (bool found, bytes memory value, uint256 gasUsed)
    {
        uint256 start = gasleft();
        (found, value) = MptUpdate.read(root, key, proof);
        gasUsed = start - gasleft();
    }

    function update(bytes32 root, bytes calldata key, bytes calldata value, bytes[] calldata proof)
        external
        view
        returns (bytes32 newRoot, uint256 gasUsed)
    {
        uint256 start = gasleft();
        newRoot = MptUpdate.update(root, key, value, proof);
        gasUsed = start - gasleft();
    }

    function remove(bytes32 root, bytes calldata key, bytes[] calldata proof, bytes calldata sibling)
        external
        view
        returns (bytes32 newRoot, uint256 gasUsed)
    {
        uint256 start = gasleft();
        newRoot = MptUpdate.remove(root, key, proof, sibling);
        gasUsed = start - gasleft();
    }

    function encodeUint(uint256 value) external pure returns (bytes memory) {
        return MptUpdate.encodeUint(value);
    }

    function encodeAccount(uint256 nonce, uint256 balance, bytes32 storageRoot, bytes32 codeHash)
        external
        pure
        returns (bytes memory)
    {
        return MptUpdate.encodeAccount(nonce, balance, storageRoot, codeHash);
    }
}
