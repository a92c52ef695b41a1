// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title BatchDecoder
/// @notice Decodes a batch payload of codec v1 (docs/batch-codec.md) and computes the message
///         count and message root of l2/messages.py, so that Inbox.markInvalid can prove a batch
///         invalid on L1. Rule for rule the same as l2/codec.py: both accept exactly the same
///         payloads (tests/integration/test_batch_decoder.py checks it on random and corrupted
///         batches).
///
///         Written in assembly: a full batch rebuilds hundreds of signed transactions (RLP) and
///         hashes them, and bounds-checked Solidity byte arrays would cost several times the gas.
///         `decode` reverts with InvalidBatch(reason) when the payload is invalid; the caller
///         (Inbox.checkBatch) runs it in a call of its own (Inbox.decodeBatch) to tell that apart
///         from running out of gas. It owns that call's memory, at fixed addresses:
///
///           0x100 + 32c   read cursor of column c (31 columns)
///           0x4e0 + 32c   end of column c
///           0x8c0         L2 chain id            0x8e0  compact transactions so far
///           0x900         their calldata bytes   0x920  start of the addresses column
///           0x940         start of the parity column, 0x960 its length
///           0x980         RLP of the chain id (0x9a0 its length), of legacy v for parity 0
///                         (0x9c0, 0x9e0 length) and parity 1 (0xa00, 0xa20 length)
///           0xa40 + 96f   RLP of the previous value of integer field f (two words, length)
///           0xc40 + 32c   column lengths while reading the header
///           0x1100 + 32d  for a match offset d < 32: 1 every d bytes (0x1500 + 32d: 32 - 32 % d)
///           0x1900        the decompressed body, then the message hashes (Merkle leaves),
///                         then the scratch space where each transaction is rebuilt
///
///         Reason codes: 1 payload empty or too large, 2 unknown version, 10 LZ4 block truncated,
///         11 LZ4 length truncated, 12 literals past the end or output above the cap (last
///         sequence), 13 a length above the output cap, 15 match truncated or its offset outside
///         the output, 16 more than MAX_SEQUENCES sequences or output above the cap, 20 varint above 2^64-1, 21 non-canonical
///         varint, 22 too many messages, 23 column lengths do not add up to the body, 24 kinds
///         column length is not the message count, 30 unknown message kind, 31 unknown transaction
///         type, 32 integer width above 32, 34 non-canonical integer, 35 recipient index not in the
///         table, 36 more leading zeros than the word has, 37 parity column length or padding,
///         38 transactions' calldata above MAX_CALLDATA_BYTES, 39 decode called with memory in use,
///         100 + c column c exhausted, 200 + c column c not read to its end.
library BatchDecoder {
    uint256 internal constant VERSION = 1;
    /// @dev Caps (docs/batch-codec.md, with their measured gas): l2/codec.py has the same values.
    uint256 internal constant MAX_DECOMPRESSED_BYTES = 65536;
    uint256 internal constant MAX_PAYLOAD_BYTES = 65810; // 1 + LZ4 worst case of the body cap
    uint256 internal constant MAX_MESSAGES = 2048;
    uint256 internal constant MAX_SEQUENCES = 1024;
    uint256 internal constant MAX_CALLDATA_BYTES = 131072;

    /// @notice The payload breaks rule `reason` (codes above).
    error InvalidBatch(uint256 reason);

    /// @notice (messageCount, messageRoot) of a valid payload; reverts InvalidBatch otherwise.
    ///         Must run in a call frame of its own (it uses memory from 0x100 on).
    function decode(bytes calldata payload, uint256 chainId) internal pure returns (uint256 count, bytes32 root) {
        assembly {
            function fail(code) {
                mstore(0, shl(224, 0xdc0ba608)) // InvalidBatch(uint256)
                mstore(4, code)
                revert(0, 36)
            }

            // -- reading columns; `slot` is a column's cursor address, its end is at slot + 0x3e0.
            // Short fixed-size reads are unchecked: a column read past its end leaves its cursor
            // past its end, which the final check (every cursor at its end) rejects, and meanwhile
            // reads memory nobody relies on. Checked are the reads that could make a transaction
            // costly without paying body bytes for it: lengths that come from the data (they bound
            // loops and copies), the signatures (64 bytes: transactions <= body size / 64), the
            // integers and new addresses (each byte read, a byte of the body).

            function take(slot, n) -> p {
                p := mload(slot)
                let q := add(p, n)
                if gt(q, mload(add(slot, 0x3e0))) { fail(add(92, shr(5, slot))) } // 100 + column
                mstore(slot, q)
            }

            function readByte(slot) -> b {
                let p := mload(slot)
                b := shr(248, mload(p))
                mstore(slot, add(p, 1))
            }

            // Canonical LEB128 below 2^64: at most 10 bytes, the 10th at most 1, no zero last byte.
            function readVarint(slot) -> v {
                let p := mload(slot)
                let w := mload(p)
                v := shr(248, w)
                if lt(v, 0x80) {
                    mstore(slot, add(p, 1))
                    leave
                }
                v := and(v, 0x7f)
                for { let i := 1 } 1 { i := add(i, 1) } {
                    let b := byte(i, w)
                    if and(eq(i, 9), gt(b, 1)) { fail(20) }
                    v := or(v, shl(mul(7, i), and(b, 0x7f)))
                    if lt(b, 0x80) {
                        if iszero(b) { fail(21) }
                        mstore(slot, add(p, add(i, 1)))
                        leave
                    }
                }
            }

            // Writes at q, as an RLP integer, the next integer of the field whose widths column
            // has cursor `slot` (its lows and highs columns follow), given its width byte w
            // (0..32; the caller handles 33, "the previous value"), and caches that RLP at
            // `cache` (two words, then its length).
            function intField(slot, cache, q, w) -> q2 {
                switch w
                case 0 {
                    mstore8(q, 0x80)
                    q2 := add(q, 1)
                }
                default {
                    if gt(w, 32) { fail(32) }
                    let lp := mload(add(slot, 0x20))
                    if iszero(lt(lp, mload(add(slot, 0x400)))) { fail(add(93, shr(5, slot))) }
                    mstore(add(slot, 0x20), add(lp, 1))
                    let v := shr(248, mload(lp))
                    switch w
                    case 1 {
                        if iszero(v) { fail(34) }
                        switch lt(v, 0x80)
                        case 1 {
                            mstore8(q, v)
                            q2 := add(q, 1)
                        }
                        default {
                            mstore8(q, 0x81)
                            mstore8(add(q, 1), v)
                            q2 := add(q, 2)
                        }
                    }
                    default {
                        let hp := mload(add(slot, 0x40))
                        let he := add(hp, sub(w, 1))
                        if gt(he, mload(add(slot, 0x420))) { fail(add(94, shr(5, slot))) }
                        mstore(add(slot, 0x40), he)
                        let high := shr(sub(264, shl(3, w)), mload(hp))
                        if iszero(shr(sub(shl(3, w), 16), high)) { fail(34) }
                        mstore8(q, add(0x80, w))
                        mstore(add(q, 1), shl(sub(256, shl(3, w)), or(shl(8, high), v)))
                        q2 := add(q, add(1, w))
                    }
                }
                mstore(cache, mload(q))
                mstore(add(cache, 32), mload(add(q, 32)))
                mstore(add(cache, 64), sub(q2, q))
            }

            // -- RLP writers: each writes forward from q (whole words: bytes past its end are
            // scratch, overwritten by the next writer) and returns the new end

            function byteLen(v) -> n {
                if gt(v, 0xffffffffffffffffffffffffffffffff) {
                    n := 16
                    v := shr(128, v)
                }
                if gt(v, 0xffffffffffffffff) {
                    n := add(n, 8)
                    v := shr(64, v)
                }
                if gt(v, 0xffffffff) {
                    n := add(n, 4)
                    v := shr(32, v)
                }
                if gt(v, 0xffff) {
                    n := add(n, 2)
                    v := shr(16, v)
                }
                if gt(v, 0xff) {
                    n := add(n, 1)
                    v := shr(8, v)
                }
                n := add(n, gt(v, 0))
            }

            function writeUint(q, v) -> q2 {
                if lt(v, 0x80) {
                    mstore8(q, or(v, shl(7, iszero(v)))) // 0 -> 0x80
                    q2 := add(q, 1)
                    leave
                }
                let w := byteLen(v)
                mstore8(q, add(0x80, w))
                mstore(add(q, 1), shl(sub(256, shl(3, w)), v))
                q2 := add(q, add(1, w))
            }

            function writeListHeader(q, len) -> q2 {
                if lt(len, 56) {
                    mstore8(q, add(0xc0, len))
                    q2 := add(q, 1)
                    leave
                }
                let n := byteLen(len)
                mstore8(q, add(0xf7, n))
                mstore(add(q, 1), shl(sub(256, shl(3, n)), len))
                q2 := add(q, add(1, n))
            }

            function listHeaderLen(len) -> h {
                h := 1
                if gt(len, 55) { h := add(1, byteLen(len)) }
            }

            // A list whose items were written at cs = q + 9: moves them right behind its header at q.
            function closeList(q, cs, p) -> q2 {
                let len := sub(p, cs)
                let h := listHeaderLen(len)
                mcopy(add(q, h), cs, len)
                switch h
                case 1 { mstore8(q, add(0xc0, len)) }
                default {
                    // the header bytes only: the items right behind stay as they are
                    let n := sub(h, 1)
                    let word := or(shl(248, add(0xf7, n)), shl(sub(248, shl(3, n)), len))
                    mstore(q, or(word, and(mload(q), shr(shl(3, h), not(0)))))
                }
                q2 := add(q, add(h, len))
            }

            function writeAddress(q, a) -> q2 {
                mstore(q, or(shl(248, 0x94), shr(8, mload(a))))
                q2 := add(q, 21)
            }

            // Recipient: 0 creation, 1 the next new address, k >= 2 the (k-2)-th address seen.
            function writeTo(q) -> q2 {
                let p := mload(0x3e0)
                let ref := shr(248, mload(p))
                switch lt(ref, 0x80)
                case 1 { mstore(0x3e0, add(p, 1)) }
                default { ref := readVarint(0x3e0) }
                switch ref
                case 0 {
                    mstore8(q, 0x80)
                    q2 := add(q, 1)
                }
                case 1 { q2 := writeAddress(q, take(0x400, 20)) }
                default {
                    let start := mload(0x920)
                    let i := sub(ref, 2)
                    if iszero(lt(i, div(sub(mload(0x400), start), 20))) { fail(35) }
                    q2 := writeAddress(q, add(start, mul(20, i)))
                }
            }

            // Calldata: its length; below 4 bytes all from the tails column; else the selector,
            // then per word (32 bytes, the last one shorter) a leading-zeros count and the rest.
            function writeData(q) -> q2 {
                let len := readVarint(0x420)
                let total := add(mload(0x900), len)
                if gt(total, 131072) { fail(38) }
                mstore(0x900, total)
                if lt(len, 4) {
                    let src := mload(0x480)
                    mstore(0x480, add(src, len))
                    if eq(len, 1) {
                        let b := shr(248, mload(src))
                        if lt(b, 0x80) {
                            mstore8(q, b)
                            q2 := add(q, 1)
                            leave
                        }
                    }
                    mstore8(q, add(0x80, len))
                    mstore(add(q, 1), mload(src))
                    q2 := add(q, add(1, len))
                    leave
                }
                switch lt(len, 56)
                case 1 {
                    mstore8(q, add(0x80, len))
                    q := add(q, 1)
                }
                default {
                    let n := byteLen(len)
                    mstore8(q, add(0xb7, n))
                    mstore(add(q, 1), shl(sub(256, shl(3, n)), len))
                    q := add(q, add(1, n))
                }
                let sel := mload(0x440)
                mstore(0x440, add(sel, 4))
                mstore(q, mload(sel))
                q := add(q, 4)
                // words: the calldata cap bounds this loop; over-reads fail at the end
                let finish := add(q, sub(len, 4))
                let zp := mload(0x460)
                let tp := mload(0x480)
                for {} lt(q, finish) {} {
                    let size := sub(finish, q)
                    if gt(size, 32) { size := 32 }
                    let z := shr(248, mload(zp))
                    if gt(z, size) { fail(36) }
                    mstore(q, 0)
                    mstore(add(q, z), mload(tp))
                    zp := add(zp, 1)
                    tp := add(tp, sub(size, z))
                    q := add(q, size)
                }
                mstore(0x460, zp)
                mstore(0x480, tp)
                q2 := q
            }

            // [[address, [key...]]...]
            function writeAccessList(q) -> q2 {
                let n := readVarint(0x4a0)
                if iszero(n) {
                    mstore8(q, 0xc0)
                    q2 := add(q, 1)
                    leave
                }
                let cs := add(q, 9)
                let p := cs
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    let a := mload(0x4a0)
                    mstore(0x4a0, add(a, 20))
                    let k := readVarint(0x4a0)
                    let keys := take(0x4a0, shl(5, k)) // checked: bounds both loops
                    let kl := mul(33, k)
                    p := writeListHeader(p, add(add(21, listHeaderLen(kl)), kl))
                    p := writeAddress(p, a)
                    p := writeListHeader(p, kl)
                    for { let j := 0 } lt(j, k) { j := add(j, 1) } {
                        mstore8(p, 0xa0)
                        mstore(add(p, 1), mload(add(keys, shl(5, j))))
                        p := add(p, 33)
                    }
                }
                q2 := closeList(q, cs, p)
            }

            // Width byte (<= 32) then that many big-endian bytes, the first one nonzero.
            function writeSmallInt(q) -> q2 {
                let w := readByte(0x4c0)
                if gt(w, 32) { fail(32) }
                let src := mload(0x4c0)
                mstore(0x4c0, add(src, w))
                if iszero(w) {
                    mstore8(q, 0x80)
                    q2 := add(q, 1)
                    leave
                }
                let b := shr(248, mload(src))
                if iszero(b) { fail(34) }
                if and(eq(w, 1), lt(b, 0x80)) {
                    mstore8(q, b)
                    q2 := add(q, 1)
                    leave
                }
                mstore8(q, add(0x80, w))
                mstore(add(q, 1), mload(src))
                q2 := add(q, add(1, w))
            }

            // EIP-7702 [[chainId, address, nonce, yParity, r, s]...]
            function writeAuthorizations(q) -> q2 {
                let n := readVarint(0x4c0)
                if iszero(n) {
                    mstore8(q, 0xc0)
                    q2 := add(q, 1)
                    leave
                }
                let cs := add(q, 9)
                let p := cs
                for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                    let r := add(p, 9)
                    r := writeSmallInt(r)
                    let a := mload(0x4c0)
                    mstore(0x4c0, add(a, 20))
                    r := writeAddress(r, a)
                    r := writeSmallInt(r)
                    r := writeSmallInt(r)
                    let sig := take(0x4c0, 64) // checked: bounds the loop
                    r := writeUint(r, mload(sig))
                    r := writeUint(r, mload(add(sig, 32)))
                    p := closeList(p, add(p, 9), r)
                }
                q2 := closeList(q, cs, p)
            }

            // Rebuilds one compact transaction at s + 32 and returns keccak(0x01 ++ signed bytes).
            // The common cases (a repeated integer, one-byte lengths, no calldata, no access
            // list, 32-byte r and s) are inline: this runs for every transaction of the batch.
            function decodeTx(s) -> leaf {
                let t := readByte(0x1a0)
                if or(eq(t, 3), gt(t, 4)) { fail(31) }
                let parity := 0
                {
                    let ntx := mload(0x8e0)
                    mstore(0x8e0, add(ntx, 1))
                    parity := and(shr(and(ntx, 7), shr(248, mload(add(mload(0x940), shr(3, ntx))))), 1)
                }
                let sig := take(0x1e0, 64) // checked: transactions <= body size / 64
                let p0 := add(s, 32)
                let q := p0
                if t {
                    mstore(q, mload(0x980)) // RLP of the chain id, made once
                    q := add(q, mload(0x9a0))
                }
                {
                    // nonce
                    let p := mload(0x200)
                    if iszero(lt(p, mload(0x5e0))) { fail(108) }
                    mstore(0x200, add(p, 1))
                    let w := shr(248, mload(p))
                    switch w
                    case 33 {
                        mstore(q, mload(0xa40))
                        mstore(add(q, 32), mload(0xa60))
                        q := add(q, mload(0xa80))
                    }
                    default { q := intField(0x200, 0xa40, q, w) }
                }
                if gt(t, 1) {
                    // max priority fee
                    let p := mload(0x320)
                    if iszero(lt(p, mload(0x700))) { fail(117) }
                    mstore(0x320, add(p, 1))
                    let w := shr(248, mload(p))
                    switch w
                    case 33 {
                        mstore(q, mload(0xb60))
                        mstore(add(q, 32), mload(0xb80))
                        q := add(q, mload(0xba0))
                    }
                    default { q := intField(0x320, 0xb60, q, w) }
                }
                {
                    // gas price or max fee
                    let p := mload(0x2c0)
                    if iszero(lt(p, mload(0x6a0))) { fail(114) }
                    mstore(0x2c0, add(p, 1))
                    let w := shr(248, mload(p))
                    switch w
                    case 33 {
                        mstore(q, mload(0xb00))
                        mstore(add(q, 32), mload(0xb20))
                        q := add(q, mload(0xb40))
                    }
                    default { q := intField(0x2c0, 0xb00, q, w) }
                }
                {
                    // gas
                    let p := mload(0x260)
                    if iszero(lt(p, mload(0x640))) { fail(111) }
                    mstore(0x260, add(p, 1))
                    let w := shr(248, mload(p))
                    switch w
                    case 33 {
                        mstore(q, mload(0xaa0))
                        mstore(add(q, 32), mload(0xac0))
                        q := add(q, mload(0xae0))
                    }
                    default { q := intField(0x260, 0xaa0, q, w) }
                }
                q := writeTo(q)
                {
                    // value
                    let p := mload(0x380)
                    if iszero(lt(p, mload(0x760))) { fail(120) }
                    mstore(0x380, add(p, 1))
                    let w := shr(248, mload(p))
                    switch w
                    case 33 {
                        mstore(q, mload(0xbc0))
                        mstore(add(q, 32), mload(0xbe0))
                        q := add(q, mload(0xc00))
                    }
                    default { q := intField(0x380, 0xbc0, q, w) }
                }
                {
                    let p := mload(0x420)
                    switch shr(248, mload(p))
                    case 0 {
                        mstore(0x420, add(p, 1))
                        mstore8(q, 0x80)
                        q := add(q, 1)
                    }
                    default { q := writeData(q) }
                }
                if t {
                    let p := mload(0x4a0)
                    switch shr(248, mload(p))
                    case 0 {
                        mstore(0x4a0, add(p, 1))
                        mstore8(q, 0xc0)
                        q := add(q, 1)
                    }
                    default { q := writeAccessList(q) }
                    if eq(t, 4) { q := writeAuthorizations(q) }
                }
                switch t
                case 0 {
                    let v := add(0x9c0, shl(6, parity)) // RLP of chainId * 2 + 35 + parity, made once
                    mstore(q, mload(v))
                    q := add(q, mload(add(v, 32)))
                }
                default {
                    mstore8(q, sub(0x80, mul(parity, 0x7f))) // 1 -> 0x01, 0 -> 0x80
                    q := add(q, 1)
                }
                {
                    let r := mload(sig)
                    switch shr(248, r)
                    case 0 { q := writeUint(q, r) }
                    default {
                        mstore8(q, 0xa0)
                        mstore(add(q, 1), r)
                        q := add(q, 33)
                    }
                    r := mload(add(sig, 32))
                    switch shr(248, r)
                    case 0 { q := writeUint(q, r) }
                    default {
                        mstore8(q, 0xa0)
                        mstore(add(q, 1), r)
                        q := add(q, 33)
                    }
                }
                let len := sub(q, p0)
                let start := sub(p0, 1)
                switch lt(len, 56)
                case 1 { mstore8(start, add(0xc0, len)) }
                default {
                    mstore(s, len) // big-endian, ending right before p0
                    let n := 1
                    if gt(len, 255) { n := byteLen(len) }
                    start := sub(p0, add(1, n))
                    mstore8(start, add(0xf7, n))
                }
                if t {
                    start := sub(start, 1)
                    mstore8(start, t)
                }
                start := sub(start, 1)
                mstore8(start, 1)
                leaf := keccak256(start, sub(q, start))
            }

            // -- strict LZ4 block decoder (rules in l2/codec.py lz4_decompress)

            function extLen(p, pend, len) -> l, p2 {
                for {} 1 {} {
                    if iszero(lt(p, pend)) { fail(11) }
                    let b := shr(248, calldataload(p))
                    p := add(p, 1)
                    len := add(len, b)
                    if lt(b, 255) { break }
                    if gt(len, 65536) { fail(13) } // the output cannot take it: stop early
                }
                l := len
                p2 := p
            }

            // A match whose offset d is below its length: out[i] = out[i - d], a period of d.
            function overlapCopy(dst, d, len) {
                switch lt(d, 32)
                case 1 {
                    // one word of the pattern: 32 / d whole periods (dk bytes), then r bytes
                    let dk := mload(add(0x1500, shl(5, d)))
                    let r := sub(32, dk)
                    let pattern := shr(sub(256, shl(3, d)), mload(sub(dst, d)))
                    let periods := mload(add(0x1100, shl(5, d))) // 0x0..01 repeated every d bytes
                    let word := or(shl(shl(3, r), mul(pattern, periods)), shr(shl(3, sub(d, r)), pattern))
                    mstore(dst, word)
                    if gt(len, dk) {
                        let finish := add(dst, len)
                        for { dst := add(dst, dk) } lt(dst, finish) { dst := add(dst, dk) } { mstore(dst, word) }
                    }
                }
                default {
                    let finish := add(dst, len)
                    for {} lt(dst, finish) { dst := add(dst, 32) } { mstore(dst, mload(sub(dst, d))) }
                }
            }

            // Checks are batched per sequence (each costs gas whatever it holds): a copy may
            // overrun the cap before the next check fails it, into memory nobody reads.
            function lz4(p, pend, out0) -> out {
                out := out0
                let limit := add(out0, 65536)
                let sequencesLeft := 1024
                if iszero(lt(p, pend)) { fail(10) }
                for {} 1 {} {
                    if or(iszero(sequencesLeft), gt(out, limit)) { fail(16) }
                    sequencesLeft := sub(sequencesLeft, 1)
                    let token := shr(248, calldataload(p))
                    let len := shr(4, token)
                    p := add(p, 1)
                    if eq(len, 15) { len, p := extLen(p, pend, len) }
                    calldatacopy(out, p, len)
                    out := add(out, len)
                    p := add(p, len)
                    if iszero(lt(p, pend)) {
                        if or(gt(p, pend), gt(out, limit)) { fail(12) }
                        break
                    }
                    let w := calldataload(p)
                    let offset := or(shr(248, w), and(shr(232, w), 0xff00))
                    p := add(p, 2)
                    len := add(and(token, 15), 4)
                    if eq(len, 19) { len, p := extLen(p, pend, len) }
                    // the block goes on after a match; 1 <= offset <= output so far
                    if or(iszero(lt(p, pend)), iszero(lt(sub(offset, 1), sub(out, out0)))) { fail(15) }
                    switch lt(offset, len)
                    case 0 { mcopy(out, sub(out, offset), len) }
                    default { overlapCopy(out, offset, len) }
                    out := add(out, len)
                }
            }

            // prev + the next zigzag varint of the column, mod 2^64 (timestamps, origins, delayed).
            function readDelta(slot, prev) -> v {
                let p := mload(slot)
                let z := shr(248, mload(p))
                switch lt(z, 0x80)
                case 1 { mstore(slot, add(p, 1)) }
                default { z := readVarint(slot) }
                switch and(z, 1)
                case 0 { v := and(add(prev, shr(1, z)), 0xffffffffffffffff) }
                default { v := and(sub(prev, add(shr(1, z), 1)), 0xffffffffffffffff) }
            }

            // -- main ------------------------------------------------------------------------

            if gt(mload(0x40), 0x100) { fail(39) }
            let plen := payload.length
            if or(iszero(plen), gt(plen, 65810)) { fail(1) }
            if iszero(eq(shr(248, calldataload(payload.offset)), 1)) { fail(2) }
            for { let d := 1 } lt(d, 32) { d := add(d, 1) } {
                let dk := mul(d, div(32, d))
                mstore(add(0x1500, shl(5, d)), dk)
                mstore(add(0x1100, shl(5, d)), div(shr(sub(256, shl(3, dk)), not(0)), sub(shl(shl(3, d), 1), 1)))
            }
            let bodyEnd := lz4(add(payload.offset, 1), add(payload.offset, plen), 0x1900)

            // header: message count and the 31 column lengths, read through column 0's slots
            mstore(0x100, 0x1900)
            mstore(0x4e0, bodyEnd)
            count := readVarint(0x100)
            if gt(count, 2048) { fail(22) }
            for { let c := 0 } lt(c, 31) { c := add(c, 1) } { mstore(add(0xc40, shl(5, c)), readVarint(0x100)) }
            let off := mload(0x100)
            for { let c := 0 } lt(c, 31) { c := add(c, 1) } {
                mstore(add(0x100, shl(5, c)), off)
                off := add(off, mload(add(0xc40, shl(5, c))))
                mstore(add(0x4e0, shl(5, c)), off)
            }
            if iszero(eq(off, bodyEnd)) { fail(23) }
            let kinds := mload(0x100)
            if iszero(eq(sub(mload(0x4e0), kinds), count)) { fail(24) }
            mstore(0x100, mload(0x4e0)) // kinds: read in place below
            mstore(0x8c0, chainId)
            mstore(0x8e0, 0)
            mstore(0x900, 0)
            mstore(0x920, mload(0x400))
            mstore(0x940, mload(0x1c0))
            mstore(0x960, sub(mload(0x5a0), mload(0x1c0)))
            mstore(0x1c0, mload(0x5a0)) // parity: read in place, checked at the end
            mstore(0x9a0, sub(writeUint(0x980, chainId), 0x980))
            mstore(0x9e0, sub(writeUint(0x9c0, add(shl(1, chainId), 35)), 0x9c0))
            mstore(0xa20, sub(writeUint(0xa00, add(shl(1, chainId), 36)), 0xa00))
            for { let c := 0xa40 } lt(c, 0xc00) { c := add(c, 96) } {
                mstore(c, shl(248, 0x80)) // RLP of 0
                mstore(add(c, 64), 1)
            }

            // messages: each hash is a leaf
            let leaves := add(and(add(bodyEnd, 31), not(31)), 32)
            let s := add(leaves, shl(5, add(count, 2)))
            let ts := 0
            let l1Origin := 0
            let nextDelayed := 0
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let leaf := 0
                switch shr(248, mload(add(kinds, i)))
                case 1 { leaf := decodeTx(s) }
                case 0 {
                    ts := readDelta(0x120, ts)
                    l1Origin := readDelta(0x140, l1Origin)
                    mstore(s, or(shl(184, ts), shl(120, l1Origin)))
                    leaf := keccak256(s, 17)
                }
                case 2 {
                    nextDelayed := readDelta(0x160, nextDelayed)
                    mstore(s, or(shl(248, 2), shl(184, nextDelayed)))
                    leaf := keccak256(s, 9)
                    nextDelayed := and(add(nextDelayed, 1), 0xffffffffffffffff)
                }
                case 3 {
                    let len := readVarint(0x180)
                    let src := take(0x180, len)
                    mstore8(s, 1)
                    mcopy(add(s, 1), src, len)
                    leaf := keccak256(s, add(len, 1))
                }
                default { fail(30) }
                mstore(add(leaves, shl(5, i)), leaf)
            }

            // every column read to its end; the parity column holds exactly the bits used
            for { let c := 0 } lt(c, 31) { c := add(c, 1) } {
                if iszero(eq(mload(add(0x100, shl(5, c))), mload(add(0x4e0, shl(5, c))))) { fail(add(200, c)) }
            }
            let ntx := mload(0x8e0)
            if iszero(eq(mload(0x960), shr(3, add(ntx, 7)))) { fail(37) }
            if and(ntx, 7) {
                if shr(and(ntx, 7), shr(248, mload(sub(mload(0x5a0), 1)))) { fail(37) }
            }

            // binary keccak Merkle tree, odd levels padded with a zero word
            let n := count
            for {} gt(n, 1) {} {
                if and(n, 1) {
                    mstore(add(leaves, shl(5, n)), 0)
                    n := add(n, 1)
                }
                let end := add(leaves, shl(5, n))
                for { let src := leaves } lt(src, end) { src := add(src, 64) } {
                    mstore(add(leaves, shr(1, sub(src, leaves))), keccak256(src, 64))
                }
                n := shr(1, n)
            }
            if count { root := mload(leaves) }
        }
    }
}
