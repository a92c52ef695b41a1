"""The Ethereum JSON-RPC shapes (as geth prints them) of blocks, transactions, receipts and logs.

Shared by every node's JSON-RPC (`l2.rpc`) and by tools that print chain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import rlp
from eth.abc import BlockHeaderAPI, LegacyTransactionFieldsAPI, ReceiptAPI, SignedTransactionAPI
from eth_hash.auto import keccak

from l2.deposits import DepositTransaction


def qty(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def address(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _optional(value: bytes | None) -> str | None:
    return None if value is None else data(value)


def bloom(value: int) -> str:
    return "0x" + value.to_bytes(256, "big").hex()


def header_json(header: BlockHeaderAPI) -> dict[str, Any]:
    return {
        "number": qty(header.block_number),
        "hash": data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "mixHash": data(header.mix_hash),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": bloom(header.bloom),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": address(header.coinbase),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": data(header.extra_data),
        "gasLimit": qty(header.gas_limit),
        "gasUsed": qty(header.gas_used),
        "timestamp": qty(header.timestamp),
        "baseFeePerGas": qty(header.base_fee_per_gas or 0),
        "withdrawalsRoot": _optional(header.withdrawals_root),
        "blobGasUsed": qty(header.blob_gas_used),
        "excessBlobGas": qty(header.excess_blob_gas),
        "parentBeaconBlockRoot": _optional(header.parent_beacon_block_root),
        "requestsHash": _optional(getattr(header, "requests_hash", None)),  # Prague headers only
    }


def block_json(
    header: BlockHeaderAPI, txs: Sequence[SignedTransactionAPI] | Sequence[bytes], full: bool
) -> dict[str, Any]:
    """A block; `txs` decoded, or (enough when not `full`) as their encodings, which need no decoding."""
    encoded = [tx if isinstance(tx, bytes) else tx.encode() for tx in txs]
    out = header_json(header)
    out["size"] = qty(block_size(header, encoded))
    if full:
        out["transactions"] = [
            tx_json(tx, header, i) for i, tx in enumerate(txs) if isinstance(tx, SignedTransactionAPI)
        ]
        if len(out["transactions"]) != len(encoded):
            raise TypeError("full transaction objects need decoded transactions")
    else:
        out["transactions"] = [data(keccak(e)) for e in encoded]
    out["uncles"] = []
    out["withdrawals"] = []
    return out


def block_size(header: BlockHeaderAPI, encoded_txs: Sequence[bytes]) -> int:
    """Bytes of the block's RLP, [header, transactions, uncles (empty), withdrawals (empty)].

    A legacy transaction is an RLP list inside the block, a typed one (incl. a deposit) an
    RLP string of its encoding.
    """
    txs = sum(len(e) if e[0] >= 0xC0 else len(rlp.encode(e)) for e in encoded_txs)
    return _rlp_list_length(len(rlp.encode(header)) + _rlp_list_length(txs) + 2)


def _rlp_list_length(payload: int) -> int:
    return payload + 1 if payload < 56 else payload + 1 + (payload.bit_length() + 7) // 8


def effective_gas_price(tx: SignedTransactionAPI, base_fee: int) -> int:
    return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)  # 0 for a deposit


def deposit_json(tx: DepositTransaction, header: BlockHeaderAPI | None, index: int | None) -> dict[str, Any]:
    """A deposit (type 0x7e): no fee, no signature; its nonce is not recorded, so "0x0"."""
    return {
        "type": qty(tx.type_id),
        "hash": data(tx.hash),
        "nonce": "0x0",
        "blockHash": None if header is None else data(header.hash),
        "blockNumber": None if header is None else qty(header.block_number),
        "transactionIndex": None if index is None else qty(index),
        "from": address(tx.sender),
        "to": address(tx.to),
        "value": qty(tx.value),
        "gas": qty(tx.gas),
        "input": data(tx.data),
        "gasPrice": "0x0",
        "maxFeePerGas": "0x0",
        "maxPriorityFeePerGas": "0x0",
        "v": "0x0",
        "r": "0x0",
        "s": "0x0",
        "sourceIndex": qty(tx.source_index),
    }


def tx_json(tx: SignedTransactionAPI, header: BlockHeaderAPI | None, index: int | None) -> dict[str, Any]:
    """A transaction; `header` None means pending (block fields null, gasPrice = fee cap)."""
    if isinstance(tx, DepositTransaction):
        return deposit_json(tx, header, index)
    type_id = tx.type_id or 0
    out: dict[str, Any] = {
        "type": qty(type_id),
        "hash": data(tx.hash),
        "nonce": qty(tx.nonce),
        "blockHash": None if header is None else data(header.hash),
        "blockNumber": None if header is None else qty(header.block_number),
        "transactionIndex": None if index is None else qty(index),
        "from": address(tx.sender),
        "to": address(tx.to) if tx.to else None,
        "value": qty(tx.value),
        "gas": qty(tx.gas),
        "input": data(tx.data),
        "r": qty(tx.r),
        "s": qty(tx.s),
        "chainId": None if tx.chain_id is None else qty(tx.chain_id),
    }
    if type_id == 0:
        out["gasPrice"] = qty(tx.gas_price)
        out["v"] = qty(cast(LegacyTransactionFieldsAPI, tx).v)
    else:
        price = tx.max_fee_per_gas if header is None else effective_gas_price(tx, header.base_fee_per_gas or 0)
        out["gasPrice"] = qty(price)
        out["v"] = qty(tx.y_parity)
        out["yParity"] = qty(tx.y_parity)
        out["accessList"] = [
            {"address": address(a), "storageKeys": ["0x" + k.to_bytes(32, "big").hex() for k in keys]}
            for a, keys in tx.access_list
        ]
        if type_id >= 2:
            out["maxFeePerGas"] = qty(tx.max_fee_per_gas)
            out["maxPriorityFeePerGas"] = qty(tx.max_priority_fee_per_gas)
        if type_id == 4:
            out["authorizationList"] = [
                {
                    "chainId": qty(a.chain_id),
                    "address": address(a.address),
                    "nonce": qty(a.nonce),
                    "yParity": qty(a.y_parity),
                    "r": qty(a.r),
                    "s": qty(a.s),
                }
                for a in tx.authorization_list
            ]
    return out


def contract_address(sender: bytes, nonce: int) -> bytes:
    return keccak(rlp.encode([sender, nonce]))[12:]


def receipts_json(
    header: BlockHeaderAPI, txs: Sequence[SignedTransactionAPI],
    receipts: tuple[ReceiptAPI, ...],
) -> list[dict[str, Any]]:
    """All receipts of a block (gasUsed and logIndex need the ones before)."""
    out = []
    prev_gas = 0
    log_index = 0
    for i, (tx, receipt) in enumerate(zip(txs, receipts, strict=True)):
        logs = []
        for entry in receipt.logs:
            logs.append(log_json(entry, header, tx.hash, i, log_index))
            log_index += 1
        out.append(
            {
                "type": qty(tx.type_id or 0),
                "transactionHash": data(tx.hash),
                "transactionIndex": qty(i),
                "blockHash": data(header.hash),
                "blockNumber": qty(header.block_number),
                "from": address(tx.sender),
                "to": address(tx.to) if tx.to else None,
                "cumulativeGasUsed": qty(receipt.gas_used),
                "gasUsed": qty(receipt.gas_used - prev_gas),
                "effectiveGasPrice": qty(effective_gas_price(tx, header.base_fee_per_gas or 0)),
                "contractAddress": None if tx.to else address(contract_address(tx.sender, tx.nonce)),
                "logs": logs,
                "logsBloom": bloom(int(receipt.bloom)),
                "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            }
        )
        prev_gas = receipt.gas_used
    return out


def log_json(entry: Any, header: BlockHeaderAPI, tx_hash: bytes, tx_index: int, log_index: int) -> dict[str, Any]:
    return {
        "address": address(entry.address),
        "topics": ["0x" + t.to_bytes(32, "big").hex() for t in entry.topics],
        "data": data(entry.data),
        "blockNumber": qty(header.block_number),
        "blockHash": data(header.hash),
        "blockTimestamp": qty(header.timestamp),
        "transactionHash": data(tx_hash),
        "transactionIndex": qty(tx_index),
        "logIndex": qty(log_index),
        "removed": False,
    }
