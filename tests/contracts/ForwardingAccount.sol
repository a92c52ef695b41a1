// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title ForwardingAccount
/// @notice TEST DOUBLE of a contract account that refuses plain ETH (no receive, no fallback):
///         it calls anything it is told to, so tests can make it a game side whose payouts revert.
contract ForwardingAccount {
    function exec(address target, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}
