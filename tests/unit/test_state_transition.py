"""The contract of the state transition: deterministic, typed rejections, never half-applied."""

from __future__ import annotations

from dataclasses import replace

import pytest
import rlp
from eth_account import Account
from eth_utils import to_checksum_address

from bench.workloads import Key, erc20_transfers, eth_transfers
from l2.chain import L2Chain
from l2.errors import InvalidTransaction, StoreError
from l2.predeploys import (
    BLOCK_HASH_HISTORY_ADDRESS,
    L1_INFO_ADDRESS,
    L1_INFO_BASE_FEE_SLOT,
    L1_INFO_HASH_SLOT,
    L1_INFO_NUMBER_SLOT,
    MESSAGE_PASSER_ADDRESS,
)
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, Head, L1Origin
from tests.conftest import CHAIN_ID, attrs

SINK = bytes.fromhex("00000000000000000000000000000000000dead1")


def signed(
    key: Key,
    nonce: int,
    *,
    chain_id: int = CHAIN_ID,
    to: bytes | None = SINK,
    value: int = 1,
    gas: int = 21_000,
    max_fee: int = 10**10,
    tip: int = 1,
    data: bytes = b"",
    legacy: bool = False,
) -> bytes:
    tx: dict = {"chainId": chain_id, "nonce": nonce, "gas": gas, "value": value, "data": data}
    if legacy:
        tx["gasPrice"] = max_fee
    else:
        tx.update(type=2, maxFeePerGas=max_fee, maxPriorityFeePerGas=tip)
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, key.private).raw_transaction)


def test_genesis_installs_predeploys_and_alloc(chain, spec, keys):
    genesis = chain.head(Head.UNSAFE)
    assert genesis.block_number == 0
    state = chain.state_at(genesis)
    for address in (L1_INFO_ADDRESS, MESSAGE_PASSER_ADDRESS, BLOCK_HASH_HISTORY_ADDRESS):
        assert state.get_code(address)
    assert state.get_balance(keys[0].address) == 10**24
    assert chain.heads().safe == genesis and chain.heads().finalized == genesis


def test_block_executes_transfers_and_records_receipts(chain, spec, keys):
    txs = [decode_transaction(signed(keys[0], n, value=5), spec) for n in range(3)]
    sealed, skipped = chain.build_block(attrs(10, l1_number=7), txs)
    assert not skipped
    assert sealed.number == 1 and chain.head(Head.UNSAFE).hash == sealed.hash
    assert sealed.header.gas_used == 3 * 21_000
    receipts = chain.receipts(sealed.header)
    assert [r.gas_used for r in receipts] == [21_000, 42_000, 63_000]
    assert chain.transaction_location(txs[2].hash) == (1, 2)
    assert [t.hash for t in chain.transactions(sealed.header)] == [t.hash for t in txs]
    state = chain.state_at(sealed.header)
    assert state.get_balance(SINK) == 15
    assert state.get_nonce(keys[0].address) == 3
    # fees: base fee burnt, tip to the fee recipient
    assert state.get_balance(spec.fee_recipient) == 3 * 21_000 * 1


def test_block_start_writes_l1_origin_and_block_hash_history(chain):
    origin = L1Origin(number=42, hash=b"\x11" * 32, base_fee=7)
    genesis = chain.head(Head.UNSAFE)
    sealed, _ = chain.build_block(BlockAttributes(5, origin), [])
    state = chain.state_at(sealed.header)
    assert state.get_storage(L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT) == 42
    assert state.get_storage(L1_INFO_ADDRESS, L1_INFO_HASH_SLOT) == int.from_bytes(b"\x11" * 32, "big")
    assert state.get_storage(L1_INFO_ADDRESS, L1_INFO_BASE_FEE_SLOT) == 7
    # EIP-2935: the parent's hash at slot (number - 1) % 8191
    assert state.get_storage(BLOCK_HASH_HISTORY_ADDRESS, 0) == int.from_bytes(genesis.hash, "big")


def test_timestamp_comes_from_attributes_and_must_not_go_back(chain):
    sealed, _ = chain.build_block(attrs(1_700_000_000), [])
    assert sealed.header.timestamp == 1_700_000_000
    with pytest.raises(ValueError, match="before parent"):
        chain.open_block(attrs(1_699_999_999))


