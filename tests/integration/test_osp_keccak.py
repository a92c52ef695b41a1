"""The keccak sponge of the one-step prover (l1/contracts/osp/Keccak.sol) against its Python twin.

A long hash is absorbed one 136-byte block per micro-step with the 200-byte state carried between
calls (docs/fraud-proofs.md D6, 1.8 op SPONGE): here every block is a separate eth_call on anvil,
each intermediate state must equal l1/proofs/sponge.py's, and the last digest must be
keccak256 of the message. Also measures the gas of one keccak-f[1600] permutation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from l1.anvil import Anvil
from l1.proofs import sponge
from l2.devkeys import DEV_ACCOUNTS

ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"
DEPLOYER = Account.from_key(DEV_ACCOUNTS[0][1])
# Measured ~52k (docs/fraud-proofs.md 9); the bound catches a regression, not noise (gas is exact).
PERMUTATION_GAS_MAX = 56_000
CROSS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
BOUNDARIES = [0, 1, 135, 136, 137, 271, 272, 273, 407, 408, 409, 543, 544, 545, 952, 953, 1000]
messages = st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 1000)).flatmap(
    lambda n: st.binary(min_size=n, max_size=n)
)


def deploy_harness(anvil: Anvil, name: str) -> Contract:
    artifact = json.loads((ARTIFACTS / f"{name}.json").read_text())
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
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


@pytest.fixture(scope="module")
def harness(anvil: Anvil) -> Contract:
    return deploy_harness(anvil, "KeccakHarness")


def test_python_permutation_matches_the_known_vector():
    # keccak-f[1600] of the all-zero state (Keccak team's KeccakF-1600 intermediate values).
    lanes = sponge.keccak_f([0] * 25)
    assert lanes[0] == 0xF1258F7940E1DDE7 and lanes[1] == 0x84D5CCF933C0478A and lanes[24] == 0xEAF1FF7B5CECA249


@given(messages)
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
def test_python_sponge_is_keccak256(message):
    assert sponge.keccak256(message) == keccak(message)


@given(message=messages)
@CROSS
def test_block_by_block_in_solidity_is_keccak256(harness, message):
    expected = sponge.intermediate_states(message)
    full, tail = sponge.blocks(message)
    state = harness.functions.empty().call()
    assert state == expected[0]
    for k, block in enumerate(full):
        state = harness.functions.absorb(state, block).call()
        assert state == expected[k + 1], f"state after block {k}"
    final, digest = harness.functions.absorbFinal(state, tail).call()
    assert final == expected[-1]
    assert digest == keccak(message)


def test_padding_at_the_rate_boundaries(harness):
    for n in (0, 1, 134, 135):
        tail = bytes(range(n))
        block = harness.functions.pad(tail).call()
        assert block == sponge.pad(tail)
    assert sponge.pad(b"\x00" * 135)[-1] == 0x81  # the two padding bytes fall on one byte
    assert sponge.pad(b"")[0] == 0x01 and sponge.pad(b"")[-1] == 0x80


def test_many_permutations_in_one_call_keep_memory_intact(harness):
    # Each permutation borrows memory [0, 0x940) and restores it; a whole message in one call
    # only comes out right if the caller's buffers survive every borrow.
    for n in (0, 136, 500, 1000, 1400):
        message = bytes((7 * i + n) % 256 for i in range(n))
        assert harness.functions.hashAll(message).call() == keccak(message)


def test_wrong_sizes_are_refused(harness):
    with pytest.raises(ContractLogicError):
        harness.functions.absorb(bytes(200), bytes(135)).call()
    with pytest.raises(ContractLogicError):
        harness.functions.absorb(bytes(199), bytes(136)).call()
    with pytest.raises(ContractLogicError):
        harness.functions.absorbFinal(bytes(200), bytes(136)).call()
    with pytest.raises(sponge.SpongeError):
        sponge.absorb(bytes(200), bytes(137))


def test_pending_hash_matches_python(harness):
    state = sponge.absorb(sponge.EMPTY_STATE, bytes(range(136)))
    args = (state, 136, 4, 2**40 + 3, 1000, 7)
    assert harness.functions.pendingHash(*args).call() == sponge.pending_hash(*args)
    assert sponge.pending_hash(*args) != sponge.pending_hash(state, 137, 4, 2**40 + 3, 1000, 7)


def test_gas_of_one_permutation(harness):
    state = sponge.absorb(sponge.EMPTY_STATE, bytes(range(136)))
    nxt, gas = harness.functions.permuteGas(state).call()
    assert nxt == sponge.permute(state)
    _, absorb_gas = harness.functions.absorbGas(state, bytes(136)).call()
    print(f"keccak-f[1600]: {gas} gas; absorb (xor + permutation): {absorb_gas} gas")
    assert gas <= PERMUTATION_GAS_MAX and absorb_gas <= PERMUTATION_GAS_MAX + 2_000
