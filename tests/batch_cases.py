"""Batches for the codec tests: hypothesis strategies of message streams with real signed
transactions of every type, corruptions, and the adversarial batches that bound L1 decode gas.

Shared by tests/unit/test_codec.py and tests/integration/test_batch_decoder.py.
"""

from __future__ import annotations

from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import strategies as st

from l2.codec import (
    MAX_CALLDATA_BYTES,
    MAX_MESSAGES,
    MAX_SEQUENCES,
    VERSION,
    Authorization,
    BatchEncoder,
    CompactTx,
)
from l2.messages import MAX_UINT64, BlockStart, Delayed, L2Tx, Message

CHAIN_ID = 901
KEYS = [keccak(f"codec-test/{i}".encode()) for i in range(4)]
U256 = (1 << 256) - 1

addresses = st.sampled_from([keccak(bytes([i]))[:20] for i in range(6)])
# Magnitudes that matter for the columns: zero, one byte, repeats, the extremes.
uint64s = st.one_of(st.sampled_from([0, 1, 127, 128, 255, 256, 21_000, MAX_UINT64]), st.integers(0, MAX_UINT64))
uint256s = st.one_of(st.sampled_from([0, 1, 10**9, 10**18, U256]), st.integers(0, U256))
calldata = st.one_of(
    st.binary(max_size=80),
    st.builds(
        lambda sel, words: sel + b"".join(words),
        st.binary(min_size=4, max_size=4),
        st.lists(st.sampled_from([bytes(32), bytes(12) + b"\x01" * 20, b"\xff" * 32, bytes(31) + b"\x07"]), max_size=4),
    ),
)
access_lists = st.lists(
    st.fixed_dictionaries(
        {
            "address": addresses.map(to_checksum_address),
            "storageKeys": st.lists(st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex()), max_size=3),
        }
    ),
    max_size=3,
)


@st.composite
def signed_txs(draw: st.DrawFn) -> bytes:
    """A transaction signed for CHAIN_ID: legacy EIP-155, EIP-2930, EIP-1559 or EIP-7702."""
    tx_type = draw(st.sampled_from([0, 1, 2, 4]))
    key = draw(st.sampled_from(KEYS))
    tx: dict = {
        "chainId": CHAIN_ID,
        "nonce": draw(uint64s),
        "gas": draw(uint64s),
        "value": draw(uint256s),
        "data": draw(calldata),
    }
    to = draw(st.one_of(st.none(), addresses)) if tx_type != 4 else draw(addresses)
    if to is not None:
        tx["to"] = to_checksum_address(to)
    if tx_type in (0, 1):
        tx["gasPrice"] = draw(uint256s)
    else:
        tx["maxFeePerGas"] = draw(uint256s)
        tx["maxPriorityFeePerGas"] = draw(uint256s)
    if tx_type:
        tx["type"] = tx_type
        tx["accessList"] = draw(access_lists)
    if tx_type == 4:
        auths = []
        for _ in range(draw(st.integers(1, 2))):  # EIP-7702: at least one
            target = {
                "chainId": draw(st.sampled_from([0, CHAIN_ID, 1])),
                "address": to_checksum_address(draw(addresses)),
                "nonce": draw(uint64s),
            }
            auths.append(Account.from_key(draw(st.sampled_from(KEYS))).sign_authorization(target))
        tx["authorizationList"] = auths
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


@st.composite
def foreign_txs(draw: st.DrawFn) -> bytes:
    """What the compact columns cannot rebuild: another chain id, pre-EIP-155 legacy, junk."""
    key = draw(st.sampled_from(KEYS))
    base = {
        "nonce": draw(uint64s),
        "gas": 21_000,
        "gasPrice": 10**9,
        "to": to_checksum_address(draw(addresses)),
        "value": draw(uint256s),
    }
    return draw(
        st.one_of(
            st.just(bytes(Account.sign_transaction({**base, "chainId": 1}, key).raw_transaction)),
            st.just(bytes(Account.sign_transaction(base, key).raw_transaction)),  # no chain id: pre-EIP-155
            st.binary(max_size=40),
        )
    )


@st.composite
def compact_shapes(draw: st.DrawFn) -> bytes:
    """Unsigned but well-formed compact transactions of any shape (fast: no signing): empty or
    long lists, long calldata, small r and s, creation by a set-code transaction..."""
    tx_type = draw(st.sampled_from([0, 1, 2, 4]))
    keys = st.lists(st.binary(min_size=32, max_size=32), max_size=3)
    auth = st.builds(Authorization, uint256s, addresses, uint256s, st.integers(0, 300), uint256s, uint256s)
    tx = CompactTx(
        tx_type=tx_type,
        nonce=draw(uint64s),
        fee_cap=draw(uint256s),
        tip=draw(uint256s) if tx_type >= 2 else 0,
        gas=draw(uint64s),
        to=draw(st.sampled_from([b""]) | addresses),
        value=draw(uint256s),
        data=draw(calldata | st.binary(min_size=50, max_size=300)),
        access_list=tuple(draw(st.lists(st.tuples(addresses, keys.map(tuple)), max_size=3))) if tx_type else (),
        authorizations=tuple(draw(st.lists(auth, max_size=2))) if tx_type == 4 else (),
        y_parity=draw(st.integers(0, 1)),
        r=draw(uint256s),
        s=draw(uint256s),
    )
    return tx.signed_bytes(CHAIN_ID)


