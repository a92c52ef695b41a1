"""The journal of the one-step prover (docs/fraud-proofs.md 1.6): the Python twin
(l1/proofs/journal.py) and the Solidity library (l1/contracts/osp/Journal.sol, through
tests/contracts/JournalHarness.sol on eth-tester) agree on roots, on what they accept, and both
reject every single-field corruption of a proof."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError

from l1.proofs.journal import (
    DEPTH,
    KIND_ACCOUNT,
    KIND_SLOT,
    ZERO_KEY,
    AccountEntry,
    InsertProof,
    Journal,
    JournalError,
    LeafProof,
    SlotEntry,
    account_key,
    apply_insert,
    apply_update,
    empty_root,
    slot_key,
    verify_absent,
    verify_member,
)

ARTIFACT = Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "JournalHarness.json"
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def harness() -> Any:
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    artifact = json.loads(ARTIFACT.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def _address(i: int) -> bytes:
    return keccak(b"addr" + i.to_bytes(4, "big"))[:20]


def _account(i: int, rng: random.Random) -> AccountEntry:
    return AccountEntry(
        _address(i), rng.randrange(32), rng.randrange(2**64), rng.randrange(2**256), rng.randbytes(32),
        rng.randbytes(32), rng.randrange(2**64), rng.randrange(2**256), rng.randbytes(32),
    )


def _slot(i: int, s: int, rng: random.Random) -> SlotEntry:
    return SlotEntry(_address(i), s, rng.randrange(2**256), rng.randrange(2**256), rng.random() < 0.5)


def _entry(kind: int, key: bytes, payload: bytes) -> bytes:
    return bytes([kind]) + key + payload


def _sample_journal(rng: random.Random, accounts: int = 6, slots: int = 3) -> Journal:
    journal = Journal()
    for i in range(accounts):
        journal.insert_account(_account(i, rng))
        for s in range(slots):
            journal.insert_slot(_slot(i, s * 7 + 1, rng))
    return journal


def _rejects(call: Callable[..., Any], *args: Any) -> bool:
    try:
        call(*args)
    except (ContractLogicError, TransactionFailed, JournalError):
        return True
    return False


def test_empty_root_keys_and_payload_codecs_match(harness: Any) -> None:
    assert harness.functions.emptyRoot().call() == empty_root() == Journal().root
    address = _address(3)
    ah, al, sh, sl = harness.functions.keys(Web3.to_checksum_address(address), 12345).call()
    assert ah + al == account_key(address) and sh + sl == slot_key(address, 12345)
    assert account_key(address) < slot_key(address, 0)  # an account sorts before its slots
    rng = random.Random(1)
    for _ in range(5):
        account = _account(rng.randrange(100), rng)
        fields, again = harness.functions.accountRoundTrip(account.encode()).call()
        assert again == account.encode() and AccountEntry.decode(again) == account
        assert list(fields)[1:] == [account.flags, account.orig_nonce, account.orig_balance, account.orig_storage_root,
                                    account.orig_code_hash, account.nonce, account.balance, account.code_hash]
        slot = _slot(rng.randrange(100), rng.randrange(2**256), rng)
        fields, again = harness.functions.slotRoundTrip(slot.encode()).call()
        assert again == slot.encode() and SlotEntry.decode(again) == slot
        assert list(fields)[1:] == [slot.slot, slot.original, slot.current, slot.warm]


def test_iteration_is_in_key_order_and_lookups_are_exact() -> None:
    rng = random.Random(2)
    journal = _sample_journal(rng)
    keys = [leaf.key for leaf in journal]
    assert keys == sorted(keys) and len(keys) == journal.count - 1
    for key in keys:
        verify_member(journal.root, journal.count, journal.membership_proof(key), key)
    absent = keccak(b"nobody") + ZERO_KEY[:32]
    low = journal.non_membership_proof(absent)
    verify_absent(journal.root, journal.count, low, absent)
    with pytest.raises(JournalError):
        journal.insert(KIND_ACCOUNT, keys[0], _account(0, rng).encode())


def test_solidity_accepts_every_honest_membership_and_absence(harness: Any) -> None:
    rng = random.Random(3)
    journal = _sample_journal(rng, accounts=4, slots=2)
    for leaf in journal:
        proof = journal.membership_proof(leaf.key)
        gas = harness.functions.verifyMember(journal.root, journal.count, proof.encode(), leaf.key[:32],
                                             leaf.key[32:]).call()
        assert 0 < gas < 60_000
    for i in range(4, 8):  # absent accounts and absent slots of present accounts
        for key in (account_key(_address(i)), slot_key(_address(i - 4), 999)):
            low = journal.non_membership_proof(key)
            harness.functions.verifyAbsent(journal.root, journal.count, low.encode(), key[:32], key[32:]).call()
    # a present key has no low leaf: its own leaf is refused as one
    member = next(iter(journal))
    proof = journal.membership_proof(member.key)
    assert _rejects(lambda: harness.functions.verifyAbsent(journal.root, journal.count, proof.encode(),
                                                           member.key[:32], member.key[32:]).call())


def _leaf_field_corruptions(proof: LeafProof) -> list[tuple[str, LeafProof]]:
    """Each field of a LeafProof changed on its own (leaf fields, index, each sibling)."""
    leaf = proof.leaf
    flip = bytes([leaf.key[0] ^ 1]) + leaf.key[1:]
    out = [
        ("index", replace(proof, index=proof.index ^ 1)),
        ("key", replace(proof, leaf=replace(leaf, key=flip))),
        ("key-low-half", replace(proof, leaf=replace(leaf, key=leaf.key[:63] + bytes([leaf.key[63] ^ 1])))),
        ("nextKey", replace(proof, leaf=replace(leaf, next_key=bytes([leaf.next_key[0] ^ 0x80]) + leaf.next_key[1:]))),
        ("nextIndex", replace(proof, leaf=replace(leaf, next_index=leaf.next_index ^ 1))),
        ("kind", replace(proof, leaf=replace(leaf, kind=KIND_SLOT if leaf.kind == KIND_ACCOUNT else KIND_ACCOUNT))),
    ]
    if leaf.payload:
        payload = leaf.payload[:-1] + bytes([leaf.payload[-1] ^ 1])
        out.append(("payload", replace(proof, leaf=replace(leaf, payload=payload))))
    for level in range(DEPTH):
        siblings = list(proof.siblings)
        siblings[level] = bytes([siblings[level][0] ^ 1]) + siblings[level][1:]
        out.append((f"sibling{level}", replace(proof, siblings=tuple(siblings))))
    return out


def test_every_single_field_corruption_is_rejected(harness: Any) -> None:
    rng = random.Random(4)
    journal = _sample_journal(rng, accounts=3, slots=2)
    root, count = journal.root, journal.count
    member = list(journal)[2]
    key = member.key
    honest = journal.membership_proof(key)
    new_payload = _slot(9, 9, rng).encode() if member.kind == KIND_SLOT else _account(9, rng).encode()

    def sol(name: str) -> Callable[..., Any]:
        return lambda *args: getattr(harness.functions, name)(*args).call()

    assert not _rejects(sol("verifyMember"), root, count, honest.encode(), key[:32], key[32:])
    assert not _rejects(sol("update"), root, count, honest.encode(), new_payload)
    for name, bad in _leaf_field_corruptions(honest):
        assert _rejects(sol("verifyMember"), root, count, bad.encode(), key[:32], key[32:]), name
        assert _rejects(sol("update"), root, count, bad.encode(), new_payload), name
        assert _rejects(verify_member, root, count, bad, key), name
        assert _rejects(apply_update, root, count, bad, new_payload), name
    # count is not in the proof but comes from the committed state: an index >= count is refused
    assert _rejects(sol("verifyMember"), root, honest.index, honest.encode(), key[:32], key[32:])
    assert _rejects(sol("verifyMember"), root, count, honest.encode() + b"\0", key[:32], key[32:])
    assert _rejects(sol("verifyMember"), root, count, honest.encode()[:-1], key[:32], key[32:])

    # absence and insert: the low leaf of a new slot key, and the new index's siblings
    address = member_key_address(journal, key)
    entry = SlotEntry(address, 424242, 5, 5, False)
    new_key = slot_key(address, 424242)
    assert entry.key == new_key
    new_entry = _entry(KIND_SLOT, new_key, entry.encode())
    probe = journal.copy()
    insert = probe.insert_slot(entry)
    low = insert.low
    new_root, new_count, _ = sol("insert")(root, count, insert.encode(), new_entry)
    assert (new_root, new_count) == (probe.root, probe.count) and (journal.root, journal.count) == (root, count)
    assert not _rejects(sol("verifyAbsent"), root, count, low.encode(), new_key[:32], new_key[32:])
    for name, bad in _leaf_field_corruptions(low):
        assert _rejects(sol("verifyAbsent"), root, count, bad.encode(), new_key[:32], new_key[32:]), name
        bad_insert = InsertProof(bad, insert.new_siblings)
        assert _rejects(sol("insert"), root, count, bad_insert.encode(), new_entry), name
        assert _rejects(apply_insert, root, count, bad_insert, KIND_SLOT, new_key, entry.encode()), name
    for level in range(DEPTH):
        siblings = list(insert.new_siblings)
        siblings[level] = bytes([siblings[level][0] ^ 1]) + siblings[level][1:]
        bad_insert = InsertProof(low, tuple(siblings))
        assert _rejects(sol("insert"), root, count, bad_insert.encode(), new_entry), level
        assert _rejects(apply_insert, root, count, bad_insert, KIND_SLOT, new_key, entry.encode()), level
    # the previous count would overwrite a used index; a key that is present has no low leaf
    assert _rejects(sol("insert"), root, count - 1, insert.encode(), new_entry)
    assert _rejects(sol("insert"), root, count, insert.encode(), _entry(KIND_SLOT, low.leaf.key, entry.encode()))
    # a full journal (2^16 entries) takes no more: an index past it would wrap onto leaf 0
    assert _rejects(sol("insert"), root, 2**16, insert.encode(), new_entry)
    assert _rejects(apply_insert, root, 2**16, insert, KIND_SLOT, new_key, entry.encode())
    # the new entry's payload must fit its kind
    assert _rejects(sol("insert"), root, count, insert.encode(), _entry(KIND_ACCOUNT, new_key, entry.encode()))


def member_key_address(journal: Journal, key: bytes) -> bytes:
    """The address of the account whose key prefix `key` shares (slot or account leaf)."""
    for leaf in journal:
        if leaf.kind == KIND_ACCOUNT and leaf.key[:32] == key[:32]:
            return AccountEntry.decode(leaf.payload).address
    raise KeyError(key.hex())


_OPS = st.lists(
    st.tuples(st.sampled_from(["account", "slot", "update"]), st.integers(0, 7), st.integers(0, 5),
              st.integers(0, 2**32)),
    min_size=1, max_size=14,
)


@FAST
@given(ops=_OPS)
def test_random_insert_update_sequences_agree(harness: Any, ops: list[tuple[str, int, int, int]]) -> None:
    journal = Journal()
    root, count = journal.root, journal.count
    for op, who, slot, seed in ops:
        rng = random.Random(seed)
        if op == "account" or (op == "slot" and account_key(_address(who)) not in journal):
            key, kind, payload = account_key(_address(who)), KIND_ACCOUNT, _account(who, rng).encode()
        elif op == "slot":
            key, kind, payload = slot_key(_address(who), slot), KIND_SLOT, _slot(who, slot, rng).encode()
        else:
            leaves = list(journal)
            if not leaves:
                continue
            leaf = leaves[seed % len(leaves)]
            payload = (_account(who, rng) if leaf.kind == KIND_ACCOUNT else _slot(who, slot, rng)).encode()
            proof = journal.update(leaf.key, payload)
            sol_root, _ = harness.functions.update(root, count, proof.encode(), payload).call()
            assert sol_root == apply_update(root, count, proof, payload) == journal.root
            root = journal.root
            continue
        if key in journal:
            continue
        insert = journal.insert(kind, key, payload)
        sol_root, sol_count, gas = harness.functions.insert(root, count, insert.encode(),
                                                            _entry(kind, key, payload)).call()
        assert (sol_root, sol_count) == (journal.root, journal.count)
        assert apply_insert(root, count, insert, kind, key, payload) == journal.root
        assert gas < 120_000
        root, count = journal.root, journal.count
    keys = [leaf.key for leaf in journal]
    assert keys == sorted(keys)
