"""`BlockProducer.poke` seals early once the pending transactions fill a block by gas or by bytes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.workloads import Workload, eth_transfers
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import Head
from sequencer import producer as producer_module
from sequencer.mempool import HeadAccounts, Mempool
from sequencer.metrics import SequencerMetrics
from sequencer.producer import BlockProducer
from tests.conftest import CHAIN_ID

WORKLOAD: Workload = eth_transfers(4, CHAIN_ID, senders=1)  # nonces 0-3 of one sender
SPEC = WORKLOAD.spec(ChainSpec(chain_id=CHAIN_ID))


@pytest.fixture
def setup(tmp_path, monkeypatch) -> Iterator[tuple[BlockProducer, Mempool, list]]:
    # A block's worth of bytes is three of these transfers, far below a block of gas.
    monkeypatch.setattr(producer_module, "MAX_BLOCK_TX_BYTES", sum(len(raw) for raw in WORKLOAD.txs[:3]))
    chain = L2Chain.open(tmp_path / "chain", SPEC, map_size=1 << 30)
    head = chain.head(Head.UNSAFE)
    pool = Mempool(HeadAccounts(chain), SPEC.next_base_fee(head.base_fee_per_gas, head.gas_used))
    producer = BlockProducer(chain, pool, SequencerMetrics(), 1.0)
    yield producer, pool, [decode_transaction(raw, SPEC) for raw in WORKLOAD.txs]
    chain.close()


def test_poke_wakes_on_a_block_of_pending_bytes(setup):
    producer, pool, txs = setup
    for tx in txs[:2]:
        pool.add(tx)
        producer.poke()
    assert not producer._wake.is_set()  # two transfers: neither a block of gas nor of bytes
    pool.add(txs[2])
    producer.poke()
    assert producer._wake.is_set() and pool.total_gas < SPEC.gas_limit


def test_poke_ignores_queued_bytes(setup):
    producer, pool, txs = setup
    for tx in txs[1:]:  # nonces 1-3: queued behind the missing nonce 0
        pool.add(tx)
        producer.poke()
    assert pool.total_bytes >= producer_module.MAX_BLOCK_TX_BYTES and not producer._wake.is_set()
    pool.add(txs[0])
    producer.poke()
    assert producer._wake.is_set()
