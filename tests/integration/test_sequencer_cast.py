"""The sequencer's JSON-RPC through Foundry's `cast` (a real, unmodified client) as a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bench.workloads import token_artifact
from l2.devkeys import DEV_ACCOUNTS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("cast") is None, reason="cast not on PATH (tools/node/node_modules/.bin)"),
]

ALICE, ALICE_KEY = DEV_ACCOUNTS[0]
BOB = DEV_ACCOUNTS[1][0]
DAVE = DEV_ACCOUNTS[3][0]


def cast(sequencer_node, command: str, *args: str) -> str:
    # --rpc-url goes first: anything after `--create CODE SIG` is a constructor argument.
    done = subprocess.run(
        ["cast", command, "--rpc-url", sequencer_node.rpc_url, *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    # The npm launcher of cast (bin.mjs) exits 0 even when cast fails: check stderr too.
    failed = done.returncode != 0 or "Error:" in done.stderr
    assert not failed, f"cast {command} {' '.join(args)} failed: {done.stderr}"
    return done.stdout.strip()


def test_cast_reads_chain_basics(sequencer_node):
    assert cast(sequencer_node, "chain-id") == "901"
    assert int(cast(sequencer_node, "block-number")) >= 0
    block = json.loads(cast(sequencer_node, "block", "latest", "--json"))
    assert int(block["number"], 16) >= 0 and block["hash"].startswith("0x")
    assert int(cast(sequencer_node, "balance", ALICE)) > 10**21
    assert int(cast(sequencer_node, "gas-price")) > 0


def test_cast_send_eth_and_read_receipt(sequencer_node):
    before = int(cast(sequencer_node, "balance", DAVE))
    sent = json.loads(cast(sequencer_node, "send", "--private-key", ALICE_KEY, DAVE, "--value", "1234", "--json"))
    assert sent["status"] == "0x1"
    assert int(cast(sequencer_node, "balance", DAVE)) == before + 1234
    receipt = json.loads(cast(sequencer_node, "receipt", sent["transactionHash"], "--json"))
    assert receipt["blockHash"] == sent["blockHash"]
    tx = json.loads(cast(sequencer_node, "tx", sent["transactionHash"], "--json"))
    assert tx["from"].lower() == ALICE.lower() and int(tx["value"], 16) == 1234
    assert int(cast(sequencer_node, "nonce", ALICE)) == int(tx["nonce"], 16) + 1


def test_cast_deploys_calls_and_transacts_the_erc20(sequencer_node):
    bytecode = token_artifact()["bytecode"]
    deployed = json.loads(cast(
        sequencer_node, "send", "--private-key", ALICE_KEY, "--json", "--create", bytecode,
        "constructor(string,string,address[],uint256)", "Test", "TST", f"[{ALICE},{BOB}]", "1000000",
    ))
    assert deployed["status"] == "0x1"
    token = deployed["contractAddress"]
    assert cast(sequencer_node, "call", token, "symbol()(string)") == '"TST"'
    assert cast(sequencer_node, "call", token, "balanceOf(address)(uint256)", BOB).split()[0] == "1000000"
    moved = json.loads(cast(
        sequencer_node, "send", "--private-key", ALICE_KEY, "--json", token, "transfer(address,uint256)", DAVE, "250"
    ))
    assert moved["status"] == "0x1" and len(moved["logs"]) == 1
    assert cast(sequencer_node, "call", token, "balanceOf(address)(uint256)", DAVE) == "250"
    logs = json.loads(cast(
        sequencer_node, "logs", "--json", "--from-block", "0", "--address", token, "Transfer(address,address,uint256)"
    ))
    assert len(logs) == 3
    assert logs[-1]["transactionHash"] == moved["transactionHash"]
    est = int(cast(sequencer_node, "estimate", token, "transfer(address,uint256)", DAVE, "1", "--from", ALICE))
    assert 21_000 < est < 100_000
    reverted = subprocess.run(
        ["cast", "call", token, "transfer(address,uint256)", BOB, "99999999999", "--from", DAVE,
         "--rpc-url", sequencer_node.rpc_url], capture_output=True, text=True, timeout=60, check=False,
    )
    assert "error code 3: execution reverted" in reverted.stderr
    assert "0xcf479181" in reverted.stderr  # InsufficientBalance(uint256,uint256) selector, from the revert data
