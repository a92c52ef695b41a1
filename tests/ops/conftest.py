"""Fixtures of the ops tests: the Prometheus binaries (Debian package `prometheus`).

`./dev test` installs the package when it is missing. Without it a local run skips these
tests; under CI (CI set) a missing binary fails them, so they can never silently vanish.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

OPS = Path(__file__).resolve().parents[2] / "ops"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} not found: install the Debian package `prometheus` (./dev test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus() -> str:
    return _binary("prometheus")
