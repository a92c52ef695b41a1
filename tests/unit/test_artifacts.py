"""Committed contract artifacts are exactly what the pinned compiler makes of the sources."""

from l1.solc import stale_artifacts


def test_no_artifact_is_stale():
    assert stale_artifacts() == []
