"""Deposits (type 0x7E, docs/state-transition.md "Deposits"): encoding, execution, storage, JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from eth_hash.auto import keccak
from eth_utils import to_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.workloads import Key
from l2 import ethjson
from l2.chain import L2Chain
from l2.deposits import DEPOSIT_TX_TYPE, Deposit, DepositTransaction, deposit_transaction, is_deposit
from l2.errors import InvalidTransaction
from l2.execution import L2Block
from l2.spec import ChainSpec, GenesisAccount
from l2.transactions import L2TransactionBuilder, decode_transaction
from l2.types import Head
from tests.conftest import attrs
from tests.unit.test_state_transition import SINK, signed

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "deposit-tx.json").read_text())

L1_USER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")  # no L2 funds in the test spec
L1_OTHER = bytes.fromhex("70997970c51812dc3a010c7d01b50e0d17dc79c8")
# Copies calldata to memory, LOG1(data = calldata, topic = CALLER), SSTORE(0, CALLVALUE).
LOGGER = bytes.fromhex("4200000000000000000000000000000000000a01")
LOGGER_CODE = bytes.fromhex("36600060003733366000a13460005500")
# SSTORE(0, 1) then REVERT: the write must not survive.
REVERTER = bytes.fromhex("4200000000000000000000000000000000000a02")
REVERTER_CODE = bytes.fromhex("600160005560006000fd")
# JUMPDEST PUSH1 0 JUMP: burns every gas it is given.
LOOP = bytes.fromhex("4200000000000000000000000000000000000a03")
LOOP_CODE = bytes.fromhex("5b600056")


def deposit(index: int, to: bytes = SINK, value: int = 0, gas: int = 21_000, data: bytes = b"",
            sender: bytes = L1_USER) -> DepositTransaction:
    return deposit_transaction(Deposit(index, sender, to, value, gas, data))


@pytest.fixture
def contracts_spec(spec: ChainSpec) -> ChainSpec:
    alloc = dict(spec.alloc)
    for address, code in ((LOGGER, LOGGER_CODE), (REVERTER, REVERTER_CODE), (LOOP, LOOP_CODE)):
        alloc[address] = GenesisAccount(code=code)
    return replace(spec, alloc=tuple(sorted(alloc.items())))


@pytest.fixture
def contracts_chain(tmp_path: Path, contracts_spec: ChainSpec):
    chain = L2Chain.open(tmp_path / "contracts", contracts_spec, map_size=1 << 28)
    yield chain
    chain.close()


def stored(chain: L2Chain, header) -> tuple[tuple, tuple]:
    """Transactions and receipts as read back from LMDB with the L2 (deposit-aware) builders."""
    txs = chain.chaindb.get_block_transactions(header, L2Block.transaction_builder)
    receipts = tuple(chain.chaindb.get_receipts(header, L2Block.receipt_builder))
    return txs, receipts


# -- execution --------------------------------------------------------------------------


def test_deposit_mints_value_to_sender_then_transfers_it(chain, spec):
    vault_before = chain.state_at(chain.head(Head.UNSAFE)).get_balance(spec.fee_recipient)
    tx = deposit(0, to=L1_OTHER, value=10**18)
    sealed, skipped = chain.build_block(attrs(1), [tx])
    assert not skipped
    (receipt,) = sealed.receipts
    assert receipt.type_id == DEPOSIT_TX_TYPE and receipt.encode()[0] == DEPOSIT_TX_TYPE
    assert receipt.state_root == b"\x01" and receipt.gas_used == 21_000
    assert sealed.header.gas_used == 21_000
    state = chain.state_at(sealed.header)
    assert state.get_balance(L1_OTHER) == 10**18
    assert state.get_balance(L1_USER) == 0  # minted, then sent on: no fee taken
    assert state.get_nonce(L1_USER) == 1
    assert state.get_balance(spec.fee_recipient) == vault_before


def test_deposit_to_self_keeps_value_on_l2(chain):
    sealed, _ = chain.build_block(attrs(1), [deposit(0, to=L1_USER, value=7), deposit(1, to=L1_USER, value=5)])
    state = chain.state_at(sealed.header)
    assert state.get_balance(L1_USER) == 12
    assert state.get_nonce(L1_USER) == 2


def test_deposits_then_normal_transactions_and_vice_versa(chain, spec, keys):
    fresh = Key.derive("fresh", 0)  # funded only by the deposit
    first = [
        deposit(0, to=fresh.address, value=10**18),
        decode_transaction(signed(fresh, 0, value=3), spec),  # spends the minted ETH
        decode_transaction(signed(keys[0], 0, value=4), spec),
    ]
    block1, skipped = chain.build_block(attrs(1), first)
    assert not skipped
    assert [r.gas_used for r in block1.receipts] == [21_000, 42_000, 63_000]
    assert [getattr(r, "type_id", 0) for r in block1.receipts] == [DEPOSIT_TX_TYPE, 2, 2]
    second = [
        decode_transaction(signed(keys[0], 1, value=4), spec),
        deposit(1, to=SINK, value=9),
        deposit(2, to=fresh.address, value=1, sender=L1_OTHER),
    ]
    block2, skipped = chain.build_block(attrs(2), second)
    assert not skipped
    assert block2.header.gas_used == 3 * 21_000
    state = chain.state_at(block2.header)
    assert state.get_balance(SINK) == 3 + 4 + 4 + 9
    assert state.get_nonce(fresh.address) == 1
    assert state.get_nonce(L1_USER) == 2  # both deposits of L1_USER, across blocks
    assert state.get_nonce(L1_OTHER) == 1
    assert chain.transaction_location(second[1].hash) == (2, 1)


def test_same_deposits_give_same_blocks_on_two_fresh_stores(tmp_path, spec, keys):
    """Derivation and the sequencer build deposits from the same L1 data: same blocks."""
    hashes = []
    for run in ("sequencer", "verifier"):
        chain = L2Chain.open(tmp_path / run, spec, map_size=1 << 28)
        txs = [deposit(0, value=1), decode_transaction(signed(keys[0], 0), spec), deposit(1, value=2)]
        sealed, _ = chain.build_block(attrs(1), txs)
        hashes.append((sealed.hash, sealed.header.state_root, sealed.header.receipt_root))
        chain.close()
    assert hashes[0] == hashes[1]


def test_deposit_calling_a_contract_that_emits_a_log(contracts_chain):
    payload = b"\x01\x02\x03" * 11
    tx = deposit(0, to=LOGGER, value=123, gas=100_000, data=payload)
    sealed, _ = contracts_chain.build_block(attrs(1), [tx])
    (receipt,) = sealed.receipts
    assert receipt.state_root == b"\x01"
    (log,) = receipt.logs
    assert log.address == LOGGER
    assert log.topics == (int.from_bytes(L1_USER, "big"),)
    assert log.data == payload
    assert int(sealed.header.bloom) == int(receipt.bloom) != 0
    state = contracts_chain.state_at(sealed.header)
    assert state.get_storage(LOGGER, 0) == 123
    assert state.get_balance(LOGGER) == 123
    assert 21_000 < receipt.gas_used < 100_000  # refund of the unused gas, in gas only


def test_reverting_deposit_keeps_the_mint_and_bumps_the_nonce(contracts_chain):
    tx = deposit(0, to=REVERTER, value=50, gas=100_000)
    sealed, skipped = contracts_chain.build_block(attrs(1), [tx])
    assert not skipped
    (receipt,) = sealed.receipts
    assert receipt.state_root == b""  # status 0
    assert not receipt.logs
    state = contracts_chain.state_at(sealed.header)
    assert state.get_balance(L1_USER) == 50
    assert state.get_balance(REVERTER) == 0
    assert state.get_storage(REVERTER, 0) == 0
    assert state.get_nonce(L1_USER) == 1


def test_out_of_gas_deposit_uses_its_whole_gas_and_keeps_the_mint(contracts_chain):
    sealed, _ = contracts_chain.build_block(attrs(1), [deposit(0, to=LOOP, value=8, gas=60_000)])
    (receipt,) = sealed.receipts
    assert receipt.state_root == b"" and receipt.gas_used == 60_000
    state = contracts_chain.state_at(sealed.header)
    assert state.get_balance(L1_USER) == 8 and state.get_nonce(L1_USER) == 1


def test_deposit_below_intrinsic_gas_fails_but_applies(chain):
    """DelayedInbox only asks for 21k gas: with calldata that is below the intrinsic gas."""
    tx = deposit(0, to=SINK, value=6, gas=21_000, data=b"\x01" * 100)
    assert tx.intrinsic_gas > 21_000
    sealed, skipped = chain.build_block(attrs(1), [tx])
    assert not skipped
    (receipt,) = sealed.receipts
    assert receipt.state_root == b"" and receipt.gas_used == 21_000  # exactly its gas limit
    state = chain.state_at(sealed.header)
    assert state.get_balance(L1_USER) == 6 and state.get_balance(SINK) == 0
    assert state.get_nonce(L1_USER) == 1


def test_deposit_is_exempt_from_the_block_gas_limit(tmp_path, contracts_spec, keys):
    small = replace(contracts_spec, gas_limit=100_000)
    chain = L2Chain.open(tmp_path / "small", small, map_size=1 << 28)
    builder = chain.open_block(attrs(1))
    builder.add(decode_transaction(signed(keys[0], 0), small))
    assert builder.gas_left == 79_000
    builder.add(deposit(0, to=LOOP, gas=500_000))  # more than the whole block
    builder.add(deposit(1, value=1))  # and still, once the block is over its limit
    assert builder.gas_left == 0
    with pytest.raises(InvalidTransaction) as info:
        builder.add(decode_transaction(signed(keys[0], 1), small))
    assert info.value.rule == "gas_limit"
    sealed = builder.seal()
    chain.commit(builder, sealed)
    assert sealed.header.gas_used == 21_000 + 500_000 + 21_000 > small.gas_limit
    assert [r.gas_used for r in sealed.receipts] == [21_000, 521_000, 542_000]
    # the next block's base fee reacts to the whole gas used
    assert chain.open_block(attrs(2)).base_fee == small.next_base_fee(sealed.header.base_fee_per_gas, 542_000)
    chain.close()


def test_deposit_is_never_refused_for_nonce_balance_or_fee(chain, spec, keys):
    """An account with funds and a nonce already used: a deposit needs neither."""
    chain.build_block(attrs(1), [decode_transaction(signed(keys[0], n), spec) for n in range(2)])
    tx = deposit(0, to=SINK, value=0, sender=keys[0].address)
    sealed, skipped = chain.build_block(attrs(2), [tx])
    assert not skipped
    assert chain.state_at(sealed.header).get_nonce(keys[0].address) == 3
    # and the sender's next normal transaction uses the nonce after the deposit
    sealed, skipped = chain.build_block(attrs(3), [decode_transaction(signed(keys[0], 3), spec)])
    assert not skipped


# -- encoding ---------------------------------------------------------------------------


def _vector_deposit(v: dict) -> Deposit:
    return Deposit(
        int(v["index"]), to_bytes(hexstr=v["sender"]), to_bytes(hexstr=v["to"]), int(v["value"]),
        int(v["gasLimit"]), to_bytes(hexstr=v["data"]),
    )


@pytest.mark.parametrize("v", VECTORS["deposits"], ids=lambda v: str(v["index"]))
def test_encoding_and_hash_match_the_vectors(v):
    tx = deposit_transaction(_vector_deposit(v))
    encoding = to_bytes(hexstr=v["encoding"])
    assert tx.encode() == encoding
    assert tx.hash == keccak(encoding) == to_bytes(hexstr=v["hash"])
    again = DepositTransaction.decode(encoding)
    assert again == tx and again.deposit == tx.deposit and again.hash == tx.hash
    assert L2TransactionBuilder.decode(encoding) == tx
    assert L2TransactionBuilder.deserialize(L2TransactionBuilder.serialize(tx)) == tx
    assert is_deposit(tx) and tx.sender == tx.get_sender() == tx.deposit.sender
    assert (tx.nonce, tx.gas_price, tx.max_fee_per_gas, tx.max_priority_fee_per_gas) == (0, 0, 0, 0)
    assert (tx.v, tx.r, tx.s) == (0, 0, 0)


@pytest.mark.parametrize("v", VECTORS["deposits"], ids=lambda v: str(v["index"]))
def test_decode_transaction_refuses_deposits(spec, v):
    with pytest.raises(InvalidTransaction) as info:
        decode_transaction(to_bytes(hexstr=v["encoding"]), spec)
    assert info.value.rule == "tx_type"


@pytest.mark.parametrize(
    "fields",
    [
        {"index": -1}, {"index": 1 << 64}, {"sender": b"\x01" * 19}, {"to": b""}, {"value": 1 << 256},
        {"gas_limit": 1 << 64}, {"value": -1},
    ],
)
def test_deposit_fields_out_of_range_are_refused(fields):
    base = {"index": 0, "sender": L1_USER, "to": SINK, "value": 0, "gas_limit": 21_000, "data": b""}
    with pytest.raises(ValueError):
        Deposit(**{**base, **fields})


def test_non_canonical_encodings_are_refused():
    tx = deposit(1, value=5)
    body = tx.encode()[1:]
    for bad in (
        tx.encode() + b"\x00",  # trailing byte
        b"\x7e" + bytes([0xF8, body[0] - 0xC0]) + body[1:],  # long list form for a short list
        b"\x7e" + body.replace(b"\x01", b"\x81\x01", 1),  # index 1 as a one-byte string
    ):
        with pytest.raises(InvalidTransaction) as info:
            DepositTransaction.decode(bad)
        assert info.value.rule == "encoding"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decoding_arbitrary_deposit_bytes_raises_only_the_documented_error(tail):
    raw = b"\x7e" + tail
    for decode in (DepositTransaction.decode, L2TransactionBuilder.decode):
        try:
            tx = decode(raw)
        except InvalidTransaction as exc:
            assert exc.rule == "encoding"
        else:
            assert tx.encode() == raw
    with pytest.raises(InvalidTransaction) as info:
        decode_transaction(raw, ChainSpec())
    assert info.value.rule == "tx_type"


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, (1 << 64) - 1), st.binary(min_size=20, max_size=20), st.binary(min_size=20, max_size=20),
    st.integers(0, (1 << 256) - 1), st.integers(0, (1 << 64) - 1), st.binary(max_size=200),
)
def test_every_deposit_round_trips(index, sender, to, value, gas, data):
    tx = deposit_transaction(Deposit(index, sender, to, value, gas, data))
    assert DepositTransaction.decode(tx.encode()).deposit == tx.deposit


# -- storage and JSON-RPC ---------------------------------------------------------------


def test_block_with_deposits_reads_back_from_lmdb_after_reopening(tmp_path, contracts_spec, keys):
    chain = L2Chain.open(tmp_path / "c", contracts_spec, map_size=1 << 28)
    txs = [
        deposit(0, to=LOGGER, value=3, gas=80_000, data=b"hi"),
        decode_transaction(signed(keys[0], 0), contracts_spec),
        deposit(1, to=REVERTER, value=4, gas=80_000),
    ]
    sealed, _ = chain.build_block(attrs(1), txs)
    chain.close()
    again = L2Chain.open(tmp_path / "c", contracts_spec, map_size=1 << 28)
    header = again.head(Head.UNSAFE)
    assert header.hash == sealed.hash
    read_txs, read_receipts = stored(again, header)
    assert [t.encode() for t in read_txs] == [t.encode() for t in txs]
    assert [t.hash for t in read_txs] == [t.hash for t in txs]
    assert isinstance(read_txs[0], DepositTransaction) and read_txs[0].deposit == txs[0].deposit
    assert [r.encode() for r in read_receipts] == [r.encode() for r in sealed.receipts]
    assert read_receipts[0].logs[0].data == b"hi" and read_receipts[2].state_root == b""
    assert again.transaction_location(txs[2].hash) == (1, 2)
    # the whole block as RLP (gRPC block stream) and back
    block = L2Block.from_header(header, again.chaindb)
    decoded = rlp.decode(rlp.encode(block), sedes=L2Block)
    assert decoded.hash == sealed.hash and list(decoded.transactions) == list(txs)
    again.close()


def test_json_rpc_shapes_of_a_deposit_and_its_receipt(chain, spec, keys):
    txs = [decode_transaction(signed(keys[0], 0), spec), deposit(7, to=L1_OTHER, value=10, gas=30_000, data=b"\x00")]
    sealed, _ = chain.build_block(attrs(1), txs)
    out = ethjson.tx_json(txs[1], sealed.header, 1)
    assert out["type"] == "0x7e" and out["sourceIndex"] == "0x7"
    assert out["from"] == "0x" + L1_USER.hex() and out["to"] == "0x" + L1_OTHER.hex()
    assert (out["value"], out["gas"], out["input"], out["nonce"]) == ("0xa", "0x7530", "0x00", "0x0")
    for name in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "v", "r", "s"):
        assert out[name] == "0x0"
    assert out["hash"] == "0x" + txs[1].hash.hex() and out["transactionIndex"] == "0x1"
    receipts = ethjson.receipts_json(sealed.header, txs, sealed.receipts)
    assert receipts[1]["type"] == "0x7e" and receipts[1]["effectiveGasPrice"] == "0x0"
    assert receipts[1]["status"] == "0x1" and receipts[1]["contractAddress"] is None
    assert receipts[1]["gasUsed"] == hex(21_000 + 10)  # the EIP-7623 floor of one calldata byte
    block = ethjson.block_json(sealed.header, txs, full=True)
    assert block["transactions"][1]["sourceIndex"] == "0x7" and int(block["size"], 16) > 0
