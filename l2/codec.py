"""Batch codec v1: the message stream of a batch as the compressed payload posted to L1.

    payload = 0x01 ++ lz4_block(body)

`body` is a columnar encoding (span-batch style, docs/batch-codec.md): a header of column
lengths, then one column per field kind, so that equal things sit next to each other and an
LZ4-class compressor (no entropy coder, cheap to decode in the EVM) finds them. The chain id,
RLP headers, legacy `v` and every length the RLP carries are dropped and rebuilt.

The decoder here mirrors `l1/contracts/BatchDecoder.sol` rule for rule: both accept exactly
the same payloads and produce the same messages, so `Inbox.markInvalid` proves on L1 what
`decode_batch` says off chain. Transactions that the compact columns cannot rebuild byte for
byte (another chain id, pre-EIP-155 legacy, non-canonical RLP, garbage) go to a raw column:
encoding never fails for a stream of messages that each encode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import lz4.block
import rlp

import l2  # noqa: F401
from l2.errors import BatchDecodeError
from l2.messages import MAX_UINT64, BlockStart, Delayed, L2Tx, Message

VERSION = 1
# Caps (docs/batch-codec.md, "Caps"): measured so that Inbox.markInvalid decodes the worst
# batch these allow, adversarial ones included, in under 5M gas.
MAX_DECOMPRESSED_BYTES = 64 * 1024
# The version byte plus LZ4's worst case expansion of a body of the largest size: never binds
# an honest encoder; bounds the calldata a dishonest one makes markInvalid carry and read.
MAX_PAYLOAD_BYTES = 1 + MAX_DECOMPRESSED_BYTES + MAX_DECOMPRESSED_BYTES // 255 + 16
MAX_MESSAGES = 2048
# LZ4 sequences per payload: each costs L1 a few hundred gas whatever it holds, so a payload of
# 4-byte matches would cost millions. Columnar bodies need few (~25 per full batch measured);
# the encoder folds its shortest matches into literals if it ever needs more.
MAX_SEQUENCES = 1024
# Total calldata of the compact transactions of a batch: a 1-byte zero count stands for up to
# 32 zero bytes, so without this cap a small body could make L1 rebuild and hash megabytes.
MAX_CALLDATA_BYTES = 128 * 1024

# Message kinds in the kinds column.
KIND_BLOCK_START = 0
KIND_TX = 1
KIND_DELAYED = 2
KIND_RAW_TX = 3

# Transaction types of the compact columns (EIP-2718 type; 0 = legacy EIP-155).
TX_TYPES = (0, 1, 2, 4)

# Columns, in body order. Each integer field of a compact tx has three: widths (one byte per
# value: 0..32, or REPEAT for "same as this field's previous value"), lows (the least
# significant byte of each value of width >= 1) and highs (the other bytes, big-endian):
# values of one magnitude differ in their low byte, so the highs repeat and compress, and
# the EVM reads any value with two loads.
INT_FIELDS = ("nonce", "gas", "fee_cap", "tip", "value")
COLUMNS = (
    "kinds",
    "timestamps",
    "origins",
    "delayed",
    "raw",
    "types",
    "parity",
    "signatures",
    *(f"{name}_{part}" for name in INT_FIELDS for part in ("widths", "lows", "highs")),
    "to",
    "addresses",
    "data_lengths",
    "selectors",
    "zeros",
    "tails",
    "access_lists",
    "authorizations",
)
KINDS, TIMESTAMPS, ORIGINS, DELAYED_COL, RAW, TYPES, PARITY, SIGNATURES = range(8)
INT_COLUMNS = 8  # widths of field f at INT_COLUMNS + 3f, then lows, then highs
TO, ADDRESSES, DATA_LENGTHS, SELECTORS, ZEROS, TAILS, ACCESS, AUTHS = range(23, 31)
NUM_COLUMNS = len(COLUMNS)
NONCE, GAS, FEE_CAP, TIP, VALUE = range(len(INT_FIELDS))
REPEAT = 33  # width code: the previous value of the same field (0 before the first)

TWO64 = 1 << 64


# -- small encodings shared by encoder and decoder ------------------------------------------


def varint(value: int) -> bytes:
    """Unsigned LEB128 of a value below 2^64 (the only varint the format has)."""
    if not 0 <= value <= MAX_UINT64:
        raise ValueError(f"varint {value} does not fit 64 bits")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def zigzag_delta(value: int, previous: int) -> int:
    """(value - previous) mod 2^64 read as signed 64 bits, zigzagged: small steps, small varints."""
    delta = (value - previous) % TWO64
    if delta >= 1 << 63:
        delta -= TWO64
    return delta << 1 if delta >= 0 else ((-delta) << 1) - 1


def apply_zigzag(previous: int, z: int) -> int:
    return (previous + (z >> 1)) % TWO64 if not z & 1 else (previous - (z >> 1) - 1) % TWO64


def _be(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _rlp_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    n = _be(length)
    return bytes((offset + 55 + len(n),)) + n


def _rlp_string(data: bytes) -> bytes:
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _rlp_prefix(len(data), 0x80) + data


def _rlp_int(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,)) if value else b"\x80"
    data = _be(value)
    return bytes((0x80 + len(data),)) + data


def _rlp_list(payload: bytes) -> bytes:
    return _rlp_prefix(len(payload), 0xC0) + payload


# -- the compact form of a transaction ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Authorization:
    """One EIP-7702 authorization tuple."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


