// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {Packed} from "./Packed.sol";

/// @title ExecTxDecode
/// @notice TX_DECODE (docs/fraud-proofs.md 2.2, section 17): the stateless rules of
///         l2/transactions.decode_transaction over the raw bytes of a user transaction in the
///         block byte store, twin of l1/proofs/tx_steps.tx_decode (decode_head / decode_tail);
///         proofs packed by l1/proofs/decode_proofs.py. Phase TX_LOAD, TxCtx.setup 1; setup 2
///         (SIG_HASH) is forwarded to `sigHash` (ExecSigHash). Reached through ExecTxStart's router.
///
///         Rules: 0 < rawLen <= maxTxSize; type byte 1 or 2, or a legacy list (>= 0xC0); 4 is
///         refused by name (SET_CODE_TX), anything else a no-op; one canonical RLP list spanning
///         the transaction (minimal length prefixes, no 0x81 before a byte below 0x80), fields in
///         order and exactly as many as the type has; integers canonical (no leading zero) of at
///         most 32 bytes (nonce 8, below 2^64 - 1); chain id (typed) = the chain's; gas <= the
///         block gas limit; `to` 20 bytes (empty: refused by name, CREATE); the access list a list
///         of [20-byte address, [32-byte keys]] (payload above 4,096 bytes: refused by name,
///         ACCESS_LIST_TOO_LARGE); y in {0, 1}, or legacy v = 35 + 2 chainId + {0, 1}; 1 <= r < n;
///         1 <= s <= n/2; tip <= fee cap. A failure is a no-op (phase IDLE, tx 0, bufLen := rawOff).
///         The signature and the intrinsic gas are SIG_HASH's (its final micro-step).
///
///         Proof: MachineState (293) ++ TxCtx (344) ++ BlockAcc (148), then, when 0 < rawLen <=
///         maxTxSize, the store words of the head [rawOff, rawOff + min(rawLen, 224)) and their
///         siblings, then, when the fields before the data decode, the words of the tail [dataEnd,
///         min(rawEnd, dataEnd + 4192)) (none when empty) and their siblings. A rule that needs a byte
///         outside the two ranges fails (only transactions decode_transaction refuses need one).
///         Consumed exactly.
contract ExecTxDecode is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant IDLE = 2;
    uint256 internal constant TX_LOAD = 3;
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant MS_PENDING = 261;
    uint256 internal constant HEAD_CAP = 224;
    uint256 internal constant TAIL_CAP = 4192;
    uint256 internal constant ACCESS_LIST_MAX = 4096;
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant N_HALF = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    // TxCtx (1.5)
    uint256 internal constant T_TYPE = 1;
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
    uint256 internal constant T_AL_ADDRESSES = 266;
    uint256 internal constant T_AL_KEYS = 270;
    uint256 internal constant T_SETUP = 343;
    uint256 internal constant ST_DECODE = 1;
    uint256 internal constant ST_SIG_HASH = 2;
    uint8 internal constant SOURCE_STORE = 4;
    uint8 internal constant PURPOSE_SIG_HASH = 2;

    error Unsupported(bytes32 name);
    /// @notice The raw bytes break a stateless rule (caught: the transaction is a no-op).
    error Invalid();
    /// @notice Bytes left over after the proof's last field.
    error ProofTooLong();

    /// @notice SIG_HASH (sub-stage 2), forwarded; zero: refused by name.
    IPhaseStep public immutable sigHash;
    uint256 public immutable chainId;
    uint256 public immutable blockGasLimit;
    uint256 public immutable maxTxSize;

    constructor(IPhaseStep sigHash_, uint256 chainId_, uint256 blockGasLimit_, uint256 maxTxSize_) {
        sigHash = sigHash_;
        chainId = chainId_;
        blockGasLimit = blockGasLimit_;
        maxTxSize = maxTxSize_;
    }

    /// @dev The fields before the data (offsets relative to the raw start).
    struct Head {
        uint256 typ;
        uint256 first;
        uint256 nonce;
        uint256 maxFee;
        uint256 tip;
        uint256 gas;
        uint256 toLen;
        uint256 to;
        uint256 value;
        uint256 dataOff;
        uint256 dataLen;
    }

    /// @dev The access list and the signature's offset.
    struct Tail {
        uint256 alOff;
        uint256 alLen;
        uint256 addresses;
        uint256 keys;
        uint256 sig;
    }

    /// @dev The proven bytes of the raw transaction: head from 0, tail from t0 (raw offsets).
    struct V {
        bytes head;
        uint256 t0;
        bytes tail;
    }

    /// @dev An RLP item: list or string, payload start and length, end.
    struct It {
        bool isList;
        uint256 start;
        uint256 len;
        uint256 end;
    }

    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        bytes memory ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (ms.rd(Packed.MS_PHASE, 1) != TX_LOAD || ms.rd32(Packed.MS_TX) == 0) revert Unsupported("PHASE");
        uint256 p = Packed.MS_SIZE;
        bytes memory t = Packed.loadChecked(proof, p, Packed.TAG_TX, Packed.TX_SIZE, ms.rd32(Packed.MS_TX), "TxCtx");
        uint256 setup = t.rd(T_SETUP, 1);
        if (setup == ST_SIG_HASH) {
            if (address(sigHash) == address(0)) revert Unsupported("SIG_HASH");
            return sigHash.step(pre, proof);
        }
        if (setup != ST_DECODE) revert Unsupported("TX_LOAD");
        p += Packed.TX_SIZE;
        bytes memory a = Packed.loadChecked(proof, p, Packed.TAG_ACC, Packed.ACC_SIZE, ms.rd32(Packed.MS_ACC), "BlockAcc");
        p += Packed.ACC_SIZE;
        return _decode(ms, t, a, proof, p);
    }

    function _decode(bytes memory ms, bytes memory t, bytes memory a, bytes calldata proof, uint256 p)
        private
        view
        returns (bytes32)
    {
        uint256 rawOff = t.rd(T_RAW_OFF, 8);
        uint256 rawLen = t.rd(T_RAW_LEN, 4);
        if (rawLen == 0 || rawLen > maxTxSize) return _noop(ms, a, rawOff, proof, p);
        V memory v;
        (v.head, p) = _range(a, proof, p, rawOff, rawLen < HEAD_CAP ? rawLen : HEAD_CAP);
        Head memory h;
        try this.parseHead(v.head, rawLen) returns (Head memory got) {
            h = got;
        } catch (bytes memory err) {
            _rethrow(err);
            return _noop(ms, a, rawOff, proof, p);
        }
        v.t0 = h.dataOff + h.dataLen;
        uint256 tailEnd = rawLen < v.t0 + TAIL_CAP ? rawLen : v.t0 + TAIL_CAP;
        (v.tail, p) = _range(a, proof, p, rawOff + v.t0, tailEnd - v.t0);
        Tail memory tl;
        try this.parseTail(v, h, rawLen) returns (Tail memory got) {
            tl = got;
        } catch (bytes memory err) {
            _rethrow(err);
            return _noop(ms, a, rawOff, proof, p);
        }
        if (p != proof.length) revert ProofTooLong();
        if (h.toLen == 0) revert Unsupported("CREATE");
        _record(t, h, tl, rawOff);
        ms.wr32(Packed.MS_TX, keccak256(t));
        ms.wr32(MS_PENDING, _pending(h, tl, rawOff));
        return keccak256(ms);
    }

    /// @dev Only `Invalid()` is the transaction's failure; any other revert (a refusal by name,
    ///      running out of gas) is passed on, so no proof can turn an accepted transaction into a no-op.
    function _rethrow(bytes memory err) private pure {
        if (err.length == 4 && bytes4(err) == Invalid.selector) return;
        assembly {
            revert(add(err, 32), mload(err))
        }
    }

    function _noop(bytes memory ms, bytes memory a, uint256 rawOff, bytes calldata proof, uint256 p)
        private
        pure
        returns (bytes32)
    {
        if (p != proof.length) revert ProofTooLong();
        a.wr(Packed.A_BUF_LEN, 8, rawOff);
        ms.wr(Packed.MS_PHASE, 1, IDLE);
        ms.wr32(Packed.MS_TX, 0);
        ms.wr32(MS_PENDING, 0);
        ms.wr32(Packed.MS_ACC, keccak256(a));
        return keccak256(ms);
    }

    function _record(bytes memory t, Head memory h, Tail memory tl, uint256 rawOff) private pure {
        t.wr(T_TYPE, 1, h.typ);
        t.wr(T_TO, 20, h.to);
        t.wr(T_NONCE, 8, h.nonce);
        t.wr(T_GAS_LIMIT, 8, h.gas);
        t.wr(T_VALUE, 32, h.value);
        t.wr(T_MAX_FEE, 32, h.maxFee);
        t.wr(T_TIP, 32, h.tip);
        t.wr(T_DATA_OFF, 8, rawOff + h.dataOff);
        t.wr(T_DATA_LEN, 4, h.dataLen);
        t.wr(T_AL_OFF, 8, h.typ == 0 ? 0 : rawOff + tl.alOff);
        t.wr(T_AL_LEN, 4, tl.alLen);
        t.wr(T_AL_ADDRESSES, 4, tl.addresses);
        t.wr(T_AL_KEYS, 4, tl.keys);
        t.wr(T_SETUP, 1, ST_SIG_HASH);
    }

    /// @dev The SIG_HASH sponge: empty, over the store from the first field (srcOff), `remaining`
    ///      = the signing payload's length (tx_steps.signing_layout).
    function _pending(Head memory h, Tail memory tl, uint256 rawOff) private view returns (bytes32) {
        uint256 body = tl.sig - h.first;
        uint256 total;
        if (h.typ == 0) {
            uint256 suffix = _uintLen(chainId) + 2;
            total = _headerLen(body + suffix) + body + suffix;
        } else {
            total = 1 + _headerLen(body) + body;
        }
        return keccak256(
            abi.encodePacked(
                uint8(0x50), uint8(2), new bytes(200), uint64(0), SOURCE_STORE, uint64(rawOff + h.first), uint64(total),
                PURPOSE_SIG_HASH
            )
        );
    }

    function _headerLen(uint256 len) private pure returns (uint256) {
        return len < 56 ? 1 : 1 + _bytesLen(len);
    }

    function _bytesLen(uint256 x) private pure returns (uint256 n) {
        for (; x != 0; x >>= 8) n++;
    }

    /// @dev rlp(x)'s length for an integer.
    function _uintLen(uint256 x) private pure returns (uint256) {
        return x != 0 && x < 0x80 ? 1 : 1 + _bytesLen(x);
    }

    /// @dev The `len` store bytes at `at` (words and siblings at proof[p:], proven against bufRoot).
    function _range(bytes memory a, bytes calldata proof, uint256 p, uint256 at, uint256 len)
        private
        pure
        returns (bytes memory out, uint256)
    {
        out = new bytes(len);
        if (len == 0) return (out, p);
        uint256 first = at >> 5;
        uint256 count = ((at + len - 1) >> 5) - first + 1;
        if (p + 32 * count > proof.length) revert Packed.ProofTooShort();
        bytes32[] memory ws = new bytes32[](count);
        for (uint256 i = 0; i < count; i++) {
            ws[i] = bytes32(proof[p + 32 * i:p + 32 * i + 32]);
        }
        bytes32 root;
        (root, p) = Buf.rangeRoot(MEM_DEPTH, first, ws, proof, p + 32 * count);
        if (root != a.rd32(Packed.A_BUF_ROOT)) revert Packed.BadPreimage("Buf");
        uint256 skip = at - 32 * first;
        assembly {
            mcopy(add(out, 32), add(add(ws, 32), skip), len)
        }
        return (out, p);
    }

    // -- the decoder (external only for try / catch: `Invalid()` is the no-op) -------------------

    /// @notice tx_steps.decode_head: type, list header, the fields before the data.
    function parseHead(bytes memory head, uint256 rawLen) external view returns (Head memory h) {
        V memory v;
        v.head = head;
        uint256 b0 = _at(v, 0);
        if (b0 == 4) revert Unsupported("SET_CODE_TX");
        if ((b0 < 0x80 && b0 != 1 && b0 != 2) || (b0 >= 0x80 && b0 < 0xC0)) revert Invalid();
        h.typ = b0 < 0x80 ? b0 : 0;
        It memory outer = _item(v, h.typ == 0 ? 0 : 1, rawLen);
        if (!outer.isList || outer.end != rawLen) revert Invalid();
        h.first = outer.start;
        uint256 pos = outer.start;
        uint256 x;
        if (h.typ != 0) {
            (x, pos) = _uint(v, pos, rawLen, 32);
            if (x != chainId) revert Invalid();
        }
        (h.nonce, pos) = _uint(v, pos, rawLen, 8);
        if (h.nonce >= type(uint64).max) revert Invalid();
        (h.tip, pos) = _uint(v, pos, rawLen, 32);
        h.maxFee = h.tip;
        if (h.typ == 2) (h.maxFee, pos) = _uint(v, pos, rawLen, 32);
        (h.gas, pos) = _uint(v, pos, rawLen, 32);
        if (h.gas > blockGasLimit) revert Invalid();
        It memory to = _string(v, pos, rawLen);
        if (to.len != 0 && to.len != 20) revert Invalid();
        h.toLen = to.len;
        for (uint256 i = 0; i < to.len; i++) {
            h.to = (h.to << 8) | _at(v, to.start + i);
        }
        (h.value, pos) = _uint(v, to.end, rawLen, 32);
        It memory data = _string(v, pos, rawLen);
        h.dataOff = data.start;
        h.dataLen = data.len;
    }

    /// @notice tx_steps.decode_tail: the access list (typed), y or v, r, s, the list's end, tip <= fee cap.
    function parseTail(V memory v, Head memory h, uint256 rawLen) external view returns (Tail memory tl) {
        uint256 pos = h.dataOff + h.dataLen;
        uint256 y;
        if (h.typ != 0) {
            It memory al = _item(v, pos, rawLen);
            if (!al.isList) revert Invalid();
            if (al.len > ACCESS_LIST_MAX) revert Unsupported("ACCESS_LIST_TOO_LARGE");
            tl.alOff = al.start;
            tl.alLen = al.len;
            (tl.addresses, tl.keys) = _accessList(v, al);
            tl.sig = al.end;
            (y, pos) = _uint(v, al.end, rawLen, 32);
            if (y > 1) revert Invalid();
        } else {
            tl.sig = pos;
            (y, pos) = _uint(v, pos, rawLen, 32);
            if (y != 35 + 2 * chainId && y != 36 + 2 * chainId) revert Invalid();
        }
        uint256 r;
        uint256 s;
        (r, pos) = _uint(v, pos, rawLen, 32);
        (s, pos) = _uint(v, pos, rawLen, 32);
        if (r == 0 || r >= N || s == 0 || s > N_HALF) revert Invalid();
        if (pos != rawLen) revert Invalid();
        if (h.tip > h.maxFee) revert Invalid();
    }

    /// @dev [[20-byte address, [32-byte key, ...]], ...]: the address and key counts.
    function _accessList(V memory v, It memory al) private pure returns (uint256 addresses, uint256 keys) {
        uint256 q = al.start;
        while (q < al.end) {
            It memory entry = _item(v, q, al.end);
            if (!entry.isList) revert Invalid();
            It memory addr = _string(v, entry.start, entry.end);
            if (addr.len != 20) revert Invalid();
            It memory slots = _item(v, addr.end, entry.end);
            if (!slots.isList || slots.end != entry.end) revert Invalid();
            uint256 k = slots.start;
            while (k < slots.end) {
                It memory key = _string(v, k, slots.end);
                if (key.len != 32) revert Invalid();
                k = key.end;
                keys++;
            }
            q = entry.end;
            addresses++;
        }
    }

    function _at(V memory v, uint256 x) private pure returns (uint256) {
        if (x < v.head.length) return uint8(v.head[x]);
        if (x >= v.t0 && x < v.t0 + v.tail.length) return uint8(v.tail[x - v.t0]);
        revert Invalid();
    }

    /// @dev tx_steps.rlp_at: the canonical item at `pos`, ending by `limit`.
    function _item(V memory v, uint256 pos, uint256 limit) private pure returns (It memory it) {
        if (pos >= limit) revert Invalid();
        uint256 b = _at(v, pos);
        if (b < 0x80) return It(false, pos, 1, pos + 1);
        if (b < 0xB8 || (b >= 0xC0 && b < 0xF8)) {
            uint256 len = b - (b < 0xC0 ? 0x80 : 0xC0);
            it = It(b >= 0xC0, pos + 1, len, pos + 1 + len);
            if (b == 0x81 && it.end <= limit && _at(v, pos + 1) < 0x80) revert Invalid();
        } else {
            uint256 n = b - (b < 0xC0 ? 0xB7 : 0xF7);
            if (_at(v, pos + 1) == 0) revert Invalid();
            uint256 len = 0;
            for (uint256 i = 0; i < n; i++) {
                len = (len << 8) | _at(v, pos + 1 + i);
            }
            if (len < 56) revert Invalid();
            it = It(b >= 0xC0, pos + 1 + n, len, pos + 1 + n + len);
        }
        if (it.end > limit) revert Invalid();
    }

    function _string(V memory v, uint256 pos, uint256 limit) private pure returns (It memory it) {
        it = _item(v, pos, limit);
        if (it.isList) revert Invalid();
    }

    /// @dev tx_steps.rlp_uint: a canonical integer of at most `maxLen` bytes, and the item's end.
    function _uint(V memory v, uint256 pos, uint256 limit, uint256 maxLen) private pure returns (uint256 x, uint256) {
        It memory it = _string(v, pos, limit);
        if (it.len > maxLen) revert Invalid();
        for (uint256 i = 0; i < it.len; i++) {
            x = (x << 8) | _at(v, it.start + i);
        }
        if (it.len != 0 && _at(v, it.start) == 0) revert Invalid();
        return (x, it.end);
    }
}