def test_same_inputs_give_same_blocks_on_two_fresh_stores(tmp_path, spec):
    eth = eth_transfers(60, CHAIN_ID, senders=6)
    token = erc20_transfers(60, CHAIN_ID, senders=6)
    spec = token.spec(eth.spec(spec))
    hashes = []
    for run in ("a", "b"):
        chain = L2Chain.open(tmp_path / run, spec, map_size=1 << 30)
        blocks = [token.setup, eth.txs[:30], token.txs[:30] + eth.txs[30:], token.txs[30:]]
        run_hashes = []
        for i, raw_block in enumerate(blocks):
            sealed, skipped = chain.build_block(attrs(100 + i, i), [decode_transaction(r, spec) for r in raw_block])
            assert not skipped
            run_hashes.append((sealed.hash, sealed.header.state_root, sealed.header.receipt_root))
        chain.close()
        hashes.append(run_hashes)
    assert hashes[0] == hashes[1]
    assert len({h for h, _, _ in hashes[0]}) == 4


def test_reopening_gives_same_head_and_state(tmp_path, spec, keys):
    chain = L2Chain.open(tmp_path / "c", spec, map_size=1 << 30)
    sealed, _ = chain.build_block(attrs(3), [decode_transaction(signed(keys[1], 0, value=9), spec)])
    chain.close()
    again = L2Chain.open(tmp_path / "c", spec, map_size=1 << 30)
    head = again.head(Head.UNSAFE)
    assert head.hash == sealed.hash
    assert again.state_at(head).get_balance(SINK) == 9
    # and it keeps building on top (the BLOCKHASH ancestry was reloaded)
    nxt, _ = again.build_block(attrs(4), [])
    assert nxt.header.parent_hash == sealed.hash
    again.close()


def test_store_of_another_chain_is_refused(tmp_path, spec):
    L2Chain.open(tmp_path / "c", spec, map_size=1 << 30).close()
    with pytest.raises(StoreError, match="another chain"):
        L2Chain.open(tmp_path / "c", replace(spec, chain_id=902), map_size=1 << 30)


def test_safe_and_finalized_heads_move_only_to_canonical_blocks(chain):
    first, _ = chain.build_block(attrs(1), [])
    chain.build_block(attrs(2), [])
    chain.set_head(Head.SAFE, first.hash)
    chain.set_head(Head.FINALIZED, first.hash)
    assert chain.head(Head.SAFE).hash == first.hash
    assert chain.head(Head.UNSAFE).block_number == 2
    with pytest.raises(Exception, match="no block"):
        chain.set_head(Head.SAFE, b"\x99" * 32)
    with pytest.raises(ValueError):
        chain.set_head(Head.UNSAFE, first.hash)


# -- rejection rules ------------------------------------------------------------------


def _rule(raw: bytes, spec: ChainSpec, chain: L2Chain | None = None) -> str:
    with pytest.raises(InvalidTransaction) as info:
        tx = decode_transaction(raw, spec)
        assert chain is not None
        chain.open_block(attrs(1)).add(tx)
    return info.value.rule


def test_stateless_rules(spec, keys):
    good = signed(keys[0], 0)
    assert _rule(b"", spec) == "encoding"
    assert _rule(b"\xc0\x01garbage", spec) == "encoding"
    assert _rule(b"\x02" + b"\xc3\x01\x02\x03", spec) == "encoding"
    assert _rule(b"\x03" + good[1:], spec) == "tx_type"
    assert _rule(b"\x07" + good[1:], spec) == "tx_type"
    assert _rule(signed(keys[0], 0, chain_id=1), spec) == "chain_id"
    assert _rule(signed(keys[0], 0, gas=20_999), spec) == "intrinsic_gas"
    assert _rule(signed(keys[0], 0, gas=60_000, data=b"\x01" * 2000), spec) == "intrinsic_gas"  # EIP-7623 floor
    assert _rule(signed(keys[0], 0, gas=spec.gas_limit + 1), spec) == "gas_limit"
    assert _rule(signed(keys[0], 0, tip=10**11, max_fee=10**10), spec) == "fee_cap"
    assert _rule(signed(keys[0], 0, data=b"\x01" * (spec.max_tx_size + 1), gas=10_000_000), spec) == "oversize"


def test_unprotected_legacy_transaction_is_refused(spec, keys):
    tx = {"nonce": 0, "gasPrice": 10**10, "gas": 21_000, "to": to_checksum_address(SINK), "value": 1, "data": b""}
    raw = bytes(Account.sign_transaction(tx, keys[0].private).raw_transaction)
    assert _rule(raw, spec) == "chain_id"


