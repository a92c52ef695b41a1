"""The StackTrie of the one-step prover (l1/contracts/osp/StackTrie.sol) against its Python twin
and against the `trie` package's HexaryTrie.

The block's transaction and receipt tries are built one key per TRIE micro-step (docs/fraud-proofs.md
D7, 2.6): here every step is a separate eth_call on anvil that gets the previous trieState preimage
and returns the next, as the one-step verifier would. Every intermediate preimage must equal the
Python twin's and the final roots the Ethereum trie roots of {rlp(i): value}.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_hash.auto import keccak
from trie import HexaryTrie
from web3 import Web3
from web3.contract import Contract

from l1.anvil import Anvil
from l1.proofs import stacktrie as st
from l2.devkeys import DEV_ACCOUNTS

ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"
DEPLOYER = Account.from_key(DEV_ACCOUNTS[0][1])
SOLIDITY_COUNTS = [0, 1, 2, 3, 16, 17, 127, 128, 129, 255, 256, 257, 300]
# A 30M-gas block holds at most 1,428 transactions of 21,000 gas.
MAX_BLOCK_TXS = 1_428
STATE_BYTES_MAX = 3_300  # docs/fraud-proofs.md 2.6 bound
STEP_GAS_MAX = 150_000  # measured <= ~106k (docs/fraud-proofs.md 9)


class Reverted(Exception):
    """An eth_call that reverted."""


class Harness:
    """Raw eth_calls to StackTrieHarness: web3's contract call path costs ~6x the node's time."""

    def __init__(self, w3: Web3, contract: Contract) -> None:
        self.w3, self.contract = w3, contract
        self.outputs = {f["name"]: [o["type"] for o in f["outputs"]] for f in contract.abi if f["type"] == "function"}

    def __call__(self, name: str, *args: Any) -> Any:
        data = self.contract.encode_abi(name, list(args))
        response = self.w3.provider.make_request("eth_call", [{"to": self.contract.address, "data": data}, "latest"])
        if "error" in response:
            raise Reverted(response["error"])
        out = self.w3.codec.decode(self.outputs[name], bytes.fromhex(response["result"][2:]))
        return out[0] if len(out) == 1 else out


@pytest.fixture(scope="module")
def harness(anvil: Anvil) -> Harness:
    artifact = json.loads((ARTIFACTS / "StackTrieHarness.json").read_text())
    w3 = anvil.w3
    tx = (
        w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        .constructor()
        .build_transaction(
            {"from": DEPLOYER.address, "nonce": w3.eth.get_transaction_count(DEPLOYER.address), "chainId": 900}
        )
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(DEPLOYER.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    return Harness(w3, w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]))


def hexary_root(values: list[bytes]) -> bytes:
    trie = HexaryTrie({})
    for i, value in enumerate(values):
        trie[rlp.encode(i)] = value
    return trie.root_hash


def random_values(rng: random.Random, count: int, longest: int = 544) -> list[bytes]:
    """Short (< 32 bytes, some single bytes below 0x80: embedded leaves), medium and long values."""
    sizes = [1, 2, 5, 20, 31, 32, 33, 56, 110, 300, longest]
    return [rng.randbytes(rng.choice(sizes)) for _ in range(count)]


def test_key_order_is_byte_order_and_a_bijection(harness):
    for count in [*range(0, 300), 1_428, st.MAX_COUNT]:
        keys = [rlp.encode(st.key_index(pos, count)) for pos in range(count)]
        assert keys == sorted(keys) and len(set(keys)) == count
        assert all(st.key_pos(st.key_index(pos, count), count) == pos for pos in range(count))
    for count, pos in [(1, 0), (2, 0), (2, 1), (127, 126), (128, 127), (129, 127), (129, 128), (300, 299)]:
        index = harness("keyIndex", pos, count)
        assert index == st.key_index(pos, count)
        assert harness("keyPos", index, count) == pos
    with pytest.raises(Reverted):
        harness("keyIndex", 5, 5)


def test_python_twin_gives_the_ethereum_trie_root_for_every_count_to_300():
    # One HexaryTrie grown key by key gives the reference root of every prefix values[:count].
    values = random_values(random.Random(8), 300)
    reference = HexaryTrie({})
    for count in range(0, 301):
        if count:
            reference[rlp.encode(count - 1)] = values[count - 1]
        root, states = st.build(values[:count])
        assert root == reference.root_hash, count
        assert all(st.TrieState.decode(s.encode()) == s for s in states)


@pytest.mark.parametrize("count", SOLIDITY_COUNTS)
def test_solidity_steps_agree_with_python_and_give_the_trie_roots(harness, count):
    rng = random.Random(count)
    txs, receipts = random_values(rng, count), random_values(rng, count)
    expected = st.trace(txs, receipts)
    preimage = harness("initial")
    assert preimage == expected[0].encode()
    for j, values in enumerate((txs, receipts)):
        for pos in range(max(count, 1)):
            state = expected[j * max(count, 1) + pos]
            value = values[st.key_index(pos, count)] if count else b""
            preimage, commitment, _ = harness("step", state.commitment(), preimage, count, value)
            after = expected[j * max(count, 1) + pos + 1]
            assert preimage == after.encode(), f"trie {j} after key {pos}"
            assert commitment == after.commitment()
    which, tx_root, receipts_root = harness("roots", preimage)
    assert (which, tx_root, receipts_root) == (st.DONE, hexary_root(txs), hexary_root(receipts))


def test_long_values_take_their_leaf_hash(harness):
    rng = random.Random(545)
    for count in (1, 2, 129, 257):
        values = [rng.randbytes(rng.choice([545, 700, 2_000])) for _ in range(count)]
        state = st.TrieState()
        preimage = harness("initial")
        for pos in range(count):
            value = values[st.key_index(pos, count)]
            prefix = st.leaf_prefix(pos, count, len(value))
            assert harness("leafPrefix", pos, count, len(value)) == prefix
            leaf_hash = keccak(prefix + value)  # what the SPONGE micro-steps would compute
            hashed = st.step_hashed_leaf(state, count, leaf_hash)
            if pos < 3:
                with pytest.raises(st.StackTrieError):
                    st.step(state, count, value)
                with pytest.raises(Reverted):  # above INLINE the step hashes no value itself
                    harness("step", state.commitment(), preimage, count, value)
            preimage, commitment = harness("stepHashedLeaf", state.commitment(), preimage, count, leaf_hash)
            assert preimage == hashed.encode() and commitment == hashed.commitment()
            state = hashed
        assert state.tx_root == hexary_root(values) == st.build(values)[0]


def _run_from(harness: Harness, preimage: bytes, count: int, values: list[bytes]) -> bytes:
    """Steps the transaction trie to its end in Solidity from `preimage`; returns the tx root."""
    while True:
        which, tx_root, _ = harness("roots", preimage)
        if which != st.TX:
            return tx_root
        pos = int.from_bytes(preimage[2:6], "big")
        value = values[st.key_index(pos, count)] if pos < count else b"x"  # the contract must refuse pos
        preimage, _, _ = harness("step", keccak(preimage), preimage, count, value)


def test_a_corrupted_state_is_rejected_or_gives_another_root(harness):
    rng = random.Random(29)
    count = 29
    values = random_values(rng, count, longest=100)
    honest = hexary_root(values)
    _, states = st.build(values)
    middle = states[20]  # after 20 keys: several frames open
    preimage = middle.encode()
    assert len(middle.frames) >= 2
    value = values[st.key_index(middle.pos, count)]
    for offset in range(0, len(preimage), 3):
        bad = bytearray(preimage)
        bad[offset] ^= 0x01
        # against the committed state: the preimage no longer hashes to it
        with pytest.raises(Reverted):
            harness("step", middle.commitment(), bytes(bad), count, value)
        # a self-consistent forgery (its own hash): malformed, or the roots differ
        try:
            root = _run_from(harness, bytes(bad), count, values)
        except Reverted:
            continue
        assert root != honest, f"corruption at byte {offset} went unnoticed"


def test_a_corrupted_leaf_gives_another_root(harness):
    rng = random.Random(31)
    count = 130
    values = random_values(rng, count)
    honest = hexary_root(values)
    _, states = st.build(values)
    for index in (0, 1, 64, 127, 128, 129):
        bad_values = list(values)
        bad_values[index] = bytes([values[index][0] ^ 1]) + values[index][1:]
        # honest up to the corrupted key (Python states), then every step in Solidity
        start = states[st.key_pos(index, count)].encode()
        assert _run_from(harness, start, count, bad_values) != honest


def test_invalid_steps_are_refused(harness):
    start = st.TrieState()
    pre, commitment = start.encode(), start.commitment()
    for args in [
        (commitment, pre, 3, b""),  # a trie value is never empty
        (commitment, pre, 0, b"x"),  # an empty trie takes no value
        (commitment, pre, st.MAX_COUNT + 1, b"x"),
    ]:
        with pytest.raises(Reverted):
            harness("step", *args)
    done = st.TrieState(st.DONE, 0, keccak(b"t"), keccak(b"r"))
    with pytest.raises(Reverted):
        harness("step", done.commitment(), done.encode(), 1, b"x")
    past = st.TrieState(st.TX, 5)
    with pytest.raises(Reverted):
        harness("step", past.commitment(), past.encode(), 5, b"x")
    with pytest.raises(Reverted):  # an empty trie has no key 3
        harness("step", st.TrieState(st.TX, 3).commitment(), st.TrieState(st.TX, 3).encode(), 0, b"")
    early = st.TrieState(st.TX, 0, frames=(st.Frame(0),))
    with pytest.raises(Reverted):  # nothing is open before the first key
        harness("step", early.commitment(), early.encode(), 4, b"x")
    with pytest.raises(Reverted):  # frames must deepen
        harness("roundTrip", start.encode() + bytes([2, 0, 0, 1, 0, 0]))
    with pytest.raises(Reverted):  # a child item that is neither a hash nor a short list
        harness("roundTrip", start.encode() + bytes([0, 0, 1, 0x85]))


def test_largest_state_and_gas_per_step(harness):
    rng = random.Random(1428)
    largest: dict[int, tuple[int, int]] = {}
    for count in (300, 1_000, MAX_BLOCK_TXS):
        values = random_values(rng, count)
        root, states = st.build(values)
        assert root == hexary_root(values)
        size, pos = max((len(s.encode()), s.pos) for s in states[:-1])
        largest[count] = (size, pos)
        gases = []
        # every 7th step, the largest state, and the steps that close the most frames (127/128, 255/256, the end)
        for p in sorted({*range(0, count, 7), pos, 126, 127, 128, 255, 256, count - 1}):
            state, value = states[p], values[st.key_index(p, count)]
            _, commitment, gas = harness("step", state.commitment(), state.encode(), count, value)
            assert commitment == states[p + 1].commitment()
            gases.append(gas)
        gases.sort()
        print(
            f"count {count}: largest trieState preimage {size} bytes (before key {pos}); "
            f"step gas median {gases[len(gases) // 2]}, max {gases[-1]}"
        )
        assert size <= STATE_BYTES_MAX
        assert max(gases) <= STEP_GAS_MAX
