"""The L1 contract suite on a real anvil node: every happy path and every revert.

Accumulators and message hashes are recomputed in Python (l1.accumulators) and compared
with what the contracts stored; bond accounting is checked to the wei.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_hash.auto import keccak

from l1.accumulators import EMPTY_PAYLOAD_HASH, ZERO32, delayed_accumulator, inbox_accumulator
from l1.anvil import Anvil
from l1.bindings import AssertionStatus, DelayedInboxBinding, InboxBinding, L1Reverted, RollupBinding
from l1.deploy import Deployment, DeployParams, deploy
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec

OWNER, BATCHER, PROPOSER, OTHER, GAME, PROPOSER2 = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:6])
BOND = 10**17
CHALLENGE = 300
FORCE_DELAY = 1000
ROOT = keccak(b"root")


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    params = DeployParams(
        batcher=BATCHER.address,
        proposers=(PROPOSER.address, PROPOSER2.address),
        challenge_period=CHALLENGE,
        bond=BOND,
        force_inclusion_delay=FORCE_DELAY,
        max_deposit_gas_limit=1_000_000,
        dispute_game=False,  # GAME, an account, plays the dispute game's part in Rollup's hook tests
    )
    return deploy(anvil.w3, OWNER, devnet_spec(), params)


@pytest.fixture(autouse=True)
def fresh_state(anvil: Anvil, deployment: Deployment) -> Iterator[None]:
    """Each test starts from the just-deployed contracts."""
    snapshot = anvil.w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    anvil.w3.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def delayed(anvil: Anvil, deployment: Deployment) -> DelayedInboxBinding:
    return DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], OTHER)


@pytest.fixture
def inbox(anvil: Anvil, deployment: Deployment) -> InboxBinding:
    return InboxBinding(anvil.w3, deployment.contracts["Inbox"], BATCHER)


@pytest.fixture
def rollup(anvil: Anvil, deployment: Deployment) -> RollupBinding:
    return RollupBinding(anvil.w3, deployment.contracts["Rollup"], PROPOSER)


def reverts(error: str):
    """pytest.raises for one custom error, by name."""
    return pytest.raises(L1Reverted, match=rf"reverted: {error}\b")


def fee(receipt) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


# -- DelayedInbox ----------------------------------------------------------------------


def test_deposits_hash_and_accumulate_as_documented(anvil, delayed):
    sent = [
        (OTHER.address, 21_000, b"", 5),
        (PROPOSER.address, 100_000, b"\x01\x02" * 40, 0),
        (GAME.address, 50_000, b"\xff", 7),
    ]
    acc = ZERO32
    for j, (to, gas, data, value) in enumerate(sent):
        receipt = delayed.deposit(to, gas, data, value)
        (event,) = delayed.messages_in(receipt)
        block = anvil.w3.eth.get_block(receipt["blockNumber"])
        msg = event.message
        assert (msg.index, msg.sender, msg.to, msg.value, msg.gas_limit, msg.data) == (
            j,
            bytes.fromhex(OTHER.address[2:]),
            bytes.fromhex(to[2:]),
            value,
            gas,
            data,
        )
        assert (msg.l1_block_number, msg.l1_timestamp) == (block["number"], block["timestamp"])
        assert msg.message_hash() == event.message_hash
        acc = delayed_accumulator(acc, event.message_hash)
        assert acc == event.accumulator == delayed.accumulator(j)
        assert delayed.timestamp(j) == block["timestamp"]
    assert delayed.message_count() == 3
    assert anvil.w3.eth.get_balance(delayed.address) == 12
    assert [m.message.index for m in delayed.messages()] == [0, 1, 2]


def test_plain_transfer_is_a_deposit_to_the_sender(anvil, delayed):
    tx = {
        "to": delayed.address,
        "value": 99,
        "gas": 200_000,
        "nonce": anvil.w3.eth.get_transaction_count(OTHER.address),
        "chainId": anvil.chain_id,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
    }
    tx_hash = anvil.w3.eth.send_raw_transaction(OTHER.sign_transaction(tx).raw_transaction)
    receipt = anvil.w3.eth.wait_for_transaction_receipt(tx_hash)
    (event,) = delayed.messages_in(receipt)
    assert event.message.to == event.message.sender == bytes.fromhex(OTHER.address[2:])
    assert (event.message.value, event.message.gas_limit, event.message.data) == (99, 21_000, b"")
    assert delayed_accumulator(ZERO32, event.message.message_hash()) == delayed.accumulator(0)


def test_deposit_rejects_bad_input(delayed):
    with reverts("ZeroRecipient"):
        delayed.deposit("0x" + "00" * 20, 21_000)
    with reverts("GasLimitTooLow"):
        delayed.deposit(OTHER.address, 20_999)
    with reverts("GasLimitTooHigh"):
        delayed.deposit(OTHER.address, 1_000_001)
    with reverts("DataTooLarge"):
        delayed.deposit(OTHER.address, 100_000, b"\x01" * 120_001)
    delayed.deposit(OTHER.address, 1_000_000, b"\x01" * 120_000)
    assert delayed.message_count() == 1


# -- Inbox -----------------------------------------------------------------------------


def test_batches_accumulate_with_delayed_reads(anvil, delayed, inbox):
    for _ in range(3):
        delayed.deposit(OTHER.address, 21_000, b"", 1)
    plan = [
        (b"\x00batch-a", keccak(b"ra"), 4, 0),
        (b"\x00batch-b" * 100, keccak(b"rb"), 9, 2),
        (b"\x00c", ZERO32, 1, 3),
    ]
    acc = ZERO32
    for i, (payload, root, count, read) in enumerate(plan):
        (entry,) = inbox.entries_in(inbox.append_batch(payload, root, count, read))
        delayed_acc = ZERO32 if read == 0 else delayed.accumulator(read - 1)
        acc = inbox_accumulator(acc, keccak(payload), root, count, delayed_acc)
        assert (entry.index, entry.accumulator, entry.payload, entry.payload_hash) == (i, acc, payload, keccak(payload))
        assert (entry.message_root, entry.message_count, entry.delayed_read) == (root, count, read)
        assert entry.delayed_accumulator == delayed_acc and not entry.forced
        assert inbox.accumulator(i) == acc
    assert inbox.entry_count() == 3 and inbox.delayed_read() == 3
    assert [e.payload for e in inbox.entries()] == [p for p, *_ in plan]


def test_append_batch_rejects_bad_input(delayed, inbox):
    delayed.deposit(OTHER.address, 21_000)
    with reverts("NotBatcher"):
        inbox.with_signer(OTHER).append_batch(b"\x00", ZERO32, 1, 0)
    with reverts("EmptyPayload"):
        inbox.append_batch(b"", ZERO32, 1, 0)
    with reverts("ZeroMessageCount"):
        inbox.append_batch(b"\x00", ZERO32, 0, 0)
    with reverts("DelayedReadTooHigh"):
        inbox.append_batch(b"\x00", ZERO32, 1, 2)
    inbox.append_batch(b"\x00", ZERO32, 1, 1)
    with reverts("DelayedReadDecreased"):
        inbox.append_batch(b"\x00", ZERO32, 1, 0)
    assert inbox.entry_count() == 1


def test_set_batcher_is_owner_only(inbox):
    with reverts("NotOwner"):
        inbox.set_batcher(OTHER.address)
    owner = inbox.with_signer(OWNER)
    with reverts("ZeroAddress"):
        owner.set_batcher("0x" + "00" * 20)
    owner.set_batcher(OTHER.address)
    assert inbox.batcher() == OTHER.address
    with reverts("NotBatcher"):
        inbox.append_batch(b"\x00", ZERO32, 1, 0)
    inbox.with_signer(OTHER).append_batch(b"\x00", ZERO32, 1, 0)


def test_force_inclusion_waits_for_the_delay_then_takes_only_overdue_messages(anvil, delayed, inbox):
    anyone = inbox.with_signer(GAME)
    with reverts("NothingToForce"):
        anyone.force_include()
    delayed.deposit(OTHER.address, 21_000)
    delayed.deposit(OTHER.address, 21_000)
    anvil.increase_time(FORCE_DELAY // 2)
    delayed.deposit(OTHER.address, 21_000)
    with reverts("NotOverdue"):
        anyone.force_include()
    anvil.increase_time(FORCE_DELAY // 2 + 10)  # messages 0 and 1 overdue, 2 not yet
    (entry,) = inbox.entries_in(anyone.force_include())
    expected = inbox_accumulator(ZERO32, EMPTY_PAYLOAD_HASH, ZERO32, 2, delayed.accumulator(1))
    assert entry.forced and entry.payload == b"" and entry.accumulator == expected == inbox.accumulator(0)
    assert (entry.message_count, entry.delayed_read) == (2, 2) and inbox.delayed_read() == 2
    with reverts("NotOverdue"):
        anyone.force_include()
    with reverts("DelayedReadDecreased"):
        inbox.append_batch(b"\x00", ZERO32, 1, 1)
    anvil.increase_time(FORCE_DELAY)
    (entry,) = inbox.entries_in(anyone.force_include())
    assert (entry.index, entry.message_count, entry.delayed_read) == (1, 1, 3)
    assert entry.accumulator == inbox_accumulator(expected, EMPTY_PAYLOAD_HASH, ZERO32, 1, delayed.accumulator(2))
    with reverts("NothingToForce"):
        anyone.force_include()


# -- Rollup ----------------------------------------------------------------------------


def test_genesis_assertion_is_confirmed_with_the_deployed_root(rollup, deployment):
    genesis = rollup.assertion(0)
    assert genesis.status == AssertionStatus.CONFIRMED
    assert "0x" + genesis.output_root.hex() == deployment.genesis_output_root
    assert rollup.latest_confirmed() == 0 and rollup.assertion_count() == 1
    assert (rollup.bond(), rollup.challenge_period()) == (BOND, CHALLENGE)


def test_create_assertion_records_it_and_pins_the_inbox(inbox, rollup):
    inbox.append_batch(b"\x00a", ZERO32, 1, 0)
    inbox.append_batch(b"\x00b", ZERO32, 1, 0)
    receipt = rollup.create_assertion(0, 2, 10, ROOT)
    new_id = rollup.created_id(receipt)
    a = rollup.assertion(new_id)
    assert (a.id, a.parent_id, a.inbox_entries, a.l2_block_number, a.output_root) == (1, 0, 2, 10, ROOT)
    assert a.asserter == PROPOSER.address and a.status == AssertionStatus.PENDING
    assert a.inbox_accumulator == inbox.accumulator(1)
    assert rollup.bonds_held() == BOND


def test_create_assertion_rejects_bad_input(inbox, rollup):
    inbox.append_batch(b"\x00a", ZERO32, 1, 0)
    with reverts("NotProposer"):
        rollup.with_signer(OTHER).create_assertion(0, 1, 1, ROOT)
    with reverts("WrongBond"):
        rollup.create_assertion(0, 1, 1, ROOT, value=BOND - 1)
    with reverts("WrongBond"):
        rollup.create_assertion(0, 1, 1, ROOT, value=BOND + 1)
    with reverts("UnknownAssertion"):
        rollup.create_assertion(1, 1, 1, ROOT)
    with reverts("InboxEntriesTooHigh"):
        rollup.create_assertion(0, 2, 1, ROOT)
    with reverts("BlockNumberNotIncreasing"):
        rollup.create_assertion(0, 1, 0, ROOT)
    with reverts("ValueTooLarge"):
        rollup.create_assertion(0, 1, 2**64, ROOT)
    with reverts("ZeroOutputRoot"):
        rollup.create_assertion(0, 1, 1, ZERO32)
    first = rollup.created_id(rollup.create_assertion(0, 1, 5, ROOT))
    inbox.append_batch(b"\x00b", ZERO32, 1, 0)
    with reverts("BlockNumberNotIncreasing"):
        rollup.create_assertion(first, 2, 5, ROOT)
    rollup.created_id(rollup.create_assertion(first, 1, 6, ROOT))  # no new inbox entry: allowed
    assert rollup.assertion_count() == 3


def test_inbox_entries_may_not_go_back(inbox, rollup):
    inbox.append_batch(b"\x00a", ZERO32, 1, 0)
    inbox.append_batch(b"\x00b", ZERO32, 1, 0)
    first = rollup.created_id(rollup.create_assertion(0, 2, 5, ROOT))
    with reverts("InboxEntriesDecreased"):
        rollup.create_assertion(first, 1, 6, ROOT)


def test_proposer_roles(rollup):
    owner = rollup.with_signer(OWNER)
    with reverts("NotOwner"):
        rollup.set_proposer(OTHER.address, True)
    with reverts("NotOwner"):
        rollup.set_permissionless(True)
    with reverts("ZeroAddress"):
        owner.set_proposer("0x" + "00" * 20, True)
    outsider = rollup.with_signer(OTHER)
    owner.set_permissionless(True)
    outsider.create_assertion(0, 0, 1, ROOT)
    owner.set_permissionless(False)
    with reverts("NotProposer"):
        outsider.create_assertion(0, 0, 2, ROOT)
    owner.set_proposer(OTHER.address, True)
    outsider.create_assertion(0, 0, 2, ROOT)
    owner.set_proposer(PROPOSER.address, False)
    with reverts("NotProposer"):
        rollup.create_assertion(0, 0, 3, ROOT)


def test_confirm_after_the_challenge_period_returns_the_bond(anvil, rollup):
    w3 = anvil.w3
    a1 = rollup.created_id(rollup.create_assertion(0, 0, 1, ROOT))
    a2 = rollup.created_id(rollup.create_assertion(a1, 0, 2, ROOT))
    sibling = rollup.created_id(rollup.with_signer(PROPOSER2).create_assertion(0, 0, 3, ROOT))
    confirmer = rollup.with_signer(OTHER)
    with reverts("UnknownAssertion"):
        confirmer.confirm_assertion(99)
    with reverts("NotPending"):
        confirmer.confirm_assertion(0)
    with reverts("ChallengePeriodNotOver"):
        confirmer.confirm_assertion(a1)
    anvil.increase_time(CHALLENGE)
    with reverts("ParentNotLatestConfirmed"):
        confirmer.confirm_assertion(a2)
    before = w3.eth.get_balance(PROPOSER.address)
    confirmer.confirm_assertion(a1)
    assert w3.eth.get_balance(PROPOSER.address) == before + BOND
    assert rollup.assertion(a1).status == AssertionStatus.CONFIRMED and rollup.latest_confirmed() == a1
    with reverts("NotPending"):
        confirmer.confirm_assertion(a1)
    with reverts("ParentNotLatestConfirmed"):
        confirmer.confirm_assertion(sibling)  # its parent is no longer the latest confirmed
    confirmer.confirm_assertion(a2)
    assert rollup.latest_confirmed() == a2
    assert rollup.bonds_held() == BOND == w3.eth.get_balance(rollup.address)  # the stranded sibling's bond


def test_a_stranded_assertion_gets_its_bond_back_once_unchallengeable(anvil, rollup):
    """A sibling branch confirmed first: the other child of genesis, and its own child, can never
    confirm; after their challenge periods, with no game open, anyone returns their bonds."""
    w3 = anvil.w3
    a1 = rollup.created_id(rollup.create_assertion(0, 0, 1, ROOT))
    stranded = rollup.created_id(rollup.with_signer(PROPOSER2).create_assertion(0, 0, 3, keccak(b"other")))
    child = rollup.created_id(rollup.with_signer(PROPOSER2).create_assertion(stranded, 0, 4, ROOT))
    anyone = rollup.with_signer(OTHER)
    with reverts("NotStranded"):
        anyone.release_stranded(stranded)  # genesis is still the latest confirmed: it may confirm
    anvil.increase_time(CHALLENGE)
    anyone.confirm_assertion(a1)
    with reverts("NotStranded"):
        anyone.release_stranded(child)  # its parent is not released yet
    with reverts("NotPending"):
        anyone.release_stranded(a1)
    with reverts("UnknownAssertion"):
        anyone.release_stranded(99)
    before = w3.eth.get_balance(PROPOSER2.address)
    receipt = anyone.release_stranded(stranded)
    assert w3.eth.get_balance(PROPOSER2.address) == before + BOND  # paid to the asserter, not the caller
    assert rollup.contract.events.AssertionReleased().process_receipt(receipt)[0]["args"]["id"] == stranded
    assert rollup.assertion(stranded).status == AssertionStatus.RELEASED
    with reverts("NotPending"):
        anyone.release_stranded(stranded)
    with reverts("NotPending"):
        anyone.confirm_assertion(stranded)
    anyone.release_stranded(child)  # a released parent strands its children too
    assert w3.eth.get_balance(PROPOSER2.address) == before + 2 * BOND
    assert rollup.bonds_held() == 0 == w3.eth.get_balance(rollup.address)


def test_a_stranded_assertion_waits_for_its_period_and_its_games(anvil, rollup):
    a1 = rollup.created_id(rollup.create_assertion(0, 0, 1, ROOT))
    anvil.increase_time(CHALLENGE // 2)
    late = rollup.created_id(rollup.with_signer(PROPOSER2).create_assertion(0, 0, 2, keccak(b"late")))
    anvil.increase_time(CHALLENGE // 2)
    anyone = rollup.with_signer(OTHER)
    anyone.confirm_assertion(a1)
    with reverts("ChallengePeriodNotOver"):
        anyone.release_stranded(late)  # it can still be challenged: its bond stays at stake
    game = rollup.with_signer(GAME)
    rollup.with_signer(OWNER).set_dispute_game(GAME.address)
    game.transact("gameStarted", late)  # GAME, an account, stands in for the dispute game
    anvil.increase_time(CHALLENGE)
    with reverts("GamesOpen"):
        anyone.release_stranded(late)  # a game still running decides it first
    game.transact("gameEnded", late)
    anyone.release_stranded(late)
    assert rollup.assertion(late).status == AssertionStatus.RELEASED
    assert rollup.bonds_held() == 0


def test_dispute_game_hook_rejects_and_descendants_follow(anvil, rollup):
    w3 = anvil.w3
    owner = rollup.with_signer(OWNER)
    game = rollup.with_signer(GAME)
    a1 = rollup.created_id(rollup.create_assertion(0, 0, 1, ROOT))
    child = rollup.created_id(rollup.create_assertion(a1, 0, 2, ROOT))
    with reverts("NotDisputeGame"):
        game.reject_assertion(a1)  # no game set yet
    with reverts("NotOwner"):
        game.set_dispute_game(GAME.address)
    with reverts("ZeroAddress"):
        owner.set_dispute_game("0x" + "00" * 20)
    owner.set_dispute_game(GAME.address)
    with reverts("DisputeGameAlreadySet"):
        owner.set_dispute_game(OTHER.address)
    with reverts("NotDisputeGame"):
        rollup.reject_assertion(a1)
    with reverts("UnknownAssertion"):
        game.reject_assertion(99)
    with reverts("NotPending"):
        game.reject_assertion(0)
    with reverts("ParentNotRejected"):
        game.reject_descendant(child)
    with reverts("UnknownAssertion"):
        game.reject_descendant(99)
    before = w3.eth.get_balance(GAME.address)
    receipt = game.reject_assertion(a1)
    assert w3.eth.get_balance(GAME.address) == before + BOND - fee(receipt)
    assert rollup.assertion(a1).status == AssertionStatus.REJECTED
    with reverts("NotPending"):
        game.reject_assertion(a1)
    with reverts("ParentRejected"):
        rollup.create_assertion(a1, 0, 3, ROOT)
    anvil.increase_time(CHALLENGE)
    with reverts("ParentRejected"):
        rollup.confirm_assertion(child)
    rollup.with_signer(OTHER).reject_descendant(child)
    assert rollup.assertion(child).status == AssertionStatus.REJECTED
    with reverts("NotPending"):
        rollup.reject_descendant(child)
    assert rollup.bonds_held() == 0 == w3.eth.get_balance(rollup.address)


def test_bond_accounting_never_loses_a_wei(anvil, rollup):
    w3 = anvil.w3
    people = [PROPOSER.address, PROPOSER2.address, OTHER.address, GAME.address, OWNER.address, rollup.address]
    total_before = sum(w3.eth.get_balance(p) for p in people)
    fees = fee(rollup.with_signer(OWNER).set_dispute_game(GAME.address))
    receipts = []
    a1 = rollup.created_id(r := rollup.create_assertion(0, 0, 1, ROOT))
    receipts.append(r)
    bad = rollup.created_id(r := rollup.with_signer(PROPOSER2).create_assertion(0, 0, 1, keccak(b"bad")))
    receipts.append(r)
    orphan = rollup.created_id(r := rollup.with_signer(PROPOSER2).create_assertion(bad, 0, 2, ROOT))
    receipts.append(r)
    a2 = rollup.created_id(r := rollup.create_assertion(a1, 0, 2, ROOT))
    receipts.append(r)
    assert w3.eth.get_balance(rollup.address) == rollup.bonds_held() == 4 * BOND
    receipts.append(rollup.with_signer(GAME).reject_assertion(bad))
    receipts.append(rollup.with_signer(OTHER).reject_descendant(orphan))
    anvil.increase_time(CHALLENGE)
    receipts.append(rollup.with_signer(OTHER).confirm_assertion(a1))
    receipts.append(rollup.with_signer(OTHER).confirm_assertion(a2))
    fees += sum(fee(r) for r in receipts)
    assert w3.eth.get_balance(rollup.address) == rollup.bonds_held() == 0
    assert sum(w3.eth.get_balance(p) for p in people) + fees == total_before
