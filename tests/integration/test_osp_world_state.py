"""LOAD_ACCOUNT, LOAD_SLOT, SLOAD / SSTORE and the COMMIT walk (l1/contracts/osp/WorldState.sol on
anvil, twin l1/proofs/world_state.py) against py-evm: on real ERC-20 transactions (eth-tester,
Prague) the accounts and slots a transaction touches are loaded from the pre-state trie, given their
post-transaction values, and the commit walk, step by step in Solidity, must give py-evm's own
post-state root; sequences of SLOAD / SSTORE on a journal slot charge and refund as py-evm does."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth.exceptions import OutOfGas
from eth.vm.message import Message
from eth_hash.auto import keccak
from eth_tester import EthereumTester, PyEVMBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError

from l1.anvil import Anvil
from l1.proofs.journal import (
    EMPTY_CODE_HASH,
    EMPTY_TRIE_ROOT,
    FLAG_TOUCHED,
    FLAG_WARM,
    AccountEntry,
    Journal,
    SlotEntry,
    slot_key,
)
from l1.proofs.mpt import account_path, slot_path
from l1.proofs.world_state import STAGE_DONE, commit_steps, load_account, load_slot, sload, sstore

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "tests" / "contracts" / "artifacts" / "WorldStateHarness.json"
TOKEN = ROOT / "bench" / "contracts" / "artifacts" / "TestToken.json"
BALANCES_SLOT, ALLOWANCES_SLOT = 3, 4


@pytest.fixture(scope="module")
def harness(anvil: Anvil) -> Any:
    w3 = anvil.w3
    artifact = json.loads(HARNESS.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


class _Overlay(dict):
    """New trie nodes go here; reads fall through to py-evm's database (left untouched)."""

    def __init__(self, base: Any) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: bytes) -> bytes:
        return self.base[key]


def _word(value: int | bytes) -> bytes:
    return value.rjust(32, b"\0") if isinstance(value, bytes) else value.to_bytes(32, "big")


def balance_slot(holder: bytes) -> int:
    return int.from_bytes(keccak(_word(holder) + _word(BALANCES_SLOT)), "big")


def allowance_slot(owner: bytes, spender: bytes) -> int:
    inner = keccak(_word(owner) + _word(ALLOWANCES_SLOT))
    return int.from_bytes(keccak(_word(spender) + inner), "big")


@dataclass
class Scenario:
    """One ERC-20 transaction in its own block, with the py-evm state before and after it."""

    db: Any
    pre_root: bytes
    post_root: bytes
    token: bytes
    accounts: list[bytes]  # every address the journal loads
    touched: set[bytes]
    slots: list[int]  # token slots the journal loads


def _scenario(action: Callable[[Any, Any, list[bytes]], Any], slots: Callable[[list[bytes]], list[int]]) -> Scenario:
    backend = PyEVMBackend()
    w3 = Web3(EthereumTesterProvider(EthereumTester(backend)))
    accounts = [bytes.fromhex(a[2:]) for a in w3.eth.accounts]
    artifact = json.loads(TOKEN.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    holders = [w3.eth.accounts[0], w3.eth.accounts[1]]
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor("T", "T", holders, 1000).transact(
        {"from": w3.eth.accounts[0]}))
    token = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    pre = w3.eth.get_block("latest")
    receipt = w3.eth.wait_for_transaction_receipt(action(w3, token, w3.eth.accounts))
    post = w3.eth.get_block("latest")
    assert receipt["status"] == 1 and post["number"] == pre["number"] + 1 and len(post["transactions"]) == 1
    sender, coinbase = bytes.fromhex(receipt["from"][2:]), bytes.fromhex(post["miner"][2:])
    token_address = bytes.fromhex(token.address[2:])
    never = keccak(b"never existed")[:20]
    return Scenario(
        db=backend.chain.chaindb.db, pre_root=bytes(pre["stateRoot"]), post_root=bytes(post["stateRoot"]),
        token=token_address,
        # touched: sender, token, coinbase; loaded only: an existing account and one that never existed
        accounts=[sender, token_address, coinbase, accounts[5], never],
        touched={sender, token_address, coinbase}, slots=slots(accounts) + [2],  # + totalSupply, unchanged
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "transfer to a new holder (slot inserted)": lambda: _scenario(
        lambda w3, t, a: t.functions.transfer(a[2], 10).transact({"from": a[0]}),
        lambda a: [balance_slot(a[0]), balance_slot(a[2]), balance_slot(a[1])]),
    "transfer of a whole balance (slot deleted)": lambda: _scenario(
        lambda w3, t, a: t.functions.transfer(a[0], 1000).transact({"from": a[1]}),
        lambda a: [balance_slot(a[1]), balance_slot(a[0])]),
    "approve (nested mapping slot)": lambda: _scenario(
        lambda w3, t, a: t.functions.approve(a[3], 77).transact({"from": a[1]}),
        lambda a: [allowance_slot(a[1], a[3])]),
}


