// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {Buf} from "./Buf.sol";
import {IPhaseStep} from "./IPhaseStep.sol";
import {Keccak} from "./Keccak.sol";
import {Packed} from "./Packed.sol";

/// @title ExecSigHash
/// @notice SIG_HASH (docs/fraud-proofs.md 2.2, section 17), twin of l1/proofs/tx_steps.sig_hash:
///         one 136-byte block of the signing payload per micro-step, rebuilt from the block byte
///         store (never taken from the proof): `prefix ++ store[srcOff, sig) ++ suffix`, where
///         prefix = the type byte (typed) and a new list header, sig = alOff + alLen (typed) or
///         dataOff + dataLen (legacy), suffix = rlp(chainId) ++ 0x80 0x80 (legacy, EIP-155) or
///         nothing; srcOff and the bytes left are the Pending SPONGE's (set by TX_DECODE). Each
///         block adds the zero / non-zero calldata bytes it covers to TxCtx. The final micro-step
///         reads y (or v), r, s from the store, recovers the sender with the L1 precompile 0x01 and
///         checks gasLimit >= max(intrinsic, floor); a failure is TX_DECODE's no-op (phase IDLE,
///         tx 0, bufLen := rawOff), success: TxCtx.sender, sub-stage TX_START.
///         Reached through ExecTxDecode (phase TX_LOAD, TxCtx.setup 2).
///
///         Proof: MachineState (293) ++ TxCtx (344) ++ BlockAcc (148) ++ Pending SPONGE (227) ++
///         [the store words of the block's body part and their siblings, when it has one] ++
///         [final: the words of [sig, rawOff + rawLen) and their siblings]. Consumed exactly.
contract ExecSigHash is IPhaseStep {
    using Packed for bytes;

    uint256 internal constant IDLE = 2;
    uint256 internal constant TX_LOAD = 3;
    uint256 internal constant MEM_DEPTH = 20;
    uint256 internal constant BLOCK = 136;
    uint256 internal constant MS_PENDING = 261;
    uint8 internal constant TAG_PENDING = 0x50;
    uint256 internal constant SPONGE_SIZE = 227;
    uint256 internal constant GAS_TX = 21_000;

    // TxCtx (1.5)
    uint256 internal constant T_TYPE = 1;
    uint256 internal constant T_GAS_LIMIT = 82;
    uint256 internal constant T_RAW_OFF = 218;
    uint256 internal constant T_RAW_LEN = 226;
    uint256 internal constant T_DATA_OFF = 230;
    uint256 internal constant T_DATA_LEN = 238;
    uint256 internal constant T_AL_OFF = 242;
    uint256 internal constant T_AL_LEN = 250;
    uint256 internal constant T_ZEROS = 258;
    uint256 internal constant T_NON_ZEROS = 262;
    uint256 internal constant T_AL_ADDRESSES = 266;
    uint256 internal constant T_AL_KEYS = 270;
    uint256 internal constant T_SETUP = 343;
    uint256 internal constant ST_SIG_HASH = 2;
    uint256 internal constant ST_START = 3;
    // Pending SPONGE (after the 0x50 tag)
    uint256 internal constant P_OP = 0;
    uint256 internal constant P_STATE = 1;
    uint256 internal constant P_ABSORBED = 201;
    uint256 internal constant P_SOURCE = 209;
    uint256 internal constant P_SRC_OFF = 210;
    uint256 internal constant P_REMAINING = 218;
    uint256 internal constant P_PURPOSE = 226;
    uint256 internal constant SOURCE_STORE = 4;
    uint256 internal constant PURPOSE_SIG_HASH = 2;

    error Unsupported(bytes32 name);
    /// @notice Bytes left over after the proof's last field.
    error ProofTooLong();
    /// @notice The call to the ecrecover precompile failed (out of gas): never a no-op.
    error EcrecoverFailed();

    uint256 public immutable chainId;

    constructor(uint256 chainId_) {
        chainId = chainId_;
    }

    /// @dev The parts of one step.
    struct S {
        bytes ms;
        bytes t;
        bytes a;
        bytes pd;
        uint256 p;
    }

    function step(bytes32 pre, bytes calldata proof) external view returns (bytes32) {
        S memory s;
        s.ms = Packed.loadChecked(proof, 0, Packed.TAG_MS, Packed.MS_SIZE, pre, "MachineState");
        if (s.ms.rd(Packed.MS_PHASE, 1) != TX_LOAD || s.ms.rd32(Packed.MS_TX) == 0) revert Unsupported("PHASE");
        s.p = Packed.MS_SIZE;
        s.t = Packed.loadChecked(proof, s.p, Packed.TAG_TX, Packed.TX_SIZE, s.ms.rd32(Packed.MS_TX), "TxCtx");
        if (s.t.rd(T_SETUP, 1) != ST_SIG_HASH) revert Unsupported("TX_LOAD");
        s.p += Packed.TX_SIZE;
        s.a = Packed.loadChecked(proof, s.p, Packed.TAG_ACC, Packed.ACC_SIZE, s.ms.rd32(Packed.MS_ACC), "BlockAcc");
        s.p += Packed.ACC_SIZE;
        s.pd = Packed.loadChecked(proof, s.p, TAG_PENDING, SPONGE_SIZE, s.ms.rd32(MS_PENDING), "Pending");
        s.p += SPONGE_SIZE;
        if (s.pd.rd(P_OP, 1) != 2 || s.pd.rd(P_PURPOSE, 1) != PURPOSE_SIG_HASH || s.pd.rd(P_SOURCE, 1) != SOURCE_STORE) {
            revert Unsupported("SPONGE");
        }
        bytes memory block_ = _block(s, proof);
        uint256 remaining = s.pd.rd(P_REMAINING, 8);
        bytes memory state = new bytes(200);
        bytes memory pd = s.pd;
        assembly {
            mcopy(add(state, 32), add(add(pd, 33), P_STATE), 200)
        }
        if (remaining >= BLOCK) {
            state = Keccak.absorb(state, block_);
            assembly {
                mcopy(add(add(pd, 33), P_STATE), add(state, 32), 200)
            }
            pd.wr(P_ABSORBED, 8, pd.rd(P_ABSORBED, 8) + BLOCK);
            pd.wr(P_REMAINING, 8, remaining - BLOCK);
            if (s.p != proof.length) revert ProofTooLong();
            s.ms.wr32(MS_PENDING, keccak256(pd));
            s.ms.wr32(Packed.MS_TX, keccak256(s.t));
            return keccak256(s.ms);
        }
        (, bytes32 digest) = Keccak.absorbFinal(state, block_);
        return _final(s, proof, digest);
    }

    /// @dev The next block of the payload (prefix, body from the store, suffix), counting the
    ///      calldata bytes the body part covers into TxCtx.
    function _block(S memory s, bytes calldata proof) private view returns (bytes memory) {
        (bytes memory prefix, uint256 body, bytes memory suffix) = _layout(s);
        uint256 a = s.pd.rd(P_ABSORBED, 8);
        uint256 n = s.pd.rd(P_REMAINING, 8);
        if (n > BLOCK) n = BLOCK;
        bytes memory mid = _body(s, proof, prefix.length, body, a, n);
        return abi.encodePacked(_part(prefix, 0, a, n), mid, _part(suffix, prefix.length + body, a, n));
    }

    /// @dev The store bytes of the body segment inside the block, proven, and counted.
    function _body(S memory s, bytes calldata proof, uint256 segStart, uint256 segLen, uint256 a, uint256 n)
        private
        pure
        returns (bytes memory mid)
    {
        (uint256 lo, uint256 hi) = _clip(segStart, segLen, a, n);
        uint256 at = s.pd.rd(P_SRC_OFF, 8) + lo;
        (mid, s.p) = _range(s.a, proof, s.p, at, hi - lo);
        _count(s.t, mid, at);
    }

    /// @dev The bytes of a computed segment (prefix, suffix) inside the block.
    function _part(bytes memory seg, uint256 segStart, uint256 a, uint256 n) private pure returns (bytes memory) {
        (uint256 lo, uint256 hi) = _clip(segStart, seg.length, a, n);
        return _slice(seg, lo, hi);
    }

    /// @dev tx_steps.signing_layout: (prefix, body length, suffix) of the signing payload.
    function _layout(S memory s) private view returns (bytes memory prefix, uint256 body, bytes memory suffix) {
        bytes memory t = s.t;
        uint256 typ = t.rd(T_TYPE, 1);
        body = _sig(t) - s.pd.rd(P_SRC_OFF, 8);
        suffix = typ != 0 ? bytes("") : abi.encodePacked(_rlpUint(chainId), uint16(0x8080));
        prefix = abi.encodePacked(typ != 0 ? abi.encodePacked(uint8(typ)) : bytes(""), _header(body + suffix.length));
    }

    /// @dev Where the signature fields start: alOff + alLen (typed) or dataOff + dataLen (legacy).
    function _sig(bytes memory t) private pure returns (uint256) {
        return t.rd(T_TYPE, 1) != 0 ? t.rd(T_AL_OFF, 8) + t.rd(T_AL_LEN, 4) : t.rd(T_DATA_OFF, 8) + t.rd(T_DATA_LEN, 4);
    }

    /// @dev tx_steps._clip: the part of payload bytes [a, a + n) inside a segment, in its coordinates.
    function _clip(uint256 segStart, uint256 segLen, uint256 a, uint256 n) private pure returns (uint256 lo, uint256 hi) {
        lo = a > segStart ? a - segStart : 0;
        if (lo > segLen) lo = segLen;
        hi = a + n > segStart ? a + n - segStart : 0;
        if (hi > segLen) hi = segLen;
        if (hi < lo) hi = lo;
    }

    function _slice(bytes memory b, uint256 lo, uint256 hi) private pure returns (bytes memory out) {
        out = new bytes(hi - lo);
        for (uint256 i = lo; i < hi; i++) {
            out[i - lo] = b[i];
        }
    }

    /// @dev Zero / non-zero bytes of `mid` (store bytes from `at`) inside [dataOff, dataOff + dataLen).
    function _count(bytes memory t, bytes memory mid, uint256 at) private pure {
        uint256 lo = t.rd(T_DATA_OFF, 8);
        uint256 hi = lo + t.rd(T_DATA_LEN, 4);
        uint256 zeros = 0;
        uint256 all = 0;
        for (uint256 i = 0; i < mid.length; i++) {
            uint256 x = at + i;
            if (x >= lo && x < hi) {
                all++;
                if (mid[i] == 0) zeros++;
            }
        }
        t.wr(T_ZEROS, 4, t.rd(T_ZEROS, 4) + zeros);
        t.wr(T_NON_ZEROS, 4, t.rd(T_NON_ZEROS, 4) + all - zeros);
    }

    /// @dev The final micro-step: ecrecover of the digest with the stored y / v, r, s; intrinsic gas.
    function _final(S memory s, bytes calldata proof, bytes32 digest) private view returns (bytes32) {
        bytes memory t = s.t;
        address sender = _recover(s, proof, digest);
        if (s.p != proof.length) revert ProofTooLong();
        if (sender == address(0) || t.rd(T_GAS_LIMIT, 8) < _needed(t)) {
            s.a.wr(Packed.A_BUF_LEN, 8, t.rd(T_RAW_OFF, 8));
            s.ms.wr(Packed.MS_PHASE, 1, IDLE);
            s.ms.wr32(Packed.MS_TX, 0);
            s.ms.wr32(MS_PENDING, 0);
            s.ms.wr32(Packed.MS_ACC, keccak256(s.a));
            return keccak256(s.ms);
        }
        t.wr(Packed.T_SENDER, 20, uint160(sender));
        t.wr(T_SETUP, 1, ST_START);
        s.ms.wr32(Packed.MS_TX, keccak256(t));
        s.ms.wr32(MS_PENDING, 0);
        return keccak256(s.ms);
    }

    /// @dev The signer (0: none) from the precompile 0x01, the signature read from the store.
    function _recover(S memory s, bytes calldata proof, bytes32 digest) private view returns (address) {
        bytes memory t = s.t;
        uint256 sig = _sig(t);
        bytes memory sb;
        (sb, s.p) = _range(s.a, proof, s.p, sig, t.rd(T_RAW_OFF, 8) + t.rd(T_RAW_LEN, 4) - sig);
        (uint256 y, uint256 pos) = _uintAt(sb, 0);
        if (t.rd(T_TYPE, 1) == 0) y = y - 35 - 2 * chainId;
        (uint256 r, uint256 pos2) = _uintAt(sb, pos);
        (uint256 sv,) = _uintAt(sb, pos2);
        (bool ok, bytes memory out) = address(1).staticcall(abi.encode(digest, 27 + y, r, sv));
        if (!ok) revert EcrecoverFailed();
        return out.length == 32 ? abi.decode(out, (address)) : address(0);
    }

    /// @dev max(intrinsic, floor) (tx_steps.intrinsic_and_floor).
    function _needed(bytes memory t) private pure returns (uint256) {
        uint256 z = t.rd(T_ZEROS, 4);
        uint256 nz = t.rd(T_NON_ZEROS, 4);
        uint256 intrinsic = GAS_TX + 4 * z + 16 * nz + 2400 * t.rd(T_AL_ADDRESSES, 4) + 1900 * t.rd(T_AL_KEYS, 4);
        uint256 floor = GAS_TX + 10 * (z + 4 * nz);
        return intrinsic > floor ? intrinsic : floor;
    }

    /// @dev A canonical RLP integer (TX_DECODE checked it) at `pos` of `b`: its value and end.
    function _uintAt(bytes memory b, uint256 pos) private pure returns (uint256 x, uint256) {
        uint256 h = uint8(b[pos]);
        if (h < 0x80) return (h, pos + 1);
        uint256 len = h - 0x80;
        for (uint256 i = 0; i < len; i++) {
            x = (x << 8) | uint8(b[pos + 1 + i]);
        }
        return (x, pos + 1 + len);
    }

    function _rlpUint(uint256 v) private pure returns (bytes memory) {
        if (v > 0 && v < 0x80) return abi.encodePacked(uint8(v));
        bytes memory b = _bigEndian(v);
        return abi.encodePacked(uint8(0x80 + b.length), b);
    }

    function _header(uint256 len) private pure returns (bytes memory) {
        if (len < 56) return abi.encodePacked(uint8(0xC0 + len));
        bytes memory b = _bigEndian(len);
        return abi.encodePacked(uint8(0xF7 + b.length), b);
    }

    function _bigEndian(uint256 v) private pure returns (bytes memory b) {
        uint256 n = 0;
        for (uint256 x = v; x != 0; x >>= 8) n++;
        b = new bytes(n);
        for (uint256 i = 0; i < n; i++) {
            b[i] = bytes1(uint8(v >> (8 * (n - 1 - i))));
        }
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
}
