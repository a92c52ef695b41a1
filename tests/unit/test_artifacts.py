"""Committed contract artifacts are exactly what the pinned compiler makes of the sources."""

import pytest

from l1.solc import stale_artifacts


@pytest.mark.slow  # compiles every Solidity source with solc-js: minutes on a loaded machine
def test_no_artifact_is_stale():
    assert stale_artifacts() == []