def _account_after(db: Any, root: bytes, address: bytes) -> tuple[int, int, bytes, bytes]:
    value = HexaryTrie(db, root).get(account_path(address))
    if not value:
        return 0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH
    nonce, balance, storage_root, code_hash = rlp.decode(value)
    return int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_journal_of_an_erc20_tx_commits_to_pyevm_post_state(harness: Any, name: str) -> None:
    s = SCENARIOS[name]()
    db = _Overlay(s.db)
    journal = Journal()

    def state() -> tuple[bytes, int]:
        return journal.root, journal.count

    # LOAD_ACCOUNT / LOAD_SLOT, each checked against Solidity
    for address in s.accounts:
        before = state()
        load = load_account(db, s.pre_root, journal, address)
        root, count, payload = harness.functions.loadAccount(
            s.pre_root, before, Web3.to_checksum_address(address), load.proof, load.insert.encode()).call()
        assert (bytes(root), count, bytes(payload)) == (journal.root, journal.count, load.entry.encode())
    for slot in s.slots:
        before = state()
        load = load_slot(db, journal, s.token, slot)
        root, count, payload = harness.functions.loadSlot(
            before, load.account_leaf.encode(), slot, load.proof, load.insert.encode()).call()
        assert (bytes(root), count, bytes(payload)) == (journal.root, journal.count, load.entry.encode())

    # what execution would leave in the journal: py-evm's post values, touched flags
    for address in s.accounts:
        entry = AccountEntry.decode(journal.get(AccountEntry.loaded(address).key).payload)
        nonce, balance, _, code_hash = _account_after(s.db, s.post_root, address)
        flags = entry.flags | (FLAG_TOUCHED | FLAG_WARM if address in s.touched else 0)
        after = replace(entry, flags=flags, nonce=nonce, balance=balance, code_hash=code_hash)
        journal.update(entry.key, after.encode())
    token_storage = HexaryTrie(s.db, _account_after(s.db, s.post_root, s.token)[2])
    changed = 0
    for slot in s.slots:
        entry = SlotEntry.decode(journal.get(slot_key(s.token, slot)).payload)
        raw = token_storage.get(slot_path(slot))
        current = rlp.decode(raw, sedes=rlp.sedes.big_endian_int) if raw else 0
        changed += current != entry.original
        journal.update(entry.key, replace(entry, current=current, warm=True).encode())
    assert changed >= 1

    # COMMIT, one Solidity call per step
    steps = commit_steps(db, s.pre_root, journal)
    assert steps[-1].next_cursor.stage == STAGE_DONE and steps[-1].next_world_root == s.post_root
    gas = []
    for step in steps:
        root, cursor, used = harness.functions.commitStep(
            (step.world_root, journal.root, journal.count), step.cursor.as_abi(), step.leaf.encode(),
            step.proof, step.sibling).call()
        assert bytes(root) == step.next_world_root
        assert tuple(cursor) == step.next_cursor.as_abi()
        # MachineState.pending during COMMIT: one layout (commitments.PendingCommit) on both sides
        assert harness.functions.pendingHash(step.cursor.as_abi()).call() == step.cursor.pending_hash()
        gas.append((used, len(step.proof)))
    writes = [g for g, nodes in gas if nodes]
    assert writes and max(writes) < 1_000_000
    assert len(steps) == 1 + (len(s.accounts) + len(s.slots)) + len(s.accounts)  # start, visits, closes

    # a step fed another leaf, or a proof it does not use, is refused
    visit = next(st for st in steps if st.write is None and not st.cursor.close and st.cursor.stage != 0)
    other = journal.proof((visit.leaf.index + 1) % journal.count)
    for leaf, proof in ((other, []), (visit.leaf, steps[-1].proof or [b"\xc0"])):
        with pytest.raises(ContractLogicError):
            harness.functions.commitStep((visit.world_root, journal.root, journal.count), visit.cursor.as_abi(),
                                         leaf.encode(), proof, b"").call()


