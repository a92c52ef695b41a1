"""The bridge round trip L1 -> L2 -> L1 on the devnet (docs/bridge.md), balances exact to the wei.

A deposit reaches L2 (minted, no fee); a withdrawal on L2 is asserted by the proposer,
confirmed after a short challenge period, proven on L1 with a storage proof from the
sequencer's eth_getProof, and paid out after the withdrawal delay, once. Every fee is read
from its receipt. The attacks (forged proof, wrong output root, double finalisation) are in
tests/integration/test_bridge_withdrawals.py, on anvil.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from l1.bindings import L1Reverted
from l1.bridge_cli import Bridge
from l1.deploy import Deployment
from l2.devkeys import DEV_ACCOUNTS
from tests.e2e.devnet_process import ROOT, DevnetProcess, wait_for

USER = Account.from_key(DEV_ACCOUNTS[3][1])
DEPOSIT = 3 * 10**18 + 17
WITHDRAWAL = 10**18 + 5
CHALLENGE = 6
DELAY = 4


def fee(receipt) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def _int(value) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


@pytest.mark.slow
def test_round_trip_l1_l2_l1_exact_to_the_wei(tmp_path: Path):
    env = {"ROLLUP_PROPOSER_PROPOSE_EVERY": "2", "ROLLUP_BATCHER_MAX_BATCH_AGE": "2"}
    args = ["--challenge-period", str(CHALLENGE), "--withdrawal-delay", str(DELAY)]
    with DevnetProcess(tmp_path / "devnet", env=env, args=args) as devnet:
        devnet.start()
        l1_url = f"http://127.0.0.1:{devnet.ports['l1_port']}"
        l2_url = f"http://127.0.0.1:{devnet.ports['rpc_port']}"
        deployment = Deployment.load(devnet.datadir / "deployment.json")
        assert deployment.challenge_period == CHALLENGE and deployment.withdrawal_delay == DELAY
        l1 = deployment.connect(l1_url)
        l2 = Web3(Web3.HTTPProvider(l2_url))
        bridge = Bridge(l1, l2, deployment, USER)
        inbox = deployment.contracts["DelayedInbox"]

        # L1 -> L2: the deposit is minted on L2 without a fee
        l1_start, l2_start, held_start = (
            l1.eth.get_balance(USER.address), l2.eth.get_balance(USER.address), l1.eth.get_balance(inbox)
        )
        _, l2_hash, deposit_receipt = bridge.deposit(USER.address, DEPOSIT)
        l1_fees = fee(deposit_receipt)
        landed = wait_for(lambda: bridge.l2_receipt(l2_hash), 120, "the deposit on L2")
        assert _int(landed["status"]) == 1
        assert l2.eth.get_balance(USER.address) == l2_start + DEPOSIT
        assert l1.eth.get_balance(USER.address) == l1_start - DEPOSIT - l1_fees
        assert l1.eth.get_balance(inbox) == held_start + DEPOSIT

        # L2 -> L1: withdraw part of it
        l2_receipt, passed = bridge.withdraw(USER.address, WITHDRAWAL)
        assert l2.eth.get_balance(USER.address) == l2_start + DEPOSIT - WITHDRAWAL - fee(l2_receipt)
        assert passed.withdrawal.value == WITHDRAWAL and passed.withdrawal.gas_limit == 0
        status = subprocess.run(
            [sys.executable, "-m", "rollup", "bridge", "--l1-rpc", l1_url, "--l2-rpc", l2_url,
             "--deployment", str(devnet.datadir / "deployment.json"), "status",
             "0x" + bytes(l2_receipt["transactionHash"]).hex()],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert status.returncode == 0, status.stderr
        assert "waiting for" in status.stdout or "ready to prove" in status.stdout, status.stdout
        with pytest.raises(L1Reverted, match="NotProven"):
            bridge.delayed.finalize_withdrawal(passed.withdrawal)

        wait_for(lambda: bridge.progress(passed).stage == "provable", 240, "a confirmed assertion covering the "
                 f"withdrawal: {bridge.progress(passed).message}\n{devnet.output[-3000:]}", interval=1)
        assertion_id, prove_receipt = bridge.prove(passed)
        l1_fees += fee(prove_receipt)
        assert bridge.progress(passed).stage == "proven"
        wait_for(lambda: bridge.progress(passed).stage == "finalizable", 60, "the withdrawal delay", interval=1)
        finalize_receipt = bridge.finalize(passed)
        l1_fees += fee(finalize_receipt)
        assert bridge.progress(passed).stage == "finalized"
        with pytest.raises(L1Reverted, match="AlreadyFinalized"):
            bridge.delayed.finalize_withdrawal(passed.withdrawal)

        assert l1.eth.get_balance(USER.address) == l1_start - DEPOSIT + WITHDRAWAL - l1_fees
        assert l1.eth.get_balance(inbox) == held_start + DEPOSIT - WITHDRAWAL
        assert assertion_id >= 1
        devnet.stop()
