// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {CodeOracle} from "../CodeOracle.sol";
import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {Journal} from "./Journal.sol";
import {Packed} from "./Packed.sol";
import {WorldState} from "./WorldState.sol";

/// @title ExecTxStart
/// @notice The start of a transaction (docs/fraud-proofs.md 2.2, 2.4, section 13): TX_START and
///         DEPOSIT_START (phase TX_LOAD, TxCtx.setup 3 and 5), TX_SETUP (warm `to`, the coinbase,
///         the access-list items) and TX_CALL (phase TX_SETUP), and the LOAD_ACCOUNT / LOAD_SLOT
///         steps that precede them. Twins: l1/proofs/tx_steps.py (tx_start, deposit_start,
///         tx_setup, tx_call, load_account, load_slot); proofs: l1/proofs/start_proofs.py.
///         An IPhaseStep of its own (OneStepProver's 24 KiB / initcode limits), registered as
///         `phaseSteps[TX_LOAD]` and `phaseSteps[TX_SETUP]`. In phase TX_LOAD it is the router:
///         a deposit's DEPOSIT_LOAD (`tx == 0`) and sub-stages 0 TX_LOAD, 4 DATA_LOAD go unchanged
///         to `msgSteps` (ExecMsg), sub-stages 1 TX_DECODE and 2 SIG_HASH to `decodeSteps`
///         (ExecTxDecode, section 17), or revert `Unsupported(<name>)` when it is not set.
///
///         Every proof: MachineState (293) ++ TxCtx (344), then
///         - TX_START / DEPOSIT_START / TX_SETUP `to`, coinbase: `u8 load ++`
///         - TX_SETUP access-list item: BlockAcc (148) ++ the store words of the access-list
///           payload [alOff, alOff + alLen) and their siblings ++ `u8 load ++`
///           (the item, number `alCursor` of the flattened list, is read from them)
///         - load 1 (the step is the LOAD of the key the next step needs, absent from the
///           journal): LOAD_ACCOUNT `mpt ++ InsertProof`; LOAD_SLOT `account LeafProof ++ mpt ++
///           InsertProof` (ExecWorld's layout after its LOAD flag)
///         - load 0, the step itself: TX_START `BlockCtx (153) ++ BlockAcc (148) ++ sender
///           LeafProof ++ u32 n ++ the sender's code (n = 0 when its code hash is empty, or to
///           take a code's size from the code oracle when it is not 23 bytes)`;
///           DEPOSIT_START `sender LeafProof`; TX_SETUP the account's (or slot's) LeafProof, none
///           for a precompile address
///         - TX_CALL (no load flag): sender LeafProof ++ `to` LeafProof (in the journal after the sender's
///           debit) ++ [a 23-byte code: its first code word and 11 siblings (delegation check)].
///         Every proof is consumed exactly.
contract ExecTxStart is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant IDLE = 2;
    uint256 internal constant TX_LOAD = 3;
    uint256 internal constant TX_SETUP = 4;
    uint256 internal constant EXEC = 5;
    uint256 internal constant TX_END = 6;
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant CODE_DEPTH = 11;
    uint256 internal constant MS_WORLD_ROOT = 97;

    // TxCtx (1.5)
    uint256 internal constant T_TO = 54;
    uint256 internal constant T_NONCE = 74;
    uint256 internal constant T_GAS_LIMIT = 82;
    uint256 internal constant T_VALUE = 90;
    uint256 internal constant T_MAX_FEE = 122;
    uint256 internal constant T_TIP = 154;
    uint256 internal constant T_RAW_OFF = 218;
    uint256 internal constant T_RAW_LEN = 226;
    uint256 internal constant T_DATA_OFF = 230;
    uint256 internal constant T_DATA_LEN = 238;
    uint256 internal constant T_AL_OFF = 242;
    uint256 internal constant T_AL_LEN = 250;
    uint256 internal constant T_AL_CURSOR = 254;
    uint256 internal constant T_ZEROS = 258;
    uint256 internal constant T_NON_ZEROS = 262;
    uint256 internal constant T_AL_ADDRESSES = 266;
    uint256 internal constant T_AL_KEYS = 270;
    uint256 internal constant T_INTRINSIC = 274;
    uint256 internal constant T_FLOOR = 282;
    uint256 internal constant T_LOGS_OFF = 298;
    uint256 internal constant T_SETUP = 343;
    // BlockAcc
    uint256 internal constant A_GAS_USED = 0;

    // TxCtx.setup sub-stages (2.2 as built)
    uint256 internal constant ST_START = 3;
    uint256 internal constant ST_DEPOSIT_START = 5;
    uint256 internal constant SETUP_TO = 0;
    uint256 internal constant SETUP_COINBASE = 1;
    uint256 internal constant SETUP_ACCESS_LIST = 2;
    uint256 internal constant SETUP_CALL = 3;
    uint256 internal constant STATUS_SUCCESS = 1;
    uint256 internal constant STATUS_CALL_SKIPPED = 2;

    uint256 internal constant GAS_TX = 21_000;
    bytes32 internal constant EMPTY_CODE_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;
    /// @dev keccak256 of 256 zero bytes: the bloom of a transaction without logs
    bytes32 internal constant EMPTY_BLOOM_HASH = 0xd397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5;

    /// @notice The message steps of phase TX_LOAD (ExecMsg): DEPOSIT_LOAD, TX_LOAD, DATA_LOAD;
    ///         zero = refused by name.
    IPhaseStep public immutable msgSteps;
    /// @notice TX_DECODE and SIG_HASH (ExecTxDecode, section 17); zero = refused by name.
    IPhaseStep public immutable decodeSteps;
    /// @notice Where TX_CALL reads the callee's code record (live, D4).
    CodeOracle public immutable codeOracle;
    /// @notice The fee recipient of every L2 block (warmed by TX_SETUP, EIP-3651).
    address public immutable coinbase;
    /// @notice The L2 block gas limit (TX_START: a transaction's gas limit vs the block's gas left).
    uint256 public immutable blockGasLimit;

    error Unsupported(bytes32 name);
    /// @notice The LOAD flag is not 0 or 1, or 1 where nothing can be loaded (a precompile).
    error BadLoadFlag();
    /// @notice Bytes left over after the proof's last field.
    error ProofTooLong();
    /// @notice The sender's code preimage does not hash to its code hash, or is given for an EOA.
    error BadCode();
    /// @notice The callee's code is not registered in the code oracle (register it first, anyone).
    error CodeNotRegistered(bytes32 codeHash);
    /// @notice The access-list payload does not hold item `alCursor`.
    error BadAccessList();
    /// @notice TX_CALL with a value above the sender's balance (unreachable after TX_START).
    error InsufficientBalance();
    /// @notice A LOAD_SLOT's account leaf is not the access-list item's.
    error WrongAccount();

    constructor(
        IPhaseStep msgSteps_,
        IPhaseStep decodeSteps_,
        CodeOracle codeOracle_,
        address coinbase_,
        uint256 blockGasLimit_
    ) {
        msgSteps = msgSteps_;
        decodeSteps = decodeSteps_;
        codeOracle = codeOracle_;
        coinbase = coinbase_;
        blockGasLimit = blockGasLimit_;
    }

    /// @dev The decoded parts of one step.
    struct S {
        bytes ms;
        bytes t;
        uint256 p; // proof cursor
        bytes32 root; // journal
        uint256 count;
        bytes32 snap; // TX_CALL: the journal before the value transfer (the top frame's snapshot)
    }

    /// @notice One step of phase TX_LOAD (sub-stages 3, 5 and their LOAD; the rest forwarded) or
    ///         TX_SETUP (TX_SETUP, TX_CALL and their LOADs): the post-state hash.
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        uint256 phase = ms.rd(Packed.MS_PHASE, 1);
        if (phase != TX_LOAD && phase != TX_SETUP) revert Unsupported("PHASE");
        bytes32 txHash = ms.rd32(Packed.MS_TX);
        if (phase == TX_LOAD) {
            if (txHash == 0) return _forward(pre, proof, "DEPOSIT_LOAD");
            // a proof without the TxCtx cannot name its sub-stage (the prover's generic refusal)
            if (proof.length < Packed.MS_SIZE + Packed.TX_SIZE) return _forward(pre, proof, "TX_LOAD");
        }
        S memory s;
        s.ms = ms;
        s.t = Packed.loadChecked(proof, Packed.MS_SIZE, Packed.TAG_TX, Packed.TX_SIZE, txHash, "TxCtx");
        s.p = Packed.MS_SIZE + Packed.TX_SIZE;
        s.root = ms.rd32(Packed.MS_JOURNAL_ROOT);
        s.count = ms.rd(Packed.MS_JOURNAL_COUNT, 4);
        uint256 setup = s.t.rd(T_SETUP, 1);
        if (phase == TX_LOAD) {
            if (setup == ST_START || setup == ST_DEPOSIT_START) {
                address sender = address(uint160(s.t.rd(Packed.T_SENDER, 20)));
                if (_loadFlag(proof, s)) return _load(s, proof, sender, 0, false);
                return setup == ST_START ? _txStart(s, proof) : _depositStart(s, proof);
            }
            if (setup == 0) return _forward(pre, proof, "TX_LOAD");
            if (setup == 1 || setup == 2) {
                if (address(decodeSteps) == address(0)) revert Unsupported(setup == 1 ? bytes32("TX_DECODE") : bytes32("SIG_HASH"));
                return decodeSteps.step(pre, proof);
            }
            if (setup == 4) return _forward(pre, proof, "DATA_LOAD");
            revert Unsupported("TX_LOAD");
        }
        if (setup == SETUP_CALL) return _txCall(s, proof);
        return _txSetup(s, proof, setup);
    }

    function _forward(bytes32 pre, bytes calldata proof, bytes32 name) private view returns (bytes32) {
        if (address(msgSteps) == address(0)) revert Unsupported(name);
        return msgSteps.step(pre, proof);
    }

    // -- LOAD (2.4) ------------------------------------------------------------------------------

    function _loadFlag(bytes calldata proof, S memory s) private pure returns (bool) {
        if (s.p >= proof.length) revert Packed.ProofTooShort();
        uint8 flag = uint8(proof[s.p]);
        s.p += 1;
        if (flag > 1) revert BadLoadFlag();
        return flag == 1;
    }

    /// @dev LOAD_ACCOUNT of `a` (or LOAD_SLOT of `slot` of `a`): only the journal changes.
    function _load(S memory s, bytes calldata proof, address a, uint256 slot, bool isSlot)
        private
        pure
        returns (bytes32)
    {
        (bytes32 root, uint256 count) = isSlot ? _loadSlot(s, proof, a, slot) : _loadAccount(s, proof, a);
        _end(proof, s.p);
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, root);
        s.ms.wr(Packed.MS_JOURNAL_COUNT, 4, count);
        return keccak256(s.ms);
    }

    function _loadAccount(S memory s, bytes calldata proof, address a) private pure returns (bytes32 root, uint256 count) {
        bytes[] calldata nodes;
        (nodes, s.p) = ExecBase.nodes(proof, s.p);
        Journal.InsertProof memory ins;
        (ins, s.p) = Journal.decodeInsertProof(proof, s.p);
        (root, count,) = WorldState.loadAccount(s.ms.rd32(MS_WORLD_ROOT), s.root, s.count, a, nodes, ins);
    }

    function _loadSlot(S memory s, bytes calldata proof, address a, uint256 slot)
        private
        pure
        returns (bytes32 root, uint256 count)
    {
        Journal.LeafProof memory account;
        (account, s.p) = Journal.decodeLeafProof(proof, s.p);
        bytes[] calldata nodes;
        (nodes, s.p) = ExecBase.nodes(proof, s.p);
        Journal.InsertProof memory ins;
        (ins, s.p) = Journal.decodeInsertProof(proof, s.p);
        Journal.Slot memory entry;
        (root, count, entry) = WorldState.loadSlot(s.root, s.count, account, slot, nodes, ins);
        if (entry.addr != a) revert WrongAccount();
    }

    function _end(bytes calldata proof, uint256 p) private pure {
        if (p != proof.length) revert ProofTooLong();
    }

    // -- journal helpers -------------------------------------------------------------------------

    /// @dev The account entry of `a`, proven by the LeafProof at the cursor.
    function _account(S memory s, bytes calldata proof, address a)
        private
        pure
        returns (Journal.LeafProof memory lp, Journal.Account memory acct)
    {
        (lp, s.p) = Journal.decodeLeafProof(proof, s.p);
        (bytes32 hi, bytes32 lo) = Journal.accountKey(a);
        Journal.verifyMember(s.root, s.count, lp, hi, lo);
        acct = Journal.decodeAccount(lp.leaf.payload);
    }

    function _put(S memory s, Journal.LeafProof memory lp, Journal.Account memory acct) private pure {
        s.root = Journal.update(s.root, s.count, lp, Journal.encodeAccount(acct));
    }

    function _intrinsic(bytes memory t) private pure returns (uint256 intrinsic, uint256 floor) {
        uint256 zeros = t.rd(T_ZEROS, 4);
        uint256 nonZeros = t.rd(T_NON_ZEROS, 4);
        intrinsic = GAS_TX + 4 * zeros + 16 * nonZeros + 2400 * t.rd(T_AL_ADDRESSES, 4) + 1900 * t.rd(T_AL_KEYS, 4);
        floor = GAS_TX + 10 * (zeros + 4 * nonZeros);
    }

    // -- TX_START (2.2) --------------------------------------------------------------------------

    /// @dev Intrinsic gas and floor, then `check_against_state`: a failure skips the transaction
    ///      (phase IDLE, tx 0, journal J0, bufLen := rawOff); else buys the gas, nonce + 1, warm.
    function _txStart(S memory s, bytes calldata proof) private view returns (bytes32) {
        bytes memory b =
            Packed.loadChecked(proof, s.p, Packed.TAG_BLOCK, Packed.BLOCK_SIZE, s.ms.rd32(Packed.MS_BLOCK), "BlockCtx");
        s.p += Packed.BLOCK_SIZE;
        bytes memory a =
            Packed.loadChecked(proof, s.p, Packed.TAG_ACC, Packed.ACC_SIZE, s.ms.rd32(Packed.MS_ACC), "BlockAcc");
        s.p += Packed.ACC_SIZE;
        (Journal.LeafProof memory lp, Journal.Account memory sender) =
            _account(s, proof, address(uint160(s.t.rd(Packed.T_SENDER, 20))));
        bool ok = _senderCodeOk(s, proof, sender.codeHash);
        _end(proof, s.p);
        uint256 baseFee = b.rd(Packed.B_BASE_FEE, 32);
        if (!ok || !_stateOk(s.t, a, sender, baseFee)) return _skip(s, a);
        return _buyGas(s, lp, sender, baseFee);
    }

    /// @dev A stateful failure: the transaction is skipped (phase IDLE, tx 0, journal J0, the
    ///      store truncated to rawOff).
    function _skip(S memory s, bytes memory a) private pure returns (bytes32) {
        s.ms.wr(Packed.MS_PHASE, 1, IDLE);
        s.ms.wr32(Packed.MS_TX, 0);
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, Journal.emptyRoot());
        s.ms.wr(Packed.MS_JOURNAL_COUNT, 4, 1);
        a.wr(Packed.A_BUF_LEN, 8, s.t.rd(T_RAW_OFF, 8));
        s.ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(s.ms);
    }

    /// @dev Buys the gas at the effective price, nonce + 1, the sender warm and touched.
    function _buyGas(S memory s, Journal.LeafProof memory lp, Journal.Account memory sender, uint256 baseFee)
        private
        pure
        returns (bytes32)
    {
        bytes memory t = s.t;
        uint256 price = t.rd(T_MAX_FEE, 32);
        if (baseFee + t.rd(T_TIP, 32) < price) price = baseFee + t.rd(T_TIP, 32);
        sender.balance -= t.rd(T_GAS_LIMIT, 8) * price;
        sender.nonce += 1;
        sender.flags |= Journal.FLAG_WARM | Journal.FLAG_TOUCHED;
        _put(s, lp, sender);
        (uint256 intrinsic, uint256 floor) = _intrinsic(t);
        t.wr(Packed.T_GAS_PRICE, 32, price);
        t.wr(T_INTRINSIC, 8, intrinsic);
        t.wr(T_FLOOR, 8, floor);
        t.wr(T_SETUP, 1, SETUP_TO);
        s.ms.wr(Packed.MS_PHASE, 1, TX_SETUP);
        return _commit(s);
    }

    /// @dev EIP-3607: the sender has no code, or a 23-byte EIP-7702 delegation designator. The
    ///      proof's `u32 n ++ code`: empty for an EOA; else the code's preimage, or n = 0 and the
    ///      code oracle's size (live) when that is not 23 (a large code need not be in the proof;
    ///      unregistered: `CodeNotRegistered`, a 23-byte code needs its preimage: `BadCode`).
    function _senderCodeOk(S memory s, bytes calldata proof, bytes32 codeHash) private view returns (bool) {
        bytes calldata code;
        (code, s.p) = ExecBase.sized(proof, s.p);
        if (codeHash == EMPTY_CODE_HASH) {
            if (code.length != 0) revert BadCode();
            return true;
        }
        if (code.length == 0) {
            (bool known, uint256 size,,) = codeOracle.get(codeHash);
            if (!known) revert CodeNotRegistered(codeHash);
            if (size == 23) revert BadCode();
            return false;
        }
        if (keccak256(code) != codeHash) revert BadCode();
        return code.length == 23 && bytes3(code[0:3]) == 0xef0100;
    }

    /// @dev The stateful rules of `check_against_state` and the intrinsic gas (tx_steps.tx_start).
    function _stateOk(
        bytes memory t,
        bytes memory a,
        Journal.Account memory sender,
        uint256 baseFee
    ) private view returns (bool) {
        (uint256 intrinsic, uint256 floor) = _intrinsic(t);
        uint256 gasLimit = t.rd(T_GAS_LIMIT, 8);
        uint256 maxFee = t.rd(T_MAX_FEE, 32);
        uint256 used = a.rd(A_GAS_USED, 8);
        uint256 gasLeft = blockGasLimit > used ? blockGasLimit - used : 0;
        if (gasLimit < (intrinsic > floor ? intrinsic : floor)) return false;
        if (maxFee < baseFee || gasLimit > gasLeft || t.rd(T_TIP, 32) > maxFee) return false;
        if (t.rd(T_NONCE, 8) != sender.nonce) return false;
        // balance >= gasLimit * maxFee + value, without overflow (a sum above 2^256 - 1 fails)
        if (gasLimit != 0 && maxFee > type(uint256).max / gasLimit) return false;
        uint256 cost = gasLimit * maxFee;
        uint256 value = t.rd(T_VALUE, 32);
        if (cost > type(uint256).max - value) return false;
        return sender.balance >= cost + value;
    }

    /// @dev Rewrites MachineState.tx and the journal root from `s`; the post-state hash.
    function _commit(S memory s) private pure returns (bytes32) {
        s.ms.wr32(Packed.MS_TX, keccak256(s.t));
        s.ms.wr32(Packed.MS_JOURNAL_ROOT, s.root);
        return keccak256(s.ms);
    }

    // -- DEPOSIT_START (2.2) ---------------------------------------------------------------------

    /// @dev Mint `value`, nonce + 1; a gas limit below max(intrinsic, floor) skips the call (phase
    ///      TX_END, status CALL_SKIPPED), else the sender is warm and TX_SETUP follows.
    function _depositStart(S memory s, bytes calldata proof) private pure returns (bytes32) {
        bytes memory t = s.t;
        (Journal.LeafProof memory lp, Journal.Account memory sender) =
            _account(s, proof, address(uint160(t.rd(Packed.T_SENDER, 20))));
        _end(proof, s.p);
        (uint256 intrinsic, uint256 floor) = _intrinsic(t);
        sender.balance += t.rd(T_VALUE, 32);
        sender.nonce += 1;
        sender.flags |= Journal.FLAG_TOUCHED;
        t.wr(T_INTRINSIC, 8, intrinsic);
        t.wr(T_FLOOR, 8, floor);
        t.wr(Packed.T_GAS_PRICE, 32, 0);
        if (t.rd(T_GAS_LIMIT, 8) < (intrinsic > floor ? intrinsic : floor)) {
            t.wr(Packed.T_STATUS, 1, STATUS_CALL_SKIPPED);
            s.ms.wr(Packed.MS_PHASE, 1, TX_END);
        } else {
            sender.flags |= Journal.FLAG_WARM;
            t.wr(T_SETUP, 1, SETUP_TO);
            s.ms.wr(Packed.MS_PHASE, 1, TX_SETUP);
        }
        _put(s, lp, sender);
        return _commit(s);
    }

    // -- TX_SETUP (2.2) --------------------------------------------------------------------------

    function _precompile(address a) private pure returns (bool) {
        return uint160(a) >= 1 && uint160(a) <= 0x11;
    }

    /// @dev Warm `to` (sub-stage 0), the coinbase (1) or access-list item `alCursor` (2); each
    ///      preceded by its LOAD when absent. Precompiles are warm by rule, never journalled.
    function _txSetup(S memory s, bytes calldata proof, uint256 setup) private view returns (bytes32) {
        bytes memory t = s.t;
        address a;
        uint256 slot;
        bool isSlot;
        if (setup == SETUP_TO) {
            a = address(uint160(t.rd(T_TO, 20)));
        } else if (setup == SETUP_COINBASE) {
            a = coinbase;
        } else if (setup == SETUP_ACCESS_LIST) {
            (a, slot, isSlot) = _alItem(s, proof);
        } else {
            revert Unsupported("TX_SETUP");
        }
        bool pre = _precompile(a);
        if (pre && isSlot) revert Unsupported("PRECOMPILE_SLOT");
        if (_loadFlag(proof, s)) {
            if (pre) revert BadLoadFlag();
            return _load(s, proof, a, slot, isSlot);
        }
        if (isSlot) {
            Journal.LeafProof memory lp;
            (lp, s.p) = Journal.decodeLeafProof(proof, s.p);
            (bytes32 hi, bytes32 lo) = Journal.slotKey(a, slot);
            Journal.verifyMember(s.root, s.count, lp, hi, lo);
            Journal.Slot memory entry = Journal.decodeSlot(lp.leaf.payload);
            entry.warm = true;
            s.root = Journal.update(s.root, s.count, lp, Journal.encodeSlot(entry));
        } else if (!pre) {
            (Journal.LeafProof memory lp, Journal.Account memory acct) = _account(s, proof, a);
            acct.flags |= Journal.FLAG_WARM;
            _put(s, lp, acct);
        }
        _end(proof, s.p);
        if (setup == SETUP_TO) {
            t.wr(T_SETUP, 1, SETUP_COINBASE);
        } else if (setup == SETUP_COINBASE) {
            t.wr(T_SETUP, 1, t.rd(T_AL_ADDRESSES, 4) != 0 ? SETUP_ACCESS_LIST : SETUP_CALL);
        } else {
            uint256 next = t.rd(T_AL_CURSOR, 4) + 1;
            t.wr(T_AL_CURSOR, 4, next);
            if (next == t.rd(T_AL_ADDRESSES, 4) + t.rd(T_AL_KEYS, 4)) t.wr(T_SETUP, 1, SETUP_CALL);
        }
        return _commit(s);
    }

    /// @dev Item `alCursor` of the access list (flattened: an address, then each of its keys),
    ///      read from the store words of the payload [alOff, alOff + alLen), proven against
    ///      BlockAcc.bufRoot. The RLP was checked canonical by TX_DECODE; this walk only bounds it.
    function _alItem(S memory s, bytes calldata proof) private pure returns (address, uint256, bool) {
        bytes memory acc =
            Packed.loadChecked(proof, s.p, Packed.TAG_ACC, Packed.ACC_SIZE, s.ms.rd32(Packed.MS_ACC), "BlockAcc");
        s.p += Packed.ACC_SIZE;
        bytes memory al = _storeBytes(s, proof, acc.rd32(Packed.A_BUF_ROOT));
        return _walk(al, s.t.rd(T_AL_CURSOR, 4));
    }

    /// @dev The access-list payload: store bytes [alOff, alOff + alLen) from the words at the
    ///      cursor and their siblings.
    function _storeBytes(S memory s, bytes calldata proof, bytes32 bufRoot) private pure returns (bytes memory out) {
        uint256 off = s.t.rd(T_AL_OFF, 8);
        uint256 len = s.t.rd(T_AL_LEN, 4);
        if (len == 0) revert BadAccessList();
        bytes32[] memory ws = ExecBase.words(proof, s.p, ((off + len - 1) >> 5) - (off >> 5) + 1);
        bytes32 root;
        (root, s.p) = Buf.rangeRoot(MEM_DEPTH, off >> 5, ws, proof, s.p + 32 * ws.length);
        if (root != bufRoot) revert Packed.BadPreimage("Buf");
        out = new bytes(len);
        assembly {
            let src := add(add(ws, 32), and(off, 31))
            let dst := add(out, 32)
            for { let i := 0 } lt(i, len) { i := add(i, 32) } { mstore(add(dst, i), mload(add(src, i))) }
        }
    }

    /// @dev The `idx`-th item of the flattened access-list payload `al`:
    ///      `[[addr, [key, ...]], ...]` without its outer list header.
    function _walk(bytes memory al, uint256 idx) private pure returns (address a, uint256 slot, bool isSlot) {
        uint256 pos = 0;
        while (pos < al.length) {
            (uint256 start, uint256 end) = _list(al, pos);
            if (start + 21 > end || uint8(al[start]) != 0x94) revert BadAccessList();
            a = address(bytes20(_word(al, start + 1)));
            if (idx == 0) return (a, 0, false);
            idx -= 1;
            (uint256 kStart, uint256 kEnd) = _list(al, start + 21);
            if (kEnd != end || (kEnd - kStart) % 33 != 0) revert BadAccessList();
            uint256 n = (kEnd - kStart) / 33;
            if (idx < n) {
                uint256 at = kStart + 33 * idx;
                if (uint8(al[at]) != 0xa0) revert BadAccessList();
                return (a, uint256(_word(al, at + 1)), true);
            }
            idx -= n;
            pos = end;
        }
        revert BadAccessList();
    }

    /// @dev (payload start, end) of the RLP list at `pos` of `b`, inside `b`.
    function _list(bytes memory b, uint256 pos) private pure returns (uint256 start, uint256 end) {
        if (pos >= b.length) revert BadAccessList();
        uint256 h = uint8(b[pos]);
        if (h < 0xc0) revert BadAccessList();
        if (h < 0xf8) {
            start = pos + 1;
            end = start + h - 0xc0;
        } else {
            uint256 n = h - 0xf7;
            if (n > 4 || pos + 1 + n > b.length) revert BadAccessList();
            uint256 l = uint256(_word(b, pos + 1)) >> (256 - 8 * n);
            start = pos + 1 + n;
            end = start + l;
        }
        if (end > b.length) revert BadAccessList();
    }

    function _word(bytes memory b, uint256 at) private pure returns (bytes32 v) {
        if (at + 32 > b.length) {
            // a tail shorter than a word: read what is there, zero-padded (addresses: 20 bytes)
            bytes memory tmp = new bytes(32);
            for (uint256 i = 0; at + i < b.length && i < 32; i++) {
                tmp[i] = b[at + i];
            }
            b = tmp;
            at = 0;
        }
        assembly {
            v := mload(add(add(b, 32), at))
        }
    }

    // -- TX_CALL (2.2) ---------------------------------------------------------------------------

    /// @dev The value transfer sender -> `to` (both touched); no code: phase TX_END with success;
    ///      else the top frame (code record from the oracle, live) and phase EXEC.
    function _txCall(S memory s, bytes calldata proof) private view returns (bytes32) {
        bytes memory t = s.t;
        address to = address(uint160(t.rd(T_TO, 20)));
        if (_precompile(to)) revert Unsupported("PRECOMPILE_CALL");
        uint256 value = t.rd(T_VALUE, 32);
        s.snap = s.root;
        {
            (Journal.LeafProof memory lp, Journal.Account memory sender) =
                _account(s, proof, address(uint160(t.rd(Packed.T_SENDER, 20))));
            if (sender.balance < value) revert InsufficientBalance();
            sender.balance -= value;
            sender.flags |= Journal.FLAG_TOUCHED;
            _put(s, lp, sender);
        }
        bytes32 codeHash;
        {
            (Journal.LeafProof memory lp, Journal.Account memory callee) = _account(s, proof, to);
            callee.balance += value;
            callee.flags |= Journal.FLAG_TOUCHED;
            _put(s, lp, callee);
            codeHash = callee.codeHash;
        }
        uint256 rawEnd = t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4);
        t.wr(T_LOGS_OFF, 8, (rawEnd + 31) / 32 * 32);
        t.wr32(Packed.T_BLOOM, EMPTY_BLOOM_HASH);
        if (codeHash == EMPTY_CODE_HASH) {
            _end(proof, s.p);
            t.wr(Packed.T_STATUS, 1, STATUS_SUCCESS);
            s.ms.wr(Packed.MS_PHASE, 1, TX_END);
            return _commit(s);
        }
        bytes32 record = _codeRecord(s, proof, codeHash);
        _end(proof, s.p);
        s.ms.wr32(Packed.MS_FRAME, keccak256(_frame(s, to, record, rawEnd)));
        s.ms.wr(Packed.MS_PHASE, 1, EXEC);
        return _commit(s);
    }

    /// @dev The frame's `code` field from the oracle; a 23-byte code proves its first word
    ///      against the code root and an EIP-7702 delegation is refused by name.
    function _codeRecord(S memory s, bytes calldata proof, bytes32 codeHash) private view returns (bytes32) {
        (bool known, uint256 size, bytes32 codeRoot, bytes32 jumpRoot) = codeOracle.get(codeHash);
        if (!known) revert CodeNotRegistered(codeHash);
        if (size == 23) _delegationCheck(s, proof, codeRoot);
        return keccak256(abi.encodePacked(uint8(Packed.TAG_CODE), codeHash, codeRoot, jumpRoot, uint32(size)));
    }

    function _delegationCheck(S memory s, bytes calldata proof, bytes32 codeRoot) private pure {
        bytes32[] memory ws = ExecBase.words(proof, s.p, 1);
        bytes32 root;
        (root, s.p) = Buf.rangeRoot(CODE_DEPTH, 0, ws, proof, s.p + 32);
        if (root != codeRoot) revert Packed.BadPreimage("Code");
        if (bytes3(ws[0]) == 0xef0100) revert Unsupported("DELEGATED_CALL");
    }

    /// @dev The top frame (1.4): gas = gasLimit - intrinsic, calldata the store's data range,
    ///      snapshot = the journal before the value transfer (a revert gives the value back; the
    ///      count is unchanged by the transfer), the raw end, an empty bloom.
    function _frame(S memory s, address to, bytes32 record, uint256 rawEnd) private pure returns (bytes memory fr) {
        bytes memory t = s.t;
        fr = new bytes(Packed.FRAME_SIZE + 1);
        fr[0] = bytes1(Packed.TAG_FRAME);
        fr.wr(Packed.F_ADDRESS, 20, uint160(to));
        fr.wr(Packed.F_CALLER, 20, t.rd(Packed.T_SENDER, 20));
        fr.wr(Packed.F_VALUE, 32, t.rd(T_VALUE, 32));
        fr.wr32(Packed.F_CODE, record);
        fr.wr(Packed.F_GAS, 8, t.rd(T_GAS_LIMIT, 8) - t.rd(T_INTRINSIC, 8));
        fr.wr32(Packed.F_MEM_ROOT, Buf.zero(MEM_DEPTH));
        fr.wr(Packed.F_CD_OFF, 8, t.rd(T_DATA_OFF, 8));
        fr.wr(Packed.F_CD_LEN, 8, t.rd(T_DATA_LEN, 4));
        fr.wr32(Packed.F_SNAP_JOURNAL_ROOT, s.snap); // a revert gives the value back
        fr.wr(Packed.F_SNAP_JOURNAL_COUNT, 4, s.count);
        fr.wr(Packed.F_SNAP_REFUND, 8, t.rd(Packed.T_REFUND, 8));
        fr.wr(Packed.F_SNAP_BUF_LEN, 8, rawEnd);
        fr.wr32(Packed.F_SNAP_BLOOM, EMPTY_BLOOM_HASH);
    }
}
