// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";

/// @title ExecTx
/// @notice The tx-level steps of the one-step verifier that are not opcodes (docs/fraud-proofs.md
///         2 intro, 2.5): the IDENTITY step of a final block claim and the COMMIT walk (TX_END:
///         ExecTxEnd.sol). A contract of its own (like ExecWorld), deployed before OneStepProver
///         and passed to its constructor (6.1); pure, called by OneStepProver (staticcall) with
///         the proof it was given.
///         Twins: l1/proofs/block_machine.py (identity padding), block_steps.commit;
///         proof encoder l1/proofs/tx_proofs.py.
contract ExecTx {
    using Packed for bytes;

    uint8 internal constant TAG_CLAIM = 0x42;
    uint256 internal constant CLAIM_SIZE = 72;
    uint8 internal constant TAG_CURSOR = 0x4D;
    uint256 internal constant CURSOR_SIZE = 20;
    uint8 internal constant TAG_PENDING = 0x50;
    uint256 internal constant PENDING_COMMIT_SIZE = 43; // op 4 ++ the CommitCursor fields

    uint256 internal constant IDLE = 2;
    uint256 internal constant COMMIT = 7;
    uint256 internal constant MS_WORLD_ROOT = 97;
    uint256 internal constant MS_PENDING = 261;

    /// @notice A Pending preimage that is not the COMMIT walk's (op 4).
    error NotCommitPending();

    // -- IDENTITY (2 intro, 4.1) ----------------------------------------------------------------

    /// @notice The step of a block claim `pre`: itself when the claim is final, i.e. its cursor is
    ///         at (or past) `entryLimit`, or it is the claim of block `l2Block` in the middle of an
    ///         entry (`msgIndex != 0`: no ENTRY_SKIP can follow). A claim of block `l2Block` at
    ///         `msgIndex == 0` before `entryLimit` may still be followed by ENTRY_SKIPs, which need
    ///         the entry (3.1): `Unsupported("ENTRY_SKIP")`; any other claim starts a block:
    ///         `Unsupported("BLOCK_START")`. Proof: the claim and cursor preimages (92 bytes).
    function identity(IOneStepProver.GameContext calldata ctx, bytes32 pre, bytes calldata proof)
        external
        pure
        returns (bytes32)
    {
        bytes memory claim = Packed.loadChecked(proof, 0, TAG_CLAIM, CLAIM_SIZE, pre, "BlockClaim");
        bytes memory cursor = Packed.loadChecked(proof, CLAIM_SIZE, TAG_CURSOR, CURSOR_SIZE, claim.rd32(40), "Cursor");
        uint256 number = claim.rd(0, 8);
        if (cursor.rd(0, 8) >= ctx.entryLimit) return pre;
        if (number == ctx.l2Block) {
            if (cursor.rd(8, 4) != 0) return pre;
            revert IOneStepProver.Unsupported("ENTRY_SKIP");
        }
        revert IOneStepProver.Unsupported("BLOCK_START");
    }

    // -- COMMIT (2.5, 8.4) ----------------------------------------------------------------------

    /// @notice One COMMIT step from the checked MachineState preimage `ms` (phase COMMIT). Proof
    ///         after the MachineState: the Pending preimage (43: op 4 ++ CommitCursor), the journal
    ///         `LeafProof` the step is about, the MPT write proof (`u32 length ++ bytes[]` tail,
    ///         empty list when the step writes nothing) and the delete sibling (`u32 length ++
    ///         bytes`). The last step moves to IDLE with the journal J0, tx and frame 0.
    function commit(bytes memory ms, bytes calldata proof) external pure returns (bytes32) {
        bytes memory pend =
            Packed.loadChecked(proof, Packed.MS_SIZE, TAG_PENDING, PENDING_COMMIT_SIZE, ms.rd32(MS_PENDING), "Pending");
        if (pend.rd(0, 1) != 4) revert NotCommitPending();
        WorldState.CommitCursor memory c = WorldState.CommitCursor({
            stage: uint8(pend.rd(1, 1)),
            leafIndex: uint32(pend.rd(2, 4)),
            accountIndex: uint32(pend.rd(6, 4)),
            storageRoot: pend.rd32(10),
            close: pend.rd(42, 1) != 0
        });
        Journal.LeafProof memory leaf;
        uint256 p;
        (leaf, p) = Journal.decodeLeafProof(proof, Packed.MS_SIZE + PENDING_COMMIT_SIZE);
        bytes32 world;
        (world, c) = _walk(ms, c, leaf, proof, p);
        ms.wr32(MS_WORLD_ROOT, world);
        if (c.stage == WorldState.STAGE_DONE) {
            ms.wr(Packed.MS_PHASE, 1, IDLE);
            ms.wr32(Packed.MS_JOURNAL_ROOT, Journal.emptyRoot());
            ms.wr(Packed.MS_JOURNAL_COUNT, 4, 1);
            ms.wr32(Packed.MS_TX, 0);
            ms.wr32(Packed.MS_FRAME, 0);
            ms.wr32(MS_PENDING, 0);
        } else {
            ms.wr32(MS_PENDING, WorldState.pendingHash(c));
        }
        return keccak256(ms);
    }

    /// @dev Reads the MPT write proof and the sibling after the leaf, and runs the walk's step.
    function _walk(
        bytes memory ms,
        WorldState.CommitCursor memory c,
        Journal.LeafProof memory leaf,
        bytes calldata proof,
        uint256 p
    ) private pure returns (bytes32, WorldState.CommitCursor memory) {
        bytes[] calldata mpt;
        (mpt, p) = ExecBase.nodes(proof, p);
        (bytes calldata sibling,) = ExecBase.sized(proof, p);
        return _commitStep(ms, c, leaf, mpt, sibling);
    }

    function _commitStep(
        bytes memory ms,
        WorldState.CommitCursor memory c,
        Journal.LeafProof memory leaf,
        bytes[] calldata mpt,
        bytes calldata sibling
    ) private pure returns (bytes32, WorldState.CommitCursor memory) {
        return WorldState.commitStep(
            ms.rd32(MS_WORLD_ROOT), ms.rd32(Packed.MS_JOURNAL_ROOT), ms.rd(Packed.MS_JOURNAL_COUNT, 4), c, leaf, mpt, sibling
        );
    }
}
