// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {BatchDecoder} from "./BatchDecoder.sol";

interface IDelayedInbox {
    function accumulators(uint256 index) external view returns (bytes32);
    function timestamps(uint256 index) external view returns (uint64);
    function messageCount() external view returns (uint256);
}

/// @title Inbox
/// @notice The ordered list of inbox entries the L2 chain is derived from (DESIGN section 4).
///         Entry i stores
///           acc(i) = keccak256(abi.encodePacked(acc(i-1), keccak256(payload), messageRoot,
///                                               messageCount, delayedAcc(delayedRead-1)))
///         with acc(-1) = 0 and delayedAcc(-1) = 0. A batch always has a non-empty payload;
///         an entry with an empty payload is a forced inclusion (messageRoot = 0,
///         messageCount = number of delayed messages it pulls in), so the two never collide.
///         Anyone can prove a batch invalid (`markInvalid`): its payload does not decode
///         (BatchDecoder, codec v1) to exactly its messageCount messages with root messageRoot.
///         L1 origins (docs/fraud-proofs.md D2, 3.4): the hash and base fee of an L1 block an L2
///         block takes as its origin are recorded here once, from its RLP header checked against
///         L1's block hash, with the entry count at that time (`firstEntry`). Derivation uses an
///         origin only for entries from `firstEntry` on, so a one-step proof can read the record
///         live: it never changes, and the accumulators commit no L1 block facts.
contract Inbox {
    /// @notice Largest batch payload (codec v1 caps, docs/batch-codec.md).
    uint256 public constant MAX_PAYLOAD_BYTES = BatchDecoder.MAX_PAYLOAD_BYTES;
    uint256 public constant MAX_DECOMPRESSED_BYTES = BatchDecoder.MAX_DECOMPRESSED_BYTES;
    uint256 public constant MAX_MESSAGES = BatchDecoder.MAX_MESSAGES;
    uint256 public constant MAX_CALLDATA_BYTES = BatchDecoder.MAX_CALLDATA_BYTES;

    /// @notice Who may change the batcher.
    address public immutable owner;
    /// @notice Source of delayed messages (deposits).
    IDelayedInbox public immutable delayedInbox;
    /// @notice Seconds after which an unread delayed message may be forced in by anyone.
    uint256 public immutable forceInclusionDelay;
    /// @notice Chain id of the L2: batches leave it out of transactions, the decoder puts it back.
    uint256 public immutable l2ChainId;

    /// @notice The only sender of batches.
    address public batcher;
    /// @notice acc(i) of every entry i.
    bytes32[] public accumulators;
    /// @notice Delayed messages consumed by the entries so far (non-decreasing).
    uint256 public delayedRead;
    /// @notice Entries proven invalid: all their messages are no-ops.
    mapping(uint256 => bool) public invalid;

    /// @notice L1's block-hash history beyond the 256 blocks of BLOCKHASH (EIP-2935, Prague).
    address public constant HISTORY_STORAGE = 0x0000F90827F1C53a10cb7A02335B175320002935;
    /// @notice How far back the history contract answers (EIP-2935 HISTORY_SERVE_WINDOW).
    uint256 public constant HISTORY_SERVE_WINDOW = 8191;

    /// @dev One slot for the hash, one for (baseFee, firstEntry): a record costs two new slots.
    struct Origin {
        bytes32 hash;
        uint192 baseFee;
        uint64 firstEntry;
    }

    mapping(uint256 => Origin) internal origins;

    event BatchAppended(
        uint256 indexed index,
        bytes32 accumulator,
        bytes32 payloadHash,
        bytes32 messageRoot,
        uint256 messageCount,
        uint256 delayedRead,
        bytes32 delayedAccumulator,
        bool forced
    );
    event BatcherChanged(address indexed previous, address indexed batcher);
    event BatchInvalidated(uint256 indexed index);
    event L1OriginRecorded(uint256 indexed number, bytes32 hash, uint256 baseFee, uint256 firstEntry);

    error NotOwner();
    error NotBatcher();
    error ZeroAddress();
    error EmptyPayload();
    error ZeroMessageCount();
    error DelayedReadDecreased(uint256 delayedRead, uint256 current);
    error DelayedReadTooHigh(uint256 delayedRead, uint256 available);
    error NothingToForce();
    error NotOverdue(uint256 index, uint256 forcibleAt);
    error InvalidChainId(uint256 chainId);
    error PayloadTooLarge(uint256 length, uint256 max);
    error UnknownEntry(uint256 index);
    error WrongPreimage(uint256 index);
    error ForcedEntry(uint256 index);
    error BatchIsValid(uint256 index);
    error AlreadyInvalid(uint256 index);
    /// @notice The decoder failed for another reason than an invalid payload (out of gas):
    ///         nothing is concluded, retry with more gas.
    error DecodeFailed();
    /// @notice L1 does not (or no longer) know the hash of block `number`: it is the current or a
    ///         future block, or older than BLOCKHASH and the history contract reach.
    error L1BlockUnknown(uint256 number, uint256 current);
    /// @notice The header does not hash to L1's hash of its block number.
    error L1HeaderMismatch(uint256 number, bytes32 headerHash, bytes32 blockHash);
    /// @notice The bytes are not an RLP list of at least 16 header fields with integer fields 8, 15.
    error MalformedL1Header();

    constructor(
        address owner_,
        address batcher_,
        IDelayedInbox delayedInbox_,
        uint256 forceInclusionDelay_,
        uint256 l2ChainId_
    ) {
        if (owner_ == address(0) || batcher_ == address(0) || address(delayedInbox_) == address(0)) {
            revert ZeroAddress();
        }
        if (l2ChainId_ == 0 || l2ChainId_ >= 2 ** 64) revert InvalidChainId(l2ChainId_);
        owner = owner_;
        batcher = batcher_;
        delayedInbox = delayedInbox_;
        forceInclusionDelay = forceInclusionDelay_;
        l2ChainId = l2ChainId_;
        emit BatcherChanged(address(0), batcher_);
    }

    /// @notice Replaces the batcher (key rotation); owner only.
    function setBatcher(address batcher_) external {
        if (msg.sender != owner) revert NotOwner();
        if (batcher_ == address(0)) revert ZeroAddress();
        emit BatcherChanged(batcher, batcher_);
        batcher = batcher_;
    }

    /// @notice Appends a batch; `delayedRead_` is the total of delayed messages consumed after it.
    ///         `originHeaders` (RLP L1 headers) are recorded first (`recordL1Origins`), so their
    ///         `firstEntry` is this entry's index and its blocks may take them as origins.
    function appendBatch(
        bytes calldata payload,
        bytes32 messageRoot,
        uint256 messageCount,
        uint256 delayedRead_,
        bytes[] calldata originHeaders
    ) external returns (uint256 index) {
        if (msg.sender != batcher) revert NotBatcher();
        if (payload.length == 0) revert EmptyPayload();
        if (payload.length > MAX_PAYLOAD_BYTES) revert PayloadTooLarge(payload.length, MAX_PAYLOAD_BYTES);
        if (messageCount == 0) revert ZeroMessageCount();
        if (delayedRead_ < delayedRead) revert DelayedReadDecreased(delayedRead_, delayedRead);
        uint256 available = delayedInbox.messageCount();
        if (delayedRead_ > available) revert DelayedReadTooHigh(delayedRead_, available);
        _recordOrigins(originHeaders); // before the entry: their firstEntry is its index
        return _append(keccak256(payload), messageRoot, messageCount, delayedRead_, false);
    }

    /// @notice Anyone: once the oldest unread delayed message is overdue, appends an entry
    ///         that consumes every overdue delayed message (the sequencer can delay, not censor).
    function forceInclude() external returns (uint256 index) {
        uint256 start = delayedRead;
        uint256 available = delayedInbox.messageCount();
        if (start >= available) revert NothingToForce();
        uint256 forcibleAt = uint256(delayedInbox.timestamps(start)) + forceInclusionDelay;
        if (block.timestamp < forcibleAt) revert NotOverdue(start, forcibleAt);
        // Timestamps never decrease: binary search for the first message not yet overdue.
        uint256 lo = start + 1;
        uint256 hi = available;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (uint256(delayedInbox.timestamps(mid)) + forceInclusionDelay <= block.timestamp) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return _append(keccak256(""), bytes32(0), lo - start, lo, true);
    }

    /// @notice Anyone: proves that batch entry `index` is invalid. The caller supplies the
    ///         entry's payload and the other inputs of its accumulator (the Inbox stores only
    ///         accumulators); if the payload does not decode to exactly `messageCount` messages
    ///         with root `messageRoot`, the entry is flagged and all its messages become no-ops.
    function markInvalid(
        uint256 index,
        bytes calldata payload,
        bytes32 messageRoot,
        uint256 messageCount,
        bytes32 delayedAcc
    ) external {
        if (index >= accumulators.length) revert UnknownEntry(index);
        if (invalid[index]) revert AlreadyInvalid(index);
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, keccak256(payload), messageRoot, messageCount, delayedAcc));
        if (acc != accumulators[index]) revert WrongPreimage(index);
        if (payload.length == 0) revert ForcedEntry(index);
        (bool valid,, uint256 count, bytes32 root) = checkBatch(payload);
        if (valid && count == messageCount && root == messageRoot) revert BatchIsValid(index);
        invalid[index] = true;
        emit BatchInvalidated(index);
    }

    /// @notice Decodes a payload: (valid, reason, messageCount, messageRoot); `reason` is the
    ///         BatchDecoder rule an invalid payload breaks. Reverts DecodeFailed when the decoder
    ///         did not finish (out of gas), so a short gas limit cannot pass for an invalid batch.
    function checkBatch(bytes calldata payload)
        public
        view
        returns (bool valid, uint256 reason, uint256 messageCount, bytes32 messageRoot)
    {
        try this.decodeBatch(payload) returns (uint256 count, bytes32 root) {
            return (true, 0, count, root);
        } catch (bytes memory err) {
            if (err.length != 36 || bytes4(err) != BatchDecoder.InvalidBatch.selector) revert DecodeFailed();
            assembly {
                reason := mload(add(err, 36))
            }
            return (false, reason, 0, bytes32(0));
        }
    }

    /// @notice (messageCount, messageRoot) of a valid payload; reverts InvalidBatch(reason).
    function decodeBatch(bytes calldata payload) external view returns (uint256 messageCount, bytes32 messageRoot) {
        return BatchDecoder.decode(payload, l2ChainId);
    }

    /// @notice Anyone: records L1 blocks as possible L2 origins, each from its RLP header, for
    ///         entries from `entryCount()` on. A number already recorded is skipped (the first
    ///         record stays); an unknown block or a header that is not L1's reverts.
    function recordL1Origins(bytes[] calldata headers) external {
        _recordOrigins(headers);
    }

    /// @notice The record of L1 block `number`; recorded iff `hash != 0`. Entry `i` may take it
    ///         as an origin iff `firstEntry <= i`.
    function l1Origins(uint256 number) external view returns (bytes32 hash, uint256 baseFee, uint256 firstEntry) {
        Origin storage o = origins[number];
        return (o.hash, o.baseFee, o.firstEntry);
    }

    /// @notice Number of inbox entries so far.
    function entryCount() external view returns (uint256) {
        return accumulators.length;
    }

    function _recordOrigins(bytes[] calldata headers) internal {
        uint256 firstEntry = accumulators.length;
        for (uint256 k = 0; k < headers.length; k++) {
            bytes calldata header = headers[k];
            (uint256 number, uint256 baseFee) = _headerFields(header);
            if (origins[number].hash != bytes32(0)) continue;
            bytes32 expected = _l1BlockHash(number);
            bytes32 headerHash = keccak256(header);
            if (headerHash != expected) revert L1HeaderMismatch(number, headerHash, expected);
            if (baseFee > type(uint192).max) revert MalformedL1Header();
            origins[number] = Origin(headerHash, uint192(baseFee), uint64(firstEntry));
            emit L1OriginRecorded(number, headerHash, baseFee, firstEntry);
        }
    }

    /// @dev L1's hash of block `number`: the EIP-2935 history contract (8191 blocks) when L1 has
    ///      it, else BLOCKHASH (256 blocks); reverts L1BlockUnknown otherwise. History first, where
    ///      both answer the same on a correct L1: anvil, once it reloads a saved state (the
    ///      devnet's restart), answers BLOCKHASH wrongly for the blocks before the reload.
    function _l1BlockHash(uint256 number) internal view returns (bytes32 h) {
        if (number >= block.number) revert L1BlockUnknown(number, block.number);
        uint256 age = block.number - number;
        if (age <= HISTORY_SERVE_WINDOW && HISTORY_STORAGE.code.length > 0) {
            (bool ok, bytes memory ret) = HISTORY_STORAGE.staticcall(abi.encode(number));
            if (ok && ret.length == 32) h = abi.decode(ret, (bytes32));
        } else if (age <= 256) {
            h = blockhash(number);
        }
        if (h == bytes32(0)) revert L1BlockUnknown(number, block.number);
    }

    /// @dev (number, baseFee) of an RLP block header: list fields 8 and 15 (London and later).
    function _headerFields(bytes calldata header) internal pure returns (uint256 number, uint256 baseFee) {
        (uint256 pos, uint256 len, bool isList) = _rlpItem(header, 0);
        if (!isList || pos + len != header.length) revert MalformedL1Header();
        uint256 end = pos + len;
        for (uint256 field = 0; field <= 15; field++) {
            if (pos >= end) revert MalformedL1Header();
            (uint256 start, uint256 size, bool list) = _rlpItem(header, pos);
            if (start + size > end) revert MalformedL1Header();
            if (field == 8 || field == 15) {
                if (list || size > 32) revert MalformedL1Header();
                uint256 value = 0;
                for (uint256 b = 0; b < size; b++) {
                    value = (value << 8) | uint8(header[start + b]);
                }
                if (field == 8) number = value;
                else baseFee = value;
            }
            pos = start + size;
        }
    }

    /// @dev The payload offset and length of the RLP item at `pos`, and whether it is a list.
    function _rlpItem(bytes calldata data, uint256 pos) internal pure returns (uint256 start, uint256 len, bool list) {
        if (pos >= data.length) revert MalformedL1Header();
        uint8 b = uint8(data[pos]);
        if (b < 0x80) return (pos, 1, false);
        if (b <= 0xb7) return (pos + 1, b - 0x80, false);
        if (b < 0xc0) return _rlpLong(data, pos, b - 0xb7, false);
        if (b <= 0xf7) return (pos + 1, b - 0xc0, true);
        return _rlpLong(data, pos, b - 0xf7, true);
    }

    function _rlpLong(bytes calldata data, uint256 pos, uint256 lenOfLen, bool list)
        private
        pure
        returns (uint256 start, uint256 len, bool)
    {
        if (lenOfLen > 4 || pos + 1 + lenOfLen > data.length) revert MalformedL1Header();
        for (uint256 i = 0; i < lenOfLen; i++) {
            len = (len << 8) | uint8(data[pos + 1 + i]);
        }
        return (pos + 1 + lenOfLen, len, list);
    }

    function _append(bytes32 payloadHash, bytes32 messageRoot, uint256 messageCount, uint256 delayedRead_, bool forced)
        internal
        returns (uint256 index)
    {
        bytes32 delayedAcc = delayedRead_ == 0 ? bytes32(0) : delayedInbox.accumulators(delayedRead_ - 1);
        index = accumulators.length;
        bytes32 prev = index == 0 ? bytes32(0) : accumulators[index - 1];
        bytes32 acc = keccak256(abi.encodePacked(prev, payloadHash, messageRoot, messageCount, delayedAcc));
        accumulators.push(acc);
        delayedRead = delayedRead_;
        emit BatchAppended(index, acc, payloadHash, messageRoot, messageCount, delayedRead_, delayedAcc, forced);
    }
}