@dataclass(frozen=True, slots=True)
class CompactTx:
    """A transaction as the compact columns hold it; `fee_cap` is gasPrice for types 0 and 1."""

    tx_type: int
    nonce: int
    fee_cap: int
    tip: int
    gas: int
    to: bytes
    value: int
    data: bytes
    access_list: tuple[tuple[bytes, tuple[bytes, ...]], ...]
    authorizations: tuple[Authorization, ...]
    y_parity: int
    r: int
    s: int

    def signed_bytes(self, chain_id: int) -> bytes:
        """The EIP-2718 signed encoding, with the chain id put back."""
        head = _rlp_int(self.nonce)
        if self.tx_type == 0:
            v = chain_id * 2 + 35 + self.y_parity
            body = (
                head
                + _rlp_int(self.fee_cap)
                + _rlp_int(self.gas)
                + _rlp_string(self.to)
                + _rlp_int(self.value)
                + _rlp_string(self.data)
                + _rlp_int(v)
                + _rlp_int(self.r)
                + _rlp_int(self.s)
            )
            return _rlp_list(body)
        fees = _rlp_int(self.fee_cap) if self.tx_type == 1 else _rlp_int(self.tip) + _rlp_int(self.fee_cap)
        access = _rlp_list(
            b"".join(
                _rlp_list(_rlp_string(address) + _rlp_list(b"".join(_rlp_string(k) for k in keys)))
                for address, keys in self.access_list
            )
        )
        auths = b""
        if self.tx_type == 4:
            auths = _rlp_list(
                b"".join(
                    _rlp_list(
                        _rlp_int(a.chain_id)
                        + _rlp_string(a.address)
                        + _rlp_int(a.nonce)
                        + _rlp_int(a.y_parity)
                        + _rlp_int(a.r)
                        + _rlp_int(a.s)
                    )
                    for a in self.authorizations
                )
            )
        body = (
            _rlp_int(chain_id)
            + head
            + fees
            + _rlp_int(self.gas)
            + _rlp_string(self.to)
            + _rlp_int(self.value)
            + _rlp_string(self.data)
            + access
            + auths
            + _rlp_int(self.y_parity)
            + _rlp_int(self.r)
            + _rlp_int(self.s)
        )
        return bytes((self.tx_type,)) + _rlp_list(body)


def _int_field(item: object) -> int | None:
    if not isinstance(item, bytes) or len(item) > 32:
        return None
    return int.from_bytes(item, "big")


