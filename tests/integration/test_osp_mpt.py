"""MPT read / update / delete from a proof (l1/contracts/osp/MptUpdate.sol on anvil, proofs from
l1/proofs/mpt.py): the new root always equals the `trie` package's, on random tries with
short keys (inline nodes everywhere) and secure 32-byte keys, every node shape included; corrupted
proofs are refused; gas per proof node measured on a 10k-account trie."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import rlp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trie import HexaryTrie
from web3.exceptions import ContractLogicError

from l1.anvil import Anvil
from l1.proofs.mpt import (
    EMPTY_ROOT,
    MptWrite,
    account_path,
    account_rlp,
    read,
    slot_path,
    storage_rlp,
    write,
)

ARTIFACT = Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "MptUpdateHarness.json"


@pytest.fixture(scope="module")
def harness(anvil: Anvil) -> Any:
    w3 = anvil.w3
    artifact = json.loads(ARTIFACT.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def solidity_write(harness: Any, w: MptWrite) -> tuple[bytes, int]:
    """The root the library computes for the write `w`, and the gas it took."""
    if w.is_delete:
        root, gas = harness.functions.remove(w.old_root, w.key, w.proof, w.sibling).call()
    else:
        root, gas = harness.functions.update(w.old_root, w.key, w.value, w.proof).call()
    return bytes(root), gas


def _check(harness: Any, trie: HexaryTrie, key: bytes, value: bytes) -> MptWrite:
    w = write(trie, key, value)
    root, _ = solidity_write(harness, w)
    assert root == w.new_root == trie.root_hash
    return w


def _reverts(call: Any) -> bool:
    try:
        call.call()
    except ContractLogicError:
        return True
    return False


def test_rlp_encoders_match(harness: Any) -> None:
    for value in (1, 0x7F, 0x80, 255, 256, 10**18, 2**256 - 1):
        assert harness.functions.encodeUint(value).call() == storage_rlp(value) == rlp.encode(value)
    assert harness.functions.encodeUint(0).call() == b"\x80"
    root, code = bytes(range(32)), bytes(range(32, 64))
    for nonce, balance in ((0, 0), (1, 10**18), (2**64 - 1, 2**256 - 1)):
        assert harness.functions.encodeAccount(nonce, balance, root, code).call() == account_rlp(nonce, balance, root,
                                                                                                  code)


def _shape(trie: HexaryTrie, key: bytes) -> str:
    """The nodes on `key`'s path: B branch, L<n> / E<n> leaf / extension with an n-nibble path."""
    out = []
    for node in trie.get_proof(key):
        if len(node) == 17:
            out.append("B")
        else:
            kind = "L" if node[0][0] & 0x20 else "E"
            out.append(f"{kind}{2 * len(node[0]) - (1 if node[0][0] & 0x10 else 2)}")
    return " ".join(out)


# (key, value or "" to delete, path shape before, after, sibling needed): each a shape of 8.2
SHAPES = [
    ("123456", "big", "", "L6", False),  # insert into the empty trie
    ("123456", "big2", "L6", "L6", False),  # replace a value
    ("123457", "big", "L6", "E5 B L0", False),  # split a leaf, common prefix: extension + branch
    ("129999", "big", "E5", "E2 B L3", False),  # split an extension, its rest (2 nibbles) stays one
    ("123fff", "big", "E2 B E2", "E2 B B L2", False),  # split an extension at its first nibble
    ("123400", "big", "E2 B B E1", "E2 B B B L1", False),  # split a 1-nibble extension: child hangs directly
    ("123400", "", "E2 B B B L1", "E2 B B E1", True),  # collapse onto a hashed branch: 1-nibble extension
    ("123457", "", "E2 B B E1 B L0", "E2 B B L2", True),  # collapse onto a hashed leaf, merged into the extension
    ("a00001", "one", "E2", "B L5", False),  # split the root extension, no common prefix
    ("a00002", "one", "B L5", "B E4 B L0", False),  # split a leaf under a branch (inline leaves)
    ("b00000", "big", "B", "B L5", False),  # a new leaf in an empty branch slot
    ("a00001", "", "B E4 B L0", "B L5", False),  # collapse onto an inline leaf (no sibling), merged
    ("b00000", "", "B L5", "B", False),  # the branch keeps two children
    ("a00002", "", "B L5", "E2", True),  # collapse onto a hashed extension: merged into a longer one
    ("129999", "", "E2 B L3", "E3", True),  # collapse onto a branch, merged into the parent extension
    ("123fff", "", "E3 B L2", "L6", True),  # collapse onto a leaf through an extension: a root leaf
    ("777777", "", "L6", "L6", False),  # delete an absent key: root unchanged
    ("123456", "", "L6", "", False),  # the last key: the empty trie
]


def test_every_node_shape(harness: Any) -> None:
    """Directed writes on 3-byte keys, each reaching one shape of update or delete (asserted on
    the path before and after); the `trie` package's root is the judge of every one."""
    trie = HexaryTrie({})
    # deep leaves holding `one` are inline (< 32 bytes), those holding `big` are hashed
    values = {"one": rlp.encode(1), "big": rlp.encode(2**250), "big2": rlp.encode(2**251), "": b""}
    for key_hex, value, before, after, needs_sibling in SHAPES:
        key = bytes.fromhex(key_hex)
        assert _shape(trie, key) == before, key_hex
        old_root = trie.root_hash
        w = _check(harness, trie, key, values[value])
        assert _shape(trie, key) == after, key_hex
        assert bool(w.sibling) == needs_sibling, key_hex
        if key_hex == "777777":
            assert w.new_root == old_root
    assert trie.root_hash == EMPTY_ROOT


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key_len=st.sampled_from([1, 2, 32]), seed=st.integers(0, 2**32), initial=st.integers(0, 40),
       ops=st.lists(st.tuples(st.sampled_from(["set", "account", "delete"]), st.integers(0, 60),
                              st.sampled_from([1, 2, 0x80, 2**64, 2**255])), min_size=1, max_size=12))
