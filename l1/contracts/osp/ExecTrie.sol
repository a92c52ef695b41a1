// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {ExecBase} from "./ExecBase.sol";
import {ExecSeal} from "./ExecSeal.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {Keccak} from "./Keccak.sol";
import {Packed} from "./Packed.sol";
import {StackTrie} from "./StackTrie.sol";

/// @title ExecTrie
/// @notice Phase TRIE (docs/fraud-proofs.md 2.6, 15; twins l1/proofs/block_steps.trie,
///         trie_sponge, seal): the block's transaction and receipt tries, one key per TRIE step
///         (StackTrie), the TRIE_SPONGE micro-steps that hash a leaf above INLINE bytes, and SEAL
///         (the trie state is done: header, block hash, output root, block claim), which this
///         contract hands to its ExecSeal (a contract of its own for the 24 KiB limit, deployed by
///         this constructor). Registered as OneStepProver's `phaseSteps[TRIE]`; SEAL is a step of
///         phase TRIE (`which == 2`), so phase 9 is never reached.
///
///         Proof of TRIE / TRIE_SPONGE: MachineState (293) ++ BlockAcc (148) ++ u32 n ++ trieState
///         preimage (n) ++ [Pending SPONGE (227, op first) when MachineState.pending != 0] ++
///         [txCount > 0: TxRecord (294) of index keyIndex(pos, txCount) ++ its 16 siblings in the
///         record tree] ++ [the store words the step reads ++ their siblings]. The value of key
///         `pos` is `head ++ store[off, off + len)`: the raw tx (no head, rawOff/rawLen) or the
///         receipt (head = type byte unless legacy, list header, status, cumulative gas, bloom,
///         logs list header; the logs region logsOff/logsLen). A TRIE step with a value of at most
///         INLINE bytes reads all of the store part; above INLINE a TRIE_SPONGE step reads the
///         store part of its 136-byte window of `leafPrefix ++ value`, and the final TRIE step
///         reads nothing from the store (it takes the leaf hash from the finished sponge).
///         Every proof must be consumed exactly.
contract ExecTrie is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant TRIE = 8;
    uint256 internal constant MS_PENDING = 261;
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant TXREC_DEPTH = 16;
    uint256 internal constant BLOCK = 136;

    // BlockAcc
    uint256 internal constant A_TX_COUNT = 8;
    uint256 internal constant A_TXREC_ROOT = 12;
    uint256 internal constant A_TRIE = 116;
    // Pending SPONGE (1.8): op, state, absorbed, source, srcOff, remaining, purpose
    uint8 internal constant TAG_PENDING = 0x50;
    uint256 internal constant SPONGE_SIZE = 227;
    uint256 internal constant P_OP = 0;
    uint256 internal constant P_STATE = 1;
    uint256 internal constant P_ABSORBED = 201;
    uint256 internal constant P_SOURCE = 209;
    uint256 internal constant P_REMAINING = 218;
    uint256 internal constant P_PURPOSE = 226;
    uint256 internal constant OP_SPONGE = 2;
    uint256 internal constant SOURCE_STORE = 4;
    uint256 internal constant PURPOSE_LEAF = 4;
    uint256 internal constant PURPOSE_LEAF_DONE = 5;
    // TxRecord (1.3)
    uint8 internal constant TAG_RECORD = 0x52;
    uint256 internal constant RECORD_SIZE = 294;
    uint256 internal constant R_TYPE = 0;
    uint256 internal constant R_STATUS = 1;
    uint256 internal constant R_CUMULATIVE = 2;
    uint256 internal constant R_RAW_OFF = 10;
    uint256 internal constant R_RAW_LEN = 18;
    uint256 internal constant R_LOGS_OFF = 22;
    uint256 internal constant R_LOGS_LEN = 30;
    uint256 internal constant R_BLOOM = 38;

    /// @notice The SEAL step (phase TRIE with both roots known).
    ExecSeal public immutable seal;

    error Unsupported(bytes32 name);
    /// @notice A TRIE_SPONGE whose pending is not this leaf's sponge, or a TRIE step whose
    ///         sponge has not absorbed the whole leaf.
    error NoLeafSponge();
    /// @notice The proof has bytes after the step's last part.
    error ProofTooLong();
    /// @notice A store range beyond the depth-20 block store.
    error StoreRange();

    constructor(address coinbase, uint256 gasLimit, address messagePasser) {
        seal = new ExecSeal(coinbase, gasLimit, messagePasser);
    }

    /// @dev The decoded parts of one step; the value of key `pos` is `head ++ store[off, off+len)`.
    struct T {
        bytes ms;
        bytes acc;
        StackTrie.State st;
        bytes pd; // Pending SPONGE buffer (tag ++ preimage), empty when MachineState.pending == 0
        uint256 p;
        uint256 count;
        bytes head;
        uint256 off;
        uint256 len;
    }

    /// @notice One TRIE, TRIE_SPONGE or SEAL step from `pre`: the post-state hash.
    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        T memory t;
        t.ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (t.ms.rd(Packed.MS_PHASE, 1) != TRIE) revert Unsupported("PHASE");
        t.p = Packed.MS_SIZE;
        t.acc = Packed.loadChecked(proof, t.p, Packed.TAG_ACC, Packed.ACC_SIZE, t.ms.rd32(Packed.MS_ACC), "BlockAcc");
        t.p += Packed.ACC_SIZE;
        bytes calldata trieState;
        (trieState, t.p) = ExecBase.sized(proof, t.p);
        t.st = StackTrie.decodeChecked(t.acc.rd32(A_TRIE), trieState);
        if (t.st.which == StackTrie.DONE) return seal.step(pre, proof);
        bytes32 pending = t.ms.rd32(MS_PENDING);
        if (pending != 0) {
            t.pd = Packed.loadChecked(proof, t.p, TAG_PENDING, SPONGE_SIZE, pending, "Pending");
            t.p += SPONGE_SIZE;
        }
        t.count = t.acc.rd(A_TX_COUNT, 4);
        if (t.count > StackTrie.MAX_COUNT) revert StackTrie.CountTooLarge(t.count);
        if (t.count != 0) _record(t, proof);
        uint256 n = t.head.length + t.len;
        if (n <= StackTrie.INLINE) {
            StackTrie.step(t.st, t.count, bytes.concat(t.head, _store(t, proof, t.off, t.len)));
        } else if (t.pd.length != 0 && t.pd.rd(P_PURPOSE, 1) == PURPOSE_LEAF_DONE) {
            bytes memory prefix = StackTrie.leafPrefix(t.st.pos, t.count, n);
            if (t.pd.rd(P_OP, 1) != OP_SPONGE || t.pd.rd(P_ABSORBED, 8) != prefix.length + n) revert NoLeafSponge();
            StackTrie.stepHashedLeaf(t.st, t.count, t.pd.rd32(P_STATE));
            t.ms.wr32(MS_PENDING, 0);
        } else {
            _sponge(t, proof, n);
        }
        if (t.p != proof.length) revert ProofTooLong();
        t.acc.wr32(A_TRIE, StackTrie.commitment(t.st));
        t.ms.wr32(Packed.MS_ACC, keccak256(t.acc));
        return keccak256(t.ms);
    }

    /// @dev Proves the TxRecord of key `pos` in the record tree and sets where the value lies.
    function _record(T memory t, bytes calldata proof) private pure {
        uint256 index = StackTrie.keyIndex(t.st.pos, t.count);
        bytes memory r = Packed.load(proof, t.p, TAG_RECORD, RECORD_SIZE);
        bytes32[] memory ws = new bytes32[](1);
        ws[0] = keccak256(r);
        (bytes32 root, uint256 next) = Buf.rangeRoot(TXREC_DEPTH, index, ws, proof, t.p + RECORD_SIZE);
        if (root != t.acc.rd32(A_TXREC_ROOT)) revert Packed.BadPreimage("TxRecord");
        t.p = next;
        if (t.st.which == StackTrie.TX) {
            t.off = r.rd(R_RAW_OFF, 8);
            t.len = r.rd(R_RAW_LEN, 4);
        } else {
            t.off = r.rd(R_LOGS_OFF, 8);
            t.len = r.rd(R_LOGS_LEN, 8);
            t.head = _receiptHead(r, t.len);
        }
    }

    /// @dev The receipt's bytes before its logs payload: `type` (unless legacy) ++ list header ++
    ///      rlp(status ? 0x01 : "") ++ rlp(cumulativeGas) ++ rlp(bloom) ++ the logs list header.
    function _receiptHead(bytes memory r, uint256 logsLen) private pure returns (bytes memory head) {
        bytes memory bloom = new bytes(256);
        assembly {
            mcopy(add(bloom, 32), add(add(r, 33), R_BLOOM), 256)
        }
        bytes memory items = bytes.concat(
            r.rd(R_STATUS, 1) != 0 ? bytes1(0x01) : bytes1(0x80),
            _rlpUint(r.rd(R_CUMULATIVE, 8)),
            hex"b90100",
            bloom,
            _listHeader(logsLen)
        );
        head = bytes.concat(_listHeader(items.length + logsLen), items);
        uint256 type_ = r.rd(R_TYPE, 1);
        if (type_ != 0) head = bytes.concat(bytes1(uint8(type_)), head);
    }

    /// @dev One 136-byte block of `leafPrefix ++ value` (the last one shorter, padded): the sponge
    ///      starts on the first step (no pending), the final block sets purpose 5 (leaf hash done).
    function _sponge(T memory t, bytes calldata proof, uint256 n) private pure {
        bytes memory head = bytes.concat(StackTrie.leafPrefix(t.st.pos, t.count, n), t.head);
        uint256 total = head.length + t.len;
        bytes memory pd = t.pd;
        if (pd.length == 0) {
            pd = new bytes(1 + SPONGE_SIZE);
            pd[0] = bytes1(TAG_PENDING);
            pd.wr(P_OP, 1, OP_SPONGE);
            pd.wr(P_SOURCE, 1, SOURCE_STORE);
            pd.wr(P_REMAINING, 8, total);
            pd.wr(P_PURPOSE, 1, PURPOSE_LEAF);
        }
        uint256 absorbed = pd.rd(P_ABSORBED, 8);
        uint256 remaining = pd.rd(P_REMAINING, 8);
        if (pd.rd(P_OP, 1) != OP_SPONGE || pd.rd(P_PURPOSE, 1) != PURPOSE_LEAF || absorbed + remaining != total) {
            revert NoLeafSponge();
        }
        uint256 k = remaining < BLOCK ? remaining : BLOCK;
        bytes memory chunk = _window(t, proof, head, absorbed, k);
        bytes memory state = new bytes(Keccak.STATE_BYTES);
        assembly {
            mcopy(add(state, 32), add(add(pd, 33), P_STATE), 200)
        }
        if (remaining >= BLOCK) {
            state = Keccak.absorb(state, chunk);
            pd.wr(P_ABSORBED, 8, absorbed + BLOCK);
            pd.wr(P_REMAINING, 8, remaining - BLOCK);
        } else {
            (state,) = Keccak.absorbFinal(state, chunk);
            pd.wr(P_ABSORBED, 8, total);
            pd.wr(P_REMAINING, 8, 0);
            pd.wr(P_PURPOSE, 1, PURPOSE_LEAF_DONE);
        }
        assembly {
            mcopy(add(add(pd, 33), P_STATE), add(state, 32), 200)
        }
        t.ms.wr32(MS_PENDING, keccak256(pd));
    }

    /// @dev Bytes [a, a + k) of `head ++ store[t.off, t.off + t.len)`; the store part is proven.
    function _window(T memory t, bytes calldata proof, bytes memory head, uint256 a, uint256 k)
        private
        pure
        returns (bytes memory out)
    {
        out = new bytes(k);
        uint256 i;
        for (; i < k && a + i < head.length; i++) {
            out[i] = head[a + i];
        }
        if (i == k) return out;
        bytes memory s = _store(t, proof, t.off + (a + i - head.length), k - i);
        assembly {
            mcopy(add(add(out, 32), i), add(s, 32), mload(s))
        }
    }

    /// @dev `len` bytes of the block store from `off`: the words covering them (from the proof,
    ///      proven against bufRoot with their siblings).
    function _store(T memory t, bytes calldata proof, uint256 off, uint256 len) private pure returns (bytes memory out) {
        if (len == 0) return out;
        if (off + len > 32 << MEM_DEPTH) revert StoreRange();
        bytes32[] memory ws = _storeWords(t, proof, off >> 5, ((off + len - 1) >> 5) - (off >> 5) + 1);
        out = new bytes(len);
        assembly {
            mcopy(add(out, 32), add(add(ws, 32), and(off, 31)), len)
        }
    }

    function _storeWords(T memory t, bytes calldata proof, uint256 first, uint256 count)
        private
        pure
        returns (bytes32[] memory ws)
    {
        ws = ExecBase.words(proof, t.p, count);
        bytes32 root;
        (root, t.p) = Buf.rangeRoot(MEM_DEPTH, first, ws, proof, t.p + 32 * count);
        if (root != t.acc.rd32(Packed.A_BUF_ROOT)) revert Packed.BadPreimage("Buf");
    }

    function _rlpUint(uint256 v) private pure returns (bytes memory) {
        if (v == 0) return hex"80";
        if (v < 0x80) return abi.encodePacked(uint8(v));
        bytes memory b = _minimal(v);
        return bytes.concat(bytes1(uint8(0x80 + b.length)), b);
    }

    function _listHeader(uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(0xc0 + len));
        bytes memory b = _minimal(len);
        return bytes.concat(bytes1(uint8(0xf7 + b.length)), b);
    }

    function _minimal(uint256 v) private pure returns (bytes memory out) {
        uint256 n;
        for (uint256 x = v; x != 0; x >>= 8) n++;
        out = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            out[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
        }
    }
}
