"""Batch codec v1 (l2/codec.py): round trips over generated message streams with real signed
transactions of every type, strict rejection of garbage, the caps, and the test vector of
docs/batch-codec.md. The agreement with the L1 decoder is in tests/integration/test_batch_decoder.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import lz4.block
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2.codec import (
    KIND_RAW_TX,
    KIND_TX,
    KINDS,
    MAX_CALLDATA_BYTES,
    MAX_DECOMPRESSED_BYTES,
    MAX_MESSAGES,
    MAX_PAYLOAD_BYTES,
    MAX_SEQUENCES,
    NUM_COLUMNS,
    VERSION,
    BatchEncoder,
    cap_sequences,
    compact_tx,
    decode_batch,
    encode_batch,
    lz4_decompress,
    lz4_sequences,
    varint,
)
from l2.errors import BatchDecodeError, RollupError
from l2.messages import BlockStart, Delayed, L2Tx, message_hash, message_root
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from tests.batch_cases import (
    CHAIN_ID,
    full_batch,
    lz4_fragmented,
    message_streams,
    minimal_tx,
    signed_txs,
    worst_case_batches,
    zero_calldata_tx,
)

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "batch-codec.json").read_text())
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def lz4_hc(body: bytes) -> bytes:
    return bytes((VERSION,)) + lz4.block.compress(body, mode="high_compression", compression=12, store_size=False)


def columns_of(body: bytes) -> tuple[int, list[bytes]]:
    """(message count, columns) of a body, read by a varint reader of the test's own."""
    pos = 0

    def read() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            b = body[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    count = read()
    lengths = [read() for _ in range(NUM_COLUMNS)]
    columns = []
    for n in lengths:
        columns.append(body[pos : pos + n])
        pos += n
    return count, columns


def body_from(count: int, columns: dict[int, bytes]) -> bytes:
    cols = [columns.get(i, b"") for i in range(NUM_COLUMNS)]
    return varint(count) + b"".join(varint(len(c)) for c in cols) + b"".join(cols)


def decodes_or_rejects(payload: bytes) -> None:
    """Whatever the bytes, decode_batch returns messages or raises BatchDecodeError, nothing else."""
    try:
        messages = decode_batch(payload, CHAIN_ID)
    except BatchDecodeError:
        return
    assert isinstance(messages, list)


# -- round trips --------------------------------------------------------------------------


@FAST
@given(message_streams)
def test_decode_inverts_encode(messages):
    assert decode_batch(encode_batch(messages, CHAIN_ID), CHAIN_ID) == messages


@FAST
@given(signed_txs())
def test_every_transaction_type_of_the_chain_is_compact(raw):
    """Legacy EIP-155, 2930, 1559 and 7702 transactions of our chain id never need the raw column."""
    tx = compact_tx(raw, CHAIN_ID)
    assert tx is not None and tx.signed_bytes(CHAIN_ID) == raw
    encoder = BatchEncoder(CHAIN_ID)
    encoder.add_messages([L2Tx(raw)])
    assert columns_of(encoder.body())[1][KINDS] == bytes((KIND_TX,))


def test_what_the_sequencer_accepts_is_compact():
    """The workload transactions pass the sequencer's stateless rules and encode compactly."""
    from bench.workloads import mixed

    spec = ChainSpec(chain_id=CHAIN_ID)
    for raw in mixed(40, CHAIN_ID).txs:
        decode_transaction(raw, spec)
        assert compact_tx(raw, CHAIN_ID) is not None


def test_foreign_transactions_go_raw_and_round_trip():
    other_chain = bytes.fromhex(VECTORS["messages"][-1]["raw"][2:])
    assert compact_tx(other_chain, CHAIN_ID) is None
    for raw in (other_chain, b"", b"\x03", b"\xc0", b"\x02\xc0", b"garbage"):
        encoder = BatchEncoder(CHAIN_ID)
        encoder.add_messages([L2Tx(raw)])
        assert columns_of(encoder.body())[1][KINDS] == bytes((KIND_RAW_TX,))
        assert decode_batch(encoder.payload(), CHAIN_ID) == [L2Tx(raw)]


def test_realistic_batches_round_trip_fill_the_body_and_beat_brotli_size():
    import brotli

    from bench.workloads import erc20_transfers, eth_transfers, mixed

    for make in (eth_transfers, erc20_transfers, mixed):
        txs = make(700, CHAIN_ID).txs
        encoder = full_batch(txs)
        payload = encoder.payload()
        assert decode_batch(payload, CHAIN_ID) == encoder.messages
        assert MAX_DECOMPRESSED_BYTES - 1500 < encoder.body_size() <= MAX_DECOMPRESSED_BYTES
        batch_txs = [m.raw for m in encoder.messages if isinstance(m, L2Tx)]
        assert len(payload) < len(brotli.compress(b"".join(batch_txs), quality=11))


# -- the batch encoder ----------------------------------------------------------------------


def test_add_block_is_all_or_nothing_and_sizes_are_exact():
    from bench.workloads import eth_transfers

    txs = eth_transfers(30, CHAIN_ID).txs
    encoder = BatchEncoder(CHAIN_ID, max_body=1500)
    assert encoder.add_block([BlockStart(10, 1), *map(L2Tx, txs[:3])])  # 3 txs: a parity byte in use
    assert encoder.body_size() == len(encoder.body())
    kept = list(encoder.messages)
    assert not encoder.add_block([BlockStart(11, 1), *map(L2Tx, txs[3:30])])
    assert encoder.messages == kept and encoder.body_size() == len(encoder.body())
    assert decode_batch(encoder.payload(), CHAIN_ID) == kept  # rolled-back parity bits are cleared
    assert encoder.add_block([BlockStart(12, 2), L2Tx(txs[3]), Delayed(0)])
    assert decode_batch(encoder.payload(), CHAIN_ID) == [*kept, BlockStart(12, 2), L2Tx(txs[3]), Delayed(0)]


def test_message_cap_and_encode_batch_refuse_too_much():
    encoder = BatchEncoder(CHAIN_ID)
    while encoder.add_block([Delayed(len(encoder))]):
        pass
    assert len(encoder) == MAX_MESSAGES
    with pytest.raises(ValueError, match="exceeds the caps"):
        encode_batch([Delayed(i) for i in range(MAX_MESSAGES + 1)], CHAIN_ID)
    with pytest.raises(ValueError):
        encode_batch([BlockStart(1 << 64, 0)], CHAIN_ID)


def test_calldata_beyond_the_cap_goes_raw():
    big, small = zero_calldata_tx(60_000), zero_calldata_tx(12_000)  # 132,000 bytes in all
    assert 120_000 <= MAX_CALLDATA_BYTES < 132_000
    encoder = BatchEncoder(CHAIN_ID)
    assert encoder.add_block([big, big, small])
    assert list(columns_of(encoder.body())[1][KINDS]) == [KIND_TX, KIND_TX, KIND_RAW_TX]
    assert decode_batch(encoder.payload(), CHAIN_ID) == [big, big, small]


def test_sequence_cap_folds_the_shortest_matches_into_literals():
    encoder = BatchEncoder(CHAIN_ID)
    encoder.add_messages([minimal_tx(r) for r in range(1, 400)])
    body = encoder.body()
    many = lz4_fragmented(body, cap=10**6)
    assert len(lz4_sequences(many)) > MAX_SEQUENCES
    with pytest.raises(BatchDecodeError, match="sequences"):
        decode_batch(bytes((VERSION,)) + many, CHAIN_ID)
    capped = cap_sequences(body, many, MAX_SEQUENCES)
    assert len(lz4_sequences(capped)) == MAX_SEQUENCES
    assert decode_batch(bytes((VERSION,)) + capped, CHAIN_ID) == encoder.messages


def test_worst_case_batches_are_valid():
    """The adversarial batches the L1 gas test measures are within every cap and decode."""
    for name, payload in worst_case_batches().items():
        assert len(payload) <= MAX_PAYLOAD_BYTES, name
        assert decode_batch(payload, CHAIN_ID), name


# -- strict rejection -------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_are_rejected_cleanly(data):
    decodes_or_rejects(data)
    decodes_or_rejects(bytes((VERSION,)) + data)


@FAST
@given(message_streams, st.data())
def test_truncated_and_bit_flipped_payloads_are_rejected_cleanly(messages, data):
    payload = encode_batch(messages, CHAIN_ID)
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(BatchDecodeError):
        decode_batch(payload[:cut], CHAIN_ID)
    flipped = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        flipped[data.draw(st.integers(0, len(payload) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    decodes_or_rejects(bytes(flipped))


@FAST
@given(message_streams, st.data())
def test_corrupted_bodies_are_rejected_cleanly(messages, data):
    """Corrupt the decompressed body (so the column rules, not LZ4, are what gets tested)."""
    encoder = BatchEncoder(CHAIN_ID)
    encoder.add_messages(messages)
    body = bytearray(encoder.body())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.sampled_from([0, 1, 2, 3, 4, 0x20, 0x21, 0x22, 0x7F, 0x80, 0xFF, body[i] ^ 1]))
    if data.draw(st.booleans()):
        del body[data.draw(st.integers(0, len(body) - 1))]
    decodes_or_rejects(lz4_hc(bytes(body)))


def test_zip_bombs_and_caps_are_rejected():
    zeros = bytes(MAX_DECOMPRESSED_BYTES + 1)
    with pytest.raises(BatchDecodeError, match="output exceeds"):
        decode_batch(lz4_hc(zeros), CHAIN_ID)
    # one literal then a match as long as 255-byte length extensions allow
    bomb = bytes((VERSION, 0x1F, 0)) + b"\x01\x00" + b"\xff" * 20_000 + b"\x00" + b"\x00"
    with pytest.raises(BatchDecodeError):
        decode_batch(bomb, CHAIN_ID)
    with pytest.raises(BatchDecodeError, match="exceeds"):
        decode_batch(bytes((VERSION,)) + bytes(MAX_PAYLOAD_BYTES), CHAIN_ID)
    header = varint(MAX_MESSAGES + 1) + varint(MAX_MESSAGES + 1) + bytes(NUM_COLUMNS - 1)
    with pytest.raises(BatchDecodeError, match="messages exceed"):
        decode_batch(lz4_hc(header + bytes(MAX_MESSAGES + 1)), CHAIN_ID)
    calldata = BatchEncoder(CHAIN_ID)
    calldata.add_messages([zero_calldata_tx(MAX_CALLDATA_BYTES // 2)] * 2)
    body = bytearray(calldata.body())
    assert decode_batch(lz4_hc(bytes(body)), CHAIN_ID)
    calldata_over = bytes(body).replace(varint(MAX_CALLDATA_BYTES // 2), varint(MAX_CALLDATA_BYTES // 2 + 1), 2)
    with pytest.raises(BatchDecodeError):
        decode_batch(lz4_hc(calldata_over), CHAIN_ID)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "empty"),
        (b"\x02\x10\x00", "version"),
        (b"\x01", "truncated block"),
        (b"\x01\x10", "literals run past"),
        (b"\x01\x10\x00\x01\x00", "truncated block"),  # ends right after a match
        (b"\x01\x10\x00\x02\x00\x00", "offset 2"),
        (b"\x01\x10\x00\x00\x00\x00", "offset 0"),
        (b"\x01\x10\x00\x01", "truncated match offset"),
        (b"\x01\xf0", "truncated length"),
    ],
)
def test_lz4_rules(payload, why):
    with pytest.raises(BatchDecodeError, match=why):
        decode_batch(payload, CHAIN_ID)


def test_lz4_overlapping_matches_repeat_their_period():
    # "abc" then a match of 10 at offset 3 then the final literal "!"
    block = bytes((0x36,)) + b"abc" + b"\x03\x00" + bytes((0x10,)) + b"!"
    assert lz4_decompress(bytes((VERSION,)) + block, 1, 100) == b"abc" * 4 + b"a!"


def test_column_rules():
    from l2.codec import DELAYED_COL, ORIGINS, PARITY, TIMESTAMPS, TYPES

    ok = body_from(1, {KINDS: b"\x00", TIMESTAMPS: b"\x0a", ORIGINS: b"\x0c"})
    assert decode_batch(lz4_hc(ok), CHAIN_ID) == [BlockStart(5, 6)]
    for bad, why in [
        (ok + b"\x00", "add up"),
        (body_from(1, {KINDS: b"\x07"}), "unknown message kind"),
        (body_from(1, {KINDS: b"\x00\x00", TIMESTAMPS: b"\x0a", ORIGINS: b"\x0c"}), "2 kinds for 1"),
        (body_from(1, {KINDS: b"\x00", TIMESTAMPS: b"\x8a\x00", ORIGINS: b"\x0c"}), "non-canonical varint"),
        (body_from(1, {KINDS: b"\x00", TIMESTAMPS: b"\xff" * 9 + b"\x02", ORIGINS: b"\x0c"}), "above 2\\^64"),
        (body_from(1, {KINDS: b"\x00", TIMESTAMPS: b"\x0a\x00", ORIGINS: b"\x0c"}), "left over"),
        (body_from(1, {KINDS: b"\x00", TIMESTAMPS: b"\x0a"}), "origins exhausted"),
        (body_from(1, {KINDS: b"\x02", DELAYED_COL: b"\x00", PARITY: b"\x00"}), "parity"),
        (body_from(1, {KINDS: b"\x01", TYPES: b"\x03"}), "transaction type 3"),
    ]:
        with pytest.raises(BatchDecodeError, match=why):
            decode_batch(lz4_hc(bad), CHAIN_ID)


def test_batch_decode_error_is_a_rollup_error():
    assert issubclass(BatchDecodeError, RollupError)


# -- the test vector of docs/batch-codec.md ---------------------------------------------------


def vector_messages():
    out = []
    for m in VECTORS["messages"]:
        if m["kind"] == "BlockStart":
            out.append(BlockStart(m["timestamp"], m["l1OriginNumber"]))
        elif m["kind"] == "Delayed":
            out.append(Delayed(m["index"]))
        else:
            out.append(L2Tx(bytes.fromhex(m["raw"][2:])))
    return out


def test_vector():
    messages = vector_messages()
    payload = bytes.fromhex(VECTORS["payload"][2:])
    body = bytes.fromhex(VECTORS["body"][2:])
    assert decode_batch(payload, VECTORS["chainId"]) == messages
    assert lz4_decompress(payload, 1, MAX_DECOMPRESSED_BYTES) == body
    encoder = BatchEncoder(VECTORS["chainId"])
    assert encoder.add_block(messages)
    assert encoder.body() == body
    columns = [bytes.fromhex(c[2:]) for c in VECTORS["columns"].values()]
    header = varint(len(messages)) + b"".join(varint(len(c)) for c in columns)
    assert header + b"".join(columns) == body
    assert [message_hash(m).hex() for m in messages] == [h[2:] for h in VECTORS["messageHashes"]]
    assert message_root(messages).hex() == VECTORS["messageRoot"][2:] and len(messages) == VECTORS["messageCount"]
