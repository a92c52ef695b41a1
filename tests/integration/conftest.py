"""Integration fixtures, one per test module: a real anvil L1 node and a real sequencer on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from l1.anvil import DEFAULT_L1_CHAIN_ID, Anvil
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer


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


@pytest.fixture(scope="module")
def sequencer_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSequencer]:
    """A sequencer (devnet genesis, 0.1 s blocks) serving JSON-RPC, gRPC and /metrics on free ports."""
    config = SequencerConfig(
        datadir=str(tmp_path_factory.mktemp("seq")), rpc_port=0, grpc_port=0, metrics_port=0, block_time=0.1
    )
    with EmbeddedSequencer(config) as node:
        yield node
