"""`rollup devnet` refuses what cannot work before starting anything: busy ports, a half-made datadir."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from l2.devkeys import DEV_ACCOUNTS
from l2.errors import ConfigError
from ops.devnet import BATCHER_ACCOUNT, PROPOSER_ACCOUNT, Devnet, DevnetConfig, dev_key
from rollup.cli import main
from tests.e2e.devnet_process import PORT_FLAGS, free_ports


def flags(tmp_path: Path, **override: int) -> list[str]:
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True)) | override
    argv = ["devnet", "--datadir", str(tmp_path / "devnet")]
    for name, port in ports.items():
        argv += [f"--{name.replace('_', '-')}", str(port)]
    return argv


def test_a_busy_port_is_named_and_nothing_starts(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(flags(tmp_path, verifier_rpc_port=port)) == 2
    assert f"port in use: verifier-rpc-port {port}" in capsys.readouterr().err
    assert not (tmp_path / "devnet").exists()


def test_one_port_for_two_roles_is_refused(tmp_path, capsys):
    assert main(flags(tmp_path, metrics_port=17300, batcher_metrics_port=17300)) == 2
    assert "are both 17300" in capsys.readouterr().err


def test_role_data_without_a_deployment_is_refused(tmp_path):
    (tmp_path / "sequencer").mkdir()
    with pytest.raises(ConfigError, match="no deployment.json"):
        Devnet(DevnetConfig(datadir=str(tmp_path)))._prepare_datadir()


def test_a_deployment_without_its_l1_state_is_refused(tmp_path):
    (tmp_path / "deployment.json").write_text(json.dumps({}))
    with pytest.raises(ConfigError, match="L1 state"):
        Devnet(DevnetConfig(datadir=str(tmp_path)))._prepare_datadir()


def test_roles_get_their_own_dev_keys():
    assert BATCHER_ACCOUNT != PROPOSER_ACCOUNT and 0 not in (BATCHER_ACCOUNT, PROPOSER_ACCOUNT)
    address, key = DEV_ACCOUNTS[BATCHER_ACCOUNT]
    assert dev_key(address.lower(), "UNUSED_ENV_VAR") == key
    with pytest.raises(ConfigError, match="set UNUSED_ENV_VAR"):
        dev_key("0x" + "11" * 20, "UNUSED_ENV_VAR")
