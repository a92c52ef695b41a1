// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {CodeOracle} from "../CodeOracle.sol";
import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";
import {ExecCreate} from "./ExecCreate.sol";
import {Keccak} from "./Keccak.sol";

/// @title ExecCall
/// @notice CALL, CALLCODE, DELEGATECALL, STATICCALL (0xF1, 0xF2, 0xF4, 0xFA) and the end of an
///         inner frame (FRAME_RETURN) of the EXEC step (docs/fraud-proofs.md 1.4, 2.3, sections 12, 19). A contract of its own for the 24 KiB limit,
///         called by OneStepProver like ExecWorld (staticcall with the decoded step `S`, reading
///         the same proof from `S.p` on); it reads the code oracle live for the callee's code
///         record (D4). Twin: l1/proofs/steps.py (`_call`, `_frame_return`).
///
///         The calls (after OneStepProver's static check of CALL's value, precompile refusal, the
///         code source's LOAD and the memory expansion gas): proof `code source LeafProof [first
///         code word, for a 23-byte code] [caller LeafProof in the journal with the code source
///         warm (then, CALL only, the target's LeafProof after the debit): CALL / CALLCODE with a
///         value] [TxCtx ++ BlockAcc: for a callee frame]`. Gas as py-evm's CallEIP7702 and
///         siblings: account load of the code source 2600 cold / 100 warm, then 9000 with a value
///         (CALL, CALLCODE) and 25000 with a CALL's value to an EIP-161 empty target, then the
///         63/64 rule, plus the 2300 stipend with a value (not DELEGATECALL's inherited one). The
///         callee's snapshot is the journal with the code source warm, before the transfer (py-evm
///         snapshots in apply_message). Depth 1024 or a balance below the value: no frame, 0
///         pushed, the callee gas back; no code: CALL's transfer, 1 pushed, the gas back; else the
///         caller's frame is suspended (its items popped, pc past the call) and the callee's
///         pushed (`parent` = its hash, `cdRoot` = the caller's memory root: a view, D5). CALL and
///         STATICCALL run the target at its address (touched; STATICCALL sets `static`);
///         CALLCODE runs the code source's code at the caller's address with the given value (sent
///         to itself: only the balance is checked), DELEGATECALL with the caller's caller and
///         value; both leave the journal's touched flags as they are (the running frame's address
///         was touched when it was entered, as py-evm's apply_message touches storage_address).
///
///         FRAME_RETURN: proof `parent Frame [TxCtx ++ BlockAcc: on failure] [callee memory words of
///         [outOff, outOff+n) ++ caller memory words of [retOff, retOff+n): n = min(retLen, outLen)
///         > 0, RETURN / REVERT only]`; the caller gets the gas left (none on a halt), 1 or 0, the
///         return-data view; a failure restores the callee's snapshot.
///
///         CREATE, CREATE2 (0xF0, 0xF5, docs/fraud-proofs.md 21) after OneStepProver's static check
///         and stack read: proof `[creator LeafProof [initcode words ++ siblings: up to 544 bytes]
///         u8 LOAD flag (then the new account's LOAD, or:) new account LeafProof (after the
///         creator's nonce + 1) [creator LeafProof again: a value] [TxCtx ++ BlockAcc: an initcode
///         frame]]`; the end of an initcode frame deposits its output as the new account's code
///         (`_deposit`). An initcode or a code above 544 bytes is hashed first by the memory sponge
///         (21.1: `pending`, micro-steps in ExecCreate, created by this constructor).
contract ExecCall {
    using Packed for bytes;

    uint256 internal constant F_RET_OFF = 318;
    uint256 internal constant F_RET_LEN = 326;
    uint256 internal constant F_DEPTH = 32;
    uint256 internal constant F_KIND = 34;
    uint256 internal constant CODE_DEPTH = 11;
    uint256 internal constant COLD_ACCOUNT = 2600;
    uint256 internal constant WARM_ACCOUNT = 100;
    uint256 internal constant CALL_VALUE = 9000;
    uint256 internal constant CALL_STIPEND = 2300;
    uint256 internal constant NEW_ACCOUNT = 25000;
    uint256 internal constant MAX_DEPTH = 1024;
    bytes32 internal constant EMPTY_CODE_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;
    bytes32 internal constant EMPTY_TRIE_ROOT = 0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421;
    uint256 internal constant CREATE_GAS = 32000;
    uint256 internal constant MAX_CODE_SIZE = 24576; // EIP-170
    uint256 internal constant CODE_DEPOSIT = 200;
    uint256 internal constant MAX_MEM_WORDS = 1 << 20;
    uint256 internal constant MS_WORLD_ROOT = 97;
    uint256 internal constant MS_PENDING = 261;
    uint256 internal constant MAX_INITCODE = 2 * MAX_CODE_SIZE; // EIP-3860
    uint256 internal constant PENDING_SIZE = 227; // op SPONGE (1.8)
    uint8 internal constant SOURCE_MEMORY = 0;
    uint8 internal constant P_CREATE = 6;
    uint8 internal constant P_CREATE_DONE = 7;
    uint8 internal constant P_DEPOSIT = 8;
    uint8 internal constant P_DEPOSIT_DONE = 9;

    /// @notice The callee's code records (live read, D4), the same oracle as ExecWorld's.
    CodeOracle public immutable codeOracle;

    /// @notice The memory sponge's micro-step (created here: a contract of its own for the size limit).
    ExecCreate public immutable sponge;

    /// @notice A CALL into code the code oracle does not hold (register it first, anyone).
    error CodeNotRegistered(bytes32 codeHash);

    constructor(CodeOracle codeOracle_) {
        codeOracle = codeOracle_;
        sponge = new ExecCreate();
    }

    /// @notice A step whose MachineState has a `pending` in phase EXEC (after OneStepProver's stack
    ///         read): the memory sponge of docs/fraud-proofs.md 21.1, its preimage next in the proof.
    ///         In progress: one micro-step (`micro`, `post`); finished: its digest for the opcode
    ///         that opened it over the same range (CREATE / CREATE2 over the initcode, RETURN over
    ///         the deposited code) in `S.push`, and the opcode runs.
    function pending(ExecBase.S memory s, bytes calldata proof)
        external
        view
        returns (bool micro, bytes32 post, ExecBase.S memory)
    {
        bytes memory pd = Packed.loadChecked(proof, s.p, 0x50, PENDING_SIZE, s.ms.rd32(MS_PENDING), "Pending");
        s.p += PENDING_SIZE;
        if (pd.rd(0, 1) != Keccak.OP_SPONGE || pd.rd(209, 1) != SOURCE_MEMORY) revert Packed.BadPreimage("Pending");
        uint256 purpose = pd.rd(226, 1);
        if (purpose == P_CREATE || purpose == P_DEPOSIT) {
            bytes32 next;
            (next, s.p) = sponge.absorbStep(pd, s.memRoot, proof, s.p);
            s.ms.wr32(MS_PENDING, next);
            return (true, keccak256(s.ms), s);
        }
        bool creates = s.op == 0xf0 || s.op == 0xf5;
        uint256 off;
        uint256 size;
        if (creates) (off, size) = (s.items[1], s.items[2]);
        else if (s.op == 0xf3) (off, size) = (s.items[1] == 0 ? 0 : s.items[0], s.items[1]);
        uint256 absorbed = pd.rd(201, 8);
        if (
            (creates ? purpose != P_CREATE_DONE : (s.op != 0xf3 || purpose != P_DEPOSIT_DONE)) || absorbed != size
                || pd.rd(210, 8) - absorbed != off
        ) revert Packed.BadPreimage("Pending");
        s.push = uint256(pd.rd32(1)); // the digest: bytes 0..32 of the final state
        return (false, 0, s);
    }

    /// @dev Opens the memory sponge over `[off, off + size)` at this pc: only `pending` changes.
    function _open(ExecBase.S memory s, uint256 off, uint256 size, uint8 purpose) private pure returns (bytes32) {
        s.ms.wr32(MS_PENDING, Keccak.pendingHash(Keccak.empty(), 0, SOURCE_MEMORY, uint64(off), uint64(size), purpose));
        return keccak256(s.ms);
    }

    /// @dev The call in progress (kept in memory to stay within the stack).
    struct C {
        uint256 op;
        address to;
        uint256 sends; // the value charged, checked and moved (CALL, CALLCODE)
        uint256 value; // the callee's CALLVALUE
        bytes32 root;
        uint256 count;
        uint256 childGas;
        bytes32 codeRecord;
        bytes32 snapRoot;
        Journal.LeafProof target;
        Journal.Account acc;
    }

    /// @notice A call (CALL, CALLCODE, DELEGATECALL, STATICCALL) from after its memory expansion
    ///         gas; `halted`: out of gas (the prover halts the frame with the returned `S`), else
    ///         `post` is the post-state.
    function call(ExecBase.S memory s, bytes calldata proof)
        external
        view
        returns (bool halted, bytes32 post, ExecBase.S memory)
    {
        C memory c;
        c.op = s.op;
        c.to = address(uint160(s.items[1]));
        if (c.op == 0xf1 || c.op == 0xf2) c.sends = s.items[2];
        c.value = c.op == 0xf4 ? s.fr.rd(Packed.F_VALUE, 32) : c.sends;
        c.root = s.ms.rd32(Packed.MS_JOURNAL_ROOT);
        c.count = s.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        (c.target, s.p) = Journal.decodeLeafProof(proof, s.p);
        {
            (bytes32 hi, bytes32 lo) = Journal.accountKey(c.to);
            Journal.verifyMember(c.root, c.count, c.target, hi, lo);
        }
        c.acc = Journal.decodeAccount(c.target.leaf.payload);
        uint256 cost = c.acc.flags & Journal.FLAG_WARM != 0 ? WARM_ACCOUNT : COLD_ACCOUNT;
        if (cost > s.gas) return (true, 0, s);
        s.gas -= cost;
        if (c.acc.codeHash != EMPTY_CODE_HASH) c.codeRecord = _codeRecord(s, proof, c.acc.codeHash);
        if (!_gas(s, c)) return (true, 0, s);
        // the target warm: the callee's snapshot
        c.acc.flags |= Journal.FLAG_WARM;
        c.snapRoot = Journal.update(c.root, c.count, c.target, Journal.encodeAccount(c.acc));
        c.root = c.snapRoot;
        bool fail = s.fr.rd(F_DEPTH, 2) + 1 > MAX_DEPTH;
        if (c.sends != 0) fail = _transfer(s, proof, c) || fail;
        if (fail) {
            s.ms.wr32(Packed.MS_JOURNAL_ROOT, c.snapRoot);
            return (false, _resume(s, 0, c.childGas), s);
        }
        if (c.op == 0xfa || (c.op == 0xf1 && c.sends == 0)) {
            c.acc.flags |= Journal.FLAG_TOUCHED;
            c.root = Journal.update(c.root, c.count, c.target, Journal.encodeAccount(c.acc));
        }
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, c.root);
        if (c.codeRecord == 0) return (false, _resume(s, 1, c.childGas), s);
        return (false, _enter(s, proof, c), s);
    }

    /// @dev The callee's code record from the oracle; a 23-byte code starting 0xef0100 (an EIP-7702
    ///      delegation) is refused, proven by its first code word.
    function _codeRecord(ExecBase.S memory s, bytes calldata proof, bytes32 codeHash) private view returns (bytes32) {
        (bool known, uint256 size, bytes32 codeRoot, bytes32 jumpRoot) = codeOracle.get(codeHash);
        if (!known) revert CodeNotRegistered(codeHash);
        if (size == 23) {
            bytes32[] memory words = ExecBase.range(s, proof, codeRoot, CODE_DEPTH, 0, 3);
            if (bytes3(words[0]) == 0xef0100) revert IOneStepProver.Unsupported("DELEGATED_CALL");
        }
        return keccak256(abi.encodePacked(uint8(0x43), codeHash, codeRoot, jumpRoot, uint32(size)));
    }

    /// @dev Value and new-account gas, the 63/64 rule and the stipend; false: out of gas.
    function _gas(ExecBase.S memory s, C memory c) private pure returns (bool) {
        bool empty = c.acc.nonce == 0 && c.acc.balance == 0 && c.acc.codeHash == EMPTY_CODE_HASH;
        uint256 extra = c.sends != 0 ? (empty && c.op == 0xf1 ? CALL_VALUE + NEW_ACCOUNT : CALL_VALUE) : 0;
        if (extra > s.gas) return false;
        uint256 avail = s.gas - extra;
        uint256 child = avail - avail / 64;
        if (s.items[0] < child) child = s.items[0];
        s.gas -= child + extra;
        c.childGas = child + (c.sends != 0 ? CALL_STIPEND : 0);
        return true;
    }

    /// @dev With a value: the caller's leaf (against the journal with the code source warm);
    ///      returns true when its balance is short (nothing moves); CALLCODE sends to the caller
    ///      itself (nothing moves either); CALL debits it and credits the target (its leaf again,
    ///      after the debit), which is touched.
    function _transfer(ExecBase.S memory s, bytes calldata proof, C memory c) private pure returns (bool) {
        Journal.LeafProof memory from;
        (from, s.p) = Journal.decodeLeafProof(proof, s.p);
        {
            (bytes32 hi, bytes32 lo) = Journal.accountKey(address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))));
            Journal.verifyMember(c.root, c.count, from, hi, lo);
        }
        Journal.Account memory a = Journal.decodeAccount(from.leaf.payload);
        if (a.balance < c.sends) return true;
        if (s.fr.rd(F_DEPTH, 2) + 1 > MAX_DEPTH) return true; // no transfer either: the caller fails it
        if (c.op == 0xf2) return false;
        a.balance -= c.sends;
        c.root = Journal.update(c.root, c.count, from, Journal.encodeAccount(a));
        (c.target, s.p) = Journal.decodeLeafProof(proof, s.p);
        {
            (bytes32 hi, bytes32 lo) = Journal.accountKey(c.to);
            Journal.verifyMember(c.root, c.count, c.target, hi, lo);
        }
        c.acc = Journal.decodeAccount(c.target.leaf.payload);
        c.acc.balance += c.sends;
        c.acc.flags |= Journal.FLAG_TOUCHED;
        c.root = Journal.update(c.root, c.count, c.target, Journal.encodeAccount(c.acc));
        return false;
    }

    /// @dev The caller goes on without a frame: `r` pushed, `gasBack` returned, return data empty.
    function _resume(ExecBase.S memory s, uint256 r, uint256 gasBack) private pure returns (bytes32) {
        bytes memory fr = s.fr;
        fr.wr32(Packed.F_STACK, _pair(s.below, bytes32(r)));
        fr.wr(Packed.F_STACK_DEPTH, 2, s.depth - s.pops + 1);
        fr.wr(Packed.F_PC, 4, s.nextPc);
        fr.wr(Packed.F_GAS, 8, s.gas + gasBack);
        fr.wr(Packed.F_MEM_WORDS, 4, s.memWords);
        fr.wr32(Packed.F_RD_ROOT, 0);
        fr.wr(Packed.F_RD_OFF, 8, 0);
        fr.wr(Packed.F_RD_LEN, 8, 0);
        s.ms.wr32(Packed.MS_FRAME, keccak256(fr));
        return keccak256(s.ms);
    }

    /// @dev Suspends the caller and pushes the callee's frame.
    function _enter(ExecBase.S memory s, bytes calldata proof, C memory c) private pure returns (bytes32) {
        bytes memory fr = s.fr;
        fr.wr32(Packed.F_STACK, s.below);
        fr.wr(Packed.F_STACK_DEPTH, 2, s.depth - s.pops);
        fr.wr(Packed.F_PC, 4, s.nextPc);
        fr.wr(Packed.F_GAS, 8, s.gas);
        fr.wr(Packed.F_MEM_WORDS, 4, s.memWords);
        bytes memory t = ExecBase.loadTx(s, proof);
        bytes memory a = ExecBase.loadAcc(s, proof);
        bytes memory callee = new bytes(Packed.FRAME_SIZE + 1);
        callee[0] = bytes1(Packed.TAG_FRAME);
        callee.wr32(Packed.F_PARENT, keccak256(fr));
        callee.wr(F_DEPTH, 2, fr.rd(F_DEPTH, 2) + 1);
        callee.wr(F_KIND, 1, c.op == 0xf1 ? 0 : c.op == 0xf2 ? 1 : c.op == 0xf4 ? 2 : 3);
        callee.wr(Packed.F_STATIC, 1, c.op == 0xfa ? 1 : fr.rd(Packed.F_STATIC, 1));
        // CALL / STATICCALL run at the target; CALLCODE / DELEGATECALL at the caller's address
        bool own = c.op == 0xf2 || c.op == 0xf4;
        callee.wr(Packed.F_ADDRESS, 20, own ? fr.rd(Packed.F_ADDRESS, 20) : uint160(c.to));
        callee.wr(Packed.F_CALLER, 20, fr.rd(c.op == 0xf4 ? Packed.F_CALLER : Packed.F_ADDRESS, 20));
        callee.wr(Packed.F_VALUE, 32, c.value);
        callee.wr32(Packed.F_CODE, c.codeRecord);
        callee.wr(Packed.F_GAS, 8, c.childGas);
        callee.wr32(Packed.F_MEM_ROOT, Buf.zero(ExecBase.MEM_DEPTH));
        callee.wr32(Packed.F_CD_ROOT, s.memRoot);
        uint256[] memory it = s.items;
        uint256 k = it.length - 4; // the input offset: after gas, address (and value)
        callee.wr(Packed.F_CD_OFF, 8, it[k + 1] == 0 ? 0 : it[k]);
        callee.wr(Packed.F_CD_LEN, 8, it[k + 1]);
        callee.wr(F_RET_OFF, 8, it[k + 3] == 0 ? 0 : it[k + 2]);
        callee.wr(F_RET_LEN, 8, it[k + 3]);
        callee.wr32(Packed.F_SNAP_JOURNAL_ROOT, c.snapRoot);
        callee.wr(Packed.F_SNAP_JOURNAL_COUNT, 4, c.count);
        callee.wr(Packed.F_SNAP_REFUND, 8, t.rd(Packed.T_REFUND, 8));
        callee.wr(Packed.F_SNAP_BUF_LEN, 8, a.rd(Packed.A_BUF_LEN, 8));
        callee.wr(Packed.F_SNAP_LOG_COUNT, 4, t.rd(Packed.T_LOG_COUNT, 4));
        callee.wr32(Packed.F_SNAP_BLOOM, t.rd32(Packed.T_BLOOM));
        s.ms.wr32(Packed.MS_FRAME, keccak256(callee));
        return keccak256(s.ms);
    }

    /// @dev The CREATE in progress (kept in memory to stay within the stack).
    struct K {
        uint256 value;
        uint256 size;
        address creator;
        address target;
        bytes32 root;
        uint256 count;
        uint256 child;
        bytes32 snapRoot;
        bytes32 codeHash;
        Journal.LeafProof leaf;
        Journal.Account acc;
    }

    /// @notice CREATE / CREATE2 (docs/fraud-proofs.md 21; py-evm's Prague CreateEIP3860,
    ///         Create2EIP3860 and apply_create_message) from after the stack; `halted`: out of gas
    ///         (the prover halts the frame with the returned `S`), else `post` is the post-state
    ///         (the new account's LOAD, a failure pushing 0, an empty initcode's success, or the
    ///         initcode frame pushed).
    function create(ExecBase.S memory s, bytes calldata proof)
        external
        view
        returns (bool halted, bytes32 post, ExecBase.S memory)
    {
        K memory k;
        k.value = s.items[0];
        k.size = s.items[2];
        {
            (uint256 cost, uint256 newWords) = _createCost(s);
            if (cost > s.gas) return (true, 0, s);
            if (newWords > MAX_MEM_WORDS) revert IOneStepProver.Unsupported("MEMORY_LIMIT");
            if (k.size > ExecBase.INLINE && s.push == 0) {
                return (false, _open(s, s.items[1], k.size, P_CREATE), s); // hash the initcode first
            }
            s.gas -= cost;
            s.memWords = newWords;
        }
        s.nextPc = s.pc + 1;
        k.creator = address(uint160(s.fr.rd(Packed.F_ADDRESS, 20)));
        k.root = s.ms.rd32(Packed.MS_JOURNAL_ROOT);
        k.count = s.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        _member(s, proof, k, k.creator);
        if (k.acc.balance < k.value || s.fr.rd(F_DEPTH, 2) + 1 > MAX_DEPTH || k.acc.nonce == type(uint64).max) {
            s.ms.wr32(MS_PENDING, 0);
            return (false, _resume(s, 0, 0), s);
        }
        k.codeHash = EMPTY_CODE_HASH;
        if (k.size > ExecBase.INLINE) {
            k.codeHash = bytes32(s.push); // the finished sponge's digest
        } else if (k.size != 0) {
            bytes32[] memory ws = ExecBase.range(s, proof, s.memRoot, ExecBase.MEM_DEPTH, s.items[1], k.size);
            k.codeHash = _hashAt(ws, s.items[1] & 31, k.size);
        }
        k.target = s.op == 0xf0
            ? _createAddress(k.creator, k.acc.nonce)
            : address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), k.creator, s.items[3], k.codeHash)))));
        if (_loadFlag(s, proof)) return (false, _loadNew(s, proof, k), s); // a finished sponge stays
        s.ms.wr32(MS_PENDING, 0);
        k.child = s.gas - s.gas / 64;
        s.gas -= k.child;
        k.acc.nonce += 1;
        k.root = Journal.update(k.root, k.count, k.leaf, Journal.encodeAccount(k.acc));
        _member(s, proof, k, k.target);
        k.acc.flags |= Journal.FLAG_WARM;
        k.root = Journal.update(k.root, k.count, k.leaf, Journal.encodeAccount(k.acc));
        k.snapRoot = k.root;
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, k.root);
        // a collision (nonce or code): 0 pushed, the child gas burnt
        if (k.acc.nonce != 0 || k.acc.codeHash != EMPTY_CODE_HASH) return (false, _resume(s, 0, 0), s);
        // EIP-3860: py-evm's validate_create_message halts the creator only here
        if (k.size > MAX_INITCODE) return (true, 0, s);
        if (s.op == 0xf5 && k.acc.origStorageRoot != EMPTY_TRIE_ROOT) {
            revert IOneStepProver.Unsupported("CREATE2_STORAGE"); // py-evm deletes the storage: the journal cannot
        }
        k.acc.nonce = 1;
        k.acc.balance += k.value;
        k.acc.flags |= Journal.FLAG_TOUCHED;
        k.root = Journal.update(k.root, k.count, k.leaf, Journal.encodeAccount(k.acc));
        if (k.value != 0) {
            _member(s, proof, k, k.creator);
            k.acc.balance -= k.value;
            k.root = Journal.update(k.root, k.count, k.leaf, Journal.encodeAccount(k.acc));
        }
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, k.root);
        if (k.size == 0) return (false, _resume(s, uint160(k.target), k.child), s);
        return (false, _enterCreate(s, proof, k), s);
    }

    /// @dev The gas before the child's: 32000, 2 per initcode word (EIP-3860), 6 more per word for
    ///      CREATE2, the memory expansion over the initcode; and the memory size after.
    function _createCost(ExecBase.S memory s) private pure returns (uint256 cost, uint256 words) {
        (uint256 off, uint256 size) = (s.items[1], s.items[2]);
        words = s.memWords;
        if (size == 0) return (CREATE_GAS, words);
        if (off >= 1 << 64 || size >= 1 << 64) return (type(uint128).max, words);
        cost = CREATE_GAS + (s.op == 0xf5 ? 8 : 2) * ((size + 31) / 32);
        uint256 end = (off + size + 31) / 32;
        if (end > words) {
            cost += 3 * end + (end * end) / 512 - 3 * words - (words * words) / 512;
            words = end;
        }
    }

    /// @dev The next LeafProof of the proof, checked as `a`'s account entry in the current journal.
    function _member(ExecBase.S memory s, bytes calldata proof, K memory k, address a) private pure {
        (k.leaf, s.p) = Journal.decodeLeafProof(proof, s.p);
        (bytes32 hi, bytes32 lo) = Journal.accountKey(a);
        Journal.verifyMember(k.root, k.count, k.leaf, hi, lo);
        k.acc = Journal.decodeAccount(k.leaf.leaf.payload);
    }

    /// @dev keccak(rlp([sender, nonce]))[12:] (nonce < 2^64: the list is under 56 bytes).
    function _createAddress(address sender, uint256 nonce) private pure returns (address) {
        bytes memory n;
        if (nonce == 0) {
            n = hex"80";
        } else if (nonce < 0x80) {
            n = abi.encodePacked(uint8(nonce));
        } else {
            uint256 len = 0;
            for (uint256 v = nonce; v != 0; v >>= 8) {
                len++;
            }
            n = abi.encodePacked(uint8(0x80 + len));
            for (uint256 i = len; i > 0; i--) {
                n = abi.encodePacked(n, uint8(nonce >> (8 * (i - 1))));
            }
        }
        return address(uint160(uint256(keccak256(abi.encodePacked(uint8(0xc0 + 21 + n.length), uint8(0x94), sender, n)))));
    }

    /// @dev The proof's LOAD flag: 1 = the new account is absent and this step loads it.
    function _loadFlag(ExecBase.S memory s, bytes calldata proof) private pure returns (bool) {
        if (s.p >= proof.length) revert Packed.ProofTooShort();
        uint8 flag = uint8(proof[s.p]);
        s.p += 1;
        if (flag > 1) revert Packed.BadPreimage("LoadFlag");
        return flag == 1;
    }

    /// @dev LOAD_ACCOUNT of the new account (2.4): only the journal changes, the CREATE runs next step.
    function _loadNew(ExecBase.S memory s, bytes calldata proof, K memory k) private pure returns (bytes32) {
        bytes[] calldata nodes;
        (nodes, s.p) = ExecBase.nodes(proof, s.p);
        Journal.InsertProof memory ins;
        (ins, s.p) = Journal.decodeInsertProof(proof, s.p);
        (bytes32 root, uint256 count,) =
            WorldState.loadAccount(s.ms.rd32(MS_WORLD_ROOT), k.root, k.count, k.target, nodes, ins);
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
        s.ms.wr(Packed.MS_JOURNAL_COUNT, 4, count);
        return keccak256(s.ms);
    }

    /// @dev Suspends the creator and pushes the initcode frame (its code record from the oracle).
    function _enterCreate(ExecBase.S memory s, bytes calldata proof, K memory k) private view returns (bytes32) {
        (bool known, uint256 size, bytes32 codeRoot, bytes32 jumpRoot) = codeOracle.get(k.codeHash);
        if (!known) revert CodeNotRegistered(k.codeHash);
        bytes memory fr = s.fr;
        fr.wr32(Packed.F_STACK, s.below);
        fr.wr(Packed.F_STACK_DEPTH, 2, s.depth - s.pops);
        fr.wr(Packed.F_PC, 4, s.nextPc);
        fr.wr(Packed.F_GAS, 8, s.gas);
        fr.wr(Packed.F_MEM_WORDS, 4, s.memWords);
        bytes memory t = ExecBase.loadTx(s, proof);
        bytes memory a = ExecBase.loadAcc(s, proof);
        bytes memory callee = new bytes(Packed.FRAME_SIZE + 1);
        callee[0] = bytes1(Packed.TAG_FRAME);
        callee.wr32(Packed.F_PARENT, keccak256(fr));
        callee.wr(F_DEPTH, 2, fr.rd(F_DEPTH, 2) + 1);
        callee.wr(F_KIND, 1, s.op == 0xf0 ? 4 : 5);
        callee.wr(Packed.F_ADDRESS, 20, uint160(k.target));
        callee.wr(Packed.F_CALLER, 20, uint160(k.creator));
        callee.wr(Packed.F_VALUE, 32, k.value);
        callee.wr32(
            Packed.F_CODE, keccak256(abi.encodePacked(uint8(0x43), k.codeHash, codeRoot, jumpRoot, uint32(size)))
        );
        callee.wr(Packed.F_GAS, 8, k.child);
        callee.wr32(Packed.F_MEM_ROOT, Buf.zero(ExecBase.MEM_DEPTH));
        callee.wr32(Packed.F_CD_ROOT, s.memRoot);
        callee.wr32(Packed.F_SNAP_JOURNAL_ROOT, k.snapRoot);
        callee.wr(Packed.F_SNAP_JOURNAL_COUNT, 4, k.count);
        callee.wr(Packed.F_SNAP_REFUND, 8, t.rd(Packed.T_REFUND, 8));
        callee.wr(Packed.F_SNAP_BUF_LEN, 8, a.rd(Packed.A_BUF_LEN, 8));
        callee.wr(Packed.F_SNAP_LOG_COUNT, 4, t.rd(Packed.T_LOG_COUNT, 4));
        callee.wr32(Packed.F_SNAP_BLOOM, t.rd32(Packed.T_BLOOM));
        s.ms.wr32(Packed.MS_FRAME, keccak256(callee));
        return keccak256(s.ms);
    }

    /// @dev The code deposit at the successful end of an initcode frame (py-evm's apply_create_message
    ///      with London's validate_contract_code): the output (RETURN's view; none for STOP) above
    ///      24,576 bytes, starting 0xEF, or costing more than 200 gas per byte than is left fails the
    ///      frame (false); else the gas is charged and the new account's code hash set (proof: the
    ///      output words ++ siblings, inline; above 544 bytes only the first word, and its success is
    ///      refused by name; then the account's LeafProof).
    function _deposit(ExecBase.S memory s, bytes calldata proof) private pure returns (uint256) {
        uint256 n = s.op == 0xf3 ? s.outLen : 0;
        if (n > MAX_CODE_SIZE) return 0;
        if (n == 0) return 1;
        bytes32 h = bytes32(s.push); // above 544 bytes: the finished sponge's digest
        if (n <= ExecBase.INLINE || h == 0) {
            bytes32[] memory ws =
                ExecBase.range(s, proof, s.memRoot, ExecBase.MEM_DEPTH, s.outOff, n > ExecBase.INLINE ? 1 : n);
            uint256 skip = s.outOff & 31;
            if (uint8(ws[0][skip]) == 0xef || CODE_DEPOSIT * n > s.gas) return 0;
            if (n > ExecBase.INLINE) return 2;
            h = _hashAt(ws, skip, n);
        }
        if (CODE_DEPOSIT * n > s.gas) return 0;
        s.gas -= CODE_DEPOSIT * n;
        _setCode(s, proof, h);
        return 1;
    }

    /// @dev keccak of `n` bytes of `ws` from byte `skip`.
    function _hashAt(bytes32[] memory ws, uint256 skip, uint256 n) private pure returns (bytes32 h) {
        assembly {
            h := keccak256(add(add(ws, 32), skip), n)
        }
    }

    /// @dev The running frame's account gets code hash `h` (its LeafProof next in the proof).
    function _setCode(ExecBase.S memory s, bytes calldata proof, bytes32 h) private pure {
        K memory k;
        k.root = s.ms.rd32(Packed.MS_JOURNAL_ROOT);
        k.count = s.ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        _member(s, proof, k, address(uint160(s.fr.rd(Packed.F_ADDRESS, 20))));
        k.acc.codeHash = h;
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, Journal.update(k.root, k.count, k.leaf, Journal.encodeAccount(k.acc)));
    }

    /// @notice FRAME_RETURN: the end of a callee (STOP, RETURN, REVERT, exceptional halt) resumes
    ///         the caller whose Frame preimage the proof carries next.
    function frameReturn(ExecBase.S memory s, bytes calldata proof, bool success, bool exceptional)
        external
        pure
        returns (bytes32)
    {
        bytes memory fr = s.fr;
        bytes memory parent =
            Packed.loadChecked(proof, s.p, Packed.TAG_FRAME, Packed.FRAME_SIZE, fr.rd32(Packed.F_PARENT), "Parent");
        s.p += Packed.FRAME_SIZE;
        // an initcode frame's success deposits its output; the pushed value is then its address
        uint256 r = success ? 1 : 0;
        bool created = fr.rd(F_KIND, 1) >= 4 && success;
        if (created) {
            uint256 d = _deposit(s, proof);
            if (d == 2) return _open(s, s.outOff, s.outLen, P_DEPOSIT); // hash the code first
            if (d == 1) r = fr.rd(Packed.F_ADDRESS, 20);
            else (success, exceptional, r, created) = (false, true, 0, false);
        }
        s.ms.wr32(MS_PENDING, 0); // a finished sponge was this deposit's
        if (!success) _restoreSnap(s, proof);
        // a created code is no output: the caller's return data is empty
        bool output = !exceptional && (s.op == 0xf3 || s.op == 0xfd) && !created;
        if (output) _copyTo(s, proof, parent);
        parent.wr32(Packed.F_STACK, _pair(parent.rd32(Packed.F_STACK), bytes32(r)));
        parent.wr(Packed.F_STACK_DEPTH, 2, parent.rd(Packed.F_STACK_DEPTH, 2) + 1);
        parent.wr(Packed.F_GAS, 8, parent.rd(Packed.F_GAS, 8) + (exceptional ? 0 : s.gas));
        parent.wr32(Packed.F_RD_ROOT, output ? s.memRoot : bytes32(0));
        parent.wr(Packed.F_RD_OFF, 8, output ? s.outOff : 0);
        parent.wr(Packed.F_RD_LEN, 8, output ? s.outLen : 0);
        s.ms.wr32(Packed.MS_FRAME, keccak256(parent));
        return keccak256(s.ms);
    }

    /// @dev RETURN / REVERT output: `n = min(retLen, outLen)` bytes into the caller's memory.
    function _copyTo(ExecBase.S memory s, bytes calldata proof, bytes memory parent) private pure {
        uint256 n = s.fr.rd(F_RET_LEN, 8);
        if (s.outLen < n) n = s.outLen;
        if (n != 0) parent.wr32(Packed.F_MEM_ROOT, _copyOut(s, proof, parent, n, s.fr.rd(F_RET_OFF, 8)));
    }

    /// @dev A failed callee restores its snapshot: journal, refund, logs, tx bloom, store length.
    function _restoreSnap(ExecBase.S memory s, bytes calldata proof) private pure {
        bytes memory fr = s.fr;
        bytes memory ms = s.ms;
        bytes memory t = ExecBase.loadTx(s, proof);
        bytes memory a = ExecBase.loadAcc(s, proof);
        t.wr(Packed.T_REFUND, 8, fr.rd(Packed.F_SNAP_REFUND, 8));
        t.wr(Packed.T_LOG_COUNT, 4, fr.rd(Packed.F_SNAP_LOG_COUNT, 4));
        t.wr32(Packed.T_BLOOM, fr.rd32(Packed.F_SNAP_BLOOM));
        a.wr(Packed.A_BUF_LEN, 8, fr.rd(Packed.F_SNAP_BUF_LEN, 8));
        ms.wr32(Packed.MS_JOURNAL_ROOT, fr.rd32(Packed.F_SNAP_JOURNAL_ROOT));
        ms.wr(Packed.MS_JOURNAL_COUNT, 4, fr.rd(Packed.F_SNAP_JOURNAL_COUNT, 4));
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(Packed.MS_ACC, keccak256(a));
    }

    /// @dev The output copy: `n` bytes of the callee's memory at outOff into the caller's at
    ///      `retOff` (inline up to 544 bytes); the caller's new memory root.
    function _copyOut(ExecBase.S memory s, bytes calldata proof, bytes memory parent, uint256 n, uint256 retOff)
        private
        pure
        returns (bytes32 root)
    {
        if (n > ExecBase.INLINE) revert IOneStepProver.Unsupported("COPY_PENDING");
        bytes32[] memory src = ExecBase.range(s, proof, s.memRoot, ExecBase.MEM_DEPTH, s.outOff, n);
        uint256 sib = s.p;
        bytes32[] memory dst = ExecBase.range(s, proof, parent.rd32(Packed.F_MEM_ROOT), ExecBase.MEM_DEPTH, retOff, n);
        sib += 32 * dst.length;
        uint256 skipSrc = s.outOff & 31;
        uint256 skipDst = retOff & 31;
        assembly {
            mcopy(add(add(dst, 32), skipDst), add(add(src, 32), skipSrc), n)
        }
        (root,) = Buf.rangeRoot(ExecBase.MEM_DEPTH, retOff >> 5, dst, proof, sib);
    }

    function _pair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly {
            mstore(0, a)
            mstore(32, b)
            h := keccak256(0, 64)
        }
    }
}