def compact_tx(raw: bytes, chain_id: int) -> CompactTx | None:
    """The compact form of `raw`, or None when it would not rebuild to exactly `raw`."""
    if not raw:
        return None
    try:
        if raw[0] >= 0xC0:
            tx_type, fields = 0, rlp.decode(raw, strict=True)
        elif raw[0] in (1, 2, 4):
            tx_type, fields = raw[0], rlp.decode(raw[1:], strict=True)
        else:
            return None
    except (rlp.exceptions.RLPException, ValueError, TypeError):
        return None
    tx = _compact_fields(tx_type, fields, chain_id)
    if tx is None or tx.signed_bytes(chain_id) != raw:
        return None
    return tx


def _compact_fields(tx_type: int, fields: object, chain_id: int) -> CompactTx | None:
    expected = {0: 9, 1: 11, 2: 12, 4: 13}[tx_type]
    if not isinstance(fields, list) or len(fields) != expected:
        return None
    tip: object = b""
    access_raw: object = []
    auth_raw: object = []
    if tx_type == 0:
        nonce, fee_cap, gas, to, value, data, v, r, s = fields
        v_int = _int_field(v)
        parity = None if v_int is None else v_int - 35 - 2 * chain_id
    else:
        if _int_field(fields[0]) != chain_id:
            return None
        if tx_type == 1:
            nonce, fee_cap, gas, to, value, data, access_raw, y, r, s = fields[1:]
        elif tx_type == 2:
            nonce, tip, fee_cap, gas, to, value, data, access_raw, y, r, s = fields[1:]
        else:
            nonce, tip, fee_cap, gas, to, value, data, access_raw, auth_raw, y, r, s = fields[1:]
        parity = _int_field(y)
    if parity not in (0, 1) or not isinstance(to, bytes) or len(to) not in (0, 20) or not isinstance(data, bytes):
        return None
    access = _access_list(access_raw)
    auths = _authorizations(auth_raw)
    ints = [_int_field(x) for x in (nonce, fee_cap, tip, gas, value, r, s)]
    if access is None or auths is None or any(i is None for i in ints):
        return None
    n, fc, tp, g, val, r_int, s_int = (i or 0 for i in ints)
    return CompactTx(tx_type, n, fc, tp, g, to, val, data, access, auths, parity or 0, r_int, s_int)


def _access_list(items: object) -> tuple[tuple[bytes, tuple[bytes, ...]], ...] | None:
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes) and len(item[0]) == 20):
            return None
        keys = item[1]
        if not isinstance(keys, list) or not all(isinstance(k, bytes) and len(k) == 32 for k in keys):
            return None
        out.append((item[0], tuple(keys)))
    return tuple(out)


def _authorizations(items: object) -> tuple[Authorization, ...] | None:
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 6 and isinstance(item[1], bytes) and len(item[1]) == 20):
            return None
        ints = [_int_field(item[i]) for i in (0, 2, 3, 4, 5)]
        if any(i is None for i in ints):
            return None
        chain, nonce, y, r, s = (i or 0 for i in ints)
        out.append(Authorization(chain, item[1], nonce, y, r, s))
    return tuple(out)


# -- encoder --------------------------------------------------------------------------------


def _small_int(value: int) -> bytes:
    """Width byte then big-endian bytes: the inline integers of the authorization column."""
    data = _be(value)
    return bytes((len(data),)) + data


