"""Load compiled contract artifacts (committed JSON), with no compiler at run time."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"


@cache
def load_artifact(name: str, directory: Path = ARTIFACT_DIR) -> dict:
    """The artifact of contract `name`: abi, bytecode, deployedBytecode."""
    path = directory / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no artifact for contract {name} in {directory}")
    return json.loads(path.read_text())


def contracts_fingerprint(directory: Path = ARTIFACT_DIR) -> str:
    """sha256 over every artifact's name and creation bytecode, recorded in a deployment: a devnet
    resumed with contracts built from other sources would run new code against old storage."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.json")):
        artifact = json.loads(path.read_text())
        digest.update(path.stem.encode() + b"\0" + artifact.get("bytecode", "").encode() + b"\0")
    return "0x" + digest.hexdigest()