def test_random_writes_match_the_trie_package(harness: Any, key_len: int, seed: int, initial: int,
                                              ops: list[tuple[str, int, int]]) -> None:
    rng = random.Random(seed)
    keys = [rng.randbytes(key_len) for _ in range(61)]
    trie = HexaryTrie({})
    for key in keys[:initial]:
        trie[key] = rlp.encode(rng.choice([1, 2**200]))
    for op, which, value in ops:
        encoded = {"set": storage_rlp(value), "account": account_rlp(value % 2**64, value), "delete": b""}[op]
        _check(harness, trie, keys[which], encoded)


def test_read_inclusion_and_exclusion(harness: Any) -> None:
    rng = random.Random(5)
    trie = HexaryTrie({})
    slots = list(range(0, 300, 3))
    for slot in slots:
        trie[slot_path(slot)] = storage_rlp(slot + 1)
    for slot in (0, 3, 297, 1, 298, 10**9):
        value, proof = read(trie, slot_path(slot))
        found, got, _ = harness.functions.read(trie.root_hash, slot_path(slot), proof).call()
        assert found == (value is not None) == (slot in slots)
        assert (bytes(got) if found else None) == value
    found, _, _ = harness.functions.read(EMPTY_ROOT, slot_path(1), []).call()
    assert not found
    assert rng  # deterministic


def test_corrupted_proofs_are_refused(harness: Any) -> None:
    rng = random.Random(6)
    trie = HexaryTrie({})
    for i in range(300):
        trie[slot_path(i)] = storage_rlp(rng.randrange(1, 2**200))
    # a delete whose branch collapses onto a hashed sibling, and an update
    deletes = []
    for i in range(300):
        probe = HexaryTrie(dict(trie.db), trie.root_hash)
        w = write(probe, slot_path(i), b"")
        if w.sibling:
            deletes.append(w)
            break
    assert deletes, "no collapsing delete among 300 keys"
    update = write(HexaryTrie(dict(trie.db), trie.root_hash), slot_path(7), storage_rlp(42))
    for w in (update, deletes[0]):
        root, _ = solidity_write(harness, w)
        assert root == w.new_root

        def call(proof: list[bytes], sibling: bytes = w.sibling, old_root: bytes = w.old_root,
                 entry: MptWrite = w) -> Any:
            if entry.is_delete:
                return harness.functions.remove(old_root, entry.key, proof, sibling)
            return harness.functions.update(old_root, entry.key, entry.value, proof)

        for n, node in enumerate(w.proof):
            for at in (0, len(node) // 2, len(node) - 1):
                bad = list(w.proof)
                bad[n] = node[:at] + bytes([node[at] ^ 1]) + node[at + 1:]
                assert _reverts(call(bad)), (n, at)
            assert _reverts(call(w.proof[:n] + w.proof[n + 1:])), n  # a node left out
        assert _reverts(call(w.proof + [w.proof[-1]]))  # an extra node
        assert _reverts(call(w.proof, old_root=bytes(32)))  # another root
        if w.is_delete:
            assert _reverts(call(w.proof, sibling=w.sibling[:-1] + bytes([w.sibling[-1] ^ 1])))
            assert _reverts(call(w.proof, sibling=b""))  # the sibling is needed
        else:
            assert _reverts(harness.functions.remove(w.old_root, w.key, w.proof, b"\xc0"))  # none needed


@pytest.mark.slow
def test_gas_per_node_on_10k_accounts(harness: Any) -> None:
    """The measured figures of docs/fraud-proofs.md section 8 (printed with -s)."""
    rng = random.Random(7)
    trie = HexaryTrie({})
    addresses = [rng.randbytes(20) for _ in range(10_000)]
    for address in addresses:
        trie[account_path(address)] = account_rlp(rng.randrange(100), rng.randrange(10**20), rng.randbytes(32),
                                                  rng.randbytes(32))
    figures = {}
    reads = []
    for address in addresses[200:212]:
        value, proof = read(trie, account_path(address))
        found, got, gas = harness.functions.read(trie.root_hash, account_path(address), proof).call()
        assert found and bytes(got) == value
        reads.append((gas / len(proof), sum(map(len, proof))))
    figures["read"] = (sum(g for g, _ in reads) / len(reads), max(g for g, _ in reads), max(n for _, n in reads))
    for kind in ("update", "insert", "delete"):
        per_node, sizes = [], []
        for i in range(12):
            if kind == "update":
                w = write(trie, account_path(addresses[i]), account_rlp(5, 10**18))
            elif kind == "insert":
                w = write(trie, account_path(rng.randbytes(20)), account_rlp(1, 1))
            else:
                w = write(trie, account_path(addresses[100 + i]), b"")
            root, gas = solidity_write(harness, w)
            assert root == w.new_root
            per_node.append(gas / len(w.proof))
            sizes.append(sum(map(len, w.proof)) + len(w.sibling))
        figures[kind] = (sum(per_node) / len(per_node), max(per_node), max(sizes))
    for kind, (mean, worst, size) in figures.items():
        print(f"MPT {kind} on 10k accounts: {mean:,.0f} gas per node (worst {worst:,.0f}), proof <= {size} bytes")
        assert worst < 90_000 and size < 4_300
