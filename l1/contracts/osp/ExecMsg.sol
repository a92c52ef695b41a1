// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {Keccak} from "./Keccak.sol";
import {Packed} from "./Packed.sol";

/// @title ExecMsg
/// @notice NEXT_MESSAGE (docs/fraud-proofs.md 2.1, 3.2), TX_LOAD and DATA_LOAD (2.2) as one step
///         contract of its own, twin of verifier/proofs/block_steps.next_message and
///         tx_steps.tx_load / data_load,
///         proofs packed by verifier/proofs/msg_proofs.py. A separate contract for the same reason
///         as ExecTxEnd (OneStepProver's initcode limit); `step` has OneStepProver's shape.
///
///         NEXT_MESSAGE proof: MachineState (293) ++ Cursor (20) ++ EntryCtx (45) ++ BlockAcc (148)
///         ++ [when the entry is a valid batch and msgIndex < messageCount: u8 kind ++ body (0
///         BlockStart: u64 timestamp ++ u64 origin; 1 L2Tx: the 32-byte leaf; 2 Delayed: u64 index)
///         ++ u8 n ++ n Merkle siblings (n = bitlen(messageCount - 1), bottom up, l2/messages.py)].
///         TX_LOAD proof: MachineState ++ TxCtx (344) ++ BlockAcc ++ Pending SPONGE (227, op first)
///         ++ u8 len ++ len bytes (136: a full block; < 136: the final one) ++ the store words the
///         raw part covers and their siblings (none when the raw part is empty).
///         DATA_LOAD (2.2, tx_steps.data_load; phase TX_LOAD, sub-stage 4) proof: MachineState ++
///         TxCtx ++ BlockAcc ++ Pending SPONGE_CHECK (259: op 5, the SPONGE fields, the dataHash) ++
///         u8 len ++ the block ++ the store words it covers and their siblings ++ [final step of
///         one byte of data: the store word holding the byte before it, after the write, and its
///         siblings].
///         Every proof must be consumed exactly. Any other step reverts `Unsupported`: "PHASE"
///         outside phases IDLE and TX_LOAD, "TX_LOAD" for the other kinds of that phase.
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
    uint256 internal constant ST_DATA = 4;
    uint256 internal constant ST_DEPOSIT_START = 5;
    uint8 internal constant PURPOSE_DATA_LOAD = 3;
    // Pending SPONGE_CHECK (op 5): the SPONGE fields, then the expected digest
    uint256 internal constant CHECK_SIZE = 259;
    uint256 internal constant P_EXPECTED = 227;
    // TxCtx (deposit data)
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

    /// @notice NEXT_MESSAGE (phase IDLE) or a TX_LOAD micro-step (phase TX_LOAD, tx sub-stage 0):
    ///         the post-state hash.
    function step(bytes32 pre, bytes calldata proof) external pure returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        uint256 phase = ms.rd(Packed.MS_PHASE, 1);
        if (phase == IDLE) return _nextMessage(ms, proof);
        if (phase == TX_LOAD) return _txLoad(ms, proof);
        revert Unsupported("PHASE");
    }

    // -- NEXT_MESSAGE --------------------------------------------------------------------------

    function _nextMessage(bytes memory ms, bytes calldata proof) private pure returns (bytes32) {
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
        pure
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
        pure
        returns (uint256 kind, bytes32 leaf, uint256 body)
    {
        if (p + 1 > proof.length) revert Packed.ProofTooShort();
        kind = uint8(proof[p]);
        uint256 size = kind == 0 ? 16 : kind == 1 ? 32 : kind == 2 ? 8 : type(uint256).max;
        if (size == type(uint256).max) revert BadMessage();
        if (p + 1 + size > proof.length) revert Packed.ProofTooShort();
        bytes calldata b = proof[p + 1:p + 1 + size];
        if (kind == 1) {
            leaf = bytes32(b);
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

    function _txLoad(bytes memory ms, bytes calldata proof) private pure returns (bytes32) {
        // DEPOSIT_LOAD (no TxCtx yet) and a proof of the machine state alone (what the prover's
        // encoder sends for the other TX_LOAD-phase kinds) are refused by the phase's name
        if (ms.rd32(Packed.MS_TX) == 0 || proof.length == Packed.MS_SIZE) revert Unsupported("TX_LOAD");
        uint256 p = Packed.MS_SIZE;
        bytes memory t = Packed.loadChecked(proof, p, Packed.TAG_TX, Packed.TX_SIZE, ms.rd32(Packed.MS_TX), "TxCtx");
        p += Packed.TX_SIZE;
        if (t.rd(T_SETUP, 1) == ST_DATA) return _dataLoad(ms, t, proof, p);
        if (t.rd(T_SETUP, 1) != ST_LOAD) revert Unsupported("TX_LOAD"); // TX_DECODE, SIG_HASH, TX_START ...
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
        // the raw part: the first block starts with the 0x01 tag of the L2Tx message
        uint256 skip = pd.rd(P_ABSORBED, 8) == 0 && len > 0 ? 1 : 0;
        p = _write(a, proof, p + 1 + len, t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4), data, skip);
        if (p != proof.length) revert ProofTooLong();
        t.wr(T_RAW_LEN, 4, t.rd(T_RAW_LEN, 4) + len - skip);
        a.wr(Packed.A_BUF_LEN, 8, t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4));
        _absorb(ms, t, pd, data);
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(ms);
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

    // -- DATA_LOAD -----------------------------------------------------------------------------

    /// @dev One DATA_LOAD micro-step (tx_steps.data_load): the block is written at dataOff +
    ///      absorbed and its zero / non-zero bytes counted; the final one checks the digest against
    ///      the deposit's dataHash over exactly dataLen bytes and, for one byte of data, that the
    ///      store byte before it (0x81 or the byte itself) fits (a word proof after the write).
    function _dataLoad(bytes memory ms, bytes memory t, bytes calldata proof, uint256 p) private pure returns (bytes32) {
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
        uint256 off = t.rd(T_DATA_OFF, 8) + pd.rd(P_ABSORBED, 8);
        p = _write(a, proof, p + 1 + len, off, data, 0);
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
