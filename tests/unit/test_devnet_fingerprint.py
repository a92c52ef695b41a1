"""A devnet resumes only on contracts built from the same sources (ops.devnet.check_fingerprint)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from l1.artifacts import ARTIFACT_DIR, contracts_fingerprint
from l2.errors import ConfigError
from ops.devnet import check_fingerprint


def test_the_fingerprint_follows_any_artifact_bytecode(tmp_path: Path) -> None:
    copy = tmp_path / "artifacts"
    shutil.copytree(ARTIFACT_DIR, copy)
    assert contracts_fingerprint(copy) == contracts_fingerprint()
    inbox = json.loads((copy / "Inbox.json").read_text())
    inbox["bytecode"] = inbox["bytecode"][:-2] + ("00" if inbox["bytecode"][-2:] != "00" else "01")
    (copy / "Inbox.json").write_text(json.dumps(inbox))
    assert contracts_fingerprint(copy) != contracts_fingerprint()


def test_a_deployment_of_other_contracts_is_refused_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "devnet" / "deployment.json"
    check_fingerprint({"contracts_fingerprint": contracts_fingerprint()}, path)  # same sources: resumes
    for made_with in ("0x" + "ab" * 32, "", None):
        deployment = {} if made_with is None else {"contracts_fingerprint": made_with}
        with pytest.raises(ConfigError, match=r"remove .*devnet to start a new devnet"):
            check_fingerprint(deployment, path)
