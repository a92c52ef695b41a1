// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

// Test contracts of tests/integration/test_osp_call_kinds.py (docs/fraud-proofs.md 19): real
// Solidity code making STATICCALL, DELEGATECALL and CALLCODE, traced through py-evm and proven on
// L1 step by step. They are placed in the L2 genesis with their runtime code (no constructors, no
// immutables), their storage set there too.

/// @notice The view part of an ERC-20 (bench/contracts/TestToken.sol is the token).
interface IBalanceOf {
    function balanceOf(address who) external view returns (uint256);
}

/// @notice Makes STATICCALLs: a view call to an ERC-20's balanceOf, and a raw staticcall whose
///         success (a callee writing halts: a static-context violation) it records.
contract CallKindsViewer {
    uint256 public seen;

    /// @dev `IBalanceOf(token).balanceOf` compiles to STATICCALL; the result is stored.
    function look(address token, address who) external returns (uint256 b) {
        b = IBalanceOf(token).balanceOf(who);
        seen = b;
    }

    /// @dev STATICCALL `target` with `data`; records 1 on success, 2 on failure.
    function tryStatic(address target, bytes calldata data) external returns (bool ok) {
        (ok,) = target.staticcall(data);
        seen = ok ? 1 : 2;
    }
}

/// @notice The callee of the static-context tests: each function but `read` changes state.
contract CallKindsWriter {
    uint256 public x;

    event Poked(uint256 v);

    function write(uint256 v) external {
        x = v;
    }

    function poke(uint256 v) external {
        emit Poked(v);
    }

    /// @dev A CALL with a value (this contract holds a balance in the genesis).
    function send(address to) external {
        (bool ok,) = to.call{value: 1}("");
        require(ok);
    }

    /// @dev A CALL without a value into another writer's `write`: under STATICCALL the flag is
    ///      inherited and the grandchild's SSTORE halts.
    function nested(CallKindsWriter w, uint256 v) external {
        w.write(v);
    }

    function stash(uint256 v) external {
        assembly {
            tstore(0, v)
        }
    }

    function read() external view returns (uint256) {
        return x;
    }
}

/// @notice A minimal proxy: DELEGATECALLs every call into the implementation at the EIP-1967 slot
///         and returns or reverts with its return data. Its storage is the token's.
contract CallKindsProxy {
    bytes32 internal constant IMPL = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    fallback() external payable {
        assembly {
            let impl := sload(IMPL)
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), impl, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }
}

/// @notice The code run by CALLCODE and DELEGATECALL in the caller's storage: slot 0 := v + value,
///         a log of who it runs as, the balance it sees returned.
contract CallKindsLib {
    uint256 public slot0;

    event Seen(address self, address sender, uint256 value);

    function store(uint256 v) external payable returns (uint256) {
        slot0 = v + msg.value;
        emit Seen(address(this), msg.sender, msg.value);
        return address(this).balance;
    }
}

/// @notice Runs CallKindsLib's `store` through CALLCODE (with a value) and DELEGATECALL (keeping
///         this call's value), in assembly; slot 0 is the library's.
contract CallKindsCaller {
    uint256 public slot0;
    uint256 public last;

    function codeCall(address lib, uint256 value, uint256 v) external returns (bool ok, uint256 out) {
        assembly {
            mstore(0, shl(224, 0x6057361d)) // store(uint256)
            mstore(4, v)
            ok := callcode(gas(), lib, value, 0, 36, 0, 32)
            out := mload(0)
        }
        last = out;
    }

    function delegate(address lib, uint256 v) external payable returns (bool ok, uint256 out) {
        assembly {
            mstore(0, shl(224, 0x6057361d)) // store(uint256)
            mstore(4, v)
            ok := delegatecall(gas(), lib, 0, 36, 0, 32)
            out := mload(0)
        }
        last = out;
    }
}
