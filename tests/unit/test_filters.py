"""`l2.filters` through `l2.rpc.JsonRpc.handle` on a real chain (LMDB): criteria, expiry with an
injected clock, the cap, the per-poll bound, pending arrivals, and rewinds (`L2Chain.rewind`)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_hash.auto import keccak

from bench.workloads import Workload, erc20_transfers, token_address
from l2.chain import L2Chain
from l2.rpc import JsonRpc, RpcSettings
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from tests.conftest import CHAIN_ID, attrs
from tests.unit.test_state_transition import signed

TRANSFER = "0x" + keccak(b"Transfer(address,address,uint256)").hex()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call(rpc: JsonRpc, method: str, *params: Any) -> dict[str, Any]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    answer = asyncio.run(rpc.handle(body))
    assert answer is not None
    return json.loads(answer)


def ok(rpc: JsonRpc, method: str, *params: Any) -> Any:
    answer = call(rpc, method, *params)
    assert "error" not in answer, answer
    return answer["result"]


def error(rpc: JsonRpc, method: str, *params: Any) -> dict[str, Any]:
    answer = call(rpc, method, *params)
    assert "error" in answer, answer
    return answer["error"]


@pytest.fixture
def token() -> Workload:
    return erc20_transfers(12, CHAIN_ID, senders=3)


@pytest.fixture
def token_chain(tmp_path: Path, spec: ChainSpec, token: Workload) -> Iterator[L2Chain]:
    """The token deployed in block 1 (one mint log per holder)."""
    chain = L2Chain.open(tmp_path / "chain", token.spec(spec), map_size=1 << 30)
    chain.build_block(attrs(1), [decode_transaction(r, chain.spec) for r in token.setup])
    yield chain
    chain.close()


def build(chain: L2Chain, raws: list[bytes], timestamp: int) -> bytes:
    sealed, skipped = chain.build_block(attrs(timestamp), [decode_transaction(r, chain.spec) for r in raws])
    assert not skipped
    return sealed.hash


@pytest.fixture
def rpc_for() -> Iterator[Callable[..., JsonRpc]]:
    """Makes `JsonRpc`s on a chain with an injected clock; closes their reader pools after the test."""
    made: list[JsonRpc] = []

    def make(chain: L2Chain, clock: Clock | None = None, **settings: Any) -> JsonRpc:
        made.append(JsonRpc(chain, RpcSettings(**settings), clock=clock or Clock()))
        return made[-1]

    yield make
    for rpc in made:
        rpc.close()


def addr(raw: bytes) -> str:
    return "0x" + raw.hex()


def topic_of(raw: bytes) -> str:
    return "0x" + raw.rjust(32, b"\0").hex()


def test_log_filter_reports_matching_logs_once_from_blocks_after_install(token_chain, token, rpc_for):
    rpc = rpc_for(token_chain)
    contract = addr(token_address(token.keys[0]))
    holder = token.keys[1].address
    by_address = ok(rpc, "eth_newFilter", {"address": contract})
    by_topic = ok(rpc, "eth_newFilter", {"topics": [TRANSFER]})
    from_holder = ok(rpc, "eth_newFilter", {"topics": [None, [topic_of(b"\1" * 20), topic_of(holder)]]})
    elsewhere = ok(rpc, "eth_newFilter", {"address": [addr(b"\2" * 20), addr(b"\3" * 20)]})
    nothing_yet = ok(rpc, "eth_newFilter", {"fromBlock": "0x3", "address": contract})
    assert len({by_address, by_topic, from_holder, elsewhere, nothing_yet}) == 5
    assert all(int(fid, 16) < 2**128 for fid in (by_address, by_topic))

    assert ok(rpc, "eth_getFilterChanges", by_address) == []  # the mints of block 1 came before
    build(token_chain, token.txs[:6], 2)  # senders 0,1,2 twice each
    logs = ok(rpc, "eth_getFilterChanges", by_address)
    assert len(logs) == 6 and {log["blockNumber"] for log in logs} == {"0x2"}
    assert all(log["removed"] is False and log["topics"][0] == TRANSFER for log in logs)
    assert [int(log["logIndex"], 16) for log in logs] == list(range(6))
    assert ok(rpc, "eth_getFilterChanges", by_topic) == logs
    assert logs == ok(rpc, "eth_getLogs", {"fromBlock": "0x2", "toBlock": "0x2", "address": contract})  # same shape
    mine = ok(rpc, "eth_getFilterChanges", from_holder)
    assert len(mine) == 2 and all(log["topics"][1] == topic_of(holder) for log in mine)
    assert ok(rpc, "eth_getFilterChanges", elsewhere) == []
    assert ok(rpc, "eth_getFilterChanges", nothing_yet) == []  # block 2 is below its fromBlock
    assert ok(rpc, "eth_getFilterChanges", by_address) == []  # each log once

    build(token_chain, token.txs[6:8], 3)
    assert [log["blockNumber"] for log in ok(rpc, "eth_getFilterChanges", nothing_yet)] == ["0x3", "0x3"]
    assert len(ok(rpc, "eth_getFilterChanges", by_address)) == 2


def test_filter_logs_is_get_logs_over_the_filters_criteria(token_chain, token, rpc_for):
    rpc = rpc_for(token_chain, logs_max_blocks=3)
    contract = addr(token_address(token.keys[0]))
    build(token_chain, token.txs[:3], 2)
    everything = ok(rpc, "eth_newFilter", {"fromBlock": "earliest", "address": contract})
    assert ok(rpc, "eth_getFilterChanges", everything) == []  # changes start at install
    all_logs = ok(rpc, "eth_getFilterLogs", everything)
    assert all_logs == ok(rpc, "eth_getLogs", {"fromBlock": "0x0", "address": contract})
    assert len(all_logs) == 3 + 3  # three mints (deploy) and three transfers
    ok(rpc, "eth_getFilterChanges", everything)
    build(token_chain, [], 3)
    build(token_chain, [], 4)
    assert error(rpc, "eth_getFilterLogs", everything)["code"] == -32005  # 5 blocks > logs_max_blocks
    block_filter = ok(rpc, "eth_newBlockFilter")
    assert error(rpc, "eth_getFilterLogs", block_filter) == {"code": -32000, "message": "filter not found"}


def test_block_filter_each_new_block_once_and_at_most_the_range_limit_per_poll(chain, rpc_for):
    rpc = rpc_for(chain, logs_max_blocks=2)
    fid = ok(rpc, "eth_newBlockFilter")
    assert ok(rpc, "eth_getFilterChanges", fid) == []
    hashes = [build(chain, [], 10 + i) for i in range(5)]
    polls = [ok(rpc, "eth_getFilterChanges", fid) for _ in range(4)]
    assert [len(p) for p in polls] == [2, 2, 1, 0]
    assert sum(polls, []) == ["0x" + h.hex() for h in hashes]


def test_filters_expire_unless_polled_and_filter_logs_does_not_keep_them(chain, rpc_for):
    clock = Clock()
    rpc = rpc_for(chain, clock, filter_timeout_seconds=300)
    polled = ok(rpc, "eth_newBlockFilter")
    idle = ok(rpc, "eth_newFilter", {})
    clock.now += 299
    ok(rpc, "eth_getFilterChanges", polled)
    ok(rpc, "eth_getFilterLogs", idle)  # geth: only eth_getFilterChanges resets the deadline
    clock.now += 2
    assert error(rpc, "eth_getFilterChanges", idle) == {"code": -32000, "message": "filter not found"}
    assert ok(rpc, "eth_getFilterChanges", polled) == []
    clock.now += 301
    assert error(rpc, "eth_getFilterChanges", polled)["message"] == "filter not found"
    assert ok(rpc, "eth_uninstallFilter", polled) is False
    assert len(rpc.filters) == 0


def test_cap_on_live_filters_and_uninstall(chain, rpc_for):
    clock = Clock()
    rpc = rpc_for(chain, clock, max_filters=3, filter_timeout_seconds=10)
    ids = [ok(rpc, "eth_newBlockFilter"), ok(rpc, "eth_newPendingTransactionFilter"), ok(rpc, "eth_newFilter", {})]
    refused = error(rpc, "eth_newBlockFilter")
    assert refused["code"] == -32000 and "too many filters" in refused["message"]
    assert ok(rpc, "eth_uninstallFilter", ids[1]) is True
    assert ok(rpc, "eth_uninstallFilter", ids[1]) is False
    assert error(rpc, "eth_getFilterChanges", ids[1])["message"] == "filter not found"
    ids[1] = ok(rpc, "eth_newBlockFilter")
    clock.now += 11  # all expire: their slots are free again
    assert len({ok(rpc, "eth_newBlockFilter") for _ in range(3)}) == 3
    assert error(rpc, "eth_newBlockFilter")["code"] == -32000


def test_pending_filter_reports_arrivals_since_last_poll(chain, spec, keys, rpc_for):
    rpc = rpc_for(chain)
    txs = [decode_transaction(signed(keys[0], n, value=1), spec) for n in range(3)]
    rpc.filters.transaction_arrived(txs[0])  # before any pending filter: not reported
    hashes_filter = ok(rpc, "eth_newPendingTransactionFilter")
    full_filter = ok(rpc, "eth_newPendingTransactionFilter", True)
    assert ok(rpc, "eth_getFilterChanges", hashes_filter) == []
    rpc.filters.transaction_arrived(txs[1])
    rpc.filters.transaction_arrived(txs[2])
    assert ok(rpc, "eth_getFilterChanges", hashes_filter) == ["0x" + tx.hash.hex() for tx in txs[1:]]
    assert ok(rpc, "eth_getFilterChanges", hashes_filter) == []
    full = ok(rpc, "eth_getFilterChanges", full_filter)
    assert [t["hash"] for t in full] == ["0x" + tx.hash.hex() for tx in txs[1:]] and full[0]["blockHash"] is None
    assert error(rpc, "eth_getFilterLogs", hashes_filter)["message"] == "filter not found"
    # A node without a pool (a verifier) never feeds it: its pending filters answer [].
    build(chain, [], 5)
    assert ok(rpc, "eth_getFilterChanges", hashes_filter) == []


def test_rewind_reports_removed_logs_newest_first_then_the_new_branch(token_chain, token, rpc_for):
    rpc = rpc_for(token_chain)
    contract = addr(token_address(token.keys[0]))
    logs_filter = ok(rpc, "eth_newFilter", {"address": contract})
    blocks_filter = ok(rpc, "eth_newBlockFilter")
    old = [build(token_chain, token.txs[0:2], 2), build(token_chain, token.txs[2:3], 3)]
    delivered = ok(rpc, "eth_getFilterChanges", logs_filter)
    assert [log["blockHash"] for log in delivered] == ["0x" + old[0].hex()] * 2 + ["0x" + old[1].hex()]
    assert ok(rpc, "eth_getFilterChanges", blocks_filter) == ["0x" + h.hex() for h in old]

    token_chain.rewind(1)  # blocks 2 and 3 dropped (a force inclusion, an L1 reorg)
    # Polled between the rewind and the new blocks: the dropped logs, nothing new.
    removed = ok(rpc, "eth_getFilterChanges", logs_filter)
    assert [(log["blockHash"], log["logIndex"]) for log in removed] == [
        (d["blockHash"], d["logIndex"]) for d in reversed(delivered)
    ]
    assert all(log["removed"] is True for log in removed)
    assert ok(rpc, "eth_getFilterChanges", logs_filter) == []

    new = [build(token_chain, token.txs[0:1], 20), build(token_chain, [], 21), build(token_chain, token.txs[1:3], 22)]
    assert ok(rpc, "eth_getFilterChanges", blocks_filter) == ["0x" + h.hex() for h in new]  # heights 2..4 again
    added = ok(rpc, "eth_getFilterChanges", logs_filter)
    assert [(log["blockNumber"], log["removed"]) for log in added] == [("0x2", False), ("0x4", False), ("0x4", False)]
    assert ok(rpc, "eth_getFilterChanges", blocks_filter) == []


def test_rewind_and_rebuild_between_polls(token_chain, token, rpc_for):
    """The filter's last block left the chain and the new branch is already longer: removed, then added."""
    rpc = rpc_for(token_chain)
    logs_filter = ok(rpc, "eth_newFilter", {"topics": [TRANSFER]})
    blocks_filter = ok(rpc, "eth_newBlockFilter")
    dropped = build(token_chain, token.txs[0:1], 2)
    ok(rpc, "eth_getFilterChanges", logs_filter)
    ok(rpc, "eth_getFilterChanges", blocks_filter)
    token_chain.rewind(1)
    new = [build(token_chain, token.txs[1:2], 30), build(token_chain, token.txs[2:3], 31)]
    changes = ok(rpc, "eth_getFilterChanges", logs_filter)
    assert [(log["blockHash"], log["removed"]) for log in changes] == [
        ("0x" + dropped.hex(), True), ("0x" + new[0].hex(), False), ("0x" + new[1].hex(), False)
    ]
    assert ok(rpc, "eth_getFilterChanges", blocks_filter) == ["0x" + h.hex() for h in new]


