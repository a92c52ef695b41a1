"""The README's first command: `rollup devnet` runs L1 and every role, end to end.

A transfer sent with cast to the sequencer reaches the verifier's safe head (derived from
L1 alone); SIGINT stops every child; a second start resumes the same L1 and L2 chains; a
child that dies stops the devnet with a message naming it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from l2.devkeys import DEV_ACCOUNTS
from tests.e2e.devnet_process import ROOT, DevnetProcess, rpc, surviving_groups, wait_for

RECIPIENT = "0x00000000000000000000000000000000000e2e01"
VALUE = 12_345


def cast() -> str:
    pinned = ROOT / "tools" / "node" / "node_modules" / ".bin" / "cast"
    found = str(pinned) if pinned.exists() else shutil.which("cast")
    if found is None:
        pytest.fail("cast not found: run ./dev setup (installs it under tools/node)")
    return found


def cast_transfer(rpc_port: int) -> dict:
    out = subprocess.run(
        [cast(), "send", "--json", "--rpc-url", f"http://127.0.0.1:{rpc_port}", "--private-key", DEV_ACCOUNTS[1][1],
         RECIPIENT, "--value", str(VALUE)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    receipt = json.loads(out.stdout)
    assert int(receipt["status"], 16) == 1
    return receipt


def safe_receipt(devnet: DevnetProcess, tx_hash: str) -> dict | None:
    """The receipt through the verifier, once its block is at or below the verifier's safe head."""
    port = devnet.ports["verifier_rpc_port"]
    receipt = rpc(port, "eth_getTransactionReceipt", [tx_hash])
    if receipt is None:
        return None
    safe = rpc(port, "eth_getBlockByNumber", ["safe", False])
    return receipt if int(safe["number"], 16) >= int(receipt["blockNumber"], 16) else None


@pytest.mark.slow
def test_devnet_end_to_end_stop_and_resume(tmp_path: Path):
    datadir = tmp_path / "devnet"
    with DevnetProcess(datadir) as devnet:
        seq, ver, l1 = devnet.ports["rpc_port"], devnet.ports["verifier_rpc_port"], devnet.ports["l1_port"]
        devnet.start()
        banner = devnet.output
        for address, key in DEV_ACCOUNTS:
            assert address in banner and key in banner
        for port in devnet.ports.values():
            assert f":{port}" in banner, f"port {port} not printed"
        assert int(rpc(seq, "eth_chainId", []), 16) == 901
        assert int(rpc(l1, "eth_chainId", []), 16) == 900

        # a transfer sent with cast to the sequencer reaches the verifier's safe head
        sent = cast_transfer(seq)
        receipt = wait_for(lambda: safe_receipt(devnet, sent["transactionHash"]), 180, "the transfer to be safe")
        height = int(receipt["blockNumber"], 16)
        assert int(rpc(ver, "eth_getBalance", [RECIPIENT, "safe"]), 16) == VALUE
        seq_hash = rpc(seq, "eth_getBlockByNumber", [hex(height), False])["hash"]
        ver_hash = rpc(ver, "eth_getBlockByNumber", [hex(height), False])["hash"]
        deployment = json.loads((datadir / "deployment.json").read_text())

        # SIGINT stops every child: no process of any child's group is left
        children = devnet.children()
        assert len(children) == 5, devnet.output  # anvil, sequencer, batcher, proposer, verifier
        assert devnet.stop(signal.SIGINT) == 0, devnet.output
        assert surviving_groups(children) == [], devnet.output
        assert "devnet: stopped" in devnet.output

        # a second start resumes the same chains: L1 (anvil state), deployment, L2 blocks
        first_run_lines = len(devnet.lines)
        devnet.start()
        second = "\n".join(devnet.lines[first_run_lines:])
        assert "resuming the chain in" in second and "deploy |" not in second, second
        start = rpc(l1, "eth_getBlockByNumber", [hex(deployment["l1_start_block_number"]), False])
        assert start["hash"] == deployment["l1_start_block_hash"]
        assert rpc(seq, "eth_getBlockByNumber", [hex(height), False])["hash"] == seq_hash
        assert rpc(ver, "eth_getBlockByNumber", [hex(height), False])["hash"] == ver_hash
        assert rpc(seq, "eth_getTransactionReceipt", [sent["transactionHash"]])["blockHash"] == sent["blockHash"]
        wait_for(lambda: int(rpc(seq, "eth_blockNumber", []), 16) > height + 2, 60, "the sequencer to go on")

        # a second transfer makes it to the verifier after the restart too
        again = cast_transfer(seq)
        wait_for(lambda: safe_receipt(devnet, again["transactionHash"]), 180, "the second transfer to be safe")
        assert int(rpc(ver, "eth_getBalance", [RECIPIENT, "safe"]), 16) == 2 * VALUE

        # a child that dies stops the devnet, with a message that names it
        children = devnet.children()
        batcher = next(pid for pid in children if "batcher" in Path(f"/proc/{pid}/cmdline").read_text())
        os.kill(batcher, signal.SIGKILL)
        assert devnet.wait(90) == 1, devnet.output
        assert "batcher exited unexpectedly" in devnet.output, devnet.output
        assert surviving_groups(children) == [], devnet.output

    # the verifier derives the sequencer's own chain: the same block hashes
    assert seq_hash == ver_hash, f"block {height}: sequencer {seq_hash} != verifier {ver_hash}"
