"""The L1 contracts in process on eth-tester (py-evm): the happy paths, accumulators recomputed.

The full suite with every revert runs on anvil (tests/integration/test_l1_contracts.py);
this one is fast and shows the contracts and bindings agree with a second EVM.
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3

from l1.accumulators import EMPTY_PAYLOAD_HASH, ZERO32, delayed_accumulator, inbox_accumulator
from l1.bindings import AssertionStatus, DelayedInboxBinding, InboxBinding, RollupBinding
from l1.deploy import DeployParams, deploy
from l2.output_root import genesis_output_root
from l2.spec import devnet_spec

BOND = 10**15


@pytest.fixture(scope="module")
def env():
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    owner, batcher, user = (Account.from_key(k.to_bytes()) for k in tester.backend.account_keys[:3])
    params = DeployParams(batcher=batcher.address, challenge_period=60, bond=BOND, force_inclusion_delay=100)
    deployment = deploy(w3, owner, devnet_spec(), params)
    return tester, w3, deployment, owner, batcher, user


def test_contracts_agree_with_the_python_formulas(env):
    tester, w3, deployment, owner, batcher, user = env
    delayed = DelayedInboxBinding(w3, deployment.contracts["DelayedInbox"], user)
    inbox = InboxBinding(w3, deployment.contracts["Inbox"], batcher)
    rollup = RollupBinding(w3, deployment.contracts["Rollup"], owner)
    assert rollup.assertion(0).output_root == genesis_output_root(devnet_spec())

    deposits = [
        delayed.messages_in(delayed.deposit(owner.address, 30_000, bytes([i]) * i, value=i))[0] for i in range(3)
    ]
    acc = ZERO32
    for j, event in enumerate(deposits):
        assert event.message.message_hash() == event.message_hash
        acc = delayed_accumulator(acc, event.message_hash)
        assert acc == delayed.accumulator(j)

    (batch,) = inbox.entries_in(inbox.append_batch(b"\x00payload", keccak(b"root"), 5, 1))
    acc0 = inbox_accumulator(ZERO32, keccak(b"\x00payload"), keccak(b"root"), 5, delayed.accumulator(0))
    assert batch.accumulator == acc0 == inbox.accumulator(0) and batch.payload == b"\x00payload"

    tester.time_travel(w3.eth.get_block("latest")["timestamp"] + 101)
    (forced,) = inbox.entries_in(inbox.with_signer(user).force_include())
    acc1 = inbox_accumulator(acc0, EMPTY_PAYLOAD_HASH, ZERO32, 2, delayed.accumulator(2))
    assert forced.forced and forced.message_count == 2 and forced.accumulator == acc1 == inbox.accumulator(1)

    assertion = rollup.created_id(rollup.create_assertion(0, 2, 7, keccak(b"out")))
    assert rollup.assertion(assertion).inbox_accumulator == acc1
    tester.time_travel(w3.eth.get_block("latest")["timestamp"] + 61)
    rollup.with_signer(user).confirm_assertion(assertion)
    assert rollup.assertion(assertion).status == AssertionStatus.CONFIRMED
    assert w3.eth.get_balance(rollup.address) == rollup.bonds_held() == 0
