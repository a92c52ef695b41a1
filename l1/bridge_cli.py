"""`rollup bridge deposit|withdraw|status|prove|finalize`: move ETH (and calls) L1 -> L2 -> L1.

A user tool over l1 and l2 only (no role imported). Each step says what it is waiting for
and until when: the deposit's inclusion on L2, an assertion covering the withdrawal's L2
block, its challenge period, the withdrawal delay. User guide: docs/bridge.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from l1.bindings import AssertionStatus, DelayedInboxBinding, L1Error, RollupBinding
from l1.deploy import Deployment
from l1.withdrawals import MessagePassed, WithdrawalProof, messages_passed, proof_from_rpc
from l2.deposits import Deposit, deposit_transaction
from l2.devkeys import DEV_ACCOUNTS
from l2.errors import ConfigError, RollupError
from l2.predeploys import MESSAGE_PASSER_ADDRESS, artifact

DEFAULT_DEPLOYMENT = "./data/devnet/deployment.json"
POLL_SECONDS = 2.0


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Progress:
    """Where a withdrawal is: `stage` (one word), what the user waits for, and until when (L1 time)."""

    stage: str  # waiting-assertion | waiting-confirmation | provable | proven | finalizable | finalized
    message: str
    until: int | None = None
    assertion_id: int | None = None


class Bridge:
    """L1 and L2 clients, the deployment and the user's key."""

    def __init__(self, l1: Web3, l2: Web3, deployment: Deployment, signer: LocalAccount) -> None:
        self.l1, self.l2, self.signer = l1, l2, signer
        self.delayed = DelayedInboxBinding(l1, deployment.contracts["DelayedInbox"], signer)
        self.rollup = RollupBinding(l1, deployment.contracts["Rollup"], signer)
        self.passer = l2.eth.contract(
            address=to_checksum_address(MESSAGE_PASSER_ADDRESS), abi=artifact("MessagePasser")["abi"]
        )

    # -- deposits ---------------------------------------------------------------------

    def deposit(
        self, to: str, value: int, gas_limit: int = 21_000, data: bytes = b""
    ) -> tuple[int, bytes, TxReceipt]:
        """Deposit on L1; returns the delayed message index, the L2 transaction hash it will have, the L1 receipt."""
        receipt = self.delayed.deposit(to, gas_limit, data, value=value)
        [delivered] = self.delayed.messages_in(receipt)
        m = delivered.message
        l2_tx = deposit_transaction(Deposit(m.index, m.sender, m.to, m.value, m.gas_limit, m.data))
        return m.index, bytes(l2_tx.hash), receipt

    def l2_receipt(self, tx_hash: bytes) -> dict[str, Any] | None:
        receipt = self.l2.provider.make_request("eth_getTransactionReceipt", ["0x" + tx_hash.hex()]).get("result")
        return dict(receipt) if receipt else None

    # -- withdrawals ------------------------------------------------------------------

    def withdraw(
        self, to: str, value: int, gas_limit: int = 0, data: bytes = b""
    ) -> tuple[dict[str, Any], MessagePassed]:
        """Send MessagePasser.initiateWithdrawal on L2; returns the L2 receipt and the withdrawal."""
        tx = self.passer.functions.initiateWithdrawal(to_checksum_address(to), gas_limit, data).build_transaction(
            {"from": self.signer.address, "value": value,
             "nonce": self.l2.eth.get_transaction_count(self.signer.address, "pending")}
        )
        tx_hash = self.l2.eth.send_raw_transaction(self.signer.sign_transaction(tx).raw_transaction)
        receipt = dict(self.l2.eth.wait_for_transaction_receipt(tx_hash, timeout=120))
        if receipt["status"] != 1:
            raise L1Error(f"the L2 withdrawal transaction 0x{bytes(tx_hash).hex()} failed")
        [passed] = messages_passed(receipt)
        return receipt, passed

    def message(self, l2_tx_hash: bytes) -> MessagePassed:
        """The withdrawal initiated by an L2 transaction."""
        receipt = self.l2_receipt(l2_tx_hash)
        if receipt is None:
            raise ConfigError(f"L2 does not know transaction 0x{l2_tx_hash.hex()}")
        found = messages_passed(receipt)
        if len(found) != 1:
            raise ConfigError(f"L2 transaction 0x{l2_tx_hash.hex()} initiated {len(found)} withdrawals, not one")
        return found[0]

    def progress(self, passed: MessagePassed) -> Progress:
        h, n = passed.withdrawal_hash, passed.l2_block_number
        if self.delayed.is_finalized(h):
            return Progress("finalized", "finalized: paid out on L1")
        now = self.l1.eth.get_block("latest")["timestamp"]
        proven = self.delayed.proven_withdrawal(h)
        if proven.proven_at:
            at = proven.proven_at + self.delayed.withdrawal_delay()
            if now < at:
                return Progress("proven", f"proven against assertion {proven.assertion_id}; waiting for the "
                                f"withdrawal delay: finalizable at {_when(at)} (in {at - now} s)", at,
                                proven.assertion_id)
            return Progress("finalizable", "proven and the withdrawal delay is over: ready to finalize",
                            assertion_id=proven.assertion_id)
        latest = self.rollup.assertion(self.rollup.latest_confirmed())
        if latest.l2_block_number >= n:
            return Progress("provable", f"assertion {latest.id} (L2 block {latest.l2_block_number}) is confirmed "
                            f"and covers L2 block {n}: ready to prove", assertion_id=latest.id)
        period = self.rollup.challenge_period()
        covering = [
            a for a in (self.rollup.assertion(i) for i in range(latest.id + 1, self.rollup.assertion_count()))
            if a.status == AssertionStatus.PENDING and a.l2_block_number >= n
        ]
        if covering:
            a = min(covering, key=lambda a: a.created_at)
            at = a.created_at + period
            if now < at:
                return Progress("waiting-confirmation", f"waiting for assertion {a.id} covering L2 block {n} to be "
                                f"confirmed: challenge period ends at {_when(at)} (in {at - now} s)", at, a.id)
            return Progress("waiting-confirmation", f"assertion {a.id} covering L2 block {n}: challenge period "
                            f"ended at {_when(at)}; waiting for someone to confirm it (the proposer does)", at, a.id)
        newest = self.rollup.assertion(self.rollup.assertion_count() - 1).l2_block_number
        return Progress("waiting-assertion", f"waiting for the proposer to post an assertion covering L2 block {n} "
                        f"(the newest covers L2 block {newest}); then a challenge period of {period} s")

    def proof(self, passed: MessagePassed, assertion_id: int) -> WithdrawalProof:
        """The storage proof at the assertion's L2 block, checked against its output root."""
        a = self.rollup.assertion(assertion_id)
        block = hex(a.l2_block_number)
        header = self.l2.provider.make_request("eth_getBlockByNumber", [block, False])["result"]
        raw = self.l2.provider.make_request(
            "eth_getProof",
            [to_checksum_address(MESSAGE_PASSER_ADDRESS), ["0x" + passed.withdrawal.slot().hex()], block],
        )["result"]
        proof = proof_from_rpc(header, raw, passed.withdrawal_hash)
        if proof.output.root() != a.output_root:
            raise ConfigError(f"the L2 node's output root of block {a.l2_block_number} is not assertion "
                              f"{assertion_id}'s: it is on another chain, or the assertion is wrong")
        return proof

    def prove(self, passed: MessagePassed) -> tuple[int, TxReceipt]:
        """proveWithdrawal against the latest confirmed assertion; returns its id and the receipt."""
        p = self.progress(passed)
        if p.stage != "provable" or p.assertion_id is None:
            raise ConfigError(f"cannot prove yet: {p.message}")
        proof = self.proof(passed, p.assertion_id)
        return p.assertion_id, self.delayed.prove_withdrawal(passed.withdrawal, p.assertion_id, proof)

    def finalize(self, passed: MessagePassed) -> TxReceipt:
        p = self.progress(passed)
        if p.stage != "finalizable":
            raise ConfigError(f"cannot finalize yet: {p.message}")
        return self.delayed.finalize_withdrawal(passed.withdrawal)