class BatchEncoder:
    """Accumulates whole L2 blocks into one batch and knows the exact body size as it goes.

    The batcher calls `add_block(messages)`: False (and nothing added) when the block would
    break a cap. `payload()` then compresses; the payload cap never binds, being LZ4's worst
    case for a body of MAX_DECOMPRESSED_BYTES (docs/batch-codec.md).
    """

    def __init__(self, chain_id: int, max_body: int = MAX_DECOMPRESSED_BYTES, max_messages: int = MAX_MESSAGES) -> None:
        if not 0 < chain_id < 1 << 64:
            raise ValueError(f"chain id {chain_id} out of range")
        self.chain_id = chain_id
        self.max_body = max_body
        self.max_messages = max_messages
        self.messages: list[Message] = []
        self._cols = [bytearray() for _ in range(NUM_COLUMNS)]
        self._table: dict[bytes, int] = {}
        self._table_order: list[bytes] = []
        self._txs = 0
        self._calldata = 0
        self._prev_ints = [0] * len(INT_FIELDS)
        self._prev_timestamp = 0
        self._prev_origin = 0
        self._next_delayed = 0

    def __len__(self) -> int:
        return len(self.messages)

    def body_size(self) -> int:
        """Exact size of the decompressed body of the messages added so far."""
        return len(varint(len(self.messages))) + sum(len(varint(len(c))) + len(c) for c in self._cols)

    def add_block(self, messages: Sequence[Message]) -> bool:
        """Add a whole block (BlockStart and its messages) if the batch stays within its caps."""
        state = self._snapshot()
        for message in messages:
            self._add(message)
        if len(self.messages) <= self.max_messages and self.body_size() <= self.max_body:
            return True
        self._rollback(state)
        return False

    def add_messages(self, messages: Iterable[Message]) -> None:
        """Add messages with no cap check (`payload` checks once at the end)."""
        for message in messages:
            self._add(message)

    def body(self) -> bytes:
        out = bytearray(varint(len(self.messages)))
        for col in self._cols:
            out += varint(len(col))
        for col in self._cols:
            out += col
        return bytes(out)

    def payload(self) -> bytes:
        """The payload to post: version byte then the LZ4 (high compression) block of the body."""
        body = self.body()
        if len(body) > MAX_DECOMPRESSED_BYTES or len(self.messages) > MAX_MESSAGES:
            raise ValueError(
                f"batch of {len(self.messages)} messages, {len(body)} bytes exceeds the caps "
                f"({MAX_MESSAGES} messages, {MAX_DECOMPRESSED_BYTES} bytes): use BatchEncoder.add_block"
            )
        compressed = lz4.block.compress(body, mode="high_compression", compression=12, store_size=False)
        return bytes((VERSION,)) + cap_sequences(body, compressed, MAX_SEQUENCES)

    # internals

    def _snapshot(self) -> tuple:
        return (
            len(self.messages),
            [len(c) for c in self._cols],
            len(self._table_order),
            self._txs,
            self._calldata,
            list(self._prev_ints),
            self._prev_timestamp,
            self._prev_origin,
            self._next_delayed,
        )

    def _rollback(self, state: tuple) -> None:
        messages, cols, table, txs, calldata, prev_ints, ts, origin, delayed = state
        del self.messages[messages:]
        for col, n in zip(self._cols, cols, strict=True):
            del col[n:]
        for address in self._table_order[table:]:
            del self._table[address]
        del self._table_order[table:]
        self._txs, self._calldata, self._prev_ints = txs, calldata, prev_ints
        self._prev_timestamp, self._prev_origin, self._next_delayed = ts, origin, delayed
        if txs % 8:  # the kept last parity byte may hold bits of rolled-back transactions
            self._cols[PARITY][-1] &= (1 << (txs % 8)) - 1

    def _add(self, message: Message) -> None:
        cols = self._cols
        if isinstance(message, BlockStart):
            message.encode()  # range checks
            cols[KINDS].append(KIND_BLOCK_START)
            cols[TIMESTAMPS] += varint(zigzag_delta(message.timestamp, self._prev_timestamp))
            cols[ORIGINS] += varint(zigzag_delta(message.l1_origin_number, self._prev_origin))
            self._prev_timestamp, self._prev_origin = message.timestamp, message.l1_origin_number
        elif isinstance(message, Delayed):
            message.encode()
            cols[KINDS].append(KIND_DELAYED)
            cols[DELAYED_COL] += varint(zigzag_delta(message.index, self._next_delayed))
            self._next_delayed = (message.index + 1) % TWO64
        elif isinstance(message, L2Tx):
            tx = compact_tx(message.raw, self.chain_id)
            if tx is not None and self._calldata + len(tx.data) > MAX_CALLDATA_BYTES:
                tx = None  # raw costs body bytes, which are capped anyway
            if tx is None:
                cols[KINDS].append(KIND_RAW_TX)
                cols[RAW] += varint(len(message.raw)) + message.raw
            else:
                cols[KINDS].append(KIND_TX)
                self._add_tx(tx)
        else:
            raise TypeError(f"not a message: {message!r}")
        self.messages.append(message)

    def _add_int(self, field: int, value: int) -> None:
        widths = self._cols[INT_COLUMNS + 3 * field]
        if value == self._prev_ints[field]:
            widths.append(REPEAT)
            return
        self._prev_ints[field] = value
        data = _be(value)
        widths.append(len(data))
        if data:
            self._cols[INT_COLUMNS + 3 * field + 1].append(data[-1])
            self._cols[INT_COLUMNS + 3 * field + 2] += data[:-1]

    def _add_tx(self, tx: CompactTx) -> None:
        cols = self._cols
        cols[TYPES].append(tx.tx_type)
        if self._txs % 8 == 0:
            cols[PARITY].append(0)
        cols[PARITY][-1] |= tx.y_parity << (self._txs % 8)
        self._txs += 1
        cols[SIGNATURES] += tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big")
        self._add_int(NONCE, tx.nonce)
        self._add_int(GAS, tx.gas)
        self._add_int(FEE_CAP, tx.fee_cap)
        if tx.tx_type >= 2:
            self._add_int(TIP, tx.tip)
        self._add_int(VALUE, tx.value)
        if not tx.to:
            cols[TO].append(0)
        elif tx.to in self._table:
            cols[TO] += varint(self._table[tx.to] + 2)
        else:
            cols[TO].append(1)
            cols[ADDRESSES] += tx.to
            self._table[tx.to] = len(self._table_order)
            self._table_order.append(tx.to)
        data = tx.data
        self._calldata += len(data)
        cols[DATA_LENGTHS] += varint(len(data))
        if len(data) < 4:
            cols[TAILS] += data
        else:
            cols[SELECTORS] += data[:4]
            for off in range(4, len(data), 32):
                chunk = data[off : off + 32]
                tail = chunk.lstrip(b"\x00")
                cols[ZEROS].append(len(chunk) - len(tail))
                cols[TAILS] += tail
        if tx.tx_type:
            access = cols[ACCESS]
            access += varint(len(tx.access_list))
            for address, keys in tx.access_list:
                access += address + varint(len(keys)) + b"".join(keys)
        if tx.tx_type == 4:
            auths = cols[AUTHS]
            auths += varint(len(tx.authorizations))
            for a in tx.authorizations:
                auths += _small_int(a.chain_id) + a.address + _small_int(a.nonce) + _small_int(a.y_parity)
                auths += a.r.to_bytes(32, "big") + a.s.to_bytes(32, "big")


