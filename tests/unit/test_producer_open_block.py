"""The open block: filled as transactions arrive, sealed at the tick or as soon as it is full."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from eth_account import Account

from bench.workloads import MAX_FEE, TIP, Workload, eth_transfers
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import Head
from sequencer import producer as producer_module
from sequencer.mempool import HeadAccounts, Mempool
from sequencer.metrics import SequencerMetrics
from sequencer.producer import BlockProducer
from tests.conftest import CHAIN_ID

WORKLOAD: Workload = eth_transfers(8, CHAIN_ID, senders=2)  # two senders, nonces 0-3 each
SPEC = WORKLOAD.spec(ChainSpec(chain_id=CHAIN_ID))


@pytest.fixture
def setup(tmp_path) -> Iterator[tuple[BlockProducer, Mempool, list]]:
    chain = L2Chain.open(tmp_path / "chain", SPEC, map_size=1 << 30)
    head = chain.head(Head.UNSAFE)
    pool = Mempool(HeadAccounts(chain), SPEC.next_base_fee(head.base_fee_per_gas, head.gas_used))
    producer = BlockProducer(chain, pool, SequencerMetrics(), 1.0)
    txs = [decode_transaction(raw, SPEC) for raw in WORKLOAD.txs]
    yield producer, pool, sorted(txs, key=lambda t: (t.sender, t.nonce))
    chain.close()


def _open_txs(producer: BlockProducer) -> list:
    assert producer._open is not None
    return producer._open.builder.transactions


def test_transactions_arriving_after_the_open_are_executed_before_the_tick(setup):
    producer, pool, txs = setup
    a, b = txs[:4], txs[4:]  # sender a's nonces 0-3, sender b's
    pool.add(a[0])
    producer.open_block()
    assert [t.hash for t in _open_txs(producer)] == [a[0].hash]
    assert producer.chain.head(Head.UNSAFE).block_number == 0  # executed, not sealed
    pool.add(a[1])
    pool.add(b[1])  # behind b's gap: held
    assert producer.fill() is False
    assert [t.hash for t in _open_txs(producer)] == [a[0].hash, a[1].hash]
    pool.add(b[0])  # fills the gap: both of b's go in, in nonce order
    producer.fill()
    assert [t.hash for t in _open_txs(producer)] == [a[0].hash, a[1].hash, b[0].hash, b[1].hash]
    assert producer.fill() is False and len(_open_txs(producer)) == 4  # nothing new: nothing taken twice
    result = producer.seal_block()
    assert [t.hash for t in result.sealed.block.transactions] == [t.hash for t in a[:2] + b[:2]]
    assert producer.chain.head(Head.UNSAFE).hash == result.sealed.hash and len(pool) == 0
    assert result.seconds > 0 and producer._open is None


def test_a_replacement_of_a_transaction_already_in_the_block_is_not_taken_again(setup):
    producer, pool, txs = setup
    pool.add(txs[0])
    producer.open_block()
    key = next(k for k in WORKLOAD.keys if k.address == txs[0].sender)
    bumped = decode_transaction(bytes(Account.sign_transaction(
        {"type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": "0x" + "22" * 20, "value": 1, "gas": 21_000,
         "maxFeePerGas": 2 * MAX_FEE, "maxPriorityFeePerGas": 2 * TIP}, key.private).raw_transaction), SPEC)
    assert bumped.sender == txs[0].sender and bumped.nonce == txs[0].nonce and bumped.hash != txs[0].hash
    pool.add(bumped)  # a 10% bump replaces it in the pool, but the block already holds nonce 0
    producer.fill()
    sealed = producer.seal_block().sealed
    assert [t.hash for t in sealed.block.transactions] == [txs[0].hash]
    assert pool.get(bumped.hash) is None  # stale at the new head


def test_the_byte_cap_ends_the_block_during_a_fill(setup, monkeypatch):
    producer, pool, txs = setup
    monkeypatch.setattr(producer_module, "MAX_BLOCK_TX_BYTES", sum(len(t.encode()) for t in txs[:3]))
    producer.open_block()
    for tx in txs[:4]:
        pool.add(tx)
    assert producer.fill() is True  # three fit, the fourth does not: seal without waiting for the tick
    first = producer.seal_block()
    assert first.full and len(first.sealed.block.transactions) == 3
    second = producer.build_block()
    assert [t.hash for t in second.sealed.block.transactions] == [txs[3].hash] and not second.full


def test_a_discarded_block_leaves_its_transactions_in_the_pool(setup):
    producer, pool, txs = setup
    pool.add(txs[0])
    producer.open_block()
    producer.paused = True
    pool.add(txs[1])
    producer.fill()
    assert len(_open_txs(producer)) == 1  # paused: what arrives is not executed
    producer.discard_block()
    assert producer.chain.head(Head.UNSAFE).block_number == 0 and len(pool) == 2
    producer.paused = False
    sealed = producer.build_block().sealed
    assert [t.hash for t in sealed.block.transactions] == [txs[0].hash, txs[1].hash]


def test_the_loop_seals_at_the_tick_what_arrived_during_the_block(setup):
    producer, pool, txs = setup
    producer.block_time = 0.2
    producer.fill_interval = 0.02

    async def run() -> list:
        producer.start()
        try:
            await producer.wait_new_block(10)  # the first, empty block: ticks are running
            for tx in txs[:4]:
                pool.add(tx)
                producer.poke()
                await asyncio.sleep(0.03)
            while len(pool):
                await producer.wait_new_block(10)
        finally:
            await producer.stop()
        return [
            t.hash
            for n in range(1, producer.chain.head(Head.UNSAFE).block_number + 1)
            for t in producer.chain.block(producer.chain.header_by_number(n)).transactions
        ]

    assert asyncio.run(run()) == [t.hash for t in txs[:4]]