# -- command line ----------------------------------------------------------------------


def _address(text: str) -> str:
    if not is_address(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an address")
    return to_checksum_address(text)


def _tx_hash(text: str) -> bytes:
    raw = bytes.fromhex(text.removeprefix("0x"))
    if len(raw) != 32:
        raise argparse.ArgumentTypeError(f"{text!r} is not a 32-byte transaction hash")
    return raw


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--l1-rpc", default="http://127.0.0.1:8545", help="L1 JSON-RPC URL (default %(default)s)")
    parser.add_argument("--l2-rpc", default="http://127.0.0.1:9545",
                        help="L2 JSON-RPC URL, sequencer or verifier (default %(default)s)")
    parser.add_argument("--deployment", default=DEFAULT_DEPLOYMENT, help="deployment file (default %(default)s)")
    parser.add_argument("--private-key", default=os.environ.get("ROLLUP_BRIDGE_PRIVATE_KEY", DEV_ACCOUNTS[0][1]),
                        help="the user's key (default: $ROLLUP_BRIDGE_PRIVATE_KEY, else dev account 0)")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, what in (("deposit", "L1 -> L2: deposit ETH (and a call) through DelayedInbox"),
                       ("withdraw", "L2 -> L1: start a withdrawal through the L2 MessagePasser")):
        sub = actions.add_parser(name, help=what)
        sub.add_argument("--to", type=_address, default=None, help="recipient (default: the sender)")
        sub.add_argument("--value", type=int, required=True, help="wei")
        sub.add_argument("--gas-limit", type=int, default=21_000 if name == "deposit" else 0,
                         help="gas of the call on the other side (default %(default)s)")
        sub.add_argument("--data", default="0x", help="calldata of that call (hex)")
        if name == "deposit":
            sub.add_argument("--wait", action="store_true", help="wait until the deposit is on L2")
    for name, what in (("status", "where a withdrawal is and what it waits for"),
                       ("prove", "prove a withdrawal on L1 against a confirmed assertion"),
                       ("finalize", "pay out a proven withdrawal once the delay is over")):
        sub = actions.add_parser(name, help=what)
        sub.add_argument("tx", type=_tx_hash, help="hash of the L2 transaction that started the withdrawal")
        if name != "status":
            sub.add_argument("--wait", action="store_true", help="wait until possible, showing progress")


def _connect(args: argparse.Namespace) -> Bridge:
    deployment = Deployment.load(args.deployment)
    try:
        signer = Account.from_key(args.private_key)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--private-key is not a valid private key ({exc})") from None
    l2 = Web3(Web3.HTTPProvider(args.l2_rpc, request_kwargs={"timeout": 30}))
    return Bridge(deployment.connect(args.l1_rpc, timeout=30), l2, deployment, signer)


def _wait(bridge: Bridge, passed: MessagePassed, ready: str) -> None:
    said = ""
    while (p := bridge.progress(passed)).stage != ready:
        if p.stage == "finalized" or (ready == "provable" and p.stage in ("proven", "finalizable")):
            return
        if p.message.split(":")[0] != said:
            print(p.message, flush=True)
            said = p.message.split(":")[0]
        time.sleep(POLL_SECONDS)


def run(args: argparse.Namespace) -> int:
    try:
        bridge = _connect(args)
        me = bridge.signer.address
        if args.action == "deposit":
            index, l2_hash, _ = bridge.deposit(args.to or me, args.value, args.gas_limit, bytes.fromhex(args.data[2:]))
            print(f"deposit {index} sent on L1; its L2 transaction will be 0x{l2_hash.hex()}")
            if args.wait:
                print("waiting for the sequencer to include it (or, if it does not, for force inclusion)")
                while (receipt := bridge.l2_receipt(l2_hash)) is None:
                    time.sleep(POLL_SECONDS)
                print(f"on L2 in block {int(receipt['blockNumber'], 16)}, status {int(receipt['status'], 16)}")
            return 0
        if args.action == "withdraw":
            receipt, passed = bridge.withdraw(args.to or me, args.value, args.gas_limit, bytes.fromhex(args.data[2:]))
            print(f"withdrawal 0x{passed.withdrawal_hash.hex()} started in L2 block {passed.l2_block_number} "
                  f"(L2 tx 0x{bytes(receipt['transactionHash']).hex()})")
            print(bridge.progress(passed).message)
            return 0
        passed = bridge.message(args.tx)
        if args.action == "status":
            print(bridge.progress(passed).message)
            return 0
        if args.action == "prove":
            if args.wait:
                _wait(bridge, passed, "provable")
            if bridge.progress(passed).stage == "provable":
                assertion_id, _ = bridge.prove(passed)
                print(f"proven against assertion {assertion_id}")
            print(bridge.progress(passed).message)
            return 0
        if args.wait:
            _wait(bridge, passed, "finalizable")
        if bridge.progress(passed).stage == "finalizable":
            bridge.finalize(passed)
        p = bridge.progress(passed)
        print(p.message)
        return 0 if p.stage == "finalized" else 1
    except RollupError as exc:
        print(f"rollup bridge: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"rollup bridge: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