def lz4_sequences(block: bytes) -> list[tuple[int, int, int]]:
    """(literal length, match length, offset) of each sequence of a well-formed LZ4 block."""
    out = []
    pos = 0
    while True:
        token = block[pos]
        pos += 1
        literals = token >> 4
        if literals == 15:
            pos, literals = _lz4_length(block, pos, len(block), literals)
        pos += literals
        if pos == len(block):
            out.append((literals, 0, 0))
            return out
        offset = block[pos] | block[pos + 1] << 8
        pos += 2
        match = token & 15
        if match == 15:
            pos, match = _lz4_length(block, pos, len(block), match)
        out.append((literals, match + 4, offset))


def _lz4_length_bytes(extra: int) -> bytes:
    return b"\xff" * (extra // 255) + bytes((extra % 255,))


def cap_sequences(body: bytes, block: bytes, cap: int) -> bytes:
    """`block` (the LZ4 block of `body`) with at most `cap` sequences: the shortest matches
    become literals. Output positions do not move, so every kept offset stays valid."""
    sequences = lz4_sequences(block)
    if len(sequences) <= cap:
        return block
    matches = sorted(range(len(sequences) - 1), key=lambda i: -sequences[i][1])
    keep = set(matches[: cap - 1])
    out = bytearray()
    start = pos = 0
    for i, (literals, match, offset) in enumerate(sequences):
        pos += literals
        if i == len(sequences) - 1 or i in keep:
            n = pos - start
            m = match - 4
            out.append(min(n, 15) << 4 | (min(m, 15) if match else 0))
            if n >= 15:
                out += _lz4_length_bytes(n - 15)
            out += body[start:pos]
            if match:
                out += bytes((offset & 0xFF, offset >> 8))
                if m >= 15:
                    out += _lz4_length_bytes(m - 15)
        pos += match
        if i in keep:
            start = pos
    return bytes(out)


def encode_batch(messages: Sequence[Message], chain_id: int) -> bytes:
    """The payload of `messages`; ValueError if they exceed the caps (see BatchEncoder)."""
    encoder = BatchEncoder(chain_id)
    encoder.add_messages(messages)
    return encoder.payload()


# -- decoder --------------------------------------------------------------------------------


def decode_batch(payload: bytes, chain_id: int) -> list[Message]:
    """The messages of a payload; BatchDecodeError (saying why) for anything L1 would reject."""
    if not payload:
        raise BatchDecodeError("empty payload")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BatchDecodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if payload[0] != VERSION:
        raise BatchDecodeError(f"unknown batch version {payload[0]}")
    body = lz4_decompress(payload, 1, MAX_DECOMPRESSED_BYTES)
    return _Decoder(body, chain_id).messages()


def lz4_decompress(src: bytes, start: int, limit: int) -> bytes:
    """Strict LZ4 block decoder: every sequence well formed, output at most `limit` bytes.

    Rules (mirrored on L1): 1 to MAX_SEQUENCES sequences; a sequence is a token, literal length
    (extended by bytes while 255), literals; then, unless the input ends exactly there, a
    2-byte little-endian offset in 1..output so far and a match length (+4, extended
    likewise). A block that ends right after a match is truncated.
    """
    out = bytearray()
    pos = start
    end = len(src)
    sequences = 0
    while True:
        if pos >= end:
            raise BatchDecodeError("lz4: truncated block")
        sequences += 1
        if sequences > MAX_SEQUENCES:
            raise BatchDecodeError(f"lz4: more than {MAX_SEQUENCES} sequences")
        token = src[pos]
        pos += 1
        length = token >> 4
        if length == 15:
            pos, length = _lz4_length(src, pos, end, length)
        if pos + length > end:
            raise BatchDecodeError("lz4: literals run past the end of the block")
        if len(out) + length > limit:
            raise BatchDecodeError(f"lz4: output exceeds {limit} bytes")
        out += src[pos : pos + length]
        pos += length
        if pos == end:
            return bytes(out)
        if pos + 2 > end:
            raise BatchDecodeError("lz4: truncated match offset")
        offset = src[pos] | src[pos + 1] << 8
        pos += 2
        if offset == 0 or offset > len(out):
            raise BatchDecodeError(f"lz4: match offset {offset} outside the {len(out)} bytes decoded")
        length = token & 15
        if length == 15:
            pos, length = _lz4_length(src, pos, end, length)
        length += 4
        if len(out) + length > limit:
            raise BatchDecodeError(f"lz4: output exceeds {limit} bytes")
        begin = len(out) - offset
        if offset >= length:
            out += out[begin : begin + length]
        else:
            out += (bytes(out[begin:]) * (length // offset + 1))[:length]


def _lz4_length(src: bytes, pos: int, end: int, length: int) -> tuple[int, int]:
    while True:
        if pos >= end:
            raise BatchDecodeError("lz4: truncated length")
        b = src[pos]
        pos += 1
        length += b
        if b != 255:
            return pos, length


class _Cursor:
    """A read position inside one column of the body."""

    __slots__ = ("body", "pos", "end", "name")

    def __init__(self, body: bytes, pos: int, end: int, name: str) -> None:
        self.body, self.pos, self.end, self.name = body, pos, end, name

    def byte(self) -> int:
        if self.pos >= self.end:
            raise BatchDecodeError(f"column {self.name} exhausted")
        self.pos += 1
        return self.body[self.pos - 1]

    def take(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise BatchDecodeError(f"column {self.name}: {n} bytes wanted, {self.end - self.pos} left")
        self.pos += n
        return self.body[self.pos - n : self.pos]

    def varint(self) -> int:
        """Canonical LEB128 below 2^64: at most 10 bytes, the 10th at most 1, no zero last byte."""
        value = 0
        for i in range(10):
            b = self.byte()
            if i == 9 and b > 1:
                raise BatchDecodeError(f"column {self.name}: varint above 2^64-1")
            value |= (b & 0x7F) << (7 * i)
            if b < 0x80:
                if b == 0 and i:
                    raise BatchDecodeError(f"column {self.name}: non-canonical varint")
                return value
        raise AssertionError("unreachable: the 10th byte is at most 1")

    def small_int(self) -> int:
        width = self.byte()
        if width > 32:
            raise BatchDecodeError(f"column {self.name}: integer width {width} above 32")
        data = self.take(width)
        if width and not data[0]:
            raise BatchDecodeError(f"column {self.name}: non-canonical integer")
        return int.from_bytes(data, "big")

    def finish(self) -> None:
        if self.pos != self.end:
            raise BatchDecodeError(f"column {self.name}: {self.end - self.pos} bytes left over")


class _Decoder:
    """Reads the columns of a decompressed body; every read bounds-checked against its column."""

    def __init__(self, body: bytes, chain_id: int) -> None:
        self.chain_id = chain_id
        header = _Cursor(body, 0, len(body), "header")
        self.count = header.varint()
        if self.count > MAX_MESSAGES:
            raise BatchDecodeError(f"{self.count} messages exceed {MAX_MESSAGES}")
        lengths = [header.varint() for _ in range(NUM_COLUMNS)]
        offset = header.pos
        if offset + sum(lengths) != len(body):
            raise BatchDecodeError(f"column lengths add up to {offset + sum(lengths)}, body has {len(body)} bytes")
        if lengths[KINDS] != self.count:
            raise BatchDecodeError(f"{lengths[KINDS]} kinds for {self.count} messages")
        self.cols: list[_Cursor] = []
        for name, n in zip(COLUMNS, lengths, strict=True):
            self.cols.append(_Cursor(body, offset, offset + n, name))
            offset += n
        self.prev_ints = [0] * len(INT_FIELDS)
        self.table: list[bytes] = []
        self.txs = 0
        self.calldata = 0

    def messages(self) -> list[Message]:
        cols = self.cols
        kinds = cols[KINDS].take(self.count)
        out: list[Message] = []
        ts = origin = next_delayed = 0
        for kind in kinds:
            if kind == KIND_BLOCK_START:
                ts = apply_zigzag(ts, cols[TIMESTAMPS].varint())
                origin = apply_zigzag(origin, cols[ORIGINS].varint())
                out.append(BlockStart(ts, origin))
            elif kind == KIND_TX:
                out.append(L2Tx(self.tx().signed_bytes(self.chain_id)))
            elif kind == KIND_DELAYED:
                index = apply_zigzag(next_delayed, cols[DELAYED_COL].varint())
                next_delayed = (index + 1) % TWO64
                out.append(Delayed(index))
            elif kind == KIND_RAW_TX:
                raw = cols[RAW]
                out.append(L2Tx(raw.take(raw.varint())))
            else:
                raise BatchDecodeError(f"unknown message kind {kind}")
        for i, cur in enumerate(cols):
            if i != PARITY:
                cur.finish()
        parity = cols[PARITY]
        if parity.end - parity.pos != (self.txs + 7) >> 3:
            raise BatchDecodeError("column parity: wrong length")
        if self.txs & 7 and parity.body[parity.end - 1] >> (self.txs & 7):
            raise BatchDecodeError("column parity: padding bits set")
        return out

    def int(self, field: int) -> int:
        widths = self.cols[INT_COLUMNS + 3 * field]
        width = widths.byte()
        if width == REPEAT:
            return self.prev_ints[field]
        if width > 32:
            raise BatchDecodeError(f"column {widths.name}: width {width} above 32")
        value = 0
        if width:
            low = self.cols[INT_COLUMNS + 3 * field + 1].byte()
            high = self.cols[INT_COLUMNS + 3 * field + 2].take(width - 1)
            if (high[0] if high else low) == 0:
                raise BatchDecodeError(f"column {widths.name}: non-canonical width {width}")
            value = int.from_bytes(high, "big") << 8 | low
        self.prev_ints[field] = value
        return value

    def tx(self) -> CompactTx:
        cols = self.cols
        tx_type = cols[TYPES].byte()
        if tx_type not in TX_TYPES:
            raise BatchDecodeError(f"unknown transaction type {tx_type}")
        n = self.txs
        parity = cols[PARITY]
        if n >> 3 >= parity.end - parity.pos:
            raise BatchDecodeError("column parity exhausted")
        y_parity = parity.body[parity.pos + (n >> 3)] >> (n & 7) & 1
        self.txs = n + 1
        sig = cols[SIGNATURES].take(64)
        nonce, gas, fee_cap = self.int(NONCE), self.int(GAS), self.int(FEE_CAP)
        tip = self.int(TIP) if tx_type >= 2 else 0
        value = self.int(VALUE)
        ref = cols[TO].varint()
        if ref == 0:
            to = b""
        elif ref == 1:
            to = cols[ADDRESSES].take(20)
            self.table.append(to)
        elif ref - 2 < len(self.table):
            to = self.table[ref - 2]
        else:
            raise BatchDecodeError(f"recipient index {ref - 2} not in the table of {len(self.table)}")
        data = self._data()
        access: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()
        auths: tuple[Authorization, ...] = ()
        if tx_type:
            access = tuple(self._access_entry() for _ in range(cols[ACCESS].varint()))
        if tx_type == 4:
            auths = tuple(self._authorization() for _ in range(cols[AUTHS].varint()))
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        return CompactTx(tx_type, nonce, fee_cap, tip, gas, to, value, data, access, auths, y_parity, r, s)

    def _data(self) -> bytes:
        cols = self.cols
        length = cols[DATA_LENGTHS].varint()
        self.calldata += length
        if self.calldata > MAX_CALLDATA_BYTES:
            raise BatchDecodeError(f"transactions' calldata exceeds {MAX_CALLDATA_BYTES} bytes")
        tails = cols[TAILS]
        if length < 4:
            return tails.take(length)
        zeros = cols[ZEROS]
        parts = [cols[SELECTORS].take(4)]
        left = length - 4
        while left:
            size = min(32, left)
            z = zeros.byte()
            if z > size:
                raise BatchDecodeError(f"{z} leading zeros in a {size}-byte data word")
            parts.append(bytes(z))
            parts.append(tails.take(size - z))
            left -= size
        return b"".join(parts)

    def _access_entry(self) -> tuple[bytes, tuple[bytes, ...]]:
        access = self.cols[ACCESS]
        address = access.take(20)
        keys = access.varint()
        data = access.take(32 * keys)
        return address, tuple(data[i : i + 32] for i in range(0, len(data), 32))

    def _authorization(self) -> Authorization:
        a = self.cols[AUTHS]
        chain_id = a.small_int()
        address = a.take(20)
        nonce = a.small_int()
        y_parity = a.small_int()
        sig = a.take(64)
        return Authorization(
            chain_id, address, nonce, y_parity, int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        )
