"""The proposer on anvil: it replays batches from L1 itself, posts its roots, confirms them.

Batches are posted straight to the Inbox here; an independent replay of the same L1 data
in the test is the reference for the roots the proposer must post.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from batcher.config import ProposerConfig
from batcher.metrics import ProposerMetrics
from batcher.proposer import Proposer
from batcher.service import make_transactor
from l1.bindings import AssertionStatus, InboxBinding, RollupBinding
from l1.deploy import DeployParams, deploy
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, L2Tx, Message, message_root
from l2.output_root import output_root_at
from l2.replay import Replayer
from l2.spec import devnet_spec

DEPLOYER_KEY = DEV_ACCOUNTS[0][1]
USER = Account.from_key(DEV_ACCOUNTS[6][1])


@pytest.fixture(scope="module")
def l1(anvil):
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    deployment = deploy(w3, Account.from_key(DEPLOYER_KEY), devnet_spec(), DeployParams(challenge_period=60))
    return w3, deployment


def transfer(nonce: int) -> bytes:
    tx = {"chainId": 901, "nonce": nonce, "to": "0x000000000000000000000000000000000000dEaD", "value": 7,
          "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "type": 2}
    return bytes(USER.sign_transaction(tx).raw_transaction)


def post_blocks(w3: Web3, deployment, first_nonce: int, blocks: int, timestamp: int) -> None:
    inbox = InboxBinding(w3, deployment.contracts["Inbox"], DEPLOYER_KEY)
    messages: list[Message] = []
    for b in range(blocks):
        messages += [BlockStart(timestamp + b, 1), L2Tx(transfer(first_nonce + b))]
    inbox.append_batch(encode_batch(messages, 901), message_root(messages), len(messages), inbox.delayed_read())


def make_proposer(w3, deployment, datadir: Path, wrong: bool = False) -> tuple[Proposer, L2Chain]:
    config = ProposerConfig(private_key=DEPLOYER_KEY, propose_every=2, confirmations=1, resubmit_after=5,
                            test_only_post_wrong_root=wrong)
    chain = L2Chain.open(datadir, devnet_spec(), map_size=1 << 28)
    proposer = Proposer(
        Replayer(chain, InboxReader(w3, deployment, confirmations=1)),
        RollupBinding(w3, deployment.contracts["Rollup"]),
        make_transactor(w3, config), ProposerMetrics(), config.propose_every, config.test_only_post_wrong_root,
    )
    return proposer, chain


def reference_root(w3, deployment, tmp_path: Path, block: int) -> bytes:
    chain = L2Chain.open(tmp_path / "reference", devnet_spec(), map_size=1 << 28)
    try:
        replayer = Replayer(chain, InboxReader(w3, deployment, confirmations=0))
        while replayer.step():
            pass
        return output_root_at(chain, chain.header_by_number(block))
    finally:
        chain.close()


def test_proposer_posts_its_own_roots_confirms_and_resumes(l1, tmp_path):
    w3, deployment = l1
    rollup = RollupBinding(w3, deployment.contracts["Rollup"])
    now = w3.eth.get_block("latest")["timestamp"]
    post_blocks(w3, deployment, 0, 3, now)
    w3.provider.make_request("evm_mine", [])  # one confirmation

    proposer, chain = make_proposer(w3, deployment, tmp_path / "p")
    proposer.tick()
    assert rollup.assertion_count() == 2
    assertion = rollup.assertion(1)
    assert (assertion.parent_id, assertion.inbox_entries, assertion.l2_block_number) == (0, 1, 3)
    assert assertion.output_root == reference_root(w3, deployment, tmp_path, 3)
    proposer.tick()  # nothing new: no second assertion for the same entries
    assert rollup.assertion_count() == 2
    chain.close()

    # Restart on the same datadir: resumes, still no duplicate; after the challenge period it confirms.
    proposer, chain = make_proposer(w3, deployment, tmp_path / "p")
    w3.provider.make_request("evm_increaseTime", [61])
    w3.provider.make_request("evm_mine", [])
    balance = w3.eth.get_balance(proposer.address)
    proposer.tick()
    assert rollup.assertion(1).status is AssertionStatus.CONFIRMED
    assert rollup.assertion_count() == 2
    assert w3.eth.get_balance(proposer.address) > balance  # the bond came back (minus gas)
    assert chain.heads().finalized.block_number == 3
    chain.close()


def test_test_only_wrong_root_is_posted_as_asked(l1, tmp_path):
    w3, deployment = l1
    rollup = RollupBinding(w3, deployment.contracts["Rollup"])
    now = w3.eth.get_block("latest")["timestamp"]
    post_blocks(w3, deployment, 3, 2, now)
    w3.provider.make_request("evm_mine", [])
    proposer, chain = make_proposer(w3, deployment, tmp_path / "wrong", wrong=True)
    proposer.tick()
    created = rollup.assertion(rollup.assertion_count() - 1)
    assert created.l2_block_number == 5
    assert created.output_root != reference_root(w3, deployment, tmp_path, 5)
    chain.close()


def test_proposer_takes_back_the_bond_of_its_stranded_assertion(l1, tmp_path):
    """Another proposer's sibling (an earlier block, same parent) confirms first: ours can never
    confirm, so once its period is over the proposer releases its bond and builds on the sibling."""
    w3, deployment = l1
    rollup = RollupBinding(w3, deployment.contracts["Rollup"])
    other = Account.from_key(DEV_ACCOUNTS[7][1])
    rollup.with_signer(DEPLOYER_KEY).set_proposer(other.address, True)
    now = w3.eth.get_block("latest")["timestamp"]
    post_blocks(w3, deployment, 5, 2, now)
    w3.provider.make_request("evm_mine", [])
    proposer, chain = make_proposer(w3, deployment, tmp_path / "stranded")
    proposer.tick()
    ours = rollup.assertion_count() - 1
    mine = rollup.assertion(ours)
    assert mine.asserter == proposer.address and mine.status is AssertionStatus.PENDING
    parent = rollup.assertion(mine.parent_id)
    # The sibling: one block past our parent, the honest root, by the other proposer.
    block = parent.l2_block_number + 1
    entries = mine.inbox_entries
    sibling = rollup.created_id(rollup.with_signer(other).create_assertion(
        mine.parent_id, entries, block, reference_root(w3, deployment, tmp_path, block)))
    w3.provider.make_request("evm_increaseTime", [61])
    w3.provider.make_request("evm_mine", [])
    rollup.with_signer(other).confirm_assertion(sibling)
    balance = w3.eth.get_balance(proposer.address)
    proposer.tick()
    assert rollup.assertion(ours).status is AssertionStatus.RELEASED
    assert w3.eth.get_balance(proposer.address) > balance + rollup.bond() * 9 // 10  # back, minus gas
    pending = sum(1 for i in range(rollup.assertion_count()) if rollup.assertion(i).status is AssertionStatus.PENDING)
    assert rollup.bonds_held() == pending * rollup.bond() == w3.eth.get_balance(rollup.address)
    newer = [rollup.assertion(i) for i in range(sibling + 1, rollup.assertion_count())]
    assert all(a.parent_id == sibling for a in newer)  # it goes on from the confirmed sibling only
    chain.close()
