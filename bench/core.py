"""`rollup bench core`: the l2 state transition persisting to LMDB vs stock py-evm.

Both sides get the same pre-signed transactions as raw bytes, decode them, execute them
in blocks of the same size and commit; the baseline is `MiningChain.mine_all` on an
in-memory AtomicDB with the same C crypto backends, measured in the same process.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.transactions import PragueTransactionBuilder

import l2  # noqa: F401
from bench.report import BenchResult
from bench.workloads import Workload, erc20_transfers, eth_transfers
from l2.backends import require_fast_backends
from l2.chain import L2Chain
from l2.predeploys import predeploy_code
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, L1Origin

BLOCK_TXS = 400  # transactions per block on both sides (fits 30M gas for ERC-20 transfers)
DEFAULT_TXS = 2000


def _blocks(txs: list[bytes]) -> list[list[bytes]]:
    return [txs[i : i + BLOCK_TXS] for i in range(0, len(txs), BLOCK_TXS)]


def run_l2(spec: ChainSpec, workload: Workload, max_block_bytes: int | None = None) -> tuple[float, int, int]:
    """Seconds, gas and blocks to decode, execute, seal and commit the workload through `l2`.

    Blocks of BLOCK_TXS transactions (as the py-evm baseline's), or, with `max_block_bytes`,
    packed as the sequencer's producer packs them: a block takes transactions in order until the
    next one's gas limit exceeds the gas left (the spec's block gas limit) or its encoding
    exceeds the bytes left.
    """
    with tempfile.TemporaryDirectory(prefix="bench-core-") as path:
        chain = L2Chain.open(path, spec, map_size=8 << 30)
        try:
            timestamp = 1
            if workload.setup:
                chain.build_block(
                    BlockAttributes(timestamp, L1Origin(0)), [decode_transaction(r, spec) for r in workload.setup]
                )
            gas = blocks = 0
            start = time.perf_counter()
            if max_block_bytes is None:
                for raw_block in _blocks(workload.txs):
                    timestamp += 1
                    txs = [decode_transaction(raw, spec) for raw in raw_block]
                    sealed, _ = chain.build_block(BlockAttributes(timestamp, L1Origin(0)), txs)
                    gas += sealed.header.gas_used
                    blocks += 1
            else:
                builder, bytes_left = None, 0
                for raw in workload.txs:
                    tx = decode_transaction(raw, spec)
                    if builder is not None and (tx.gas > builder.gas_left or len(raw) > bytes_left):
                        sealed = builder.seal()
                        chain.commit(builder, sealed)
                        gas, blocks, builder = gas + sealed.header.gas_used, blocks + 1, None
                    if builder is None:
                        timestamp += 1
                        builder, bytes_left = chain.open_block(BlockAttributes(timestamp, L1Origin(0))), max_block_bytes
                    builder.add(tx)
                    bytes_left -= len(raw)
                if builder is not None:
                    sealed = builder.seal()
                    chain.commit(builder, sealed)
                    gas, blocks = gas + sealed.header.gas_used, blocks + 1
            return time.perf_counter() - start, gas, blocks
        finally:
            chain.close()


def stock_chain(spec: ChainSpec) -> MiningChain:
    """Stock py-evm on an in-memory AtomicDB with the same genesis allocation and predeploy code."""
    chain_class = MiningChain.configure(vm_configuration=((0, PragueVM),), chain_id=spec.chain_id)
    genesis_state = {
        address: {"balance": a.balance, "nonce": a.nonce, "code": a.code, "storage": dict(a.storage)}
        for address, a in spec.alloc
    }
    for address, code in predeploy_code().items():
        genesis_state[address] = {"balance": 0, "nonce": 0, "code": code, "storage": {}}
    genesis_params = {
        "difficulty": 0,
        "gas_limit": spec.gas_limit,
        "timestamp": spec.genesis_timestamp,
        "coinbase": spec.fee_recipient,
        "nonce": b"\x00" * 8,
        "mix_hash": b"\x00" * 32,
        "extra_data": b"",
        "base_fee_per_gas": spec.genesis_base_fee,
    }
    return chain_class.from_genesis(AtomicDB(), genesis_params, genesis_state)


def run_pyevm(spec: ChainSpec, workload: Workload) -> tuple[float, int]:
    """Seconds and gas for stock py-evm MiningChain.mine_all on an in-memory AtomicDB."""
    chain = stock_chain(spec)
    decode: Callable[[bytes], object] = PragueTransactionBuilder.decode
    fixed = {"gas_limit": spec.gas_limit, "coinbase": spec.fee_recipient}  # as our header: no limit drift
    timestamp = spec.genesis_timestamp + 1
    if workload.setup:
        chain.mine_all([decode(r) for r in workload.setup], timestamp=timestamp, **fixed)
    gas = 0
    start = time.perf_counter()
    for raw_block in _blocks(workload.txs):
        timestamp += 1
        result, receipts, _ = chain.mine_all([decode(raw) for raw in raw_block], timestamp=timestamp, **fixed)
        gas += result.imported_block.header.gas_used
    return time.perf_counter() - start, gas


def run_bench(txs: int | None = None) -> BenchResult:
    backends = require_fast_backends()
    count = txs or DEFAULT_TXS
    base = ChainSpec(chain_id=901)
    result = BenchResult("core")
    result.notes.append(
        f"backends: keccak={backends.keccak} ecc={backends.ecc}; {count} txs per workload, "
        f"{BLOCK_TXS} per block; ours commits each block to LMDB (fsync), baseline is in memory"
    )
    for make in (eth_transfers, erc20_transfers):
        workload = make(count, base.chain_id)
        spec = workload.spec(base)
        ours_s, ours_gas, _ = run_l2(spec, workload)
        base_s, base_gas = run_pyevm(spec, workload)
        if ours_gas != base_gas:
            result.notes.append(f"{workload.name}: gas differs (ours {ours_gas}, py-evm {base_gas})")
        n = len(workload.txs)
        result.compare(f"{workload.name}_tx_per_s", n / ours_s, n / base_s)
        result.compare(f"{workload.name}_mgas_per_s", ours_gas / ours_s / 1e6, base_gas / base_s / 1e6)
    return result