def test_bad_signature_values_are_refused(spec, keys):
    legacy = signed(keys[0], 0, legacy=True)
    fields = rlp.decode(legacy)
    fields[7] = b""  # r = 0
    assert _rule(rlp.encode(fields), spec) == "signature"
    fields = rlp.decode(legacy)
    fields[8] = (2**256 - 1).to_bytes(32, "big")  # s out of range
    assert _rule(rlp.encode(fields), spec) == "signature"
    fields = rlp.decode(legacy)
    fields[7] = b"\x00"  # r with a leading zero byte: not canonical RLP
    assert _rule(rlp.encode(fields), spec) == "encoding"
    typed = bytearray(signed(keys[0], 0))
    typed[-1] ^= 0x01  # flip a bit of s: recovers a different (unfunded) signer or none
    try:
        tx = decode_transaction(bytes(typed), spec)
    except InvalidTransaction as exc:
        assert exc.rule == "signature"
    else:
        assert tx.sender != keys[0].address


def test_legacy_eip155_transaction_executes(chain, spec, keys):
    sealed, _ = chain.build_block(attrs(1), [decode_transaction(signed(keys[0], 0, legacy=True, value=3), spec)])
    assert chain.state_at(sealed.header).get_balance(SINK) == 3


def test_stateful_rules(chain, spec, keys):
    poor = Key.derive("poor", 0)  # no funds at all
    assert _rule(signed(keys[0], 1), spec, chain) == "nonce_too_high"
    assert _rule(signed(poor, 0), spec, chain) == "insufficient_funds"
    assert _rule(signed(keys[0], 0, value=10**24), spec, chain) == "insufficient_funds"
    assert _rule(signed(keys[0], 0, max_fee=1), spec, chain) == "fee_cap"
    chain.build_block(attrs(1), [decode_transaction(signed(keys[0], 0), spec)])
    assert _rule(signed(keys[0], 0), spec, chain) == "nonce_too_low"


def test_block_gas_is_a_limit(spec, keys, tmp_path):
    small = replace(spec, gas_limit=42_000)
    chain = L2Chain.open(tmp_path / "small", small, map_size=1 << 30)
    builder = chain.open_block(attrs(1))
    builder.add(decode_transaction(signed(keys[0], 0, gas=30_000), small))  # uses 21k of its 30k
    assert builder.gas_left == 21_000
    with pytest.raises(InvalidTransaction) as info:
        builder.add(decode_transaction(signed(keys[0], 1, gas=21_001), small))
    assert info.value.rule == "gas_limit"
    chain.close()


def test_rejected_transaction_leaves_no_trace(tmp_path, spec, keys):
    """A block with an invalid transaction attempted equals the block without it."""
    good = [decode_transaction(signed(keys[0], n), spec) for n in range(2)]
    bad = decode_transaction(signed(keys[1], 0, value=10**24), spec)  # insufficient funds
    roots = []
    for run, attempt_bad in (("with", True), ("without", False)):
        chain = L2Chain.open(tmp_path / run, spec, map_size=1 << 30)
        builder = chain.open_block(attrs(1))
        builder.add(good[0])
        if attempt_bad:
            with pytest.raises(InvalidTransaction):
                builder.add(bad)
        builder.add(good[1])
        sealed = builder.seal()
        chain.commit(builder, sealed)
        roots.append(sealed.hash)
        chain.close()
    assert roots[0] == roots[1]


def test_strict_build_writes_nothing_on_invalid(chain, spec, keys):
    head = chain.head(Head.UNSAFE)
    txs = [decode_transaction(signed(keys[0], 0), spec), decode_transaction(signed(keys[0], 5), spec)]
    with pytest.raises(InvalidTransaction, match="nonce_too_high"):
        chain.build_block(attrs(1), txs)
    assert chain.head(Head.UNSAFE).hash == head.hash
    assert chain.transaction_location(txs[0].hash) is None


def test_skip_invalid_leaves_out_and_reports(chain, spec, keys):
    txs = [decode_transaction(signed(keys[0], n), spec) for n in (0, 5, 1)]
    sealed, skipped = chain.build_block(attrs(1), txs, skip_invalid=True)
    assert [t.nonce for t in chain.transactions(sealed.header)] == [0, 1]
    assert [(t.nonce, e.rule) for t, e in skipped] == [(5, "nonce_too_high")]


def test_reverting_contract_call_is_included_and_charged(chain, spec, keys):
    # init code that reverts: PUSH1 0 PUSH1 0 REVERT
    deploy = decode_transaction(
        signed(keys[0], 0, to=None, value=0, gas=100_000, data=bytes.fromhex("60006000fd")), spec
    )
    sealed, skipped = chain.build_block(attrs(1), [deploy])
    assert not skipped
    receipt = chain.receipts(sealed.header)[0]
    assert receipt.state_root == b""  # status 0 (failure) in a post-Byzantium receipt
    assert 53_000 < receipt.gas_used < 100_000
