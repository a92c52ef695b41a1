// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IOneStepProver} from "./IOneStepProver.sol";
import {CodeOracle} from "../CodeOracle.sol";
import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";

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

    /// @notice The callee's code records (live read, D4), the same oracle as ExecWorld's.
    CodeOracle public immutable codeOracle;

    /// @notice A CALL into code the code oracle does not hold (register it first, anyone).
    error CodeNotRegistered(bytes32 codeHash);

    constructor(CodeOracle codeOracle_) {
        codeOracle = codeOracle_;
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
        bytes memory ms = s.ms;
        if (!success) {
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
        bool output = !exceptional && (s.op == 0xf3 || s.op == 0xfd);
        uint256 n = fr.rd(F_RET_LEN, 8);
        if (!output || s.outLen < n) n = output ? s.outLen : 0;
        if (n != 0) parent.wr32(Packed.F_MEM_ROOT, _copyOut(s, proof, parent, n, fr.rd(F_RET_OFF, 8)));
        parent.wr32(Packed.F_STACK, _pair(parent.rd32(Packed.F_STACK), bytes32(success ? uint256(1) : 0)));
        parent.wr(Packed.F_STACK_DEPTH, 2, parent.rd(Packed.F_STACK_DEPTH, 2) + 1);
        parent.wr(Packed.F_GAS, 8, parent.rd(Packed.F_GAS, 8) + (exceptional ? 0 : s.gas));
        parent.wr32(Packed.F_RD_ROOT, output ? s.memRoot : bytes32(0));
        parent.wr(Packed.F_RD_OFF, 8, output ? s.outOff : 0);
        parent.wr(Packed.F_RD_LEN, 8, output ? s.outLen : 0);
        ms.wr32(Packed.MS_FRAME, keccak256(parent));
        return keccak256(ms);
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
