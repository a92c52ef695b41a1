"""The L1 batch decoder (BatchDecoder.sol via Inbox) against l2/codec.py, on anvil.

For random valid and corrupted payloads both decoders must agree on valid/invalid, the
message count and the message root; markInvalid flags what does not decode or lies about its
count or root and refuses everything else; the worst batches the caps allow decode in under 5M gas.
"""

from __future__ import annotations

from collections.abc import Iterator

import lz4.block
import pytest
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.l1gas import calldata_floor_gas
from bench.workloads import eth_transfers, mixed
from l1.accumulators import ZERO32
from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding, InboxBinding, L1Error, L1Reverted
from l1.deploy import Deployment, DeployParams, deploy
from l2 import codec
from l2.codec import VERSION, BatchEncoder, decode_batch, encode_batch
from l2.devkeys import DEV_ACCOUNTS
from l2.errors import BatchDecodeError
from l2.messages import BlockStart, L2Tx, message_root
from l2.spec import devnet_spec
from tests.batch_cases import CHAIN_ID, full_batch, message_streams, worst_case_batches

OWNER, BATCHER, PROVER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:3])
GAS_BUDGET = 5_000_000
CROSS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    assert devnet_spec().chain_id == CHAIN_ID
    params = DeployParams(batcher=BATCHER.address, force_inclusion_delay=100)
    return deploy(anvil.w3, OWNER, devnet_spec(), params)


@pytest.fixture(autouse=True)
def fresh_state(anvil: Anvil, deployment: Deployment) -> Iterator[None]:
    snapshot = anvil.w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    anvil.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def inbox(anvil: Anvil, deployment: Deployment) -> InboxBinding:
    return InboxBinding(anvil.w3, deployment.contracts["Inbox"], BATCHER)


def reverts(error: str):
    return pytest.raises(L1Reverted, match=rf"reverted: {error}\b")


def agree(inbox: InboxBinding, payload: bytes) -> bool:
    """Both decoders agree on `payload`; returns whether it is valid."""
    onchain = inbox.check_batch(payload)
    try:
        messages = decode_batch(payload, CHAIN_ID)
    except BatchDecodeError as exc:
        assert not onchain.valid, f"L1 accepts what Python rejects ({exc}): 0x{payload.hex()}"
        return False
    assert onchain.valid, f"L1 rejects (reason {onchain.reason}) what Python accepts: 0x{payload.hex()}"
    assert (onchain.message_count, onchain.message_root) == (len(messages), message_root(messages))
    return True


def lz4_hc(body: bytes) -> bytes:
    return bytes((VERSION,)) + lz4.block.compress(body, mode="high_compression", compression=12, store_size=False)


def decode_gas(inbox: InboxBinding, payload: bytes) -> int:
    """Execution gas of decodeBatch(payload): eth_estimateGas less the intrinsic gas. An upper
    bound: under EIP-7623 the estimate never drops below the calldata floor."""
    data = bytes.fromhex(inbox.contract.encode_abi("decodeBatch", [payload])[2:])
    zeros = data.count(0)
    total = inbox.w3.eth.estimate_gas({"to": inbox.address, "data": "0x" + data.hex()})
    return total - 21_000 - 4 * zeros - 16 * (len(data) - zeros)


# -- the two decoders agree ----------------------------------------------------------------


def test_constants_match(inbox):
    c = inbox.contract.functions
    assert c.MAX_PAYLOAD_BYTES().call() == codec.MAX_PAYLOAD_BYTES
    assert c.MAX_DECOMPRESSED_BYTES().call() == codec.MAX_DECOMPRESSED_BYTES
    assert c.MAX_MESSAGES().call() == codec.MAX_MESSAGES
    assert c.MAX_CALLDATA_BYTES().call() == codec.MAX_CALLDATA_BYTES
    assert inbox.l2_chain_id() == CHAIN_ID


