// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {MptUpdate} from "./MptUpdate.sol";
import {Packed} from "./Packed.sol";
import {PreimageOracle} from "../PreimageOracle.sol";

/// @dev What the block-claim steps read of the Inbox, live (docs/fraud-proofs.md 3.1, 3.3).
interface IBlockStartInbox {
    function accumulators(uint256 index) external view returns (bytes32);
    function invalid(uint256 index) external view returns (bool);
    function l1Origins(uint256 number) external view returns (bytes32 hash, uint256 baseFee, uint256 firstEntry);
}

/// @dev What they read of the DelayedInbox, live.
interface IBlockStartDelayed {
    function accumulators(uint256 index) external view returns (bytes32);
}

/// @title ExecBlockStart
/// @notice The steps of a block claim (docs/fraud-proofs.md 2 intro, 2.1, 3.1, 14): IDENTITY,
///         ENTRY_SKIP and BLOCK_START. Registered as OneStepProver's `phaseSteps[0]`, which hands
///         it every proof that opens with the claim's preimage, with the game context.
///         Twins: l1/proofs/block_steps.py (entry_skip, block_start), the identity rule of
///         tx_proofs.claim_step_is_identity; proofs by l1/proofs/block_proofs.py.
///
///         Proof: BlockClaim (72) ++ Cursor (20) [++ Entry (108): b32 payloadHash ++ b32
///         messageRoot ++ u32 messageCount ++ b32 delayedAcc ++ u64 delayedEnd] [++ BLOCK_START:
///         output-root preimage (stateRoot, passerRoot, blockHash: 96) ++ u32 length ++ parent
///         header RLP ++ L1Info's account proof in stateRoot ++ its slots 0, 1, 2 proofs (each
///         `u32 length ++ bytes[]` tail) ++ (valid batch: u32 length ++ message msgIndex ++ its
///         Merkle path, or `u32 0 ++ b32 leaf ++ path` for a message that is not a BlockStart,
///         whose kind byte is then the PreimageOracle record's first byte, read live | forced or
///         invalid entry: the preimage of its last delayed message, 256)].
///         The entry is checked against `Inbox.accumulators(i-1, i)` and
///         `DelayedInbox.accumulators(d-1)` (live, immutable once written); its kind is forced
///         (payload hash of ""), invalid (`Inbox.invalid(i)`, which only goes false -> true) or
///         valid, the last only after `createdAt + invalidationWindow` (D9).
///
///         The block's L1 origin (D2, 3.4): the given one (BlockStart or last delayed message)
///         when it is after the parent's (L1Info slot 0 of the parent state) and
///         `Inbox.l1Origins(given)` is recorded (hash != 0) with `firstEntry <= entryIndex` (live:
///         a record never changes, and a later record of a number is a no-op); its hash and base
///         fee are the record's and `newOrigin = 1`. Otherwise the parent's origin, number, hash
///         and base fee from L1Info slots 0, 1, 2 (MPT-proven against the parent's stateRoot).
contract ExecBlockStart is IOneStepProver {
    using Packed for bytes;

    uint8 internal constant TAG_CLAIM = 0x42;
    uint256 internal constant CLAIM_SIZE = 72;
    uint8 internal constant TAG_CURSOR = 0x4D;
    uint256 internal constant CURSOR_SIZE = 20;
    uint256 internal constant ENTRY_AT = CLAIM_SIZE + CURSOR_SIZE;
    uint256 internal constant ENTRY_SIZE = 108;
    uint8 internal constant KIND_VALID = 0;
    uint8 internal constant KIND_INVALID = 1;
    uint8 internal constant KIND_FORCED = 2;
    uint256 internal constant SYS = 1;
    bytes32 internal constant EMPTY_PAYLOAD_HASH = keccak256("");
    /// @dev `Pending` op 6 (the SYS walk) at its first write: H(0x50 ++ 0x06 ++ 0x00).
    bytes32 internal constant PENDING_SYS_0 = keccak256(hex"500600");

    /// @notice The Inbox whose entries the game disputes.
    IBlockStartInbox public immutable inbox;
    /// @notice Its DelayedInbox (deposits).
    IBlockStartDelayed public immutable delayedInbox;
    /// @notice The preimages of L2Tx messages (the kind byte of a message given by its leaf), read
    ///         live; zero: a message given by its leaf is refused `MESSAGE_LEAF`.
    PreimageOracle public immutable preimages;
    /// @notice Seconds after an assertion's creation before an unflagged batch counts as valid (D9).
    uint256 public immutable invalidationWindow;
    uint256 public immutable gasLimit;
    uint256 public immutable elasticity;
    uint256 public immutable denominator;
    /// @notice The L1Info predeploy (slots 0, 1, 2: origin number, hash, base fee).
    address public immutable l1Info;
    /// @notice `BlockAcc` of a block before its first transaction.
    bytes32 public immutable emptyBlockAcc;

    /// @notice An unflagged batch is read as valid only after `createdAt + invalidationWindow`.
    error ValidityWindowOpen(uint256 until);
    /// @notice BLOCK_START from a claim that is not the parent of the disputed block.
    error NotThisBlock();
    /// @notice The parent header is not well-formed RLP or does not fit the claim.
    error BadHeader();
    /// @notice A BlockStart of the wrong length, or a message given by its leaf whose registered
    ///         preimage opens with the BlockStart kind byte (0): a BlockStart is given in full.
    error BadMessage();
    /// @notice A message given by its leaf whose preimage is not in the PreimageOracle yet (the
    ///         honest side registers it first, as for NEXT_MESSAGE).
    error PreimageNotRegistered(bytes32 key);

    /// @dev An entry as 3.1 opens it.
    struct Entry {
        uint8 kind;
        bytes32 messageRoot;
        uint256 messageCount;
        uint256 delayedEnd;
        bytes32 delayedAcc;
        bytes32 hash;
    }

    /// @dev The parts of one BLOCK_START.
    struct B {
        uint256 p;
        bytes32 stateRoot;
        bytes32 blockHash;
        uint256 number;
        uint256 parentTs;
        uint256 parentBaseFee;
        uint256 parentGasUsed;
        uint256 parentOrigin;
        uint256 origin;
        uint256 newOrigin;
        bytes32 originHash;
        uint256 originBaseFee;
        uint256 ts;
        uint256 msgIndex;
    }

    constructor(
        IBlockStartInbox inbox_,
        IBlockStartDelayed delayedInbox_,
        uint256 invalidationWindow_,
        uint256 gasLimit_,
        uint256 elasticity_,
        uint256 denominator_,
        address l1Info_,
        PreimageOracle preimages_
    ) {
        preimages = preimages_;
        inbox = inbox_;
        delayedInbox = delayedInbox_;
        invalidationWindow = invalidationWindow_;
        gasLimit = gasLimit_;
        elasticity = elasticity_;
        denominator = denominator_;
        l1Info = l1Info_;
        emptyBlockAcc = keccak256(
            abi.encodePacked(
                uint8(0x03), uint64(0), uint32(0), Buf.zero(16), keccak256(new bytes(256)), Buf.zero(20), uint64(0),
                bytes32(0)
            )
        );
    }

    /// @inheritdoc IOneStepProver
    function step(GameContext calldata ctx, bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory claim = Packed.loadChecked(proof, 0, TAG_CLAIM, CLAIM_SIZE, pre, "BlockClaim");
        bytes memory cursor = Packed.loadChecked(proof, CLAIM_SIZE, TAG_CURSOR, CURSOR_SIZE, claim.rd32(40), "Cursor");
        uint256 number = claim.rd(0, 8);
        uint256 entryIndex = cursor.rd(0, 8);
        uint256 msgIndex = cursor.rd(8, 4);
        // IDENTITY (as ExecTx.identity): at the entry limit, or the disputed block ends mid-entry
        if (entryIndex >= ctx.entryLimit) return pre;
        if (number == ctx.l2Block && msgIndex != 0) return pre;
        Entry memory e = _entry(ctx, proof, entryIndex);
        if (msgIndex == 0) {
            // ENTRY_SKIP: an entry that derives no block (no message to run, no delayed one left)
            if ((e.kind != KIND_VALID || e.messageCount == 0) && e.delayedEnd <= cursor.rd(12, 8)) {
                cursor.wr(0, 8, entryIndex + 1);
                claim.wr32(40, keccak256(cursor));
                return keccak256(claim);
            }
            // IDENTITY: the disputed block's claim, the next entry derives a block
            if (number == ctx.l2Block) return pre;
        }
        if (number + 1 != ctx.l2Block) revert NotThisBlock();
        return _blockStart(claim, cursor, e, proof);
    }

    // -- the entry (3.1) ------------------------------------------------------------------------

    function _entry(GameContext calldata ctx, bytes calldata proof, uint256 i) private view returns (Entry memory e) {
        uint256 p = ENTRY_AT;
        if (proof.length < p + ENTRY_SIZE) revert Packed.ProofTooShort();
        bytes32 payloadHash = bytes32(proof[p:p + 32]);
        e.messageRoot = bytes32(proof[p + 32:p + 64]);
        e.messageCount = uint32(bytes4(proof[p + 64:p + 68]));
        e.delayedAcc = bytes32(proof[p + 68:p + 100]);
        e.delayedEnd = uint64(bytes8(proof[p + 100:p + 108]));
        bytes32 prev = i == 0 ? bytes32(0) : inbox.accumulators(i - 1);
        bytes32 acc = keccak256(abi.encodePacked(prev, payloadHash, e.messageRoot, e.messageCount, e.delayedAcc));
        if (acc != inbox.accumulators(i)) revert Packed.BadPreimage("Entry");
        bytes32 delayed = e.delayedEnd == 0 ? bytes32(0) : delayedInbox.accumulators(e.delayedEnd - 1);
        if (e.delayedAcc != delayed) revert Packed.BadPreimage("DelayedAcc");
        if (payloadHash == EMPTY_PAYLOAD_HASH) {
            e.kind = KIND_FORCED;
        } else if (inbox.invalid(i)) {
            e.kind = KIND_INVALID;
        } else {
            uint256 until = uint256(ctx.createdAt) + invalidationWindow;
            if (block.timestamp < until) revert ValidityWindowOpen(until);
        }
        e.hash = keccak256(
            abi.encodePacked(uint8(0x45), e.kind, e.messageRoot, uint32(e.messageCount), uint64(e.delayedEnd))
        );
    }

    // -- BLOCK_START (2.1) ----------------------------------------------------------------------

    function _blockStart(bytes memory claim, bytes memory cursor, Entry memory e, bytes calldata proof)
        private
        view
        returns (bytes32)
    {
        B memory b;
        b.number = claim.rd(0, 8);
        b.p = ENTRY_AT + ENTRY_SIZE;
        _parent(b, claim.rd32(8), proof);
        _l1Info(b, proof);
        b.msgIndex = cursor.rd(8, 4);
        // a valid batch's message msgIndex, else (forced, invalid) the entry's last delayed message
        uint256 given;
        if (e.kind == KIND_VALID && b.msgIndex < e.messageCount) given = _message(b, e, proof);
        else given = _lastDelayed(b, e, proof);
        _origin(b, given, cursor.rd(0, 8));
        if (b.ts < b.parentTs) b.ts = b.parentTs;
        cursor.wr(8, 4, b.msgIndex);
        return _post(b, keccak256(cursor), e.hash);
    }

    /// @dev D2 (3.4): `given` when it is after the parent's origin and the Inbox recorded it
    ///      (hash != 0) no later than entry `entryIndex` (`firstEntry <= entryIndex`), read live;
    ///      else the parent's origin, whose hash and base fee `_l1Info` put in `b` already.
    function _origin(B memory b, uint256 given, uint256 entryIndex) private view {
        b.origin = b.parentOrigin;
        if (given <= b.parentOrigin) return;
        (bytes32 hash, uint256 baseFee, uint256 firstEntry) = inbox.l1Origins(given);
        if (hash == bytes32(0) || firstEntry > entryIndex) return;
        (b.origin, b.newOrigin, b.originHash, b.originBaseFee) = (given, 1, hash, baseFee);
    }

    /// @dev The output-root preimage and the parent header: state root, timestamp, base fee, gas used.
    function _parent(B memory b, bytes32 outputRoot, bytes calldata proof) private pure {
        uint256 p = b.p;
        if (proof.length < p + 96) revert Packed.ProofTooShort();
        b.stateRoot = bytes32(proof[p:p + 32]);
        b.blockHash = bytes32(proof[p + 64:p + 96]);
        if (keccak256(abi.encodePacked(bytes32(0), proof[p:p + 96])) != outputRoot) {
            revert Packed.BadPreimage("OutputRoot");
        }
        bytes calldata header;
        (header, b.p) = ExecBase.sized(proof, p + 96);
        if (keccak256(header) != b.blockHash) revert Packed.BadPreimage("Header");
        (uint256 at, uint256 len, bool list) = _item(header, 0);
        if (!list || at + len != header.length) revert BadHeader();
        for (uint256 i = 0; i < 16; i++) {
            (uint256 s, uint256 l, bool isList) = _item(header, at);
            if (isList || s + l > header.length) revert BadHeader();
            if (i == 3) {
                if (l != 32 || bytes32(header[s:s + 32]) != b.stateRoot) revert BadHeader();
            } else if (i == 8) {
                if (_uint(header, s, l) != b.number) revert BadHeader();
            } else if (i == 10) {
                b.parentGasUsed = _uint(header, s, l);
            } else if (i == 11) {
                b.parentTs = _uint(header, s, l);
            } else if (i == 15) {
                b.parentBaseFee = _uint(header, s, l);
            }
            at = s + l;
        }
    }

    /// @dev L1Info slots 0, 1, 2 (origin number, hash, base fee) in the parent's state.
    function _l1Info(B memory b, bytes calldata proof) private view {
        bytes[] calldata nodes;
        (nodes, b.p) = ExecBase.nodes(proof, b.p);
        (bool found, bytes memory account) =
            MptUpdate.read(b.stateRoot, abi.encodePacked(keccak256(abi.encodePacked(l1Info))), nodes);
        if (!found) revert Packed.BadPreimage("L1Info");
        (,, bytes32 storageRoot,) = MptUpdate.decodeAccount(account);
        uint256[3] memory values;
        for (uint256 slot = 0; slot < 3; slot++) {
            (nodes, b.p) = ExecBase.nodes(proof, b.p);
            bytes memory value;
            (found, value) = MptUpdate.read(storageRoot, abi.encodePacked(keccak256(abi.encode(slot))), nodes);
            values[slot] = found ? MptUpdate.decodeUint(value) : 0;
        }
        if (values[0] > type(uint64).max) revert Packed.BadPreimage("L1Info");
        (b.parentOrigin, b.originHash, b.originBaseFee) = (values[0], bytes32(values[1]), values[2]);
    }

    /// @dev Message msgIndex of the entry (3.2): a BlockStart gives timestamp and origin and is
    ///      consumed; any other message opens the block with the parent's values and stays unread.
    ///      The message is given in full (`u32 length ++ bytes`: its kind byte is proven by the
    ///      leaf) or, when it is not a BlockStart, by its leaf (`u32 0 ++ b32 leaf`), whose kind
    ///      byte is the first byte of its PreimageOracle record (a leaf has one preimage), so a
    ///      large L2Tx does not weigh on the proof. Returns the given origin.
    function _message(B memory b, Entry memory e, bytes calldata proof) private view returns (uint256 origin) {
        bytes calldata m;
        uint256 p;
        (m, p) = ExecBase.sized(proof, b.p);
        bytes32 leaf;
        if (m.length == 0) {
            if (p + 32 > proof.length) revert Packed.ProofTooShort();
            leaf = bytes32(proof[p:p + 32]);
            p += 32;
        } else {
            leaf = keccak256(m);
        }
        bytes32 node = leaf;
        uint256 index = b.msgIndex;
        for (uint256 n = e.messageCount - 1; n != 0; n >>= 1) {
            if (p + 32 > proof.length) revert Packed.ProofTooShort();
            bytes32 sibling = bytes32(proof[p:p + 32]);
            node = index & 1 == 1 ? keccak256(abi.encodePacked(sibling, node)) : keccak256(abi.encodePacked(node, sibling));
            index >>= 1;
            p += 32;
        }
        if (node != e.messageRoot) revert Packed.BadPreimage("Message");
        b.p = p;
        uint256 kind;
        if (m.length == 0) {
            if (address(preimages) == address(0)) revert Unsupported("MESSAGE_LEAF");
            (bool known,, uint8 first,) = preimages.get(leaf);
            if (!known) revert PreimageNotRegistered(leaf);
            if (first == 0) revert BadMessage();
            kind = first;
        } else {
            kind = uint8(m[0]);
        }
        if (kind != 0) {
            b.ts = b.parentTs;
            return b.parentOrigin;
        }
        if (m.length != 17) revert BadMessage();
        b.ts = uint64(bytes8(m[1:9]));
        b.msgIndex += 1;
        return uint64(bytes8(m[9:17]));
    }

    /// @dev A block of delayed messages (a forced or invalid entry): timestamp and origin of the
    ///      entry's last delayed message, `d - 1`, from its preimage (abi.encode(index, sender, to,
    ///      value, gasLimit, l1BlockNumber, l1Timestamp, dataHash), as DelayedInbox hashes it) and
    ///      `DelayedInbox.accumulators(d - 2)` (live): it must chain to the entry's delayed
    ///      accumulator. Returns the given origin.
    function _lastDelayed(B memory b, Entry memory e, bytes calldata proof) private view returns (uint256) {
        uint256 p = b.p;
        if (e.delayedEnd == 0) revert Packed.BadPreimage("LastDelayed");
        if (proof.length < p + 256) revert Packed.ProofTooShort();
        uint256 index = e.delayedEnd - 1;
        if (uint256(bytes32(proof[p:p + 32])) != index) revert Packed.BadPreimage("LastDelayed");
        bytes32 prev = index == 0 ? bytes32(0) : delayedInbox.accumulators(index - 1);
        if (keccak256(abi.encodePacked(prev, keccak256(proof[p:p + 256]))) != e.delayedAcc) {
            revert Packed.BadPreimage("LastDelayed");
        }
        uint256 origin = uint256(bytes32(proof[p + 160:p + 192]));
        uint256 ts = uint256(bytes32(proof[p + 192:p + 224]));
        if (origin > type(uint64).max || ts > type(uint64).max) revert Packed.BadPreimage("LastDelayed");
        b.ts = ts;
        b.p = p + 256;
        return origin;
    }

    /// @dev The SYS MachineState after BLOCK_START: BlockCtx, J0, empty BlockAcc.
    function _post(B memory b, bytes32 cursorHash, bytes32 entryHash) private view returns (bytes32) {
        bytes memory blk = new bytes(1 + Packed.BLOCK_SIZE);
        blk[0] = bytes1(Packed.TAG_BLOCK);
        blk.wr(0, 8, b.number + 1);
        blk.wr(8, 8, b.ts);
        blk.wr32(16, b.blockHash);
        blk.wr(48, 32, _nextBaseFee(b.parentBaseFee, b.parentGasUsed));
        blk.wr(80, 1, b.newOrigin);
        blk.wr(81, 8, b.origin);
        blk.wr32(89, b.originHash);
        blk.wr(121, 32, b.originBaseFee);
        bytes memory ms = new bytes(1 + Packed.MS_SIZE);
        ms[0] = bytes1(Packed.TAG_MS);
        ms.wr(Packed.MS_PHASE, 1, SYS);
        ms.wr32(1, cursorHash);
        ms.wr32(33, entryHash);
        ms.wr32(Packed.MS_BLOCK, keccak256(blk));
        ms.wr32(97, b.stateRoot);
        ms.wr32(Packed.MS_JOURNAL_ROOT, Journal.emptyRoot());
        ms.wr(Packed.MS_JOURNAL_COUNT, 4, 1);
        ms.wr32(Packed.MS_ACC, emptyBlockAcc);
        ms.wr32(261, PENDING_SYS_0);
        return keccak256(ms);
    }

    /// @dev EIP-1559 from the parent's base fee and gas used, the chain's gas limit and parameters.
    function _nextBaseFee(uint256 fee, uint256 used) private view returns (uint256) {
        uint256 target = gasLimit / elasticity;
        if (used == target) return fee;
        if (used > target) {
            uint256 up = fee * (used - target) / target / denominator;
            return fee + (up > 1 ? up : 1);
        }
        uint256 down = fee * (target - used) / target / denominator;
        return fee > down ? fee - down : 0;
    }

    // -- RLP of the parent header ---------------------------------------------------------------

    function _item(bytes calldata d, uint256 off) private pure returns (uint256 start, uint256 len, bool isList) {
        if (off >= d.length) revert BadHeader();
        uint256 b0 = uint8(d[off]);
        if (b0 < 0x80) return (off, 1, false);
        if (b0 < 0xb8) return (off + 1, b0 - 0x80, false);
        if (b0 < 0xc0) return (off + 1 + (b0 - 0xb7), _uint(d, off + 1, b0 - 0xb7), false);
        if (b0 < 0xf8) return (off + 1, b0 - 0xc0, true);
        return (off + 1 + (b0 - 0xf7), _uint(d, off + 1, b0 - 0xf7), true);
    }

    /// @dev Big-endian unsigned integer of `l` <= 32 bytes at `d[s:]`.
    function _uint(bytes calldata d, uint256 s, uint256 l) private pure returns (uint256) {
        if (l > 32 || s + l > d.length) revert BadHeader();
        if (l == 0) return 0;
        return uint256(bytes32(d[s:s + l])) >> (256 - 8 * l);
    }
}
