"""A censoring sequencer cannot keep a deposit out: force inclusion on real parts.

anvil (L1), a sequencer started with the test-only `test_only_ignore_deposits` (it never
includes deposits), `rollup batcher` as a subprocess and a verifier deriving from L1 alone.
A deposit stays out of L2 while batches keep landing; after the force-inclusion delay
(anvil time) anyone calls `Inbox.forceInclude()`; the sequencer rebuilds its unsafe blocks
on the forced block (sequencer/rebuild.py) and re-sequences the users' transactions; the
batcher carries on; sequencer and verifier end with the same blocks, hash for hash, and the
deposit's value exact to the wei. Then the same with an idle (paused) sequencer, which
has no unsafe blocks to drop.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from web3 import Web3
from web3.exceptions import TransactionNotFound

from l1.anvil import Anvil
from l1.bindings import DelayedInboxBinding, InboxBinding, L1Reverted
from l1.deploy import DeployParams, deploy
from l2.chain import L2Chain
from l2.deposits import Deposit, DepositTransaction, deposit_transaction
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from tests.integration.l2_users import wait_for
from verifier.config import VerifierConfig
from verifier.service import DivergenceLog, VerifierService

ROOT = Path(__file__).resolve().parents[2]
DEPLOYER_KEY = DEV_ACCOUNTS[0][1]  # deployer and batcher
ALICE, BOB = Account.from_key(DEV_ACCOUNTS[5][1]), Account.from_key(DEV_ACCOUNTS[7][1])  # L2 users
DEPOSITOR = Account.from_key(DEV_ACCOUNTS[6][1])  # L1
FORCER = Account.from_key(DEV_ACCOUNTS[8][1])  # anyone on L1
RECIPIENT = "0x00000000000000000000000000000000000F0CE1"
FORCE_DELAY = 40  # seconds of L1 time (moved with evm_increaseTime)
FIRST, SECOND, THIRD = 5 * 10**17 + 3, 7 * 10**15 + 11, 13  # deposits, in wei


class Net:
    """The running parts and the bookkeeping of what users were told."""

    def __init__(self, anvil: Anvil, tmp: Path) -> None:
        self.anvil = anvil
        self.w3 = anvil.w3
        self.deployment = deploy(
            self.w3, Account.from_key(DEPLOYER_KEY), devnet_spec(), DeployParams(force_inclusion_delay=FORCE_DELAY)
        )
        self.deployment_path = tmp / "deployment.json"
        self.deployment.save(self.deployment_path)
        self.tmp = tmp
        self.receipts: dict[bytes, dict] = {}  # every L2 receipt a user got, by tx hash
        self.batcher: subprocess.Popen | None = None

    def sequencer_config(self) -> SequencerConfig:
        return SequencerConfig(
            datadir=str(self.tmp / "seq"), rpc_port=0, grpc_port=0, metrics_port=0, block_time=0.2,
            l1_rpc=self.anvil.url, deployment=str(self.deployment_path), l1_confirmations=1,
            l1_poll_interval=0.1, test_only_ignore_deposits=True,
        )

    def verifier_config(self) -> VerifierConfig:
        return VerifierConfig(
            l1_rpc=self.anvil.url, deployment=str(self.deployment_path), datadir=str(self.tmp / "verifier"),
            confirmations=0, poll_interval=0.05, rpc_port=0, metrics_port=0,
        )

    def start_batcher(self, grpc_target: str) -> None:
        env = dict(os.environ, ROLLUP_BATCHER_PRIVATE_KEY=DEPLOYER_KEY)
        command = [
            sys.executable, "-m", "rollup", "batcher", "--l1-rpc", self.anvil.url,
            "--deployment", str(self.deployment_path), "--sequencer-grpc", grpc_target,
            "--max-batch-age", "0.3", "--poll-interval", "0.1", "--confirmations", "1",
            "--resubmit-after", "3", "--metrics-port", "0",
        ]
        log = (self.tmp / "batcher.log").open("ab")
        self.batcher = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop_batcher(self) -> None:
        if self.batcher is not None and self.batcher.poll() is None:
            self.batcher.send_signal(signal.SIGCONT)
            self.batcher.terminate()
            self.batcher.wait(30)

    # -- L2 users ------------------------------------------------------------------------

    def sign(self, l2: Web3, user: LocalAccount, value: int) -> bytes:
        nonce = l2.eth.get_transaction_count(user.address, "pending")
        tx = {
            "chainId": 901, "nonce": nonce, "to": "0x000000000000000000000000000000000000dEaD", "value": value,
            "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**6, "type": 2,
        }
        return bytes(user.sign_transaction(tx).raw_transaction)

    def transfer(self, l2: Web3, user: LocalAccount, value: int) -> dict:
        """Send an L2 transfer and wait for its receipt (the user's acknowledgement)."""
        tx_hash = l2.eth.send_raw_transaction(self.sign(l2, user, value))
        receipt = dict(l2.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.05))
        assert receipt["status"] == 1
        self.receipts[bytes(tx_hash)] = receipt
        return receipt

    # -- L1 ----------------------------------------------------------------------------------

    def deposit(self, value: int) -> tuple[Deposit, int]:
        delayed = DelayedInboxBinding(self.w3, self.deployment.contracts["DelayedInbox"], DEPOSITOR)
        (delivered,) = delayed.messages_in(delayed.deposit(RECIPIENT, 21_000, b"", value))
        m = delivered.message
        deposit = Deposit(index=m.index, sender=m.sender, to=m.to, value=m.value, gas_limit=m.gas_limit, data=m.data)
        return deposit, m.l1_block_number

    def force_include(self) -> int:
        """After the delay: anyone forces the overdue deposits in; returns the forced entry's index."""
        inbox = InboxBinding(self.w3, self.deployment.contracts["Inbox"], FORCER)
        with pytest.raises(L1Reverted, match="NotOverdue"):
            inbox.force_include()  # not before the delay
        self.w3.provider.make_request("evm_increaseTime", [FORCE_DELAY + 1])
        self.w3.provider.make_request("evm_mine", [])  # a block at the new time (gas estimation reads it)
        (entry,) = inbox.entries_in(inbox.force_include())
        assert entry.forced
        self.w3.provider.make_request("evm_mine", [])  # the sequencer trails L1 by one confirmation
        return entry.index


