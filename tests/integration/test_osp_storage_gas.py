"""SLOAD / SSTORE gas and refunds of the one-step prover (l1/contracts/osp/StorageGas.sol on anvil,
its twin l1/proofs/storage_gas.py) against py-evm's Prague opcodes run on a real py-evm
state with the slot's original and current values and its warm flag set up."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from eth.exceptions import OutOfGas
from eth.vm.message import Message
from eth_tester import PyEVMBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1.anvil import Anvil
from l1.proofs.storage_gas import SstoreCost, sload_gas, sstore_gas

ARTIFACT = Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "StorageGasHarness.json"
CONTRACT = b"\x11" * 20
SENDER = b"\x22" * 20
SLOT = 7
GAS_LEFTS = [2299, 2300, 2301, 2400, 2999, 3000, 5000, 22099, 22100, 22101, 1_000_000]


@pytest.fixture(scope="module")
def harness(anvil: Anvil) -> Any:
    w3 = anvil.w3
    artifact = json.loads(ARTIFACT.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


@pytest.fixture(scope="module")
def pyevm() -> Any:
    return PyEVMBackend().chain


def _computation(chain: Any, original: int, current: int, warm: bool, gas: int) -> Any:
    """A Prague computation of CONTRACT whose SLOT was `original` at tx start and is `current` now."""
    state = chain.get_vm().state
    state.set_storage(CONTRACT, SLOT, original)
    state.lock_changes()  # what a transaction start does: `original` is now the committed value
    state.set_storage(CONTRACT, SLOT, current)
    if warm:
        state.mark_storage_warm(CONTRACT, SLOT)
    context = state.get_transaction_context_class()(gas_price=1, origin=SENDER)
    return state.get_computation(Message(gas=gas, to=CONTRACT, sender=SENDER, value=0, data=b"", code=b""), context)


def pyevm_sstore(chain: Any, original: int, current: int, new: int, warm: bool, gas_left: int) -> SstoreCost | None:
    """py-evm's SSTORE outcome; None when it runs out of gas."""
    computation = _computation(chain, original, current, warm, gas_left)
    computation.stack_push_int(new)
    computation.stack_push_int(SLOT)
    try:
        computation.opcodes[0x55](computation)
    except OutOfGas:
        return None
    assert computation.state.get_storage(CONTRACT, SLOT) == new
    return SstoreCost(True, gas_left - computation.get_gas_remaining(), computation.get_gas_refund())


def _agree(harness: Any, chain: Any, cases: list[tuple[int, int, int, bool, int]]) -> None:
    ok, gas, refund = harness.functions.sstoreBatch([[o, c, n, int(w), g] for o, c, n, w, g in cases]).call()
    for i, (original, current, new, warm, gas_left) in enumerate(cases):
        expected = pyevm_sstore(chain, original, current, new, warm, gas_left)
        mine = sstore_gas(original, current, new, warm, gas_left)
        assert (ok[i], gas[i], refund[i]) == (mine.ok, mine.gas, mine.refund), cases[i]
        if expected is None:
            assert not mine.ok, cases[i]
        else:
            assert mine == expected, cases[i]


def test_sload_cold_and_warm(harness: Any, pyevm: Any) -> None:
    for warm in (False, True):
        computation = _computation(pyevm, 5, 5, warm, 100_000)
        computation.stack_push_int(SLOT)
        computation.opcodes[0x54](computation)
        charged = 100_000 - computation.get_gas_remaining()
        assert charged == sload_gas(warm) == harness.functions.sload(warm).call() == (100 if warm else 2100)


def test_sstore_every_value_relation_and_gas_threshold(harness: Any, pyevm: Any) -> None:
    """Values in {0, 1, 2} cover every equality pattern of (original, current, new); the gas
    lefts straddle the stipend guard and the set / reset costs."""
    cases = [(o, c, n, w, g) for (o, c, n), w, g in
             itertools.product(itertools.product(range(3), repeat=3), (False, True), GAS_LEFTS)]
    _agree(harness, pyevm, cases)
    refunds = {sstore_gas(o, c, n, True, 10**6).refund for o, c, n, _, _ in cases}
    assert refunds == {0, 4800, -4800, 2800, 19900, -2000}  # every refund branch was reached


_value = st.one_of(st.sampled_from([0, 1, 2**256 - 1]), st.integers(0, 2**256 - 1))


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(_value, _value, _value, st.booleans(),
                                st.one_of(st.sampled_from(GAS_LEFTS), st.integers(0, 30_000))),
                      min_size=1, max_size=8))
def test_sstore_random_values_agree_with_pyevm(harness: Any, pyevm: Any,
                                               cases: list[tuple[int, int, int, bool, int]]) -> None:
    # a value drawn once often reappears as another field, so equality branches are hit too
    mixed = [(o, o if i % 3 == 0 else c, c if i % 2 == 0 else n, w, g) for i, (o, c, n, w, g) in enumerate(cases)]
    _agree(harness, pyevm, mixed)
