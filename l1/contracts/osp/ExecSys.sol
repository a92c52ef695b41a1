// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IPhaseStep} from "./IPhaseStep.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";

/// @title ExecSys
/// @notice The steps of phase SYS (docs/fraud-proofs.md 2.1 as built, 14): the system writes
///         before a block's first transaction (EIP-2935's parent-hash slot, then, when the block
///         has a new L1 origin, the L1Info slots 0..2) and the LOAD_ACCOUNT / LOAD_SLOT that
///         precede each. `phaseSteps[SYS]` of OneStepProver, which hands it `(pre, proof)` as is.
///         Twins: l1/proofs/block_steps.sys_write, tx_steps.load_account / load_slot;
///         proofs by l1/proofs/block_proofs.py.
///
///         The write target is a function of the pre-state (`Pending` op 6 `next` and the
///         `BlockCtx`); the proof's action byte only says which of the three steps it proves, and
///         each proves its own case: LOAD_ACCOUNT the account absent (journal insert), LOAD_SLOT
///         the account present and the slot absent, SYS_WRITE the slot present.
///
///         Proof: MachineState (293) ++ Pending (2: op 6 ++ u8 next) ++ BlockCtx (153) ++ u8 action
///         ++ 0 LOAD_ACCOUNT: MPT proof of the account in worldRoot (`u32 length ++ bytes[]`) ++
///              InsertProof
///          | 1 LOAD_SLOT: the account's LeafProof ++ MPT proof of the slot in its origStorageRoot ++
///              InsertProof
///          | 2 SYS_WRITE: the slot's LeafProof.
///         The last write moves to phase COMMIT (the walk's first cursor), as after TX_END.
contract ExecSys is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant SYS = 1;
    uint256 internal constant COMMIT = 7;
    uint256 internal constant MS_WORLD_ROOT = 97;
    uint256 internal constant MS_PENDING = 261;
    uint8 internal constant TAG_PENDING = 0x50;
    uint8 internal constant OP_SYS = 6;
    /// @notice EIP-2935's history contract and its ring size.
    address internal constant HISTORY = 0x0000F90827F1C53a10cb7A02335B175320002935;
    uint256 internal constant HISTORY_SERVE_WINDOW = 8191;

    /// @notice The L1Info predeploy (slots 0, 1, 2: origin number, hash, base fee).
    address public immutable l1Info;

    error Unsupported(bytes32 name);
    /// @notice The action byte is not 0 (LOAD_ACCOUNT), 1 (LOAD_SLOT) or 2 (SYS_WRITE).
    error BadAction();
    /// @notice LOAD_SLOT's account leaf is not the write target's account.
    error WrongAccount();

    constructor(address l1Info_) {
        l1Info = l1Info_;
    }

    /// @dev The decoded parts of one step: the target (account, slot, value) and the journal.
    struct X {
        uint256 p;
        address a;
        uint256 slot;
        uint256 value;
        bytes32 root;
        uint256 count;
    }

    /// @notice One step of phase SYS from `pre`.
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (ms.rd(Packed.MS_PHASE, 1) != SYS) revert Unsupported("PHASE");
        X memory x;
        x.p = Packed.MS_SIZE;
        bytes memory pend = Packed.loadChecked(proof, x.p, TAG_PENDING, 2, ms.rd32(MS_PENDING), "Pending");
        if (pend.rd(0, 1) != OP_SYS || pend.rd(1, 1) > 3) revert Packed.BadPreimage("Pending");
        uint256 next = pend.rd(1, 1);
        x.p += 2;
        bytes memory blk =
            Packed.loadChecked(proof, x.p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        x.p += Packed.BLOCK_SIZE;
        (x.a, x.slot, x.value) = _target(blk, next);
        if (x.p >= proof.length) revert Packed.ProofTooShort();
        uint256 action = uint8(proof[x.p]);
        x.p += 1;
        x.root = ms.rd32(Packed.MS_JOURNAL_ROOT);
        x.count = ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        if (action == 0) {
            _loadAccount(x, ms.rd32(MS_WORLD_ROOT), proof);
        } else if (action == 1) {
            _loadSlot(x, proof);
        } else if (action == 2) {
            _write(x, proof);
            if (next == 3 || (next == 0 && blk.rd(80, 1) == 0)) {
                ms.wr(Packed.MS_PHASE, 1, COMMIT);
                ms.wr32(MS_PENDING, WorldState.pendingHash(WorldState.startCursor()));
            } else {
                ms.wr32(MS_PENDING, keccak256(abi.encodePacked(TAG_PENDING, OP_SYS, uint8(next + 1))));
            }
        } else {
            revert BadAction();
        }
        ms.wr32(Packed.MS_JOURNAL_ROOT, x.root);
        ms.wr(Packed.MS_JOURNAL_COUNT, 4, x.count);
        return keccak256(ms);
    }

    /// @dev (account, slot, value) of system write `next` (block_steps.sys_target).
    function _target(bytes memory blk, uint256 next) private view returns (address, uint256, uint256) {
        if (next == 0) {
            return (HISTORY, (blk.rd(Packed.B_NUMBER, 8) - 1) % HISTORY_SERVE_WINDOW, uint256(blk.rd32(16)));
        }
        if (next == 1) return (l1Info, 0, blk.rd(81, 8));
        if (next == 2) return (l1Info, 1, uint256(blk.rd32(89)));
        return (l1Info, 2, blk.rd(121, 32));
    }

    function _loadAccount(X memory x, bytes32 world, bytes calldata proof) private pure {
        (bytes[] calldata nodes, uint256 p) = ExecBase.nodes(proof, x.p);
        (Journal.InsertProof memory ins,) = Journal.decodeInsertProof(proof, p);
        (x.root, x.count,) = WorldState.loadAccount(world, x.root, x.count, x.a, nodes, ins);
    }

    function _loadSlot(X memory x, bytes calldata proof) private pure {
        (Journal.LeafProof memory account, uint256 p) = Journal.decodeLeafProof(proof, x.p);
        bytes[] calldata nodes;
        (nodes, p) = ExecBase.nodes(proof, p);
        (Journal.InsertProof memory ins,) = Journal.decodeInsertProof(proof, p);
        Journal.Slot memory entry;
        (x.root, x.count, entry) = WorldState.loadSlot(x.root, x.count, account, x.slot, nodes, ins);
        if (entry.addr != x.a) revert WrongAccount();
    }

    /// @dev SYS_WRITE: the target slot's `current := value` (warm flag and original unchanged).
    function _write(X memory x, bytes calldata proof) private pure {
        (Journal.LeafProof memory leaf,) = Journal.decodeLeafProof(proof, x.p);
        (bytes32 hi, bytes32 lo) = Journal.slotKey(x.a, x.slot);
        Journal.verifyMember(x.root, x.count, leaf, hi, lo);
        Journal.Slot memory s = Journal.decodeSlot(leaf.leaf.payload);
        s.current = x.value;
        x.root = Journal.update(x.root, x.count, leaf, Journal.encodeSlot(s));
    }
}
