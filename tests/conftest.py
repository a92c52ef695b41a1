"""Fixtures shared by every test folder: the chain spec, a chain on a fresh LMDB store, keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import l2  # noqa: F401
from bench.workloads import Key, Workload
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.types import BlockAttributes, L1Origin

CHAIN_ID = 901


@pytest.fixture
def keys() -> list[Key]:
    return [Key.derive("test", i) for i in range(4)]


@pytest.fixture
def spec(keys: list[Key]) -> ChainSpec:
    """A small chain whose test keys hold 1M ETH each."""
    return Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))


@pytest.fixture
def chain(tmp_path: Path, spec: ChainSpec) -> Iterator[L2Chain]:
    chain = L2Chain.open(tmp_path / "chain", spec, map_size=1 << 30)
    yield chain
    chain.close()


def attrs(timestamp: int, l1_number: int = 0) -> BlockAttributes:
    return BlockAttributes(timestamp, L1Origin(l1_number))
