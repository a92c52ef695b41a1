"""`rollup deploy` end to end: the real CLI in a subprocess against anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eth_utils import is_checksum_address

from l1.anvil import Anvil, free_port
from l1.bindings import InboxBinding, RollupBinding
from l1.deploy import Deployment
from l2.devkeys import DEV_ACCOUNTS
from l2.output_root import genesis_output_root
from l2.spec import devnet_spec


def rollup_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "rollup", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def test_deploy_writes_a_valid_deployment_file(anvil: Anvil, tmp_path: Path):
    out = tmp_path / "deployment.json"
    batcher = DEV_ACCOUNTS[1][0]
    proc = rollup_cli("deploy", "--l1-rpc", anvil.url, "--out", str(out), "--batcher", batcher, "--bond", "12345")
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    raw = json.loads(out.read_text())
    deployment = Deployment.load(out)
    assert deployment.to_json() == raw
    spec = devnet_spec()
    assert deployment.l1_chain_id == 900 and deployment.l2_chain_id == spec.chain_id
    assert deployment.spec_hash == "0x" + spec.spec_hash().hex()
    assert deployment.genesis_output_root == "0x" + genesis_output_root(spec).hex()
    start = anvil.w3.eth.get_block(deployment.l1_start_block_number)
    assert deployment.l1_start_block_hash == "0x" + bytes(start["hash"]).hex()
    for name, address in deployment.contracts.items():
        assert is_checksum_address(address) and anvil.w3.eth.get_code(address), name
    assert deployment.owner == DEV_ACCOUNTS[0][0] and deployment.batcher == batcher
    inbox = InboxBinding(anvil.w3, deployment.contracts["Inbox"])
    rollup = RollupBinding(anvil.w3, deployment.contracts["Rollup"])
    assert inbox.batcher() == batcher and inbox.force_inclusion_delay() == deployment.force_inclusion_delay
    assert rollup.bond() == 12345
    assert "0x" + rollup.assertion(0).output_root.hex() == deployment.genesis_output_root


def test_deploy_with_a_genesis_file_commits_to_that_chain(anvil: Anvil, tmp_path: Path):
    genesis = devnet_spec().to_json()
    genesis["chainId"] = 4242
    (tmp_path / "genesis.json").write_text(json.dumps(genesis))
    out = tmp_path / "d.json"
    proc = rollup_cli("deploy", "--l1-rpc", anvil.url, "--out", str(out), "--genesis", str(tmp_path / "genesis.json"))
    assert proc.returncode == 0, proc.stderr
    deployment = Deployment.load(out)
    assert deployment.l2_chain_id == 4242
    assert deployment.spec_hash != "0x" + devnet_spec().spec_hash().hex()


def test_deploy_bad_input_fails_cleanly(anvil: Anvil, tmp_path: Path):
    out = tmp_path / "d.json"
    (tmp_path / "bad.json").write_text("{not json")
    empty_key = "0x" + "77" * 32  # valid key, no ETH on L1
    cases = {
        "cannot reach the L1 node": ["--l1-rpc", f"http://127.0.0.1:{free_port()}"],
        "--private-key is not a valid": ["--l1-rpc", anvil.url, "--private-key", "0x1234"],
        "is not JSON": ["--l1-rpc", anvil.url, "--genesis", str(tmp_path / "bad.json")],
        "cannot read genesis file": ["--l1-rpc", anvil.url, "--genesis", str(tmp_path / "missing.json")],
        "has no ETH": ["--l1-rpc", anvil.url, "--private-key", empty_key],
        "--batcher: 'nope' is not an address": ["--l1-rpc", anvil.url, "--batcher", "nope"],
        "--bond must be positive": ["--l1-rpc", anvil.url, "--bond", "0"],
        "--invalidation-window must be positive and below --game-clock": [
            "--l1-rpc", anvil.url, "--game-clock", "60", "--invalidation-window", "60"],
        "does not exist": ["--l1-rpc", anvil.url, "--out", str(tmp_path / "no" / "d.json")],
    }
    for message, args in cases.items():
        target = [] if "--out" in args else ["--out", str(out)]
        proc = rollup_cli("deploy", *args, *target)
        assert proc.returncode == 1, (message, proc.stdout, proc.stderr)
        assert message in proc.stderr, (message, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not out.exists()
