"""Load compiled contract artifacts (committed JSON), with no compiler at run time."""

from __future__ import annotations

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
