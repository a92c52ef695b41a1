// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {MerkleTrie} from "./MerkleTrie.sol";

interface IRollup {
    /// @dev Rollup.Assertion, with its Status enum as a uint8 (1 pending, 2 confirmed, 3 rejected).
    struct Assertion {
        uint64 parentId;
        uint64 inboxEntries;
        uint64 l2BlockNumber;
        uint64 createdAt;
        address asserter;
        uint8 status;
        bytes32 outputRoot;
        bytes32 inboxAccumulator;
    }

    function getAssertion(uint256 id) external view returns (Assertion memory);
    function assertionCount() external view returns (uint256);
}

/// @title DelayedInbox
/// @notice The ETH bridge's L1 side (the "portal"). Deposits from L1 to L2 (ETH and/or an
///         L2 call): each one is a delayed message. Withdrawals from L2: proven against a
///         confirmed assertion's output root, paid out of the deposited ETH after a delay.
///         It holds the deposited ETH, so it is kept apart from the batcher-facing Inbox:
///         the custody code stays small and in one place.
///
///         messageHash(j) = keccak256(abi.encode(j, sender, to, value, gasLimit,
///                                               l1BlockNumber, l1Timestamp, keccak256(data)))
///         acc(j)         = keccak256(abi.encodePacked(acc(j-1), messageHash(j))), acc(-1) = 0
///         `sender` is the L2 sender: the L1 caller itself for an EOA, its alias
///         (caller + ALIAS_OFFSET mod 2^160) for a contract, so an L1 contract can never
///         act as the L2 account of the same address. It is recorded here, aliased, so
///         derivation and the one-step proof need no L1 state.
contract DelayedInbox {
    /// @notice Added to an L1 contract's address to get its L2 sender (OP Stack / Arbitrum rule).
    uint160 public constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);

    /// @notice Intrinsic gas of an L2 call: a deposit may not ask for less.
    uint256 public constant MIN_GAS_LIMIT = 21_000;
    /// @notice Upper bound of `data`, so that one deposit always fits an L2 block.
    uint256 public constant MAX_DATA_BYTES = 120_000;

    /// @notice Upper bound of a deposit's L2 gas limit (set at deployment).
    uint256 public immutable maxGasLimit;
    /// @notice The assertions withdrawals are proven against.
    IRollup public immutable rollup;
    /// @notice Seconds between proving a withdrawal and the earliest payout (set at deployment).
    uint256 public immutable withdrawalDelay;
    /// @notice Address of L2's MessagePasser predeploy, whose storage root is in output roots.
    address public constant MESSAGE_PASSER = 0x4200000000000000000000000000000000000016;
    /// @notice Assertion.status of a confirmed assertion (Rollup.Status.Confirmed).
    uint8 internal constant CONFIRMED = 2;

    /// @notice acc(j) of every delayed message j.
    bytes32[] public accumulators;
    /// @notice L1 timestamp of every delayed message j (the Inbox reads it for force inclusion).
    uint64[] public timestamps;

    event MessageDelivered(
        uint256 indexed index,
        address indexed sender,
        address indexed to,
        uint256 value,
        uint256 gasLimit,
        uint256 l1BlockNumber,
        uint256 l1Timestamp,
        bytes data,
        bytes32 messageHash,
        bytes32 accumulator
    );

    error GasLimitTooLow(uint256 gasLimit, uint256 minimum);
    error GasLimitTooHigh(uint256 gasLimit, uint256 maximum);
    error DataTooLarge(uint256 size, uint256 maximum);
    error ZeroRecipient();
    error BadMaxGasLimit();
    error ZeroAddress();
    error UnknownAssertion(uint256 id);
    error AssertionNotConfirmed(uint256 id, uint8 status);
    error WrongOutputRoot(bytes32 computed, bytes32 asserted);
    error WithdrawalNotSent(bytes32 withdrawalHash);
    error BadTarget(address target);
    error AlreadyProven(bytes32 withdrawalHash, uint256 assertionId);
    error NotProven(bytes32 withdrawalHash);
    error AlreadyFinalized(bytes32 withdrawalHash);
    error DelayNotOver(bytes32 withdrawalHash, uint256 finalizableAt);
    error WithdrawalCallFailed(bytes32 withdrawalHash);

    /// @notice An L2-to-L1 message as L2's MessagePasser recorded it.
    struct Withdrawal {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// @notice The preimage of an output root (DESIGN section 5), version 0.
    struct OutputRootProof {
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 blockHash;
    }

    struct ProvenWithdrawal {
        uint64 provenAt;
        uint64 assertionId;
    }

    /// @notice When, and against which assertion, each withdrawal hash was proven.
    mapping(bytes32 => ProvenWithdrawal) public provenWithdrawals;
    /// @notice Withdrawal hashes already paid out.
    mapping(bytes32 => bool) public finalizedWithdrawals;
    /// @notice The L2 sender of the withdrawal being finalized (zero outside one), for targets
    ///         that act on L2 messages.
    address public transient l2Sender;

    event WithdrawalProven(
        bytes32 indexed withdrawalHash,
        uint256 indexed assertionId,
        address indexed sender,
        address target,
        uint256 value,
        uint256 finalizableAt
    );
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, address indexed target, uint256 value);

    constructor(uint256 maxGasLimit_, IRollup rollup_, uint256 withdrawalDelay_) {
        if (maxGasLimit_ < MIN_GAS_LIMIT) revert BadMaxGasLimit();
        if (address(rollup_) == address(0)) revert ZeroAddress();
        maxGasLimit = maxGasLimit_;
        rollup = rollup_;
        withdrawalDelay = withdrawalDelay_;
    }

    /// @notice Queues an L2 call from msg.sender to `to` carrying msg.value.
    function depositTransaction(address to, uint256 gasLimit, bytes calldata data)
        external
        payable
        returns (uint256 index)
    {
        if (to == address(0)) revert ZeroRecipient();
        if (gasLimit < MIN_GAS_LIMIT) revert GasLimitTooLow(gasLimit, MIN_GAS_LIMIT);
        if (gasLimit > maxGasLimit) revert GasLimitTooHigh(gasLimit, maxGasLimit);
        if (data.length > MAX_DATA_BYTES) revert DataTooLarge(data.length, MAX_DATA_BYTES);
        return _deliver(_l2SenderOf(msg.sender), to, gasLimit, data);
    }

    /// @notice Plain ETH sent here is a deposit of that value to the same address on L2
    ///         (the recipient is not aliased; the sender is, if it is a contract).
    receive() external payable {
        _deliver(_l2SenderOf(msg.sender), msg.sender, MIN_GAS_LIMIT, "");
    }

    /// @notice The L2 sender of a deposit made by `caller` in this transaction: `caller`
    ///         when it is the transaction's origin (an EOA, 7702-delegated or not), its alias
    ///         otherwise (a contract, or an EOA's code calling through another contract).
    function _l2SenderOf(address caller) internal view returns (address) {
        if (caller == tx.origin) return caller;
        unchecked {
            return address(uint160(caller) + ALIAS_OFFSET); // wraps mod 2^160
        }
    }

    /// @notice Proves that L2's MessagePasser recorded withdrawal `w` in the state of a
    ///         confirmed assertion: the output root's preimage, then a storage proof of
    ///         `sentMessages[hash] == true` against its message passer storage root.
    function proveWithdrawal(
        Withdrawal calldata w,
        uint256 assertionId,
        OutputRootProof calldata o,
        bytes[] calldata storageProof
    ) external {
        if (w.target == address(this)) revert BadTarget(w.target);
        bytes32 h = hashWithdrawal(w);
        if (finalizedWithdrawals[h]) revert AlreadyFinalized(h);
        ProvenWithdrawal memory earlier = provenWithdrawals[h];
        if (earlier.provenAt != 0) revert AlreadyProven(h, earlier.assertionId);
        if (assertionId >= rollup.assertionCount()) revert UnknownAssertion(assertionId);
        IRollup.Assertion memory a = rollup.getAssertion(assertionId);
        // A confirmed assertion is final: it can no longer be rejected.
        if (a.status != CONFIRMED) revert AssertionNotConfirmed(assertionId, a.status);
        bytes32 computed = keccak256(abi.encode(bytes32(0), o.stateRoot, o.messagePasserStorageRoot, o.blockHash));
        if (computed != a.outputRoot) revert WrongOutputRoot(computed, a.outputRoot);
        // sentMessages is MessagePasser's slot 0: the hash's slot is keccak(hash ++ 0), and
        // the storage trie keys a slot by its keccak. `true` is stored as RLP(1) = 0x01.
        bytes32 key = keccak256(abi.encode(withdrawalSlot(h)));
        bytes memory value = MerkleTrie.get(key, storageProof, o.messagePasserStorageRoot);
        if (value.length != 1 || value[0] != 0x01) revert WithdrawalNotSent(h);
        provenWithdrawals[h] = ProvenWithdrawal(uint64(block.timestamp), uint64(assertionId));
        emit WithdrawalProven(h, assertionId, w.sender, w.target, w.value, block.timestamp + withdrawalDelay);
    }

    /// @notice Anyone: pays out a proven withdrawal once its delay is over, calling
    ///         `w.target` with `w.value`, `w.data` and `w.gasLimit` gas (0: all gas left).
    ///         If that call fails the whole transaction reverts, so it can be retried.
    function finalizeWithdrawal(Withdrawal calldata w) external {
        bytes32 h = hashWithdrawal(w);
        if (finalizedWithdrawals[h]) revert AlreadyFinalized(h);
        uint256 provenAt = provenWithdrawals[h].provenAt;
        if (provenAt == 0) revert NotProven(h);
        uint256 finalizableAt = provenAt + withdrawalDelay;
        if (block.timestamp < finalizableAt) revert DelayNotOver(h, finalizableAt);
        // Marked before the call: a target re-entering here finds it finalized.
        finalizedWithdrawals[h] = true;
        l2Sender = w.sender;
        (bool ok,) = w.target.call{value: w.value, gas: w.gasLimit == 0 ? gasleft() : w.gasLimit}(w.data);
        l2Sender = address(0);
        if (!ok) revert WithdrawalCallFailed(h);
        emit WithdrawalFinalized(h, w.target, w.value);
    }

    /// @notice The hash MessagePasser stores: keccak256(abi.encode(nonce, sender, target,
    ///         value, gasLimit, data)).
    function hashWithdrawal(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(abi.encode(w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data));
    }

    /// @notice The MessagePasser storage slot of `sentMessages[withdrawalHash]`.
    function withdrawalSlot(bytes32 withdrawalHash) public pure returns (bytes32) {
        return keccak256(abi.encode(withdrawalHash, uint256(0)));
    }

    /// @notice Number of delayed messages so far.
    function messageCount() external view returns (uint256) {
        return accumulators.length;
    }

    function _deliver(address sender, address to, uint256 gasLimit, bytes memory data)
        internal
        returns (uint256 index)
    {
        index = accumulators.length;
        bytes32 messageHash = keccak256(
            abi.encode(index, sender, to, msg.value, gasLimit, block.number, block.timestamp, keccak256(data))
        );
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, messageHash));
        accumulators.push(acc);
        timestamps.push(uint64(block.timestamp));
        emit MessageDelivered(
            index, sender, to, msg.value, gasLimit, block.number, block.timestamp, data, messageHash, acc
        );
    }
}
