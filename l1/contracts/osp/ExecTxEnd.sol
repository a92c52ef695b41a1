// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";
import {IPhaseStep} from "./IPhaseStep.sol";

/// @title ExecTxEnd
/// @notice The TX_END step (docs/fraud-proofs.md 2.5, twin l1/proofs/tx_steps.tx_end): gas
///         used and refund, the sender's refund and the coinbase's fee in the journal, the
///         TxRecord appended, the block bloom, then phase COMMIT. A contract of its own, deployed
///         before OneStepProver and registered as its `phaseSteps[TX_END]` (IPhaseStep: the prover
///         hands it `(pre, proof)` as is, docs 2.7, 6.1); it can also be called directly.
///
///         Proof: MachineState (293) ++ TxCtx (344) ++ BlockCtx (153) ++ BlockAcc (148) ++ [Frame
///         (428) when `MachineState.frame != 0`] ++ tx bloom (256) ++ block bloom (256) ++ the
///         TxRecord tree's word at `txCount` and its 16 siblings ++ journal: user tx: the sender's
///         `LeafProof`, then the coinbase's (in the journal after the sender's refund); deposit:
///         `u8 present` ++ the coinbase's `LeafProof` (1) or its low leaf (0: absent, nothing to do).
contract ExecTxEnd is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant COMMIT = 7;
    uint256 internal constant TX_END = 6;
    uint256 internal constant MS_PENDING = 261;
    uint256 internal constant TXREC_DEPTH = 16;

    // TxCtx
    uint256 internal constant T_KIND = 0;
    uint256 internal constant T_TYPE = 1;
    uint256 internal constant T_GAS_LIMIT = 82;
    uint256 internal constant T_RAW_OFF = 218;
    uint256 internal constant T_RAW_LEN = 226;
    uint256 internal constant T_INTRINSIC = 274;
    uint256 internal constant T_FLOOR = 282;
    // BlockAcc
    uint256 internal constant A_GAS_USED = 0;
    uint256 internal constant A_TX_COUNT = 8;
    uint256 internal constant A_TXREC_ROOT = 12;
    uint256 internal constant A_BLOOM_HASH = 44;

    /// @notice The fee recipient of every L2 block (a chain constant, 1.1).
    address public immutable coinbase;

    error Unsupported(bytes32 name);
    /// @notice A bloom preimage does not hash to the committed bloom.
    error BadBloom();
    /// @notice A deposit's coinbase flag is neither 0 (absent) nor 1 (present).
    error BadPresenceFlag();

    constructor(address coinbase_) {
        coinbase = coinbase_;
    }

    /// @dev The decoded parts of one TX_END step.
    struct E {
        bytes ms;
        bytes t;
        bytes a;
        uint256 p;
        uint256 baseFee;
        uint256 gasUsed;
        bytes txBloom;
        bytes blockBloom;
    }

    /// @notice TX_END from `pre`: the post-state hash (phase COMMIT, the walk's first cursor).
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        E memory e;
        e.ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (e.ms.rd(Packed.MS_PHASE, 1) != TX_END) revert Unsupported("PHASE");
        e.p = Packed.MS_SIZE;
        e.t = Packed.loadChecked(proof, e.p, Packed.TAG_TX, Packed.TX_SIZE, e.ms.rd32(Packed.MS_TX), "TxCtx");
        e.p += Packed.TX_SIZE;
        bytes memory b =
            Packed.loadChecked(proof, e.p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, e.ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        e.baseFee = b.rd(Packed.B_BASE_FEE, 32);
        e.p += Packed.BLOCK_SIZE;
        e.a = Packed.loadChecked(proof, e.p, Packed.TAG_ACC, Packed.ACC_SIZE, e.ms.rd32(Packed.MS_ACC), "BlockAcc");
        e.p += Packed.ACC_SIZE;
        _gasUsed(e, proof);
        _blooms(e, proof);
        _record(e, proof);
        _journal(e, proof);
        e.ms.wr(Packed.MS_PHASE, 1, COMMIT);
        e.ms.wr32(Packed.MS_ACC, keccak256(e.a));
        e.ms.wr32(Packed.MS_FRAME, 0);
        e.ms.wr32(MS_PENDING, WorldState.pendingHash(WorldState.startCursor()));
        return keccak256(e.ms);
    }

    /// @dev gasUsed = max(used - min(refund, used / 5), floor); a deposit whose call was skipped
    ///      uses its whole gas limit. Gas left: the ended top frame's, or gasLimit - intrinsic.
    function _gasUsed(E memory e, bytes calldata proof) private pure {
        bytes memory t = e.t;
        uint256 gasLimit = t.rd(T_GAS_LIMIT, 8);
        uint256 gasLeft;
        if (e.ms.rd32(Packed.MS_FRAME) != 0) {
            bytes memory fr = Packed.loadChecked(
                proof, e.p, Packed.TAG_FRAME, Packed.FRAME_SIZE, e.ms.rd32(Packed.MS_FRAME), "Frame"
            );
            e.p += Packed.FRAME_SIZE;
            gasLeft = fr.rd(Packed.F_GAS, 8);
        }
        if (t.rd(Packed.T_STATUS, 1) & 2 != 0) {
            // a deposit whose call was skipped (gas limit below its intrinsic gas)
            e.gasUsed = gasLimit;
            return;
        }
        if (e.ms.rd32(Packed.MS_FRAME) == 0) gasLeft = gasLimit - t.rd(T_INTRINSIC, 8);
        uint256 used = gasLimit - gasLeft;
        int64 r = int64(uint64(t.rd(Packed.T_REFUND, 8)));
        uint256 refund = r > 0 ? uint256(uint64(r)) : 0;
        if (refund > used / 5) refund = used / 5;
        e.gasUsed = used - refund;
        uint256 floor = t.rd(T_FLOOR, 8);
        if (e.gasUsed < floor) e.gasUsed = floor;
    }

    /// @dev The tx bloom (its hash is TxCtx.bloom; 0 with an all-zero bloom when no call ran)
    ///      and the block bloom (BlockAcc.bloomHash), which takes the tx bloom's bits.
    function _blooms(E memory e, bytes calldata proof) private pure {
        if (e.p + 512 > proof.length) revert Packed.ProofTooShort();
        e.txBloom = proof[e.p:e.p + 256];
        e.blockBloom = proof[e.p + 256:e.p + 512];
        e.p += 512;
        bytes32 committed = e.t.rd32(Packed.T_BLOOM);
        bytes memory txBloom = e.txBloom;
        if (keccak256(txBloom) != committed && !(committed == 0 && keccak256(txBloom) == keccak256(new bytes(256)))) {
            revert BadBloom();
        }
        if (keccak256(e.blockBloom) != e.a.rd32(A_BLOOM_HASH)) revert BadBloom();
        bytes memory bb = e.blockBloom;
        for (uint256 i = 0; i < 256; i += 32) {
            assembly {
                let at := add(add(bb, 32), i)
                mstore(at, or(mload(at), mload(add(add(txBloom, 32), i))))
            }
        }
        e.a.wr32(A_BLOOM_HASH, keccak256(bb));
    }

    /// @dev Appends the TxRecord at index txCount of the record tree (the old word proven, the
    ///      same siblings give the new root) and moves gasUsed, txCount and bufLen.
    function _record(E memory e, bytes calldata proof) private pure {
        uint256 logsOff = (e.t.rd(T_RAW_OFF, 8) + e.t.rd(T_RAW_LEN, 4) + 31) / 32 * 32;
        uint256 logsLen = e.a.rd(Packed.A_BUF_LEN, 8);
        logsLen = logsLen > logsOff ? logsLen - logsOff : 0;
        uint256 cumulative = e.a.rd(A_GAS_USED, 8) + e.gasUsed;
        bytes32 record = _recordHash(e.t, cumulative, logsOff, logsLen, e.txBloom);
        _append(e, proof, record);
        e.a.wr(A_GAS_USED, 8, cumulative);
        e.a.wr(Packed.A_BUF_LEN, 8, logsOff + logsLen);
    }

    /// @dev Writes `record` at index txCount of the record tree: the old word and its siblings are
    ///      proven against txRecRoot, the same siblings give the new root.
    function _append(E memory e, bytes calldata proof, bytes32 record) private pure {
        bytes memory a = e.a;
        uint256 count = a.rd(A_TX_COUNT, 4);
        bytes32[] memory words = new bytes32[](1);
        if (e.p + 32 > proof.length) revert Packed.ProofTooShort();
        words[0] = bytes32(proof[e.p:e.p + 32]);
        (bytes32 root, uint256 next) = Buf.rangeRoot(TXREC_DEPTH, count, words, proof, e.p + 32);
        if (root != a.rd32(A_TXREC_ROOT)) revert Packed.BadPreimage("TxRecords");
        words[0] = record;
        (root,) = Buf.rangeRoot(TXREC_DEPTH, count, words, proof, e.p + 32);
        e.p = next;
        a.wr(A_TX_COUNT, 4, count + 1);
        a.wr32(A_TXREC_ROOT, root);
    }

    /// @dev TxRecord (1.3) = H(0x52 ++ u8 type ++ u8 status ++ u64 cumulativeGas ++ u64 rawOff ++
    ///      u32 rawLen ++ u64 logsOff ++ u64 logsLen ++ 256-byte bloom).
    function _recordHash(bytes memory t, uint256 cumulative, uint256 logsOff, uint256 logsLen, bytes memory bloom)
        private
        pure
        returns (bytes32)
    {
        bytes memory head = abi.encodePacked(
            bytes1(0x52), uint8(t.rd(T_TYPE, 1)), uint8(t.rd(Packed.T_STATUS, 1) & 1), uint64(cumulative)
        );
        return keccak256(
            abi.encodePacked(
                head, uint64(t.rd(T_RAW_OFF, 8)), uint32(t.rd(T_RAW_LEN, 4)), uint64(logsOff), uint64(logsLen), bloom
            )
        );
    }

    /// @dev User tx: sender += (gasLimit - gasUsed) * gasPrice, coinbase += gasUsed * (gasPrice -
    ///      baseFee) and touched. Deposit: the coinbase is touched if the journal holds it.
    function _journal(E memory e, bytes calldata proof) private view {
        bytes32 root = e.ms.rd32(Packed.MS_JOURNAL_ROOT);
        uint256 count = e.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        uint256 gasPrice = e.t.rd(Packed.T_GAS_PRICE, 32);
        Journal.LeafProof memory lp;
        if (e.t.rd(T_KIND, 1) == 0) {
            (lp, e.p) = Journal.decodeLeafProof(proof, e.p);
            uint256 refund = (e.t.rd(T_GAS_LIMIT, 8) - e.gasUsed) * gasPrice;
            root = _credit(root, count, lp, address(uint160(e.t.rd(Packed.T_SENDER, 20))), refund, false);
            (lp, e.p) = Journal.decodeLeafProof(proof, e.p);
            root = _credit(root, count, lp, coinbase, e.gasUsed * (gasPrice - e.baseFee), true);
        } else {
            if (e.p + 1 > proof.length) revert Packed.ProofTooShort();
            uint8 present = uint8(proof[e.p]);
            (lp, e.p) = Journal.decodeLeafProof(proof, e.p + 1);
            if (present == 1) {
                root = _credit(root, count, lp, coinbase, 0, true);
            } else if (present == 0) {
                (bytes32 hi, bytes32 lo) = Journal.accountKey(coinbase);
                Journal.verifyAbsent(root, count, lp, hi, lo);
            } else {
                revert BadPresenceFlag();
            }
        }
        e.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
    }

    function _credit(bytes32 root, uint256 count, Journal.LeafProof memory lp, address who, uint256 amount, bool touch)
        private
        pure
        returns (bytes32)
    {
        (bytes32 hi, bytes32 lo) = Journal.accountKey(who);
        Journal.verifyMember(root, count, lp, hi, lo);
        Journal.Account memory acct = Journal.decodeAccount(lp.leaf.payload);
        acct.balance += amount;
        if (touch) acct.flags |= Journal.FLAG_TOUCHED;
        return Journal.update(root, count, lp, Journal.encodeAccount(acct));
    }
}
