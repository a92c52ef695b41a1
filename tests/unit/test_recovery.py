"""Decoding and sender recovery in worker processes gives exactly what decoding in process gives."""

from __future__ import annotations

import asyncio

import pytest

from bench.workloads import eth_transfers
from l2.errors import InvalidTransaction
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from sequencer.recovery import SenderRecovery


async def _decode(recovery: SenderRecovery, raws: list[bytes], wait_ready: bool) -> list:
    recovery.start()
    try:
        if wait_ready:
            assert recovery._warming is not None
            await recovery._warming
            assert recovery._ready
        return await recovery.decode(raws)
    finally:
        recovery.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_decode_like_the_process_does(workers: int):
    work = eth_transfers(40, 901, senders=4)
    spec = work.spec(ChainSpec(chain_id=901))
    raws = [*work.txs, b"\x02garbage", work.txs[0][:-1]]
    got = asyncio.run(_decode(SenderRecovery(spec, workers), raws, wait_ready=workers > 0))
    assert len(got) == len(raws)
    for raw, tx in zip(work.txs, got, strict=False):
        expected = decode_transaction(raw, spec)
        assert tx.hash == expected.hash and tx.sender == expected.sender and tx.encode() == raw
    assert all(isinstance(e, InvalidTransaction) and e.rule == "encoding" for e in got[-2:])


def test_wrong_chain_is_refused_with_its_rule_across_the_process_boundary():
    work = eth_transfers(2, 902, senders=1)
    got = asyncio.run(_decode(SenderRecovery(ChainSpec(chain_id=901), 1), work.txs, wait_ready=True))
    assert [e.rule for e in got] == ["chain_id", "chain_id"]