def receipt_or_none(l2: Web3, tx_hash: bytes) -> dict | None:
    try:
        return dict(l2.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
    except TransactionNotFound:
        return None


def balance(chain: L2Chain, address: str) -> int:
    return chain.state_at(chain.head(Head.UNSAFE)).get_balance(to_canonical_address(address))


def deposits_in(chain: L2Chain) -> list[tuple[int, int]]:
    """(L2 block, delayed index) of every deposit transaction on the chain."""
    found = []
    for n in range(chain.head(Head.UNSAFE).block_number + 1):
        for tx in chain.transactions(chain.header_by_number(n)):
            if isinstance(tx, DepositTransaction):
                found.append((n, tx.source_index))
    return found


def agreed(w3: Web3, chain: L2Chain, ver: L2Chain, tx_hash: bytes, what: str) -> int:
    """Wait until the sequencer's safe head covers `tx_hash` and the verifier has that very block.

    The sequencer's safe head only counts inbox entries it checked against its blocks (and
    adopted when they differ), so equality there is the agreement that lasts; the verifier,
    at 0 confirmations, can be ahead on a batch the sequencer is about to adopt. L1 (anvil,
    automine) gets a block per check, as a real L1 would keep producing them: a batcher
    waiting for the sequencer to adopt its last batch sends nothing to mine.
    """

    def check() -> int | None:
        w3.provider.make_request("evm_mine", [])
        where = chain.transaction_location(tx_hash)
        safe = chain.head(Head.SAFE)
        if where is None or safe.block_number < where[0] or ver.head(Head.UNSAFE).block_number < safe.block_number:
            return None
        return safe.block_number if ver.header_by_number(safe.block_number).hash == safe.hash else None

    try:
        return wait_for(check, what, timeout=180)  # type: ignore[return-value]
    except AssertionError as exc:
        heads = chain.heads()
        raise AssertionError(
            f"{exc}: sequencer unsafe {heads.unsafe.block_number} safe {heads.safe.block_number}, verifier "
            f"{ver.head(Head.UNSAFE).block_number}, tx at {chain.transaction_location(tx_hash)}"
        ) from None


def assert_same_blocks(ours: L2Chain, theirs: L2Chain, upto: int) -> None:
    for n in range(upto + 1):
        a, b = ours.header_by_number(n), theirs.header_by_number(n)
        assert (a.hash, a.state_root) == (b.hash, b.state_root), f"L2 block {n} differs"


@pytest.fixture
def net(anvil: Anvil, tmp_path: Path) -> Iterator[Net]:
    n = Net(anvil, tmp_path)
    try:
        yield n
    finally:
        n.stop_batcher()


@pytest.mark.slow
def test_a_censored_deposit_gets_in_by_force_inclusion_and_every_node_agrees(net: Net, caplog):
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.INFO, logger="sequencer.l1_follower")
    with EmbeddedSequencer(net.sequencer_config()) as node:
        seq = node.sequencer
        chain = seq.chain
        assert chain is not None and seq.producer.ignore_deposits
        assert "TEST-ONLY MODE: test_only_ignore_deposits is on" in caplog.text
        divergences = DivergenceLog()
        verifier = VerifierService(net.verifier_config(), divergences).start()
        try:
            assert verifier.chain is not None
            ver = verifier.chain
            l2 = Web3(Web3.HTTPProvider(node.rpc_url))
            start = {u.address: l2.eth.get_balance(u.address) for u in (ALICE, BOB)}
            net.start_batcher(node.grpc_target)
            for value in (1, 2, 3):
                net.transfer(l2, ALICE, value)

            # 1. censored: batches covering L1 blocks after the deposit land, the deposit stays out
            deposit, deposit_block = net.deposit(FIRST)

            def safe_past_deposit() -> bool:
                safe = chain.head(Head.SAFE)
                return safe.block_number > 0 and chain.l1_origin_number(safe) > deposit_block

            wait_for(safe_past_deposit, "batches of L2 blocks built on L1 blocks after the deposit")
            safe = chain.head(Head.SAFE)
            wait_for(lambda: ver.head(Head.UNSAFE).block_number >= safe.block_number, "the verifier at the safe head")
            assert ver.header_by_number(safe.block_number).hash == safe.hash
            assert balance(chain, RECIPIENT) == 0 and balance(ver, RECIPIENT) == 0
            assert deposits_in(chain) == [] and deposits_in(ver) == []

            # 2. unsafe blocks with acknowledged transactions, then the forced entry lands
            net.batcher.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            time.sleep(0.5)  # anything the batcher had in flight has landed (anvil automines)
            unsafe = [net.transfer(l2, ALICE, 4), net.transfer(l2, BOB, 5), net.transfer(l2, ALICE, 6)]
            last_batched = chain.head(Head.SAFE).block_number
            head_before = chain.head(Head.UNSAFE).block_number
            assert all(r["blockNumber"] > last_batched for r in unsafe)
            net.force_include()
            forced_hash = deposit_transaction(deposit).hash
            wait_for(lambda: chain.transaction_location(forced_hash), "the forced deposit on the sequencer")
            forced_block, _ = chain.transaction_location(forced_hash)  # type: ignore[misc]
            assert balance(chain, RECIPIENT) == FIRST
            assert forced_block <= head_before  # it replaced unsafe blocks: a rebuild happened
            assert [tx.hash for tx in chain.transactions(chain.header_by_number(forced_block))] == [forced_hash]

            # every acknowledged transaction is still on the chain (re-sequenced after the forced block)
            def all_acknowledged() -> bool:
                net.w3.provider.make_request("evm_mine", [])  # L1 moves on (see `agreed`)
                return all(receipt_or_none(l2, h) is not None for h in net.receipts)

            wait_for(all_acknowledged, "the dropped blocks' transactions sequenced again")
            for tx_hash in (bytes(r["transactionHash"]) for r in unsafe):
                number, _ = chain.transaction_location(tx_hash)  # type: ignore[misc]
                assert number > forced_block

            # 3. the batcher carries on; the verifier derives the very same chain
            net.batcher.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            last = net.transfer(l2, BOB, 7)
            target = agreed(net.w3, chain, ver, bytes(last["transactionHash"]), "the verifier past the last transfer")
            assert_same_blocks(chain, ver, target)
            assert deposits_in(ver) == [(forced_block, deposit.index)]
            assert caplog.text.count("rebuilt on inbox entry") == 1

            # 3b. the same with the batcher running throughout: it sees the forced entry on L1 a
            # confirmation before the sequencer and may post a batch of blocks the sequencer then
            # drops; the sequencer adopts that batch too. Either way every node ends equal.
            third, _ = net.deposit(THIRD)
            for user, value in ((ALICE, 9), (ALICE, 10), (BOB, 11)):
                net.transfer(l2, user, value)
            net.force_include()
            third_hash = deposit_transaction(third).hash
            wait_for(lambda: chain.transaction_location(third_hash), "the third forced deposit on the sequencer")
            wait_for(all_acknowledged, "every acknowledged transaction after the live-batcher rebuild")
            last = net.transfer(l2, BOB, 12)
            target = agreed(net.w3, chain, ver, bytes(last["transactionHash"]), "the verifier past the live batcher")
            assert_same_blocks(chain, ver, target)
            rebuilds = caplog.text.count("rebuilt on inbox entry")
            assert rebuilds >= 2

            # 4. idle sequencer (paused, every block batched): the forced block lands on its head,
            # even while paused (pausing stops sequencing, not following L1), and nothing else
            seq.producer.paused = True
            follower = seq.follower
            assert follower is not None

            def all_batched() -> bool:
                net.w3.provider.make_request("evm_mine", [])  # confirms the last batch (anvil automines)
                snap = follower.snapshot()
                return snap.divergent is None and snap.safe_block == chain.head(Head.UNSAFE).block_number

            wait_for(all_batched, "every block batched")
            idle_head = chain.head(Head.UNSAFE).block_number
            second, _ = net.deposit(SECOND)
            net.force_include()
            second_hash = deposit_transaction(second).hash
            wait_for(lambda: chain.transaction_location(second_hash), "the second forced deposit, while paused")
            assert chain.transaction_location(second_hash) == (idle_head + 1, 0)
            time.sleep(0.5)
            assert chain.head(Head.UNSAFE).block_number == idle_head + 1  # nothing sequenced while paused
            seq.producer.paused = False
            last = net.transfer(l2, ALICE, 8)
            target = agreed(net.w3, chain, ver, bytes(last["transactionHash"]), "the verifier past the idle case")
            assert_same_blocks(chain, ver, target)

            # balances exact to the wei, on both nodes
            assert balance(chain, RECIPIENT) == balance(ver, RECIPIENT) == FIRST + SECOND + THIRD
            for user in (ALICE, BOB):
                spent = sum(
                    int(l2.eth.get_transaction(h)["value"]) + int(r["gasUsed"]) * int(r["effectiveGasPrice"])
                    for h, r in ((h, l2.eth.get_transaction_receipt(h)) for h in net.receipts)
                    if r["from"] == user.address
                )
                assert balance(chain, user.address) == balance(ver, user.address) == start[user.address] - spent
            assert all(l2.eth.get_transaction_receipt(h)["status"] == 1 for h in net.receipts)
            assert not divergences.divergences
            assert caplog.text.count("rebuilt on inbox entry") == rebuilds + 1
            checked = seq.follower.snapshot().safe_block  # type: ignore[union-attr]
            kept = [(n, chain.header_by_number(n).hash) for n in range(target + 1)]
        finally:
            verifier.stop()
    net.stop_batcher()

    # 5. a restart resumes the entry check where it stood (stored with the blocks): no rebuild
    caplog.clear()
    with EmbeddedSequencer(net.sequencer_config()) as node:
        chain = node.sequencer.chain
        assert chain is not None
        assert "already checked" in caplog.text
        net.w3.provider.make_request("evm_mine", [])
        wait_for(lambda: chain.head(Head.SAFE).block_number >= checked, "the safe head after the restart")
        assert [(n, chain.header_by_number(n).hash) for n in range(target + 1)] == kept
        assert balance(chain, RECIPIENT) == FIRST + SECOND + THIRD
        assert "rebuilt on inbox entry" not in caplog.text and "does not derive" not in caplog.text
