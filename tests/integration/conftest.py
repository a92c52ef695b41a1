"""Integration fixtures: a real anvil L1 node on loopback, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from l1.anvil import DEFAULT_L1_CHAIN_ID, Anvil


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    """anvil (chain id 900) on a free port; killed when the module's tests are done."""
    node = Anvil(chain_id=DEFAULT_L1_CHAIN_ID).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def anvil_url(anvil: Anvil) -> str:
    return anvil.url
