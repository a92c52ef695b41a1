"""Withdrawals on L1 (DelayedInbox.proveWithdrawal / finalizeWithdrawal) on a real anvil node.

L2's MessagePasser (the predeploy's own artifact) is deployed on the same anvil, so its
hashes, its storage slot and anvil's eth_getProof (geth-style proofs) are real; the
output root built from them is asserted in Rollup and confirmed. Then every attack:
pending / rejected / unknown assertions, a wrong output root, forged and truncated proofs,
a withdrawal never sent, double finalisation, an early payout, a failing target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from eth_account import Account
from eth_utils import to_canonical_address
from trie import HexaryTrie

from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding, L1Reverted, RollupBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.withdrawals import (
    OutputRootProof,
    Withdrawal,
    WithdrawalProof,
    messages_passed,
    proof_from_rpc,
    storage_trie_key,
    withdrawal_slot,
)
from l2.devkeys import DEV_ACCOUNTS
from l2.predeploys import artifact as predeploy_artifact
from l2.spec import devnet_spec

OWNER, USER, GAME, RELAYER = (Account.from_key(k) for _, k in DEV_ACCOUNTS[:4])
TARGET = to_canonical_address("0x00000000000000000000000000000000000b0b01")
CHALLENGE = 100
DELAY = 50
VALUE = 123_456_789
VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "withdrawals.json"
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"


def reverts(error: str):
    return pytest.raises(L1Reverted, match=rf"reverted: {error}\b")


def _deploy_contract(anvil: Anvil, abi: list, bytecode: str):
    factory = anvil.w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor().build_transaction(
        {"from": USER.address, "nonce": anvil.w3.eth.get_transaction_count(USER.address), "chainId": 900}
    )
    receipt = anvil.w3.eth.wait_for_transaction_receipt(
        anvil.w3.eth.send_raw_transaction(USER.sign_transaction(tx).raw_transaction)
    )
    return anvil.w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def _send(anvil: Anvil, call, value: int = 0):
    tx = call.build_transaction(
        {"from": USER.address, "value": value, "nonce": anvil.w3.eth.get_transaction_count(USER.address),
         "chainId": 900}
    )
    receipt = anvil.w3.eth.wait_for_transaction_receipt(
        anvil.w3.eth.send_raw_transaction(USER.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    return receipt


class Setup:
    """Contracts plus `withdraw()`: a withdrawal on the stand-in L2 and an assertion of its output root."""

    def __init__(self, anvil: Anvil, deployment: Deployment) -> None:
        self.anvil = anvil
        self.w3 = anvil.w3
        self.delayed = DelayedInboxBinding(anvil.w3, deployment.contracts["DelayedInbox"], RELAYER)
        self.rollup = RollupBinding(anvil.w3, deployment.contracts["Rollup"], OWNER)
        passer = predeploy_artifact("MessagePasser")
        self.passer = _deploy_contract(anvil, passer["abi"], passer["bytecode"])
        # the ETH withdrawals are paid from
        DelayedInboxBinding(anvil.w3, self.delayed.address, USER).deposit(USER.address, 21_000, value=10**18)
        self.l2_block = 0

    def withdraw(self, target: bytes = TARGET, value: int = VALUE, gas_limit: int = 0, data: bytes = b""):
        """Initiate a withdrawal on the stand-in L2; returns it with a proof at that block."""
        receipt = _send(self.anvil, self.passer.functions.initiateWithdrawal(
            self.w3.to_checksum_address(target), gas_limit, data), value=value)
        [passed] = messages_passed(dict(receipt), to_canonical_address(self.passer.address))
        block = self.w3.eth.get_block(receipt["blockNumber"])
        raw = self.w3.provider.make_request(
            "eth_getProof", [self.passer.address, ["0x" + passed.withdrawal.slot().hex()], hex(block["number"])]
        )["result"]
        block_json = {"hash": "0x" + bytes(block["hash"]).hex(), "stateRoot": "0x" + bytes(block["stateRoot"]).hex()}
        return passed.withdrawal, proof_from_rpc(block_json, raw, passed.withdrawal_hash)

    def assert_root(self, output_root: bytes) -> int:
        self.l2_block += 1
        return self.rollup.created_id(self.rollup.create_assertion(
            self.rollup.latest_confirmed(), 0, self.l2_block, output_root))

    def confirmed(self, output_root: bytes) -> int:
        assertion_id = self.assert_root(output_root)
        self.anvil.increase_time(CHALLENGE)
        self.rollup.confirm_assertion(assertion_id)
        return assertion_id


@pytest.fixture(scope="module")
def setup(anvil: Anvil) -> Setup:
    params = DeployParams(challenge_period=CHALLENGE, bond=10**17, withdrawal_delay=DELAY, dispute_game=False)
    return Setup(anvil, deploy(anvil.w3, OWNER, devnet_spec(), params))


@pytest.fixture(autouse=True)
def fresh_state(anvil: Anvil, setup: Setup) -> Iterator[None]:
    snapshot = anvil.w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    anvil.w3.provider.make_request("evm_revert", [snapshot])
    setup.l2_block = 0


def test_hash_and_slot_agree_with_the_vectors_and_the_contract(setup):
    vectors = json.loads(VECTORS.read_text())
    assert vectors["sentMessagesSlot"] == 0
    for case in vectors["withdrawals"]:
        w = Withdrawal.from_json(case["withdrawal"])
        assert "0x" + w.hash().hex() == case["hash"]
        assert "0x" + setup.delayed.hash_withdrawal(w).hex() == case["hash"]
        assert "0x" + withdrawal_slot(w.hash()).hex() == case["slot"]
        assert "0x" + storage_trie_key(w.slot()).hex() == case["trieKey"]


def test_message_passer_stores_the_hash_in_the_documented_slot(setup):
    withdrawal, _ = setup.withdraw()
    stored = setup.w3.eth.get_storage_at(setup.passer.address, withdrawal.slot())
    assert int.from_bytes(stored, "big") == 1
    assert withdrawal.sender == to_canonical_address(USER.address)


def test_round_trip_pays_once_after_the_delay(setup):
    withdrawal, proof = setup.withdraw()
    assertion_id = setup.confirmed(proof.output.root())
    receipt = setup.delayed.prove_withdrawal(withdrawal, assertion_id, proof)
    proven = setup.delayed.proven_withdrawal(withdrawal.hash())
    assert proven.assertion_id == assertion_id
    assert proven.proven_at == setup.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    with reverts("AlreadyProven"):
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, proof)
    with reverts("DelayNotOver"):
        setup.delayed.finalize_withdrawal(withdrawal)
    setup.anvil.increase_time(DELAY)
    held = setup.w3.eth.get_balance(setup.delayed.address)
    setup.delayed.finalize_withdrawal(withdrawal)
    assert setup.w3.eth.get_balance(setup.w3.to_checksum_address(TARGET)) == VALUE
    assert setup.w3.eth.get_balance(setup.delayed.address) == held - VALUE
    assert setup.delayed.is_finalized(withdrawal.hash())
    with reverts("AlreadyFinalized"):
        setup.delayed.finalize_withdrawal(withdrawal)
    with reverts("AlreadyFinalized"):
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, proof)
    assert setup.w3.eth.get_balance(setup.w3.to_checksum_address(TARGET)) == VALUE


def test_pending_rejected_and_unknown_assertions_are_refused(setup):
    withdrawal, proof = setup.withdraw()
    pending = setup.assert_root(proof.output.root())
    with reverts("AssertionNotConfirmed"):
        setup.delayed.prove_withdrawal(withdrawal, pending, proof)
    setup.rollup.set_dispute_game(GAME.address)
    RollupBinding(setup.w3, setup.rollup.address, GAME).reject_assertion(pending)
    with pytest.raises(L1Reverted) as info:
        setup.delayed.prove_withdrawal(withdrawal, pending, proof)
    assert info.value.error == "AssertionNotConfirmed" and info.value.args_ == (pending, 3)
    with reverts("UnknownAssertion"):
        setup.delayed.prove_withdrawal(withdrawal, 99, proof)
    with reverts("NotProven"):
        setup.delayed.finalize_withdrawal(withdrawal)


def test_wrong_output_root_is_refused(setup):
    """A storage root of a forged trie that does hold the hash: not the asserted root."""
    withdrawal, proof = setup.withdraw()
    assertion_id = setup.confirmed(proof.output.root())
    forged = HexaryTrie({})
    key = storage_trie_key(withdrawal.slot())
    forged[key] = b"\x01"
    forged_proof = WithdrawalProof(
        replace(proof.output, message_passer_storage_root=forged.root_hash),
        [rlp.encode(n) for n in forged.get_proof(key)],
    )
    with reverts("WrongOutputRoot"):
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, forged_proof)
    # the same forged trie asserted by a (malicious) proposer, still unconfirmed: refused too
    pending = setup.assert_root(forged_proof.output.root())
    with reverts("AssertionNotConfirmed"):
        setup.delayed.prove_withdrawal(withdrawal, pending, forged_proof)


def test_forged_proofs_are_refused(setup):
    withdrawal, proof = setup.withdraw()
    setup.withdraw(value=1)  # a second message, so the trie has more than one node
    withdrawal3, proof3 = setup.withdraw(value=2)
    assertion_id = setup.confirmed(proof3.output.root())
    # proofs taken at the asserted block
    proof = _proof_at(setup, withdrawal, proof3.output)
    assert len(proof.storage_proof) >= 2

    tampered = list(proof.storage_proof)
    last = bytearray(tampered[-1])
    last[-1] ^= 1
    tampered[-1] = bytes(last)
    with reverts("ProofNodeMismatch"):
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, WithdrawalProof(proof.output, tampered))
    with reverts("ProofNodeMismatch"):
        truncated = WithdrawalProof(proof.output, proof.storage_proof[:-1])
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, truncated)
    with reverts("MalformedProof"):
        setup.delayed.prove_withdrawal(
            withdrawal, assertion_id, WithdrawalProof(proof.output, [*proof.storage_proof, proof.storage_proof[-1]]))
    with reverts("ProofNodeMismatch"):
        setup.delayed.prove_withdrawal(withdrawal, assertion_id, WithdrawalProof(proof.output, []))
    # a withdrawal never sent (more value), with the real proof of another one
    greedy = replace(withdrawal, value=withdrawal.value * 1000)
    with pytest.raises(L1Reverted) as info:
        setup.delayed.prove_withdrawal(greedy, assertion_id, proof)
    assert info.value.error in ("KeyNotInTrie", "ProofNodeMismatch")
    # the real proofs still work
    setup.delayed.prove_withdrawal(withdrawal, assertion_id, proof)
    setup.delayed.prove_withdrawal(withdrawal3, assertion_id, proof3)


def test_target_may_not_be_the_inbox_and_a_failing_call_can_be_retried(setup, anvil):
    bad, bad_proof = setup.withdraw(target=to_canonical_address(setup.delayed.address))
    artifact = json.loads((TEST_ARTIFACTS / "DepositingContract.json").read_text())
    no_receive = _deploy_contract(anvil, artifact["abi"], artifact["bytecode"])  # has no receive(): refuses ETH
    withdrawal, _ = setup.withdraw(target=to_canonical_address(no_receive.address))
    output = setup.withdraw(value=3)[1].output
    assertion_id = setup.confirmed(output.root())
    with reverts("BadTarget"):
        setup.delayed.prove_withdrawal(bad, assertion_id, _proof_at(setup, bad, output))
    setup.delayed.prove_withdrawal(withdrawal, assertion_id, _proof_at(setup, withdrawal, output))
    setup.anvil.increase_time(DELAY)
    with reverts("WithdrawalCallFailed"):
        setup.delayed.finalize_withdrawal(withdrawal)
    assert not setup.delayed.is_finalized(withdrawal.hash())
    assert bad_proof.output.root() != output.root()


def _proof_at(setup: Setup, withdrawal: Withdrawal, output: OutputRootProof) -> WithdrawalProof:
    """The proof of `withdrawal` in the block whose output is `output`."""
    block = setup.w3.eth.get_block(output.block_hash)
    raw = setup.w3.provider.make_request(
        "eth_getProof", [setup.passer.address, ["0x" + withdrawal.slot().hex()], hex(block["number"])]
    )["result"]
    block_json = {"hash": "0x" + output.block_hash.hex(), "stateRoot": "0x" + output.state_root.hex()}
    return proof_from_rpc(block_json, raw, withdrawal.hash())
