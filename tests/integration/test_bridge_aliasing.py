"""L1 contract callers of DelayedInbox are aliased on L2; EOAs are not (docs/l1-contracts.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import to_canonical_address

from l1.accumulators import DelayedMessage
from l1.aliasing import ALIAS_OFFSET, apply_alias, undo_alias
from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding
from l1.deploy import Deployment, deploy
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec

OWNER, USER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:2])
ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"


@pytest.fixture(scope="module")
def deployment(anvil: Anvil) -> Deployment:
    return deploy(anvil.w3, OWNER, devnet_spec())


@pytest.fixture(scope="module")
def depositor(anvil: Anvil):
    artifact = json.loads((ARTIFACTS / "DepositingContract.json").read_text())
    factory = anvil.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor().build_transaction(
        {"from": USER.address, "nonce": anvil.w3.eth.get_transaction_count(USER.address), "chainId": 900}
    )
    receipt = anvil.w3.eth.wait_for_transaction_receipt(
        anvil.w3.eth.send_raw_transaction(USER.sign_transaction(tx).raw_transaction)
    )
    return anvil.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def _send(anvil: Anvil, call, value: int):
    tx = call.build_transaction(
        {"from": USER.address, "value": value, "nonce": anvil.w3.eth.get_transaction_count(USER.address),
         "chainId": 900}
    )
    tx_hash = anvil.w3.eth.send_raw_transaction(USER.sign_transaction(tx).raw_transaction)
    receipt = anvil.w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


def test_alias_arithmetic_wraps_mod_2_160():
    assert apply_alias(bytes(20)) == ALIAS_OFFSET.to_bytes(20, "big")
    top = b"\xff" * 20
    assert apply_alias(top) == (ALIAS_OFFSET - 1).to_bytes(20, "big")
    for address in (top, bytes(20), bytes.fromhex("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")):
        assert undo_alias(apply_alias(address)) == address


def test_eoa_deposit_keeps_the_sender(anvil, deployment):
    delayed = DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], USER)
    [delivered] = delayed.messages_in(delayed.deposit(USER.address, 21_000, value=7))
    assert delivered.message.sender == to_canonical_address(USER.address)


def test_contract_deposit_is_aliased_and_hashed_aliased(anvil, deployment, depositor):
    delayed = DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], USER)
    receipt = _send(
        anvil, depositor.functions.deposit(delayed.address, USER.address, 50_000, b"\x01\x02"), value=11
    )
    [delivered] = delayed.messages_in(receipt)
    contract = to_canonical_address(depositor.address)
    assert delivered.message.sender == apply_alias(contract) != contract
    assert delivered.message.to == to_canonical_address(USER.address)
    assert delivered.message_hash == DelayedMessage.message_hash(delivered.message)


def test_contract_plain_transfer_aliases_the_sender_not_the_recipient(anvil, deployment, depositor):
    delayed = DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], USER)
    [delivered] = delayed.messages_in(_send(anvil, depositor.functions.sendPlain(delayed.address), value=5))
    contract = to_canonical_address(depositor.address)
    assert delivered.message.sender == apply_alias(contract)
    assert delivered.message.to == contract
    assert delivered.message.value == 5
