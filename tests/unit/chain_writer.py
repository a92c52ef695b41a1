"""A process that seals deterministic blocks forever; the crash test kills it with SIGKILL.

Block i holds transfers [(i-1)*PER_BLOCK, i*PER_BLOCK) of a fixed workload, timestamp i,
so any store can be checked against a fresh replay of the same blocks.
"""

from __future__ import annotations

import sys

from bench.workloads import Workload, eth_transfers
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, Head, L1Origin

PER_BLOCK = 20
BLOCKS = 60


def workload() -> tuple[Workload, ChainSpec]:
    work = eth_transfers(PER_BLOCK * BLOCKS, 901, senders=8)
    return work, work.spec(ChainSpec(chain_id=901))


def build(chain: L2Chain, work: Workload, spec: ChainSpec, number: int) -> bytes:
    raw = work.txs[(number - 1) * PER_BLOCK : number * PER_BLOCK]
    sealed, skipped = chain.build_block(
        BlockAttributes(number, L1Origin(number)), [decode_transaction(r, spec) for r in raw]
    )
    assert not skipped and sealed.number == number
    return sealed.hash


def main(path: str) -> None:
    work, spec = workload()
    chain = L2Chain.open(path, spec, map_size=1 << 30)
    number = chain.head(Head.UNSAFE).block_number
    print("ready", number, flush=True)
    while number < BLOCKS:
        number += 1
        block_hash = build(chain, work, spec, number)
        print("sealed", number, block_hash.hex(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
