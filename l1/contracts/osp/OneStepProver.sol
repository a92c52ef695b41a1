// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {Buf} from "./Buf.sol";
import {OpTable} from "./OpTable.sol";
import {Packed} from "./Packed.sol";
import {ExecBase} from "./ExecBase.sol";
import {ExecWorld} from "./ExecWorld.sol";
import {ExecCall} from "./ExecCall.sol";
import {ExecTx} from "./ExecTx.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {CodeOracle} from "../CodeOracle.sol";

/// @title OneStepProver
/// @notice The EVM one-step verifier (docs/fraud-proofs.md 2.3): decodes the `MachineState` and
///         `Frame` preimages of a proof, checks them against `pre`, and runs one opcode of the
///         current frame on the proven parts of its state. This slice proves the opcodes that
///         need no world state (section 6 of the spec lists them) and the end of the top frame;
///         every other step reverts `Unsupported(name)`. Twin: l1/proofs/steps.py. A block
///         claim's IDENTITY step and the COMMIT walk go to ExecTx (tx_proofs.py packs their proofs).
///
///         Deployment (6.1): the step contracts are deployed on their own, before the prover, and
///         their addresses passed to its constructor (creating them here put the prover's
///         initcode at the 48 KiB EIP-3860 limit). Two kinds:
///         - the EXEC helpers `world` (ExecWorld: world-state opcodes, reads the code oracle),
///           `calls` (ExecCall: CALL and the end of inner frames, reads the code oracle) and
///           `txSteps` (ExecTx: IDENTITY and COMMIT), called with decoded parts of the step;
///         - one `IPhaseStep` per `MachineState` phase, `phaseSteps[phase]`, handed `(pre, proof)`
///           as is: TX_END (6) is ExecTxEnd. A phase whose slot is zero reverts
///           `Unsupported(<phase name>)`, so a new phase contract (TX_LOAD, TRIE, ...) is wired by
///           filling its slot at deployment (l1/deploy.py `PHASE_STEPS`), touching no other one.
///         A step contract that needs a chain constant takes it in its own constructor
///         (ExecWorld the code oracle, ExecTxEnd the coinbase); the constructor checks that
///         ExecWorld reads `codeOracle`.
contract OneStepProver is IOneStepProver {
    using Packed for bytes;

    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant CODE_DEPTH = 11;
    uint256 internal constant MAX_MEM_WORDS = 1 << 20;
    uint256 internal constant INLINE = 544;
    uint256 internal constant MS_PENDING = 261;
    uint256 internal constant EXEC = 5;
    uint256 internal constant TX_END = 6;
    uint256 internal constant COMMIT = 7;
    /// @notice Phases are 1..9 (1.2); `phaseSteps` has one slot per phase value below this.
    uint256 public constant PHASES = 10;

    /// @notice The world-state opcodes (ExecWorld.sol), deployed before this contract.
    ExecWorld public immutable world;
    /// @notice The tx-level steps (ExecTx.sol: IDENTITY, COMMIT), deployed before this contract.
    ExecTx public immutable txSteps;
    /// @notice CALL and the end of inner frames (ExecCall.sol), deployed before this contract.
    ExecCall public immutable calls;
    uint256 public immutable chainId;
    uint256 public immutable gasLimit;
    address public immutable coinbase;
    /// @notice The code oracle (D4) the deployment's ExecWorld reads.
    CodeOracle public immutable codeOracle;
    /// @notice The step contract of each phase (IPhaseStep), zero where the phase is not provable
    ///         yet; EXEC and COMMIT are always zero (proven by this contract, world and txSteps).
    ///         Slot 0 (no phase has the value 0) is the block-claim steps, an IOneStepProver.
    ///         Storage (arrays cannot be immutable), written only here by the constructor: no setter.
    address[PHASES] public phaseSteps;

    /// @notice The constructor's step contracts do not fit together (`what` names the mismatch).
    error MisWired(bytes32 what);

    /// @param codeOracle_ the code oracle (D4) EXTCODESIZE reads; frames' code records come from it
    /// @param world_ an ExecWorld deployed with `codeOracle_`
    /// @param txSteps_ an ExecTx
    /// @param calls_ an ExecCall deployed with `codeOracle_`
    /// @param phaseSteps_ the IPhaseStep of each phase (index = phase), zero for none: [6] ExecTxEnd;
    ///        [0] the block-claim steps (IOneStepProver), zero: ExecTx.identity
    constructor(
        uint256 chainId_,
        uint256 gasLimit_,
        address coinbase_,
        CodeOracle codeOracle_,
        ExecWorld world_,
        ExecTx txSteps_,
        ExecCall calls_,
        address[PHASES] memory phaseSteps_
    ) {
        if (address(world_.codeOracle()) != address(codeOracle_)) revert MisWired("codeOracle");
        if (address(calls_.codeOracle()) != address(codeOracle_)) revert MisWired("calls");
        if (address(txSteps_).code.length == 0) revert MisWired("txSteps");
        if (phaseSteps_[EXEC] != address(0) || phaseSteps_[COMMIT] != address(0)) {
            revert MisWired("phaseSteps");
        }
        for (uint256 i = 0; i < PHASES; i++) {
            if (phaseSteps_[i] != address(0) && phaseSteps_[i].code.length == 0) revert MisWired("phaseSteps");
        }
        chainId = chainId_;
        gasLimit = gasLimit_;
        coinbase = coinbase_;
        codeOracle = codeOracle_;
        world = world_;
        txSteps = txSteps_;
        calls = calls_;
        phaseSteps = phaseSteps_;
    }

    /// @inheritdoc IOneStepProver
    function step(GameContext calldata ctx, bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        // A block claim's proof starts with its preimage (72 bytes, tag 0x42): slot 0 of
        // `phaseSteps` (an IOneStepProver: ENTRY_SKIP, BLOCK_START need the game context) when
        // set, else ExecTx's IDENTITY. Any other proof starts with the MachineState preimage.
        if (proof.length < Packed.MS_SIZE || _isClaim(pre, proof)) {
            address claimStep = phaseSteps[0];
            if (claimStep == address(0)) return txSteps.identity(ctx, pre, proof);
            return IOneStepProver(claimStep).step(ctx, pre, proof);
        }
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        uint256 phase = ms.rd(Packed.MS_PHASE, 1);
        if (phase == EXEC) return _exec(ms, proof);
        if (phase == COMMIT) return txSteps.commit(ms, proof);
        address phaseStep = phase < PHASES ? phaseSteps[phase] : address(0);
        if (phaseStep == address(0)) revert Unsupported(_phaseName(phase));
        return IPhaseStep(phaseStep).step(pre, proof);
    }

    /// @dev True when `proof` opens with the preimage of the block claim `pre`.
    function _isClaim(bytes32 pre, bytes calldata proof) private pure returns (bool) {
        return keccak256(abi.encodePacked(uint8(0x42), proof[:72])) == pre;
    }

    function _phaseName(uint256 phase) private pure returns (bytes32) {
        if (phase == 1) return "SYS";
        if (phase == 2) return "IDLE";
        if (phase == 3) return "TX_LOAD";
        if (phase == 4) return "TX_SETUP";
        if (phase == 6) return "TX_END";
        if (phase == 7) return "COMMIT";
        if (phase == 8) return "TRIE";
        if (phase == 9) return "SEAL";
        return "PHASE";
    }

    // -- EXEC -------------------------------------------------------------------------------

    function _exec(bytes memory ms, bytes calldata proof) private view returns (bytes32) {
        ExecBase.S memory s;
        s.ms = ms;
        uint256 p = Packed.MS_SIZE;
        s.fr = Packed.loadChecked(proof, p, Packed.TAG_FRAME, Packed.FRAME_SIZE, ms.rd32(Packed.MS_FRAME), "Frame");
        p += Packed.FRAME_SIZE;
        s.code = Packed.loadChecked(proof, p, Packed.TAG_CODE, Packed.CODE_SIZE, s.fr.rd32(Packed.F_CODE), "Code");
        s.p = p + Packed.CODE_SIZE;
        s.pc = s.fr.rd(Packed.F_PC, 4);
        s.gas = s.fr.rd(Packed.F_GAS, 8);
        s.depth = s.fr.rd(Packed.F_STACK_DEPTH, 2);
        s.memWords = s.fr.rd(Packed.F_MEM_WORDS, 4);
        s.memRoot = s.fr.rd32(Packed.F_MEM_ROOT);
        // (1) past the end of the code: STOP
        if (s.pc >= s.code.rd(Packed.C_CODE_SIZE, 4)) {
            return _endTop(s, proof, true, false);
        }
        _fetch(s, proof);
        (uint256 need, uint256 pops, uint256 pushes, uint256 baseGas, uint256 flags) = OpTable.info(s.op);
        // (2) undefined opcode, stack underflow / overflow, static violation: exceptional halt
        if (
            flags & 1 == 0 || s.depth < need || s.depth - pops + pushes > 1024
                || (flags & 4 != 0 && s.fr.rd(Packed.F_STATIC, 1) != 0)
        ) {
            return _endTop(s, proof, false, true);
        }
        if (flags & 2 == 0) revert Unsupported(OpTable.name(s.op));
        s.pops = pops;
        _readStack(s, proof, need);
        if (ms.rd32(MS_PENDING) != 0) {
            // the memory sponge of a CREATE / deposit (ExecCall, docs/fraud-proofs.md 21.1)
            (bool micro, bytes32 post, ExecBase.S memory next) = calls.pending(s, proof);
            if (micro) return post;
            s = next;
        }
        if (s.op == 0xf0 || s.op == 0xf5) {
            // CREATE, CREATE2 (ExecCall, docs/fraud-proofs.md 21)
            (bool halted, bytes32 post, ExecBase.S memory next) = calls.create(s, proof);
            return halted ? _endTop(next, proof, false, true) : post;
        }
        if (_isCall(s.op)) {
            // CALL: a value in a static frame halts before any gas; precompiles are not journalled
            if (s.op == 0xf1 && s.items[2] != 0 && s.fr.rd(Packed.F_STATIC, 1) != 0) return _endTop(s, proof, false, true);
            if (uint160(s.items[1]) >= 1 && uint160(s.items[1]) <= 0x11) revert Unsupported("PRECOMPILE_CALL");
        }
        // (3) a world-state opcode (or CALL) whose account or slot is absent from the journal: LOAD first
        if (_isWorld(s.op) || _isCall(s.op)) {
            (bool loaded, bytes32 post, ExecBase.S memory next) = world.load(s, proof);
            if (loaded) return post;
            s = next;
        }
        // RETURNDATACOPY past the return data halts (before any gas, as py-evm checks it)
        if (s.op == 0x3e && (s.items[1] > s.fr.rd(Packed.F_RD_LEN, 8) || s.items[2] > s.fr.rd(Packed.F_RD_LEN, 8) - s.items[1]))
        {
            return _endTop(s, proof, false, true);
        }
        // (4) gas first
        (uint256 cost, uint256 newWords) = _cost(s, baseGas);
        if (cost > s.gas) return _endTop(s, proof, false, true);
        if (newWords > MAX_MEM_WORDS) revert Unsupported("MEMORY_LIMIT");
        s.gas -= cost;
        s.memWords = newWords;
        s.nextPc = s.pc + 1;
        return _run(s, proof);
    }

    /// @dev The opcode at pc and, for PUSHn, its immediate, proven against codeRoot.
    function _fetch(ExecBase.S memory s, bytes calldata proof) private pure {
        uint256 op = uint8(ExecBase.w(proof, s.p)[s.pc & 31]);
        uint256 n = op >= 0x60 && op <= 0x7f ? op - 0x5f : 0;
        bytes32[] memory words = ExecBase.range(s, proof, s.code.rd32(Packed.C_CODE_ROOT), CODE_DEPTH, s.pc, n + 1);
        s.op = op;
        if (n > 0) s.push = _slice(words, (s.pc & 31) + 1, n);
    }

    function _readStack(ExecBase.S memory s, bytes calldata proof, uint256 need) private pure {
        s.items = new uint256[](need);
        for (uint256 i = 0; i < need; i++) {
            s.items[i] = uint256(ExecBase.w(proof, s.p + 32 * i));
        }
        s.below = ExecBase.w(proof, s.p + 32 * need);
        s.p += 32 * need + 32;
        bytes32 h = s.below;
        for (uint256 i = need; i > 0; i--) {
            h = _pair(h, bytes32(s.items[i - 1]));
        }
        if (h != s.fr.rd32(Packed.F_STACK)) revert Packed.BadPreimage("Stack");
    }

    /// @dev Total gas of the opcode (base + dynamic + memory expansion) and the memory size after.
    function _cost(ExecBase.S memory s, uint256 baseGas) private pure returns (uint256 cost, uint256 newWords) {
        uint256 op = s.op;
        cost = baseGas;
        newWords = s.memWords;
        uint256 off;
        uint256 size;
        if (op == 0x0a) {
            uint256 e = s.items[1];
            uint256 len = 0;
            while (e != 0) {
                len++;
                e >>= 8;
            }
            cost += 50 * len;
        } else if (op == 0x20) {
            (off, size) = (s.items[0], s.items[1]);
            if (size < 1 << 64) cost += 6 * ((size + 31) / 32);
        } else if (op == 0x51 || op == 0x52) {
            (off, size) = (s.items[0], 32);
        } else if (op == 0x53) {
            (off, size) = (s.items[0], 1);
        } else if (op == 0xf3 || op == 0xfd) {
            (off, size) = (s.items[0], s.items[1]);
        } else if (_isCopy(op)) {
            // MCOPY expands memory to cover both ranges
            (off, size) = (op == 0x5e && s.items[1] > s.items[0] ? s.items[1] : s.items[0], s.items[2]);
            if (size < 1 << 64) cost += 3 * ((size + 31) / 32);
        } else if (op == 0x3c) {
            // EXTCODECOPY: memory and words here, the account's 2600 / 100 with its leaf (ExecWorld)
            (off, size) = (s.items[1], s.items[3]);
            if (size < 1 << 64) cost += 3 * ((size + 31) / 32);
        } else if (op >= 0xa0 && op <= 0xa4) {
            (off, size) = (s.items[0], s.items[1]);
            cost += 375 * (op - 0xa0);
            if (size < 1 << 64) cost += 8 * size;
        } else if (_isCall(op)) {
            return _callMemCost(s, cost);
        }
        if (size == 0) return (cost, newWords);
        if (off >= 1 << 64 || size >= 1 << 64) return (type(uint128).max, newWords);
        uint256 words = (off + size + 31) / 32;
        if (words > newWords) {
            cost += _memCost(words) - _memCost(newWords);
            newWords = words;
        }
    }

    /// @dev A call's memory expansion over its input and output areas (py-evm extends both); they
    ///      are its last four items.
    function _callMemCost(ExecBase.S memory s, uint256 cost) private pure returns (uint256, uint256 words) {
        words = s.memWords;
        for (uint256 i = s.items.length - 4; i < s.items.length; i += 2) {
            (uint256 off, uint256 size) = (s.items[i], s.items[i + 1]);
            if (size == 0) continue;
            if (off >= 1 << 64 || size >= 1 << 64) return (type(uint128).max, s.memWords);
            uint256 w = (off + size + 31) / 32;
            if (w > words) words = w;
        }
        return (cost + _memCost(words) - _memCost(s.memWords), words);
    }

    function _memCost(uint256 words) private pure returns (uint256) {
        return 3 * words + (words * words) / 512;
    }

    function _run(ExecBase.S memory s, bytes calldata proof) private view returns (bytes32) {
        uint256 op = s.op;
        uint256[] memory it = s.items;
        uint256 r;
        if (op == 0x00) return _endTop(s, proof, true, false);
        if (_isCall(op)) {
            (bool halted, bytes32 post, ExecBase.S memory next) = calls.call(s, proof);
            return halted ? _endTop(next, proof, false, true) : post;
        }
        if (_isWorld(op) || (op >= 0xa0 && op <= 0xa4)) {
            bool ok;
            (ok, r, s) = world.run(s, proof);
            if (!ok) return _endTop(s, proof, false, true);
            if (op == 0x55 || op == 0x3c || op >= 0xa0) return _finish(s, 0);
            s.out = new uint256[](1);
            s.out[0] = r;
            return _finish(s, 1);
        }
        if (op == 0xf3 || op == 0xfd) {
            s.outOff = it[1] == 0 ? 0 : it[0];
            s.outLen = it[1];
            return _endTop(s, proof, op == 0xf3, false);
        }
        if (_isCopy(op)) {
            if (it[2] != 0) _memWriteBytes(s, proof, it[0], _copySource(s, proof));
            return _finish(s, 0);
        }
        if (op <= 0x1d) {
            r = _alu(op, it);
        } else if (op == 0x20) {
            r = uint256(_keccak(s, proof, it[0], it[1]));
        } else if (op >= 0x30 && op <= 0x4a) {
            r = _env(s, proof, op, it);
        } else if (op == 0x50 || op == 0x5b) {
            // POP, JUMPDEST: nothing beyond the pops and the gas
            return _finish(s, 0);
        } else if (op == 0x51) {
            r = uint256(_memRead(s, proof, it[0]));
        } else if (op == 0x52 || op == 0x53) {
            _memWrite(s, proof, it[0], it[1], op == 0x53);
            return _finish(s, 0);
        } else if (op == 0x56 || op == 0x57) {
            if (op == 0x57 && it[1] == 0) return _finish(s, 0);
            if (!_isJumpdest(s, proof, it[0])) return _endTop(s, proof, false, true);
            s.nextPc = it[0];
            return _finish(s, 0);
        } else if (op == 0x58) {
            r = s.pc;
        } else if (op == 0x59) {
            r = 32 * s.memWords;
        } else if (op == 0x5a) {
            r = s.gas;
        } else if (op == 0x5f) {
            r = 0;
        } else if (op <= 0x7f) {
            s.nextPc = s.pc + 1 + (op - 0x5f);
            r = s.push;
        } else if (op <= 0x8f) {
            r = it[op - 0x80];
        } else {
            // SWAPn: the window top-first becomes [items[n], items[1..n-1], items[0]]
            uint256 n = op - 0x8f;
            s.out = new uint256[](n + 1);
            for (uint256 i = 1; i < n; i++) {
                s.out[i] = it[i];
            }
            s.out[0] = it[n];
            s.out[n] = it[0];
            return _finish(s, s.out.length);
        }
        s.out = new uint256[](1);
        s.out[0] = r;
        return _finish(s, 1);
    }

    function _alu(uint256 op, uint256[] memory it) private pure returns (uint256 r) {
        uint256 a = it[0];
        uint256 b = it.length > 1 ? it[1] : 0;
        uint256 c = it.length > 2 ? it[2] : 0;
        assembly {
            switch op
            case 0x01 { r := add(a, b) }
            case 0x02 { r := mul(a, b) }
            case 0x03 { r := sub(a, b) }
            case 0x04 { r := div(a, b) }
            case 0x05 { r := sdiv(a, b) }
            case 0x06 { r := mod(a, b) }
            case 0x07 { r := smod(a, b) }
            case 0x08 { r := addmod(a, b, c) }
            case 0x09 { r := mulmod(a, b, c) }
            case 0x0a { r := exp(a, b) }
            case 0x0b { r := signextend(a, b) }
            case 0x10 { r := lt(a, b) }
            case 0x11 { r := gt(a, b) }
            case 0x12 { r := slt(a, b) }
            case 0x13 { r := sgt(a, b) }
            case 0x14 { r := eq(a, b) }
            case 0x15 { r := iszero(a) }
            case 0x16 { r := and(a, b) }
            case 0x17 { r := or(a, b) }
            case 0x18 { r := xor(a, b) }
            case 0x19 { r := not(a) }
            case 0x1a { r := byte(a, b) }
            case 0x1b { r := shl(a, b) }
            case 0x1c { r := shr(a, b) }
            case 0x1d { r := sar(a, b) }
        }
    }

    function _env(ExecBase.S memory s, bytes calldata proof, uint256 op, uint256[] memory it) private view returns (uint256) {
        bytes memory fr = s.fr;
        if (op == 0x30) return fr.rd(Packed.F_ADDRESS, 20);
        if (op == 0x33) return fr.rd(Packed.F_CALLER, 20);
        if (op == 0x34) return fr.rd(Packed.F_VALUE, 32);
        if (op == 0x35) return uint256(_calldataLoad(s, proof, it[0]));
        if (op == 0x36) return fr.rd(Packed.F_CD_LEN, 8);
        if (op == 0x38) return s.code.rd(Packed.C_CODE_SIZE, 4);
        if (op == 0x3d) return fr.rd(Packed.F_RD_LEN, 8);
        if (op == 0x41) return uint160(coinbase);
        if (op == 0x45) return gasLimit;
        if (op == 0x46) return chainId;
        if (op == 0x49) return 0; // BLOBHASH: L2 transactions carry no blobs
        if (op == 0x4a) return 1; // BLOBBASEFEE: excess blob gas is always 0
        if (op == 0x32 || op == 0x3a) {
            bytes memory t = ExecBase.loadTx(s, proof);
            return op == 0x32 ? t.rd(Packed.T_SENDER, 20) : t.rd(Packed.T_GAS_PRICE, 32);
        }
        if (op == 0x40) return world.blockHash(s, proof); // BLOCKHASH: the EIP-2935 slot (ExecWorld)
        bytes memory b =
            Packed.loadChecked(proof, s.p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, s.ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        s.p += Packed.BLOCK_SIZE;
        if (op == 0x42) return b.rd(Packed.B_TIMESTAMP, 8);
        if (op == 0x43) return b.rd(Packed.B_NUMBER, 8);
        if (op == 0x44) return b.rd(Packed.B_PARENT_HASH, 32); // PREVRANDAO = mixHash = parentHash
        return b.rd(Packed.B_BASE_FEE, 32); // 0x48
    }

    /// @dev 32 bytes of the calldata view from `i`, zero past its length (1.4, D5).
    function _calldataLoad(ExecBase.S memory s, bytes calldata proof, uint256 i) private pure returns (bytes32) {
        uint256 len = s.fr.rd(Packed.F_CD_LEN, 8);
        if (i >= len) return 0;
        bytes32 root = s.fr.rd32(Packed.F_CD_ROOT);
        if (root == 0) root = ExecBase.loadAcc(s, proof).rd32(Packed.A_BUF_ROOT);
        uint256 start = s.fr.rd(Packed.F_CD_OFF, 8) + i;
        uint256 n = len - i < 32 ? len - i : 32;
        bytes32[] memory words = ExecBase.range(s, proof, root, MEM_DEPTH, start, n);
        return bytes32(_slice(words, start & 31, n) << (8 * (32 - n)));
    }

    function _memRead(ExecBase.S memory s, bytes calldata proof, uint256 off) private pure returns (bytes32) {
        bytes32[] memory words = ExecBase.range(s, proof, s.memRoot, MEM_DEPTH, off, 32);
        return bytes32(_slice(words, off & 31, 32));
    }

    function _memWrite(ExecBase.S memory s, bytes calldata proof, uint256 off, uint256 v, bool byte8) private pure {
        uint256 size = byte8 ? 1 : 32;
        uint256 sib = s.p;
        bytes32[] memory words = ExecBase.range(s, proof, s.memRoot, MEM_DEPTH, off, size);
        sib += 32 * words.length;
        // write into a byte image of the words, then back
        bytes memory img = new bytes(32 * words.length);
        assembly {
            let dst := add(img, 32)
            for { let i := 0 } lt(i, mload(words)) { i := add(i, 1) } {
                mstore(add(dst, mul(i, 32)), mload(add(add(words, 32), mul(i, 32))))
            }
            let at := add(dst, and(off, 31))
            switch byte8
            case 1 { mstore8(at, and(v, 0xff)) }
            default { mstore(at, v) }
            for { let i := 0 } lt(i, mload(words)) { i := add(i, 1) } {
                mstore(add(add(words, 32), mul(i, 32)), mload(add(dst, mul(i, 32))))
            }
        }
        (s.memRoot,) = Buf.rangeRoot(MEM_DEPTH, off >> 5, words, proof, sib);
    }

    function _isCopy(uint256 op) private pure returns (bool) {
        return op == 0x37 || op == 0x39 || op == 0x3e || op == 0x5e;
    }

    /// @dev The `size` source bytes of CALLDATACOPY, CODECOPY, RETURNDATACOPY or MCOPY (zero past
    ///      the source's end), the available part proven against its tree.
    function _copySource(ExecBase.S memory s, bytes calldata proof) private pure returns (bytes memory data) {
        uint256 src = s.items[1];
        uint256 size = s.items[2];
        if (size > INLINE) revert Unsupported("COPY_PENDING");
        data = new bytes(size);
        uint256 avail = type(uint256).max; // MCOPY: memory, already expanded over the source
        uint256 base = 0;
        uint256 depth = MEM_DEPTH;
        bytes32 root = s.memRoot;
        if (s.op == 0x37) {
            (avail, base, root) = (s.fr.rd(Packed.F_CD_LEN, 8), s.fr.rd(Packed.F_CD_OFF, 8), s.fr.rd32(Packed.F_CD_ROOT));
        } else if (s.op == 0x39) {
            (avail, depth, root) = (s.code.rd(Packed.C_CODE_SIZE, 4), CODE_DEPTH, s.code.rd32(Packed.C_CODE_ROOT));
        } else if (s.op == 0x3e) {
            (avail, base, root) = (s.fr.rd(Packed.F_RD_LEN, 8), s.fr.rd(Packed.F_RD_OFF, 8), s.fr.rd32(Packed.F_RD_ROOT));
        }
        if (src >= avail) return data;
        if (s.op == 0x37 && root == 0) root = ExecBase.loadAcc(s, proof).rd32(Packed.A_BUF_ROOT);
        uint256 n = avail - src < size ? avail - src : size;
        bytes32[] memory words = ExecBase.range(s, proof, root, depth, base + src, n);
        uint256 skip = (base + src) & 31;
        assembly {
            mcopy(add(data, 32), add(add(words, 32), skip), n)
        }
    }

    /// @dev Writes `data` into memory at `off`, proving the destination words against memRoot.
    function _memWriteBytes(ExecBase.S memory s, bytes calldata proof, uint256 off, bytes memory data) private pure {
        uint256 sib = s.p;
        bytes32[] memory words = ExecBase.range(s, proof, s.memRoot, MEM_DEPTH, off, data.length);
        sib += 32 * words.length;
        assembly {
            mcopy(add(add(words, 32), and(off, 31)), add(data, 32), mload(data))
        }
        (s.memRoot,) = Buf.rangeRoot(MEM_DEPTH, off >> 5, words, proof, sib);
    }

    function _keccak(ExecBase.S memory s, bytes calldata proof, uint256 off, uint256 size) private pure returns (bytes32 h) {
        if (size == 0) return keccak256("");
        if (size > INLINE) revert Unsupported("KECCAK256_SPONGE");
        bytes32[] memory words = ExecBase.range(s, proof, s.memRoot, MEM_DEPTH, off, size);
        uint256 skip = off & 31;
        assembly {
            h := keccak256(add(add(words, 32), skip), size)
        }
    }

    /// @dev The JUMPDEST bit of `dest`, proven against jumpRoot (halts when dest is past the code).
    function _isJumpdest(ExecBase.S memory s, bytes calldata proof, uint256 dest) private pure returns (bool) {
        if (dest >= s.code.rd(Packed.C_CODE_SIZE, 4)) return false;
        uint256 byteIndex = dest >> 3;
        bytes32[] memory words = ExecBase.range(s, proof, s.code.rd32(Packed.C_JUMP_ROOT), CODE_DEPTH, byteIndex, 1);
        return (uint8(words[0][byteIndex & 31]) >> (7 - (dest & 7))) & 1 == 1;
    }

    /// @dev Writes the post frame (pops, pushes, pc, gas, memory) and returns the post state hash.
    function _finish(ExecBase.S memory s, uint256 pushed) private pure returns (bytes32) {
        bytes32 h = s.below;
        uint256 need = s.items.length;
        for (uint256 i = need; i > s.pops; i--) {
            h = _pair(h, bytes32(s.items[i - 1]));
        }
        for (uint256 i = pushed; i > 0; i--) {
            h = _pair(h, bytes32(s.out[i - 1]));
        }
        bytes memory fr = s.fr;
        fr.wr32(Packed.F_STACK, h);
        fr.wr(Packed.F_STACK_DEPTH, 2, s.depth - s.pops + pushed);
        fr.wr(Packed.F_PC, 4, s.nextPc);
        fr.wr(Packed.F_GAS, 8, s.gas);
        fr.wr(Packed.F_MEM_WORDS, 4, s.memWords);
        fr.wr32(Packed.F_MEM_ROOT, s.memRoot);
        s.ms.wr32(Packed.MS_FRAME, keccak256(fr));
        return keccak256(s.ms);
    }

    /// @dev Frame end of the top frame (STOP, RETURN, REVERT, exceptional halt) -> phase TX_END.
    ///      The ended frame keeps its pc; gas is what is left (0 on an exceptional halt), the
    ///      output is the view (memRoot, off, size); failure restores the frame's snapshot.
    ///      A frame with a parent resumes it instead (FRAME_RETURN, ExecCall).
    function _endTop(ExecBase.S memory s, bytes calldata proof, bool success, bool exceptional) private view returns (bytes32) {
        bytes memory fr = s.fr;
        if (fr.rd32(Packed.F_PARENT) != 0) return calls.frameReturn(s, proof, success, exceptional);
        bytes memory t = ExecBase.loadTx(s, proof);
        bytes memory a = ExecBase.loadAcc(s, proof);
        t.wr(Packed.T_STATUS, 1, (t.rd(Packed.T_STATUS, 1) & 0xfe) | (success ? 1 : 0));
        if (!success) _restore(s.ms, fr, t, a);
        bool output = !exceptional && (s.op == 0xf3 || s.op == 0xfd);
        if (exceptional) {
            fr.wr(Packed.F_GAS, 8, 0);
        } else {
            fr.wr(Packed.F_GAS, 8, s.gas);
            fr.wr(Packed.F_MEM_WORDS, 4, s.memWords);
        }
        if (output) {
            fr.wr32(Packed.F_STACK, s.below);
            fr.wr(Packed.F_STACK_DEPTH, 2, s.depth - 2);
        }
        fr.wr32(Packed.F_RD_ROOT, output ? s.memRoot : bytes32(0));
        fr.wr(Packed.F_RD_OFF, 8, s.outOff);
        fr.wr(Packed.F_RD_LEN, 8, s.outLen);
        bytes memory ms = s.ms;
        ms.wr(Packed.MS_PHASE, 1, TX_END);
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        ms.wr32(Packed.MS_FRAME, keccak256(fr));
        return keccak256(ms);
    }

    /// @dev A failed frame restores its snapshot: journal, refund, logs, tx bloom, store length.
    function _restore(bytes memory ms, bytes memory fr, bytes memory t, bytes memory a) private pure {
        t.wr(Packed.T_REFUND, 8, fr.rd(Packed.F_SNAP_REFUND, 8));
        t.wr(Packed.T_LOG_COUNT, 4, fr.rd(Packed.F_SNAP_LOG_COUNT, 4));
        t.wr32(Packed.T_BLOOM, fr.rd32(Packed.F_SNAP_BLOOM));
        a.wr(Packed.A_BUF_LEN, 8, fr.rd(Packed.F_SNAP_BUF_LEN, 8));
        ms.wr32(Packed.MS_JOURNAL_ROOT, fr.rd32(Packed.F_SNAP_JOURNAL_ROOT));
        ms.wr(Packed.MS_JOURNAL_COUNT, 4, fr.rd(Packed.F_SNAP_JOURNAL_COUNT, 4));
    }

    /// @dev CALL, CALLCODE, DELEGATECALL, STATICCALL (ExecCall).
    function _isCall(uint256 op) private pure returns (bool) {
        return op == 0xf1 || op == 0xf2 || op == 0xf4 || op == 0xfa;
    }

    function _isWorld(uint256 op) private pure returns (bool) {
        return op == 0x31 || op == 0x3b || op == 0x3c || op == 0x3f || op == 0x47 || op == 0x54 || op == 0x55;
    }

    // -- helpers ----------------------------------------------------------------------------

    /// @dev `n <= 32` bytes from byte `start` of the concatenated words, as a right-aligned integer.
    function _slice(bytes32[] memory words, uint256 start, uint256 n) private pure returns (uint256 v) {
        assembly {
            v := shr(sub(256, mul(8, n)), mload(add(add(words, 32), start)))
        }
    }

    function _pair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly {
            mstore(0, a)
            mstore(32, b)
            h := keccak256(0, 64)
        }
    }
}
