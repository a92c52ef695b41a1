"""L1 origins recorded in the Inbox (docs/fraud-proofs.md D2, 3.4) on a real anvil node.

A header is recorded with L1's hash, the base fee parsed from its RLP and the entry count of
the time; a header that is not L1's, a block L1 does not know (current, future, or beyond the
EIP-2935 window) is refused by name; a second record keeps the first; `appendBatch` records
its headers before appending, so the record's `firstEntry` is the new entry's index.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator

import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3
from web3.logs import DISCARD

from l1.anvil import Anvil
from l1.bindings import InboxBinding, L1Reverted
from l1.deploy import Deployment, DeployParams, deploy
from l1.headers import HISTORY_STORAGE_ADDRESS, header_fields, header_rlp
from l1.inbox_reader import InboxReader
from l2.derivation import RecordedOrigin
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec
from l2.types import Head, L1Origin
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from tests.integration.l2_users import start_batcher, transfer, wait_for
from verifier.config import VerifierConfig
from verifier.service import DivergenceLog, VerifierService

OWNER, BATCHER, PROPOSER, OTHER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:4])
DEPLOYER_KEY = DEV_ACCOUNTS[0][1]  # deployer and batcher of the end-to-end test
USER = Account.from_key(DEV_ACCOUNTS[5][1])


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    params = DeployParams(batcher=BATCHER.address, proposers=(PROPOSER.address,), dispute_game=False)
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


def mine(anvil: Anvil, blocks: int) -> None:
    while blocks > 0:  # in chunks: one anvil_mine of thousands of blocks outlasts the RPC timeout
        chunk = min(blocks, 200)
        anvil.w3.provider.make_request("anvil_mine", [hex(chunk)])
        blocks -= chunk


def recorded(inbox: InboxBinding, receipt) -> list[tuple[int, bytes, int, int]]:
    events = inbox.contract.events.L1OriginRecorded().process_receipt(receipt, errors=DISCARD)
    return [(e.args.number, bytes(e.args.hash), e.args.baseFee, e.args.firstEntry) for e in events]


def test_a_header_is_recorded_with_l1_hash_base_fee_and_entry_count(anvil, inbox):
    inbox.append_batch(b"\x00a", bytes(32), 1, 0)  # one entry first: firstEntry must say 1
    mine(anvil, 2)
    number = anvil.w3.eth.block_number - 1
    block = anvil.w3.eth.get_block(number)
    assert inbox.l1_origin(number) is None
    receipt = inbox.with_signer(OTHER).record_l1_origins([header_rlp(anvil.w3, number)])  # anyone may
    record = inbox.l1_origin(number)
    assert record is not None
    assert (record.hash, record.base_fee, record.first_entry) == (bytes(block["hash"]), block["baseFeePerGas"], 1)
    assert record.base_fee > 0
    assert recorded(inbox, receipt) == [(number, bytes(block["hash"]), block["baseFeePerGas"], 1)]


def test_a_header_that_is_not_l1s_is_refused(anvil, inbox):
    mine(anvil, 2)
    number = anvil.w3.eth.block_number - 1
    fields = header_fields(anvil.w3.eth.get_block(number))
    fields[15] += 1  # a lower or higher base fee than L1's
    with reverts("L1HeaderMismatch"):
        inbox.record_l1_origins([rlp.encode(fields)])
    fields[15] -= 1
    fields[12] = b"forged"
    with reverts("L1HeaderMismatch"):
        inbox.record_l1_origins([rlp.encode(fields)])
    assert inbox.l1_origin(number) is None


def test_blocks_l1_does_not_know_are_refused(anvil, inbox):
    w3 = anvil.w3
    head = w3.eth.get_block("latest")
    future = header_fields(head)
    future[8] = head["number"] + 5  # hashes to nothing L1 has
    with reverts("L1BlockUnknown"):
        inbox.record_l1_origins([rlp.encode(future)])
    # The block that will hold the transaction itself: BLOCKHASH is 0 for it.
    current = header_fields(head)
    current[8] = head["number"] + 1
    with reverts("L1BlockUnknown"):
        inbox.record_l1_origins([rlp.encode(current)])
    with reverts("MalformedL1Header"):
        inbox.record_l1_origins([rlp.encode([b"\x01"] * 10)])


def test_history_contract_reaches_past_256_blocks_and_blockhash_alone_does_not(anvil, inbox):
    w3 = anvil.w3
    old, older = w3.eth.block_number, w3.eth.block_number - 1
    old_header, older_header = header_rlp(w3, old), header_rlp(w3, older)
    mine(anvil, 300)  # past BLOCKHASH: EIP-2935's contract answers (anvil's default hardfork has it)
    inbox.record_l1_origins([old_header])
    assert inbox.l1_origin(old).hash == keccak(old_header)
    # An L1 without the history contract (before Prague): 300 blocks back is unknown. Beyond
    # HISTORY_SERVE_WINDOW the contract itself refuses; mining 8,191 blocks on anvil takes minutes.
    w3.provider.make_request("anvil_setCode", [HISTORY_STORAGE_ADDRESS, "0x"])
    with reverts("L1BlockUnknown"):
        inbox.record_l1_origins([older_header])
    assert inbox.l1_origin(older) is None


def test_second_record_of_a_number_keeps_the_first(anvil, inbox):
    mine(anvil, 2)
    number = anvil.w3.eth.block_number - 1
    header = header_rlp(anvil.w3, number)
    inbox.record_l1_origins([header])
    first = inbox.l1_origin(number)
    inbox.append_batch(b"\x00a", bytes(32), 1, 0)
    receipt = inbox.record_l1_origins([header, header])
    assert recorded(inbox, receipt) == []
    assert inbox.l1_origin(number) == first and first.first_entry == 0


def test_append_batch_records_its_headers_before_the_entry(anvil, inbox):
    w3 = anvil.w3
    inbox.append_batch(b"\x00a", bytes(32), 1, 0)
    inbox.append_batch(b"\x00b", bytes(32), 1, 0)
    mine(anvil, 3)
    numbers = [w3.eth.block_number - 2, w3.eth.block_number - 1]
    receipt = inbox.append_batch(b"\x00c", bytes(32), 1, 0, [header_rlp(w3, n) for n in numbers])
    (entry,) = inbox.entries_in(receipt)
    assert entry.index == 2
    assert [r[0] for r in recorded(inbox, receipt)] == numbers
    for n in numbers:
        assert inbox.l1_origin(n).first_entry == entry.index
    # The record and the entry are one transaction: a bad header loses both.
    bad = header_fields(w3.eth.get_block(w3.eth.block_number - 1))
    bad[15] += 1
    with reverts("L1HeaderMismatch"):
        inbox.append_batch(b"\x00d", bytes(32), 1, 0, [rlp.encode(bad)])
    assert inbox.entry_count() == 3


def test_reader_returns_records_caches_them_and_forgets_them_on_reorg(anvil, deployment, inbox):
    w3 = anvil.w3
    reader = InboxReader(w3, deployment)
    mine(anvil, 2)
    number = w3.eth.block_number - 1
    assert reader.recorded_origin(number) is None  # absent: not cached, may be written later
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    inbox.append_batch(b"\x00a", bytes(32), 1, 0, [header_rlp(w3, number)])
    block = w3.eth.get_block(number)
    expected = RecordedOrigin(L1Origin(number, bytes(block["hash"]), block["baseFeePerGas"]), 0)
    assert reader.recorded_origin(number) == expected
    # Not cached while no entry at or after its firstEntry was handed out: a younger record may
    # still be reorged away without any entry replay knows of going with it.
    (entry,) = reader.entries(0, 0, 1)
    assert entry.index == 0 and reader.recorded_origin(number) == expected
    w3.provider.make_request("evm_revert", [snapshot])  # L1 loses the block that recorded it
    assert reader.recorded_origin(number) == expected  # cached, until replay reports the reorg
    reader.reorged(number)
    assert reader.recorded_origin(number) is None
    uncached = InboxReader(w3, deployment)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # a reverted one is used up
    inbox.record_l1_origins([header_rlp(w3, number)])
    assert uncached.recorded_origin(number) is not None
    w3.provider.make_request("evm_revert", [snapshot])
    assert uncached.recorded_origin(number) is None  # never cached: firstEntry 0, no entry handed out


def test_gas_per_recorded_origin(anvil, inbox):
    """The cost the batcher pays per new origin (docs/l1-contracts.md quotes it)."""
    w3 = anvil.w3
    inbox.append_batch(b"\x00a", bytes(32), 1, 0)
    mine(anvil, 3)
    base = inbox.append_batch(b"\x00b", bytes(32), 1, 0)["gasUsed"]
    one = inbox.append_batch(b"\x00c", bytes(32), 1, 0, [header_rlp(w3, w3.eth.block_number - 1)])["gasUsed"]
    per_origin = one - base
    print("gas per recorded origin", per_origin)
    assert 40_000 < per_origin < 80_000, per_origin


# -- the batcher records its blocks' origins; an origin it cannot record is rebuilt on ----------


@pytest.mark.slow
def test_batcher_records_its_origins_and_the_sequencer_rebuilds_where_one_could_not_be(tmp_path, caplog):
    """Blocks on an L1 origin too old to record derive with their parent's origin; every node agrees.

    L1 here has no EIP-2935 contract, so a header more than 256 blocks old cannot be recorded.
    The sequencer makes a block on origin A, L1 moves 300 blocks, it makes blocks on origin B;
    only then does the batcher run: it records B with the batch and leaves A out. The batch
    derives the first block with the null origin, so the sequencer rebuilds on it
    (sequencer/rebuild.py) and ends, hash for hash, on the chain a verifier derives from L1.
    """
    caplog.set_level(logging.INFO, logger="sequencer.producer")
    with Anvil() as node:
        w3 = node.w3
        deployment = deploy(w3, Account.from_key(DEPLOYER_KEY), devnet_spec(), DeployParams())
        path = tmp_path / "deployment.json"
        deployment.save(path)
        w3.provider.make_request("anvil_setCode", [HISTORY_STORAGE_ADDRESS, "0x"])
        inbox = InboxBinding(w3, deployment.contracts["Inbox"])
        config = SequencerConfig(
            datadir=str(tmp_path / "seq"), rpc_port=0, grpc_port=0, metrics_port=0, block_time=0.2,
            l1_rpc=node.url, deployment=str(path), l1_confirmations=1, l1_poll_interval=0.1,
        )  # fmt: skip
        batcher: subprocess.Popen | None = None
        with EmbeddedSequencer(config) as seq:
            chain = seq.sequencer.chain
            assert chain is not None
            l2 = Web3(Web3.HTTPProvider(seq.rpc_url))
            early = transfer(l2, USER, 1)
            origin_a = chain.l1_origin_number(chain.header_by_number(early["blockNumber"]))
            assert origin_a > 0
            mine(node, 300)
            follower = seq.sequencer.follower
            assert follower is not None
            wait_for(lambda: follower.snapshot().origin.number > origin_a + 256, "the sequencer on origin B")
            # A block takes its origin when it opens: wait for one opened on B, then send into it.
            wait_for(lambda: chain.l1_origin_number(chain.head(Head.UNSAFE)) > origin_a + 256, "a block on B")
            late = transfer(l2, USER, 2)
            origin_b = chain.l1_origin_number(chain.header_by_number(late["blockNumber"]))
            assert origin_b > origin_a + 256

            verifier = VerifierService(
                VerifierConfig(l1_rpc=node.url, deployment=str(path), datadir=str(tmp_path / "verifier"),
                               confirmations=0, poll_interval=0.05, rpc_port=0, metrics_port=0),
                DivergenceLog(),
            ).start()  # fmt: skip
            log = tmp_path / "batcher.log"
            batcher = start_batcher(node.url, path, seq.grpc_target, DEPLOYER_KEY, log)
            try:
                ver = verifier.chain
                assert ver is not None
                wait_for(lambda: "rebuilt on inbox entry" in caplog.text, "the sequencer's rebuild")
                last = transfer(l2, USER, 3)
                last_hash = bytes(last["transactionHash"])

                def agreed() -> int | None:
                    w3.provider.make_request("evm_mine", [])  # L1 moves on, as a real one does
                    where = chain.transaction_location(last_hash)
                    safe = chain.head(Head.SAFE)
                    if where is None or safe.block_number < where[0]:
                        return None
                    if ver.head(Head.UNSAFE).block_number < safe.block_number:
                        return None
                    return safe.block_number if ver.header_by_number(safe.block_number).hash == safe.hash else None

                target = wait_for(agreed, "the verifier and the sequencer's safe head past the last transfer")
                for n in range(int(target) + 1):  # type: ignore[call-overload]
                    assert chain.header_by_number(n).hash == ver.header_by_number(n).hash, f"L2 block {n} differs"
            finally:
                verifier.stop()
                batcher.terminate()
                batcher.wait(30)
            # A was never recorded; B was, by the batcher, with the first batch.
            assert inbox.l1_origin(origin_a) is None
            record_b = inbox.l1_origin(origin_b)
            assert record_b is not None and record_b.first_entry == 0
            assert record_b.hash == bytes(w3.eth.get_block(origin_b)["hash"])
            # The early transfer survived the rebuild, now in a block that kept the null origin.
            where = chain.transaction_location(bytes(early["transactionHash"]))
            assert where is not None
            assert chain.l1_origin_number(chain.header_by_number(where[0])) == 0
            # Every origin the chain holds is recorded, with the record's hash.
            head = chain.head(Head.SAFE)
            for n in range(1, head.block_number + 1):
                number = chain.l1_origin_number(chain.header_by_number(n))
                assert number == 0 or inbox.l1_origin(number) is not None