messages = st.one_of(
    st.builds(BlockStart, uint64s, uint64s),
    st.builds(Delayed, uint64s),
    signed_txs().map(L2Tx),
    compact_shapes().map(L2Tx),
    foreign_txs().map(L2Tx),
)
message_streams = st.lists(messages, max_size=12)


def lz4_fragmented(body: bytes, cap: int = MAX_SEQUENCES) -> bytes:
    """An LZ4 block of `body` with as many sequences as allowed: a 4-byte match wherever one
    exists (most expensive to decode on L1), the rest as the final literals."""
    out = bytearray()
    last: dict[bytes, int] = {}
    start = i = sequences = 0

    def length(extra: int) -> bytes:
        return b"\xff" * (extra // 255) + bytes((extra % 255,))

    while i + 4 < len(body) and sequences < cap - 1:
        j = last.get(body[i : i + 4])
        last[body[i : i + 4]] = i
        if j is None:
            i += 1
            continue
        literals = body[start:i]
        out.append(min(len(literals), 15) << 4)
        if len(literals) >= 15:
            out += length(len(literals) - 15)
        out += literals + (i - j).to_bytes(2, "little")
        i += 4
        start = i
        sequences += 1
    literals = body[start:]
    out.append(min(len(literals), 15) << 4)
    if len(literals) >= 15:
        out += length(len(literals) - 15)
    return bytes(out + literals)


def fragmented_payload(encoder: BatchEncoder) -> bytes:
    return bytes((VERSION,)) + lz4_fragmented(encoder.body())


def minimal_tx(r: int = 1) -> L2Tx:
    """The compact transaction with the fewest body bytes (72) for its decode gas."""
    return L2Tx(CompactTx(0, 0, 0, 0, 0, b"", 0, b"", (), (), 0, r, r).signed_bytes(CHAIN_ID))


def zero_calldata_tx(size: int) -> L2Tx:
    """Calldata of zero words: one body byte stands for 32 bytes rebuilt and hashed on L1."""
    data = b"\x01\x02\x03\x04" + bytes(size - 4)
    return L2Tx(CompactTx(2, 0, 0, 0, 0, b"", 0, data, (), (), 0, 1, 1).signed_bytes(CHAIN_ID))


def worst_case_batches() -> dict[str, bytes]:
    """Payloads within every cap built to cost the L1 decoder the most, each a valid batch:
    the calldata cap spent on zero words, the message cap on the cheapest messages, the rest
    of the body on minimal transactions, and as many LZ4 sequences as allowed."""
    out = {}
    bomb = [zero_calldata_tx(MAX_CALLDATA_BYTES // 4)] * 4
    fillers = {"raw": lambda i: L2Tx(b""), "delayed": Delayed, "block_starts": lambda i: BlockStart(i, i // 12)}
    for name, filler in fillers.items():
        encoder = BatchEncoder(CHAIN_ID)
        assert encoder.add_block(bomb)
        # fill with minimal txs, keeping room in the message cap for cheap messages
        cheap = 1240  # about the most expensive mix: see docs/batch-codec.md, "Caps"
        while encoder.add_block([minimal_tx()]) and len(encoder) < MAX_MESSAGES - cheap:
            pass
        i = 0
        while encoder.add_block([filler(i)]):
            i += 1
        out[f"zero_words_min_txs_{name}_lz4_max_sequences"] = fragmented_payload(encoder)
    encoder = BatchEncoder(CHAIN_ID)
    while encoder.add_block([minimal_tx()]):
        pass
    out["min_txs_lz4_max_sequences"] = fragmented_payload(encoder)
    return out


def full_batch(txs: list[bytes], per_block: int = 10, origin_every: int = 12) -> BatchEncoder:
    """Whole blocks of `txs` (1 s apart, a new L1 origin every `origin_every`) until the batch is full."""
    encoder = BatchEncoder(CHAIN_ID)
    for b, i in enumerate(range(0, len(txs), per_block)):
        block: list[Message] = [BlockStart(1_700_000_000 + b, 20_000_000 + b // origin_every)]
        block += [L2Tx(raw) for raw in txs[i : i + per_block]]
        if not encoder.add_block(block):
            break
    return encoder