@pytest.mark.parametrize(
    "crit, code",
    [
        ("latest", -32602),
        ({"address": "0x1234"}, -32602),
        ({"address": ["0x" + "11" * 20, 7]}, -32602),
        ({"topics": [None] * 5}, -32602),
        ({"topics": ["0xzz"]}, -32602),
        ({"topics": "0x" + "00" * 32}, -32602),
        ({"fromBlock": "0xq"}, -32602),
        ({"fromBlock": [1]}, -32602),
        ({"blockHash": "0x" + "00" * 32}, -32602),
        ({"fromBlock": "safe"}, -32602),
        ({"address": ["0x" + "11" * 20] * 1001}, -32602),
        ({"fromBlock": "0x5", "toBlock": "0x4"}, -32000),
        ({"fromBlock": "latest", "toBlock": "0x4"}, -32000),
        ({"fromBlock": "pending"}, -32000),
    ],
)
def test_bad_criteria_are_refused_clearly(chain, crit, code, rpc_for):
    rpc = rpc_for(chain)
    assert error(rpc, "eth_newFilter", crit)["code"] == code
    assert len(rpc.filters) == 0


def test_bad_filter_ids(chain, rpc_for):
    rpc = rpc_for(chain)
    assert error(rpc, "eth_getFilterChanges", 5)["code"] == -32602
    assert error(rpc, "eth_getFilterChanges")["code"] == -32602
    for fid in ("0x", "0xnothex", "abc", "0x" + "1" * 40, "0x0"):
        assert error(rpc, "eth_getFilterChanges", fid) == {"code": -32000, "message": "filter not found"}
        assert ok(rpc, "eth_uninstallFilter", fid) is False
    assert error(rpc, "eth_newPendingTransactionFilter", "yes")["code"] == -32602
    assert error(rpc, "eth_newBlockFilter", 1)["code"] == -32602
    fid = ok(rpc, "eth_newBlockFilter")
    assert ok(rpc, "eth_getFilterChanges", fid.upper().replace("0X", "0x")) == []  # the same quantity