@CROSS
@given(message_streams, st.data())
def test_decoders_agree_on_random_and_corrupted_batches(inbox, messages, data):
    encoder = BatchEncoder(CHAIN_ID)
    encoder.add_messages(messages)
    payload = encoder.payload()
    assert agree(inbox, payload)
    # corrupt the payload: LZ4 rules
    flipped = bytearray(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        flipped[data.draw(st.integers(0, len(payload) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    agree(inbox, bytes(flipped))
    agree(inbox, payload[: data.draw(st.integers(0, len(payload) - 1))])
    # corrupt the body, then compress it properly: the column rules
    body = bytearray(encoder.body())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.sampled_from([0, 1, 2, 3, 4, 0x20, 0x21, 0x22, 0x7F, 0x80, 0xFF, body[i] ^ 1]))
    if data.draw(st.booleans()):
        del body[data.draw(st.integers(0, len(body) - 1))]
    agree(inbox, lz4_hc(bytes(body)))


def test_decoders_agree_on_edge_payloads(inbox):
    encoder = full_batch(mixed(300, CHAIN_ID).txs)
    body = encoder.body()
    for payload in [
        b"",
        b"\x01",
        b"\x02" + encoder.payload()[1:],
        encoder.payload(),
        lz4_hc(body + b"\x00"),
        lz4_hc(body[:-1]),
        lz4_hc(bytes(codec.MAX_DECOMPRESSED_BYTES)),
        lz4_hc(bytes(codec.MAX_DECOMPRESSED_BYTES + 1)),
        bytes((VERSION,)) + bytes(codec.MAX_PAYLOAD_BYTES - 1),
        bytes((VERSION,)) + bytes(codec.MAX_PAYLOAD_BYTES),
        bytes((VERSION, 0x36)) + b"abc\x03\x00\x10!",  # overlapping match, then a bad body
        *worst_case_batches().values(),
    ]:
        agree(inbox, payload)


# -- markInvalid ---------------------------------------------------------------------------


def append(inbox: InboxBinding, payload: bytes, root: bytes, count: int, delayed_read: int = 0):
    (entry,) = inbox.entries_in(inbox.append_batch(payload, root, count, delayed_read))
    return entry


def test_mark_invalid_flags_an_undecodable_batch(inbox):
    prover = inbox.with_signer(PROVER)
    append(inbox, encode_batch([BlockStart(1, 1)], CHAIN_ID), message_root([BlockStart(1, 1)]), 1)
    entry = append(inbox, b"\x01junk", keccak(b"root"), 3)
    assert not inbox.is_invalid(1) and inbox.check_batch(entry.payload).reason == 12
    receipt = prover.mark_invalid_entry(entry)
    assert inbox.is_invalid(1) and not inbox.is_invalid(0)
    events = inbox.contract.events.BatchInvalidated().process_receipt(receipt)
    assert [e["args"]["index"] for e in events] == [1] == inbox.invalidated()
    with reverts("AlreadyInvalid"):
        prover.mark_invalid_entry(entry)


@pytest.mark.parametrize("lie", ["root", "count"])
def test_mark_invalid_flags_a_batch_that_lies(inbox, lie):
    messages = [BlockStart(1, 1), L2Tx(eth_transfers(1, CHAIN_ID).txs[0])]
    root, count = message_root(messages), len(messages)
    entry = append(
        inbox,
        encode_batch(messages, CHAIN_ID),
        keccak(b"x") if lie == "root" else root,
        count + 1 if lie == "count" else count,
    )
    inbox.with_signer(PROVER).mark_invalid_entry(entry)
    assert inbox.is_invalid(0)


def test_mark_invalid_refuses_valid_batches_forced_entries_and_wrong_preimages(anvil, deployment, inbox):
    messages = [BlockStart(1, 1)]
    payload = encode_batch(messages, CHAIN_ID)
    entry = append(inbox, payload, message_root(messages), 1)
    prover = inbox.with_signer(PROVER)
    with reverts("BatchIsValid"):
        prover.mark_invalid_entry(entry)
    with reverts("WrongPreimage"):
        prover.mark_invalid(0, payload + b"\x00", entry.message_root, 1, entry.delayed_accumulator)
    with reverts("WrongPreimage"):
        prover.mark_invalid(0, payload, entry.message_root, 2, entry.delayed_accumulator)
    with reverts("WrongPreimage"):
        prover.mark_invalid(0, payload, entry.message_root, 1, keccak(b"delayed"))
    with reverts("UnknownEntry"):
        prover.mark_invalid(1, payload, entry.message_root, 1, ZERO32)
    delayed = DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], PROVER)
    delayed.deposit(PROVER.address, 21_000, value=1)
    anvil.increase_time(101)
    (forced,) = inbox.entries_in(prover.force_include())
    with reverts("ForcedEntry"):
        prover.mark_invalid_entry(forced)
    assert not inbox.is_invalid(0) and not inbox.is_invalid(1)


def test_mark_invalid_with_too_little_gas_concludes_nothing(inbox):
    """Out of gas inside the decoder must not pass for an invalid batch."""
    encoder = full_batch(eth_transfers(800, CHAIN_ID).txs)
    entry = append(inbox, encoder.payload(), keccak(b"lie"), len(encoder))
    prover = inbox.with_signer(PROVER)
    args = (entry.index, entry.payload, entry.message_root, entry.message_count, entry.delayed_accumulator)
    data = bytes.fromhex(inbox.contract.encode_abi("markInvalid", list(args))[2:])
    # above the EIP-7623 calldata floor (else the node refuses the transaction), below what decoding needs
    gas = calldata_floor_gas(data) + 50_000
    assert inbox.contract.functions.markInvalid(*args).estimate_gas({"from": PROVER.address}) > gas
    with pytest.raises(L1Error):
        prover.transact("markInvalid", *args, gas=gas)
    assert not inbox.is_invalid(entry.index)
    prover.mark_invalid_entry(entry)
    assert inbox.is_invalid(entry.index)


def test_append_batch_rejects_payloads_above_the_cap(inbox):
    append(inbox, bytes(codec.MAX_PAYLOAD_BYTES), keccak(b"r"), 1)
    with reverts("PayloadTooLarge"):
        inbox.append_batch(bytes(codec.MAX_PAYLOAD_BYTES + 1), keccak(b"r"), 1, 0)


# -- gas -----------------------------------------------------------------------------------


def test_worst_batches_decode_under_5m_gas(inbox):
    figures = {}
    for name, payload in worst_case_batches().items():
        assert inbox.check_batch(payload).valid, name
        figures[name] = decode_gas(inbox, payload)
    encoder = full_batch(mixed(800, CHAIN_ID).txs)
    figures["full_mixed_batch"] = decode_gas(inbox, encoder.payload())
    assert max(figures.values()) < GAS_BUDGET, figures


def test_mark_invalid_of_a_full_batch(inbox):
    encoder = full_batch(eth_transfers(800, CHAIN_ID).txs)
    payload = encoder.payload()
    assert len(payload) > 50_000
    entry = append(inbox, payload, keccak(b"lie"), len(encoder))
    receipt = inbox.with_signer(PROVER).mark_invalid_entry(entry)
    assert inbox.is_invalid(0) and receipt["gasUsed"] < GAS_BUDGET + 16 * len(payload) + 21_000


def test_batch_bench_reports_in_the_shared_format():
    import json

    from bench.batch import run_bench

    data = json.loads(run_bench(txs=300).to_json())
    assert data["bench"] == "batch"
    for workload in ("eth", "erc20", "mixed"):
        assert data["advantage"][f"{workload}_bytes_per_tx"] > 1  # fewer bytes than brotli-11
        assert data["advantage"][f"{workload}_l1_gas_per_tx"] > 1
    assert 0 < data["figures"]["markInvalid_full_batch_execution_gas"] < GAS_BUDGET
