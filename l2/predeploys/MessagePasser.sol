// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title MessagePasser
/// @notice L2-to-L1 messages (withdrawals). Each message's hash is stored in
///         `sentMessages`; the storage root of this contract is part of every output root,
///         so L1 can check a withdrawal with a storage proof against a confirmed root.
contract MessagePasser {
    /// @notice hash => true for every message initiated on L2 (storage slot 0).
    mapping(bytes32 => bool) public sentMessages;
    /// @notice Number of messages initiated so far; part of each message hash (slot 1).
    uint256 public messageNonce;

    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Sends `msg.value` and a call to `target` on L1, executable once proven.
    function initiateWithdrawal(address target, uint256 gasLimit, bytes calldata data)
        external
        payable
        returns (bytes32 withdrawalHash)
    {
        uint256 nonce = messageNonce;
        withdrawalHash = keccak256(abi.encode(nonce, msg.sender, target, msg.value, gasLimit, data));
        sentMessages[withdrawalHash] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, target, msg.value, gasLimit, data, withdrawalHash);
    }

    /// @notice Plain ETH sent here is a withdrawal of that value to the sender on L1.
    receive() external payable {
        uint256 nonce = messageNonce;
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, msg.sender, msg.value, uint256(0), bytes("")));
        sentMessages[withdrawalHash] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, msg.sender, msg.value, 0, "", withdrawalHash);
    }
}