def test_the_verifiers_rpc_serves_filters_and_follows_its_rewinds(token_chain, token):
    """The verifier's own JsonRpc (no pool): block and log filters across a rewind, pending always []."""
    from verifier.config import VerifierConfig
    from verifier.service import VerifierService

    rpc = VerifierService(VerifierConfig())._make_rpc(token_chain)
    try:
        blocks_filter = ok(rpc, "eth_newBlockFilter")
        logs_filter = ok(rpc, "eth_newFilter", {"topics": [TRANSFER]})
        pending_filter = ok(rpc, "eth_newPendingTransactionFilter")
        first = build(token_chain, token.txs[0:1], 2)
        assert ok(rpc, "eth_getFilterChanges", blocks_filter) == ["0x" + first.hex()]
        assert len(ok(rpc, "eth_getFilterChanges", logs_filter)) == 1
        token_chain.rewind(1)  # what Replayer does on an L1 reorg
        again = build(token_chain, token.txs[0:1], 40)
        assert again != first
        assert ok(rpc, "eth_getFilterChanges", blocks_filter) == ["0x" + again.hex()]
        assert [log["removed"] for log in ok(rpc, "eth_getFilterChanges", logs_filter)] == [True, False]
        assert ok(rpc, "eth_getFilterChanges", pending_filter) == []
    finally:
        rpc.close()


def test_concurrent_polls_of_one_filter_deliver_each_block_exactly_once(chain, rpc_for):
    """Reader threads polling one block filter while the writer seals blocks: no gap, no repeat."""
    rpc = rpc_for(chain)
    fid = ok(rpc, "eth_newBlockFilter")
    got: list[list[str]] = [[] for _ in range(4)]
    done = threading.Event()

    def poll(out: list[str]) -> None:
        while not done.is_set():
            out.extend(rpc.filters.changes([fid]))

    threads = [threading.Thread(target=poll, args=(out,)) for out in got]
    for t in threads:
        t.start()
    hashes = ["0x" + build(chain, [], 100 + i).hex() for i in range(40)]
    done.set()
    for t in threads:
        t.join()
    delivered = sum(got, []) + rpc.filters.changes([fid])
    assert sorted(delivered) == sorted(hashes) and len(set(delivered)) == 40
    for out in got:  # each poller saw its share in chain order
        assert out == sorted(out, key=hashes.index)
