// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title CloneFactory
/// @notice Deploys EIP-1167 minimal proxies (OpenZeppelin Clones' 55-byte initcode, assembled in
///         memory with two MSTOREs) by CREATE and CREATE2: the deployment pattern the one-step
///         prover's CREATE / CREATE2 steps are tested on (tests/integration/test_osp_create.py,
///         docs/fraud-proofs.md 21).
contract CloneFactory {
    event Cloned(address instance);

    /// @notice A clone of `implementation` by CREATE.
    function clone(address implementation) external returns (address instance) {
        assembly {
            mstore(0x00, or(shr(0xe8, shl(0x60, implementation)), 0x3d602d80600a3d3981f3363d3d373d3d3d363d73000000))
            mstore(0x20, or(shl(0x78, implementation), 0x5af43d82803e903d91602b57fd5bf3))
            instance := create(0, 0x09, 0x37)
        }
        require(instance != address(0), "create failed");
        emit Cloned(instance);
    }

    /// @notice A clone of `implementation` by CREATE2 with `salt`; 0 when it exists already.
    function cloneDeterministic(address implementation, bytes32 salt) external returns (address instance) {
        assembly {
            mstore(0x00, or(shr(0xe8, shl(0x60, implementation)), 0x3d602d80600a3d3981f3363d3d373d3d3d363d73000000))
            mstore(0x20, or(shl(0x78, implementation), 0x5af43d82803e903d91602b57fd5bf3))
            instance := create2(0, 0x09, 0x37, salt)
        }
        emit Cloned(instance);
    }
}

/// @title CloneCounter
/// @notice The implementation behind the clones: a counter in the clone's own storage.
contract CloneCounter {
    uint256 public count;

    function increment() external returns (uint256) {
        count += 1;
        return count;
    }
}
