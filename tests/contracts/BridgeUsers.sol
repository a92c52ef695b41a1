// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IDelayedInbox {
    function depositTransaction(address to, uint256 gasLimit, bytes calldata data)
        external
        payable
        returns (uint256 index);
}

/// @notice Test-only: an L1 contract that deposits, so its L2 sender must be its alias.
contract DepositingContract {
    function deposit(address inbox, address to, uint256 gasLimit, bytes calldata data) external payable {
        IDelayedInbox(inbox).depositTransaction{value: msg.value}(to, gasLimit, data);
    }

    function sendPlain(address inbox) external payable {
        (bool ok,) = inbox.call{value: msg.value}("");
        require(ok, "plain deposit failed");
    }
}
