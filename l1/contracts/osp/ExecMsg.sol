// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {Keccak} from "./Keccak.sol";
import {Packed} from "./Packed.sol";
import {PreimageOracle} from "../PreimageOracle.sol";

/// @notice DelayedInbox's accumulator array (the public getter): acc(j) = H(acc(j-1) ++ messageHash(j)).
interface IDelayedAccumulators {
    function accumulators(uint256 index) external view returns (bytes32);
}

/// @title ExecMsg
/// @notice NEXT_MESSAGE (docs/fraud-proofs.md 2.1, 3.2), TX_LOAD, DEPOSIT_LOAD and DATA_LOAD (2.2)
///         as one step contract of its own, twin of l1/proofs/block_steps.next_message and
///         tx_steps.tx_load / deposit_load / data_load, proofs packed by l1/proofs/msg_proofs.py; wired
///         as the prover's phaseSteps[IDLE] and reached for phase TX_LOAD through its router
///         (section 16). Every input is checked against the pre-state or immutable L1 storage:
///         the bytes of each sponge block against the PreimageOracle record of the digest the
///         sponge must reach (the message leaf, the deposit's dataHash), the kind of an L2Tx
///         given by its leaf against the record's first byte, a deposit against the DelayedInbox
///         accumulators and its data's length against the data's record.
///
///         NEXT_MESSAGE proof: MachineState (293) ++ Cursor (20) ++ EntryCtx (45) ++ BlockAcc (148)
///         ++ [when the entry is a valid batch and msgIndex < messageCount: u8 kind ++ body (0
///         BlockStart: u64 timestamp ++ u64 origin; 1 L2Tx: the 32-byte leaf, registered in the
///         oracle; 2 Delayed: u64 index) ++ u8 n ++ n Merkle siblings (n = bitlen(messageCount - 1),
///         bottom up, l2/messages.py)].
///         TX_LOAD proof: MachineState ++ TxCtx (344) ++ BlockAcc ++ Pending SPONGE (227, op first)
///         ++ u8 len ++ len bytes (136: a full block; < 136: the final one) ++ the block's
///         siblings in the oracle's block tree (none for an empty block) ++ the store words the
///         raw part covers and their siblings (none when the raw part is empty).
///         DEPOSIT_LOAD (phase TX_LOAD, tx = 0) proof: MachineState ++ Cursor ++ BlockAcc ++ the
///         deposit (u64 index ++ sender ++ to ++ u256 value ++ u64 gasLimit ++ u64 l1Block ++ u64
///         l1Timestamp ++ dataHash: 136) ++ the store words the encoding prefix covers and their siblings.
///         DATA_LOAD (phase TX_LOAD, sub-stage 4) proof: MachineState ++ TxCtx ++ BlockAcc ++
///         Pending SPONGE_CHECK (259: op 5, the SPONGE fields, the dataHash) ++ u8 len ++ the
///         block ++ its block-tree siblings ++ the store words it covers and their siblings ++
///         [final step of one byte of data: the store word holding the byte before it, after the
///         write, and its siblings].
///         Every proof must be consumed exactly. Any other step reverts `Unsupported`: "PHASE"
///         outside phases IDLE and TX_LOAD; in phase TX_LOAD "TX_DECODE", "SIG_HASH", "TX_START",
///         "DEPOSIT_START" by sub-stage, "TX_LOAD" for a proof of the machine state alone,
///         "DEPOSIT_LOAD" when deployed without a DelayedInbox.
contract ExecMsg {
    using Packed for bytes;

    uint256 internal constant IDLE = 2;
    uint256 internal constant TX_LOAD = 3;
    uint256 internal constant TRIE = 8;
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant BLOCK = 136;

    uint8 internal constant TAG_CURSOR = 0x4D;
    uint256 internal constant CURSOR_SIZE = 20;
    uint8 internal constant TAG_ENTRY = 0x45;
    uint256 internal constant ENTRY_SIZE = 45;
    uint8 internal constant TAG_PENDING = 0x50;
    uint256 internal constant SPONGE_SIZE = 227;
    uint8 internal constant TAG_TRIE = 0x53;

    uint256 internal constant MS_CURSOR = 1;
    uint256 internal constant MS_ENTRY = 33;
    uint256 internal constant MS_PENDING = 261;
    // Cursor
    uint256 internal constant C_ENTRY = 0;
    uint256 internal constant C_MSG = 8;
    uint256 internal constant C_DELAYED = 12;
    // EntryCtx
    uint256 internal constant E_KIND = 0;
    uint256 internal constant E_ROOT = 1;
    uint256 internal constant E_COUNT = 33;
    uint256 internal constant E_DELAYED_END = 37;
    // BlockAcc
    uint256 internal constant A_TRIE = 116;
    // TxCtx
    uint256 internal constant T_MSG_LEAF = 2;
    uint256 internal constant T_RAW_OFF = 218;
    uint256 internal constant T_RAW_LEN = 226;
    uint256 internal constant T_SETUP = 343;
    // Pending SPONGE (preimage after the 0x50 tag)
    uint256 internal constant P_OP = 0;
    uint256 internal constant P_STATE = 1;
    uint256 internal constant P_ABSORBED = 201;
    uint256 internal constant P_PURPOSE = 226;

    uint8 internal constant SOURCE_PROOF = 5;
    uint8 internal constant PURPOSE_TX_LOAD = 1;
    uint256 internal constant ST_LOAD = 0;
    uint256 internal constant ST_DECODE = 1;
    uint256 internal constant ST_SIG_HASH = 2;
    uint256 internal constant ST_TX_START = 3;
    uint256 internal constant ST_DATA = 4;
    uint256 internal constant ST_DEPOSIT_START = 5;
    uint8 internal constant PURPOSE_DATA_LOAD = 3;
    // Pending SPONGE_CHECK (op 5): the SPONGE fields, then the expected digest
    uint256 internal constant CHECK_SIZE = 259;
    uint256 internal constant P_EXPECTED = 227;
    // TxCtx (a deposit's)
    uint256 internal constant T_KIND = 0;
    uint256 internal constant T_TYPE = 1;
    uint256 internal constant T_SENDER = 34;
    uint256 internal constant T_TO = 54;
    uint256 internal constant T_GAS_LIMIT = 82;
    uint256 internal constant T_VALUE = 90;
    uint256 internal constant DEPOSIT_TYPE = 0x7E;
    uint256 internal constant DEPOSIT_SIZE = 136;
    uint256 internal constant T_DATA_OFF = 230;
    uint256 internal constant T_DATA_LEN = 238;
    uint256 internal constant T_ZEROS = 258;
    uint256 internal constant T_NON_ZEROS = 262;

    error Unsupported(bytes32 name);
    /// @notice The message is not leaf `msgIndex` of the entry's message root.
    error BadMessage();
    /// @notice The proof has bytes past its end.
    error ProofTooLong();
    /// @notice A TX_LOAD block longer than 136 bytes.
    error BadBlock();
    /// @notice The final TX_LOAD block does not complete keccak(0x01 ++ raw) = the message leaf,
    ///         or the final DATA_LOAD block the deposit's dataHash over exactly dataLen bytes.
    error BadDigest();
    /// @notice A one-byte deposit data's string header does not fit the byte.
    error BadHeader();
    /// @notice The preimage a step reads is not in the PreimageOracle yet (the honest side
    ///         registers it before proving: docs/fraud-proofs.md 16).
    error PreimageNotRegistered(bytes32 key);
    /// @notice A TX_LOAD / DATA_LOAD block is not block `absorbed / 136` of the registered preimage.
    error BlockNotInPreimage();

    /// @notice The deposit is not delayed message `delayedNext - 1` of the DelayedInbox.
    error BadDeposit();

    /// @notice The preimages of L2Tx messages and deposit data, read live (immutable records).
    PreimageOracle public immutable preimages;
    /// @notice The DelayedInbox whose accumulators a DEPOSIT_LOAD reads live (append-only: an
    ///         accumulator never changes once written); zero: DEPOSIT_LOAD refused by name.
    IDelayedAccumulators public immutable delayedInbox;

    constructor(PreimageOracle oracle, IDelayedAccumulators delayed) {
        preimages = oracle;
        delayedInbox = delayed;
    }

    /// @notice NEXT_MESSAGE (phase IDLE) or a TX_LOAD micro-step (phase TX_LOAD, tx sub-stage 0):
    ///         the post-state hash.
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        uint256 phase = ms.rd(Packed.MS_PHASE, 1);
        if (phase == IDLE) return _nextMessage(ms, proof);
        if (phase == TX_LOAD) return _txLoad(ms, proof);
        revert Unsupported("PHASE");
    }

    // -- NEXT_MESSAGE --------------------------------------------------------------------------

    function _nextMessage(bytes memory ms, bytes calldata proof) private view returns (bytes32) {
        uint256 p = Packed.MS_SIZE;
        bytes memory c = Packed.loadChecked(proof, p, TAG_CURSOR, CURSOR_SIZE, ms.rd32(MS_CURSOR), "Cursor");
        p += CURSOR_SIZE;
        bytes memory e = Packed.loadChecked(proof, p, TAG_ENTRY, ENTRY_SIZE, ms.rd32(MS_ENTRY), "EntryCtx");
        p += ENTRY_SIZE;
        bytes memory a = Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        if (e.rd(E_KIND, 1) == 0 && c.rd(C_MSG, 4) < e.rd(E_COUNT, 4)) return _withMessage(ms, c, e, a, proof, p);
        uint256 delayedNext = c.rd(C_DELAYED, 8);
        if (p != proof.length) revert ProofTooLong();
        if (delayedNext < e.rd(E_DELAYED_END, 8)) {
            c.wr(C_DELAYED, 8, delayedNext + 1);
            ms.wr32(MS_CURSOR, keccak256(c));
            ms.wr(Packed.MS_PHASE, 1, TX_LOAD);
            ms.wr32(Packed.MS_TX, 0);
            return keccak256(ms);
        }
        c.wr(C_ENTRY, 8, c.rd(C_ENTRY, 8) + 1);
        c.wr(C_MSG, 4, 0);
        ms.wr32(MS_CURSOR, keccak256(c));
        return _close(ms, a);
    }

    /// @dev Message `msgIndex` of a valid batch (derivation rules 2-4).
    function _withMessage(bytes memory ms, bytes memory c, bytes memory e, bytes memory a, bytes calldata proof, uint256 p)
        private
        view
        returns (bytes32)
    {
        (uint256 kind, bytes32 leaf, uint256 body) = _message(e, c.rd(C_MSG, 4), proof, p);
        if (kind == 0) return _close(ms, a);
        c.wr(C_MSG, 4, c.rd(C_MSG, 4) + 1);
        if (kind == 1) {
            _userTx(ms, a, leaf);
        } else {
            uint256 delayedNext = c.rd(C_DELAYED, 8);
            if (body == delayedNext && body < e.rd(E_DELAYED_END, 8)) {
                c.wr(C_DELAYED, 8, delayedNext + 1);
                ms.wr(Packed.MS_PHASE, 1, TX_LOAD);
                ms.wr32(Packed.MS_TX, 0);
            }
        }
        ms.wr32(MS_CURSOR, keccak256(c));
        return keccak256(ms);
    }

    /// @dev The message at `proof[p:]`, proven leaf `index` of the entry: its kind, leaf hash and
    ///      body value (Delayed: the index).
    function _message(bytes memory e, uint256 index, bytes calldata proof, uint256 p)
        private
        view
        returns (uint256 kind, bytes32 leaf, uint256 body)
    {
        if (p + 1 > proof.length) revert Packed.ProofTooShort();
        kind = uint8(proof[p]);
        uint256 size = kind == 0 ? 16 : kind == 1 ? 32 : kind == 2 ? 8 : type(uint256).max;
        if (size == type(uint256).max) revert BadMessage();
        if (p + 1 + size > proof.length) revert Packed.ProofTooShort();
        bytes calldata b = proof[p + 1:p + 1 + size];
        if (kind == 1) {
            // an L2Tx is given by its leaf: its kind is the registered preimage's first byte, so
            // a BlockStart or Delayed leaf cannot pass for one
            leaf = bytes32(b);
            (bool known,, uint8 first,) = preimages.get(leaf);
            if (!known) revert PreimageNotRegistered(leaf);
            if (first != 1) revert BadMessage();
        } else {
            leaf = keccak256(proof[p:p + 1 + size]);
            if (kind == 2) body = uint64(bytes8(b));
        }
        _verifyPath(e, leaf, index, proof, p + 1 + size);
    }

    /// @dev l2/messages.verify_merkle_proof: `leaf` is leaf `index` of the entry's message tree.
    function _verifyPath(bytes memory e, bytes32 leaf, uint256 index, bytes calldata proof, uint256 p) private pure {
        uint256 count = e.rd(E_COUNT, 4);
        uint256 depth = 0;
        while ((uint256(1) << depth) < count) depth++;
        if (p + 1 > proof.length) revert Packed.ProofTooShort();
        if (uint8(proof[p]) != depth) revert BadMessage();
        p += 1;
        if (p + 32 * depth != proof.length) revert Packed.ProofTooShort();
        bytes32 node = leaf;
        for (uint256 i = 0; i < depth; i++) {
            bytes32 sibling = bytes32(proof[p + 32 * i:p + 32 * i + 32]);
            node = index & 1 == 1 ? keccak256(abi.encodePacked(sibling, node)) : keccak256(abi.encodePacked(node, sibling));
            index >>= 1;
        }
        if (node != e.rd32(E_ROOT)) revert BadMessage();
    }

    /// @dev Phase TRIE with the initial StackTrie state (which TX, pos 0, no roots, no frames).
    function _close(bytes memory ms, bytes memory a) private pure returns (bytes32) {
        a.wr32(A_TRIE, keccak256(abi.encodePacked(TAG_TRIE, uint8(0), uint32(0), bytes32(0), bytes32(0))));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        ms.wr(Packed.MS_PHASE, 1, TRIE);
        return keccak256(ms);
    }

    /// @dev An L2Tx: phase TX_LOAD, its TxCtx, a TX_LOAD sponge from the proof at rawOff.
    function _userTx(bytes memory ms, bytes memory a, bytes32 leaf) private pure {
        ms.wr(Packed.MS_PHASE, 1, TX_LOAD);
        uint256 rawOff = (a.rd(Packed.A_BUF_LEN, 8) + 31) / 32 * 32;
        ms.wr32(Packed.MS_TX, _newTx(leaf, rawOff));
        ms.wr32(MS_PENDING, Keccak.pendingHash(Keccak.empty(), 0, SOURCE_PROOF, uint64(rawOff), 0, PURPOSE_TX_LOAD));
    }

    /// @dev TxCtx of a user transaction about to load: kind 0, msgLeaf, rawOff, every other field 0.
    function _newTx(bytes32 leaf, uint256 rawOff) private pure returns (bytes32) {
        bytes memory t = new bytes(Packed.TX_SIZE + 1);
        t[0] = bytes1(Packed.TAG_TX);
        t.wr32(T_MSG_LEAF, leaf);
        t.wr(T_RAW_OFF, 8, rawOff);
        return keccak256(t);
    }

    // -- TX_LOAD -------------------------------------------------------------------------------

    function _txLoad(bytes memory ms, bytes calldata proof) private view returns (bytes32) {
        if (ms.rd32(Packed.MS_TX) == 0) return _depositLoad(ms, proof);
        // a proof of the machine state alone (what the prover's encoder sends for a TX_LOAD-phase
        // kind it cannot prove) is refused by the phase's name
        if (proof.length == Packed.MS_SIZE) revert Unsupported("TX_LOAD");
        uint256 p = Packed.MS_SIZE;
        bytes memory t = Packed.loadChecked(proof, p, Packed.TAG_TX, Packed.TX_SIZE, ms.rd32(Packed.MS_TX), "TxCtx");
        p += Packed.TX_SIZE;
        if (t.rd(T_SETUP, 1) == ST_DATA) return _dataLoad(ms, t, proof, p);
        _refuseStage(t.rd(T_SETUP, 1));
        bytes memory a = Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        bytes memory pd = Packed.loadChecked(proof, p, TAG_PENDING, SPONGE_SIZE, ms.rd32(MS_PENDING), "Pending");
        p += SPONGE_SIZE;
        if (pd.rd(P_OP, 1) != 2 || pd.rd(P_PURPOSE, 1) != PURPOSE_TX_LOAD) revert Unsupported("SPONGE");
        if (p + 1 > proof.length) revert Packed.ProofTooShort();
        uint256 len = uint8(proof[p]);
        if (len > BLOCK) revert BadBlock();
        if (p + 1 + len > proof.length) revert Packed.ProofTooShort();
        bytes memory data = proof[p + 1:p + 1 + len];
        p = _checkBlock(t.rd32(T_MSG_LEAF), pd.rd(P_ABSORBED, 8), data, proof, p + 1 + len);
        // the raw part: the first block starts with the 0x01 tag of the L2Tx message
        uint256 skip = pd.rd(P_ABSORBED, 8) == 0 && len > 0 ? 1 : 0;
        p = _write(a, proof, p, t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4), data, skip);
        if (p != proof.length) revert ProofTooLong();
        t.wr(T_RAW_LEN, 4, t.rd(T_RAW_LEN, 4) + len - skip);
        a.wr(Packed.A_BUF_LEN, 8, t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4));
        _absorb(ms, t, pd, data);
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(ms);
    }

    /// @dev The sub-stages of phase TX_LOAD other than TX_LOAD and DATA_LOAD, refused by name.
    function _refuseStage(uint256 stage) private pure {
        if (stage == ST_DECODE) revert Unsupported("TX_DECODE");
        if (stage == ST_SIG_HASH) revert Unsupported("SIG_HASH");
        if (stage == ST_TX_START) revert Unsupported("TX_START");
        if (stage == ST_DEPOSIT_START) revert Unsupported("DEPOSIT_START");
        if (stage != ST_LOAD) revert Unsupported("TX_LOAD");
    }

    /// @dev A full block moves the sponge on; a shorter one ends it on the message leaf (then
    ///      no pending operation, sub-stage TX_DECODE).
    function _absorb(bytes memory ms, bytes memory t, bytes memory pd, bytes memory data) private pure {
        bytes memory state = _state(pd);
        if (data.length == BLOCK) {
            _setState(pd, Keccak.absorb(state, data));
            pd.wr(P_ABSORBED, 8, pd.rd(P_ABSORBED, 8) + BLOCK);
            ms.wr32(MS_PENDING, keccak256(pd));
            return;
        }
        (, bytes32 digest) = Keccak.absorbFinal(state, data);
        if (digest != t.rd32(T_MSG_LEAF)) revert BadDigest();
        t.wr(T_SETUP, 1, ST_DECODE);
        ms.wr32(MS_PENDING, 0);
    }

    // -- DEPOSIT_LOAD --------------------------------------------------------------------------

    struct Deposit {
        uint256 index;
        address sender;
        address to;
        uint256 value;
        uint256 gasLimit;
        uint256 l1Block;
        uint256 l1Timestamp;
        bytes32 dataHash;
    }

    /// @dev DEPOSIT_LOAD (tx_steps.deposit_load): the deposit `delayedNext - 1` (NEXT_MESSAGE took
    ///      it) proven by its DelayedInbox accumulator (live), its data's length and first byte from
    ///      the PreimageOracle record of its dataHash; writes the encoding prefix at align32(bufLen),
    ///      opens the TxCtx and the DATA_LOAD sponge (Pending SPONGE_CHECK on dataHash).
    function _depositLoad(bytes memory ms, bytes calldata proof) private view returns (bytes32) {
        if (address(delayedInbox) == address(0)) revert Unsupported("DEPOSIT_LOAD");
        uint256 p = Packed.MS_SIZE;
        bytes memory c = Packed.loadChecked(proof, p, TAG_CURSOR, CURSOR_SIZE, ms.rd32(MS_CURSOR), "Cursor");
        p += CURSOR_SIZE;
        bytes memory a = Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        Deposit memory d = _deposit(proof, p);
        if (d.index + 1 != c.rd(C_DELAYED, 8)) revert BadDeposit();
        bytes32 leaf = _checkDeposit(d);
        (bytes memory prefix, uint256 dataLen) = _prefixOf(d);
        uint256 rawOff = (a.rd(Packed.A_BUF_LEN, 8) + 31) / 32 * 32;
        p = _write(a, proof, p + DEPOSIT_SIZE, rawOff, prefix, 0);
        if (p != proof.length) revert ProofTooLong();
        a.wr(Packed.A_BUF_LEN, 8, rawOff + prefix.length);
        ms.wr32(Packed.MS_TX, _depositTx(d, leaf, rawOff, prefix.length, dataLen));
        ms.wr32(MS_PENDING, _dataPending(rawOff + prefix.length, dataLen, d.dataHash));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(ms);
    }

    /// @dev The deposit's messageHash (DelayedInbox's), checked against its accumulator (live).
    function _checkDeposit(Deposit memory d) private view returns (bytes32 leaf) {
        leaf = keccak256(abi.encode(d.index, d.sender, d.to, d.value, d.gasLimit, d.l1Block, d.l1Timestamp, d.dataHash));
        bytes32 prev = d.index == 0 ? bytes32(0) : delayedInbox.accumulators(d.index - 1);
        if (delayedInbox.accumulators(d.index) != keccak256(abi.encodePacked(prev, leaf))) revert BadDeposit();
    }

    /// @dev The encoding prefix and the data length, from the oracle's record of the data.
    function _prefixOf(Deposit memory d) private view returns (bytes memory prefix, uint256 dataLen) {
        (bool known, uint256 size, uint8 first,) = preimages.get(d.dataHash);
        if (!known) revert PreimageNotRegistered(d.dataHash);
        return (_prefix(d, size, size == 1 && first < 0x80), size);
    }

    /// @dev Pending SPONGE_CHECK (op 5) of DATA_LOAD: an empty sponge over the data at `dataOff`.
    function _dataPending(uint256 dataOff, uint256 dataLen, bytes32 dataHash) private pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                TAG_PENDING, uint8(5), new bytes(200), uint64(0), SOURCE_PROOF, uint64(dataOff), uint64(dataLen),
                PURPOSE_DATA_LOAD, dataHash
            )
        );
    }

    /// @dev The packed deposit at `proof[p:]`: u64 index ++ addr sender ++ addr to ++ u256 value ++
    ///      u64 gasLimit ++ u64 l1Block ++ u64 l1Timestamp ++ b32 dataHash (136 bytes).
    function _deposit(bytes calldata proof, uint256 p) private pure returns (Deposit memory d) {
        if (p + DEPOSIT_SIZE > proof.length) revert Packed.ProofTooShort();
        d.index = uint64(bytes8(proof[p:p + 8]));
        d.sender = address(bytes20(proof[p + 8:p + 28]));
        d.to = address(bytes20(proof[p + 28:p + 48]));
        d.value = uint256(bytes32(proof[p + 48:p + 80]));
        d.gasLimit = uint64(bytes8(proof[p + 80:p + 88]));
        d.l1Block = uint64(bytes8(proof[p + 88:p + 96]));
        d.l1Timestamp = uint64(bytes8(proof[p + 96:p + 104]));
        d.dataHash = bytes32(proof[p + 104:p + 136]);
    }

    /// @dev TxCtx of a deposit (kind 1, type 0x7E, sub-stage DATA_LOAD), every other field 0.
    function _depositTx(Deposit memory d, bytes32 leaf, uint256 rawOff, uint256 prefixLen, uint256 dataLen)
        private
        pure
        returns (bytes32)
    {
        bytes memory t = new bytes(Packed.TX_SIZE + 1);
        t[0] = bytes1(Packed.TAG_TX);
        t.wr(T_KIND, 1, 1);
        t.wr(T_TYPE, 1, DEPOSIT_TYPE);
        t.wr32(T_MSG_LEAF, leaf);
        t.wr(T_SENDER, 20, uint160(d.sender));
        t.wr(T_TO, 20, uint160(d.to));
        t.wr(T_GAS_LIMIT, 8, d.gasLimit);
        t.wr(T_VALUE, 32, d.value);
        t.wr(T_RAW_OFF, 8, rawOff);
        t.wr(T_RAW_LEN, 4, prefixLen + dataLen);
        t.wr(T_DATA_OFF, 8, rawOff + prefixLen);
        t.wr(T_DATA_LEN, 4, dataLen);
        t.wr(T_SETUP, 1, ST_DATA);
        return keccak256(t);
    }

    /// @dev `0x7E ++ list header ++ rlp(index, sender, to, value, gasLimit) ++ string header(data)`
    ///      (tx_steps.deposit_prefix); a one-byte data below 0x80 has no string header.
    function _prefix(Deposit memory d, uint256 dataLen, bool bare) private pure returns (bytes memory) {
        bytes memory head = abi.encodePacked(
            _rlpUint(d.index), uint8(0x94), d.sender, uint8(0x94), d.to, _rlpUint(d.value), _rlpUint(d.gasLimit)
        );
        bytes memory str = bare ? bytes("") : _header(0x80, dataLen);
        return abi.encodePacked(uint8(DEPOSIT_TYPE), _header(0xC0, head.length + str.length + dataLen), head, str);
    }

    function _rlpUint(uint256 v) private pure returns (bytes memory) {
        if (v > 0 && v < 0x80) return abi.encodePacked(uint8(v));
        bytes memory b = _bigEndian(v);
        return abi.encodePacked(uint8(0x80 + b.length), b);
    }

    /// @dev An RLP string (base 0x80) or list (base 0xC0) header of a payload of `len` bytes.
    function _header(uint256 base, uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(base + len));
        bytes memory b = _bigEndian(len);
        return abi.encodePacked(uint8(base + 55 + b.length), b);
    }

    /// @dev The minimal big-endian bytes of `v` (none for 0).
    function _bigEndian(uint256 v) private pure returns (bytes memory b) {
        uint256 n = 0;
        for (uint256 x = v; x != 0; x >>= 8) n++;
        b = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            b[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
        }
    }

    // -- DATA_LOAD -----------------------------------------------------------------------------

    /// @dev One DATA_LOAD micro-step (tx_steps.data_load): the block is written at dataOff +
    ///      absorbed and its zero / non-zero bytes counted; the final one checks the digest against
    ///      the deposit's dataHash over exactly dataLen bytes and, for one byte of data, that the
    ///      store byte before it (0x81 or the byte itself) fits (a word proof after the write).
    function _dataLoad(bytes memory ms, bytes memory t, bytes calldata proof, uint256 p) private view returns (bytes32) {
        bytes memory a = Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        bytes memory pd = Packed.loadChecked(proof, p, TAG_PENDING, CHECK_SIZE, ms.rd32(MS_PENDING), "Pending");
        p += CHECK_SIZE;
        if (pd.rd(P_OP, 1) != 5 || pd.rd(P_PURPOSE, 1) != PURPOSE_DATA_LOAD) revert Unsupported("SPONGE");
        if (p + 1 > proof.length) revert Packed.ProofTooShort();
        uint256 len = uint8(proof[p]);
        if (len > BLOCK) revert BadBlock();
        if (p + 1 + len > proof.length) revert Packed.ProofTooShort();
        bytes memory data = proof[p + 1:p + 1 + len];
        p = _checkBlock(pd.rd32(P_EXPECTED), pd.rd(P_ABSORBED, 8), data, proof, p + 1 + len);
        uint256 off = t.rd(T_DATA_OFF, 8) + pd.rd(P_ABSORBED, 8);
        p = _write(a, proof, p, off, data, 0);
        a.wr(Packed.A_BUF_LEN, 8, off + len);
        _count(t, data);
        if (len == BLOCK) {
            _setState(pd, Keccak.absorb(_state(pd), data));
            pd.wr(P_ABSORBED, 8, pd.rd(P_ABSORBED, 8) + BLOCK);
            ms.wr32(MS_PENDING, keccak256(pd));
        } else {
            (, bytes32 digest) = Keccak.absorbFinal(_state(pd), data);
            if (digest != pd.rd32(P_EXPECTED) || pd.rd(P_ABSORBED, 8) + len != t.rd(T_DATA_LEN, 4)) revert BadDigest();
            if (t.rd(T_DATA_LEN, 4) == 1) p = _checkHeader(a, t, proof, p, uint8(data[0]));
            t.wr(T_SETUP, 1, ST_DEPOSIT_START);
            ms.wr32(MS_PENDING, 0);
        }
        if (p != proof.length) revert ProofTooLong();
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(ms);
    }

    /// @dev `data` is block `absorbed / 136` of the preimage registered under `key` (the digest the
    ///      sponge must reach): its length is what is left of the preimage (at most 136; 0 for the
    ///      empty final block of a size multiple of 136), its hash is proven against the record's
    ///      block-tree root by the `depth` siblings at `proof[p:]` (depth fixed by the size).
    function _checkBlock(bytes32 key, uint256 absorbed, bytes memory data, bytes calldata proof, uint256 p)
        private
        view
        returns (uint256)
    {
        (bool known, uint256 size,, bytes32 root) = preimages.get(key);
        if (!known) revert PreimageNotRegistered(key);
        if (absorbed > size) revert BadBlock();
        uint256 want = size - absorbed < BLOCK ? size - absorbed : BLOCK;
        if (data.length != want) revert BadBlock();
        if (want == 0) return p;
        uint256 n = (size + BLOCK - 1) / BLOCK;
        uint256 depth = 0;
        while ((uint256(1) << depth) < n) depth++;
        if (p + 32 * depth > proof.length) revert Packed.ProofTooShort();
        uint256 index = absorbed / BLOCK;
        bytes32 node = keccak256(data);
        for (uint256 i = 0; i < depth; i++) {
            bytes32 sibling = bytes32(proof[p + 32 * i:p + 32 * i + 32]);
            node = index & 1 == 1 ? keccak256(abi.encodePacked(sibling, node)) : keccak256(abi.encodePacked(node, sibling));
            index >>= 1;
        }
        if (node != root) revert BlockNotInPreimage();
        return p + 32 * depth;
    }

    function _count(bytes memory t, bytes memory data) private pure {
        uint256 zeros = 0;
        for (uint256 i = 0; i < data.length; i++) {
            if (data[i] == 0) zeros++;
        }
        t.wr(T_ZEROS, 4, t.rd(T_ZEROS, 4) + zeros);
        t.wr(T_NON_ZEROS, 4, t.rd(T_NON_ZEROS, 4) + data.length - zeros);
    }

    /// @dev One byte of data: below 0x80 it is its own RLP string (no 0x81 header before it).
    function _checkHeader(bytes memory a, bytes memory t, bytes calldata proof, uint256 p, uint8 b)
        private
        pure
        returns (uint256)
    {
        uint256 at = t.rd(T_DATA_OFF, 8) - 1;
        bytes32[] memory ws = _words(proof, p, 1);
        (bytes32 root, uint256 next) = Buf.rangeRoot(MEM_DEPTH, at >> 5, ws, proof, p + 32);
        if (root != a.rd32(Packed.A_BUF_ROOT)) revert Packed.BadPreimage("Buf");
        bool header = uint8(ws[0][at & 31]) == 0x81;
        if (header == (b < 0x80)) revert BadHeader();
        return next;
    }

    /// @dev Writes `data[skip:]` into the block store at byte `at`: the old words covering it and
    ///      their siblings are proven against bufRoot, the same siblings give the new root.
    function _write(bytes memory a, bytes calldata proof, uint256 p, uint256 at, bytes memory data, uint256 skip)
        private
        pure
        returns (uint256)
    {
        if (data.length == skip) return p;
        uint256 first = at >> 5;
        bytes32[] memory ws = _words(proof, p, ((at + data.length - skip - 1) >> 5) - first + 1);
        p += 32 * ws.length;
        (bytes32 root,) = Buf.rangeRoot(MEM_DEPTH, first, ws, proof, p);
        if (root != a.rd32(Packed.A_BUF_ROOT)) revert Packed.BadPreimage("Buf");
        _patch(ws, at - 32 * first, data, skip);
        (root, p) = Buf.rangeRoot(MEM_DEPTH, first, ws, proof, p);
        a.wr32(Packed.A_BUF_ROOT, root);
        return p;
    }

    function _words(bytes calldata proof, uint256 p, uint256 count) private pure returns (bytes32[] memory ws) {
        if (p + 32 * count > proof.length) revert Packed.ProofTooShort();
        ws = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            ws[i] = bytes32(proof[p + 32 * i:p + 32 * i + 32]);
        }
    }

    /// @dev `data[skip:]` written into the words `ws` from byte `start` of the first.
    function _patch(bytes32[] memory ws, uint256 start, bytes memory data, uint256 skip) private pure {
        bytes memory flat = new bytes(32 * ws.length);
        assembly {
            mcopy(add(flat, 32), add(ws, 32), mload(flat))
        }
        for (uint256 i = skip; i < data.length; i++) {
            flat[start + i - skip] = data[i];
        }
        assembly {
            mcopy(add(ws, 32), add(flat, 32), mload(flat))
        }
    }

    function _state(bytes memory pd) private pure returns (bytes memory state) {
        state = new bytes(200);
        assembly {
            mcopy(add(state, 32), add(add(pd, 33), P_STATE), 200)
        }
    }

    function _setState(bytes memory pd, bytes memory state) private pure {
        assembly {
            mcopy(add(add(pd, 33), P_STATE), add(state, 32), 200)
        }
    }
}
