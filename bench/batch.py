"""`rollup bench batch`: L1 bytes and gas per transaction of batch codec v1 against brotli-11.

For ETH transfers, ERC-20 transfers and a half-half mix, the workload's transactions are cut
into L2 blocks (BlockStart + BLOCK_TXS transactions, a new L1 origin every ORIGIN_EVERY blocks),
packed into full batches by `BatchEncoder` and posted with `appendBatch` on an anvil started
here. The baseline is brotli-11 (quality 11, the largest window) over the concatenated raw RLP
transactions of the very same batches, posted the same way. Then a full mixed batch is posted
with a wrong message root and proven invalid: the gas of `markInvalid`, whose decode dominates.
"""

from __future__ import annotations

import time

import brotli
from eth_account import Account

from bench.report import BenchResult
from bench.workloads import erc20_transfers, eth_transfers, mixed
from l1.anvil import Anvil
from l1.bindings import InboxBinding
from l1.deploy import DeployParams, deploy
from l2.codec import BatchEncoder, decode_batch
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, L2Tx, Message, message_root
from l2.spec import devnet_spec

DEFAULT_TXS = 2000
BLOCK_TXS = 20  # 1 s blocks at 20 transactions per second
ORIGIN_EVERY = 12  # L1 blocks are 12 s
TX_BASE_GAS = 21_000


def batches(txs: list[bytes], chain_id: int) -> list[BatchEncoder]:
    """Whole blocks of `txs`, as many per batch as the caps allow."""
    out = [BatchEncoder(chain_id)]
    for number, start in enumerate(range(0, len(txs), BLOCK_TXS)):
        block: list[Message] = [BlockStart(1_700_000_000 + number, 20_000_000 + number // ORIGIN_EVERY)]
        block += [L2Tx(raw) for raw in txs[start : start + BLOCK_TXS]]
        if not out[-1].add_block(block):
            out.append(BatchEncoder(chain_id))
            if not out[-1].add_block(block):
                raise ValueError(f"block {number} does not fit an empty batch")
    return out


def calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def run_bench(txs: int | None = None) -> BenchResult:
    count = txs or DEFAULT_TXS
    spec = devnet_spec()
    result = BenchResult("batch")
    owner = Account.from_key(DEV_ACCOUNTS[0][1])
    with Anvil() as node:
        deployment = deploy(node.w3, owner, spec, DeployParams())
        inbox = InboxBinding(node.w3, deployment.contracts["Inbox"], owner)
        inbox.append_batch(b"\x01warm-up", b"\x00" * 32, 1, 0)  # first write of the array
        full_mixed: BatchEncoder | None = None
        for make in (eth_transfers, erc20_transfers, mixed):
            workload = make(count, spec.chain_id)
            encoders = batches(workload.txs, spec.chain_id)
            ours_bytes = ours_gas = base_bytes = base_gas = n = 0
            decode_s = 0.0
            for encoder in encoders:
                payload = encoder.payload()
                raw = b"".join(m.raw for m in encoder.messages if isinstance(m, L2Tx))
                baseline = brotli.compress(raw, quality=11, lgwin=24)
                root = message_root(encoder.messages)
                decode_batch(payload, spec.chain_id)  # warm-up: time the second decode
                start = time.perf_counter()
                decode_batch(payload, spec.chain_id)
                decode_s += time.perf_counter() - start
                n += sum(isinstance(m, L2Tx) for m in encoder.messages)
                ours_bytes += len(payload)
                base_bytes += len(baseline)
                ours_gas += inbox.append_batch(payload, root, len(encoder), 0)["gasUsed"]
                base_gas += inbox.append_batch(baseline, root, len(encoder), 0)["gasUsed"]
            name = workload.name
            result.compare(f"{name}_bytes_per_tx", ours_bytes / n, base_bytes / n, higher_is_better=False)
            result.compare(f"{name}_l1_gas_per_tx", ours_gas / n, base_gas / n, higher_is_better=False)
            result.figures[f"{name}_txs_per_full_batch"] = sum(isinstance(m, L2Tx) for m in encoders[0].messages)
            result.figures[f"{name}_python_decode_tx_per_s"] = n / decode_s
            if make is mixed:
                full_mixed = encoders[0]
        assert full_mixed is not None
        payload = full_mixed.payload()
        (entry,) = inbox.entries_in(inbox.append_batch(payload, b"\x01" * 32, len(full_mixed), 0))
        receipt = inbox.mark_invalid_entry(entry)
        calldata = bytes(node.w3.eth.get_transaction(receipt["transactionHash"])["input"])
        result.figures["markInvalid_full_batch_gas"] = receipt["gasUsed"]
        result.figures["markInvalid_full_batch_execution_gas"] = (
            receipt["gasUsed"] - TX_BASE_GAS - calldata_gas(calldata)
        )
        result.figures["markInvalid_full_batch_payload_bytes"] = len(payload)
    result.notes.append(
        f"{count} txs per workload, {BLOCK_TXS} per L2 block; baseline: brotli-11 over the raw RLP "
        "transactions of the same batches; gas: appendBatch on anvil (EIP-7623 calldata pricing)"
    )
    result.notes.append(
        "markInvalid: a full mixed batch posted with a wrong root; execution gas = gasUsed - 21000 - calldata"
    )
    return result
