"""Fixtures shared by every test folder (the chain spec, a chain on a fresh LMDB store, keys),
and the order the tests are handed to parallel workers (`./dev test` runs pytest-xdist)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import l2  # noqa: F401
from bench.workloads import Key, Workload
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.types import BlockAttributes, L1Origin

CHAIN_ID = 901
SHARED_SCOPES = ("class", "module", "package")
ONE_BY_ONE = "tests/e2e/"  # each end-to-end test runs its own devnet: no fixture outlives a test


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _shares_fixtures(item: pytest.Item) -> bool:
    """Whether the test uses a fixture that outlives it inside its file (an anvil, a deployment)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope in SHARED_SCOPES for defs in info.name2fixturedefs.values())


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile` (what ./dev test uses), except that each end-to-end test is a unit of its own.

    A whole file goes to one worker so its module fixtures (an anvil, a deployment, a
    sequencer) start once, but the end-to-end files hold several minutes-long tests that
    share nothing: split, they run side by side. (xdist's own `loadgroup` cannot express this
    on pytest 9.2: the group suffix it writes to `item._nodeid` is no longer read.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if nodeid.startswith(ONE_BY_ONE) else _file(nodeid)

    return FileScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the files for the parallel workers: slow ones first, then those with shared fixtures.

    Workers take units in collection order (./dev test passes --no-loadscope-reorder), so the
    longest units start early and short unit-test files fill the end, which keeps one worker
    from finishing a long file alone. Files keep their tests' order and stay contiguous, so a
    serial run (-n 0) sets each module fixture up once, as before.
    """
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(_file(item.nodeid), []).append(item)
    rank = {}
    for path, tests in files.items():
        slow = any(t.get_closest_marker("slow") for t in tests)
        rank[path] = 0 if slow else 1 if any(_shares_fixtures(t) for t in tests) else 2
    items.sort(key=lambda t: rank[_file(t.nodeid)])


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