def _pyevm_storage_run(original: int, ops: list[tuple[str, int]], gas: int) -> list[tuple[int, int] | None]:
    """py-evm's Prague SLOAD / SSTORE on one computation: per op (gas charged, refund counter
    after it), None from the op that ran out of gas on."""
    contract, sender, slot = b"\x11" * 20, b"\x22" * 20, 5
    state = PyEVMBackend().chain.get_vm().state
    state.set_storage(contract, slot, original)
    state.lock_changes()  # a transaction starts: `original` is committed
    context = state.get_transaction_context_class()(gas_price=1, origin=sender)
    computation = state.get_computation(Message(gas=gas, to=contract, sender=sender, value=0, data=b"", code=b""),
                                        context)
    out: list[tuple[int, int] | None] = []
    for op, value in ops:
        before = computation.get_gas_remaining()
        if op == "sstore":
            computation.stack_push_int(value)
        computation.stack_push_int(slot)
        try:
            computation.opcodes[0x55 if op == "sstore" else 0x54](computation)
        except OutOfGas:
            out.append(None)
            break
        out.append((before - computation.get_gas_remaining(), computation.get_gas_refund()))
    return out


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(original=st.sampled_from([0, 1, 7]),
       ops=st.lists(st.tuples(st.sampled_from(["sload", "sstore", "sstore"]), st.sampled_from([0, 1, 7, 9])),
                    min_size=1, max_size=8),
       gas=st.sampled_from([2_400, 5_000, 30_000, 100_000]))
def test_sload_sstore_sequences_match_pyevm(harness: Any, original: int, ops: list[tuple[str, int]],
                                            gas: int) -> None:
    """A loaded slot read and written in sequence: the journal entry's gas, refunds and values
    follow py-evm's, in Solidity and in the Python twin."""
    contract, slot = b"\x11" * 20, 5
    journal = Journal()
    journal.insert_slot(SlotEntry(contract, slot, original, original, False))
    expected = _pyevm_storage_run(original, ops, gas)
    gas_left, refund = gas, 0
    for (op, value), outcome in zip(ops, expected, strict=False):
        before = (journal.root, journal.count)
        if op == "sload":
            read_value, charged, proof = sload(journal, contract, slot)
            got = harness.functions.sload(before, proof.encode(), Web3.to_checksum_address(contract), slot).call()
            assert (got[0], got[1], bytes(got[2])) == (read_value, charged, journal.root)
            ok, delta = charged <= gas_left, 0
        else:
            cost, proof = sstore(journal, contract, slot, value, gas_left)
            got = harness.functions.sstore(before, proof.encode(), Web3.to_checksum_address(contract), slot, value,
                                           gas_left).call()
            assert (got[0], got[1], got[2], bytes(got[3])) == (cost.ok, cost.gas, cost.refund if cost.ok else 0,
                                                               journal.root)
            ok, charged, delta = cost.ok, cost.gas, cost.refund
        if outcome is None:
            assert not ok
            return
        assert ok and charged == outcome[0] and refund + delta == outcome[1]
        gas_left, refund = gas_left - charged, refund + delta
    entry = SlotEntry.decode(journal.get(slot_key(contract, slot)).payload)
    assert entry.original == original and (entry.warm or not ops)
