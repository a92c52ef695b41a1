"""RLP block headers of L1, rebuilt from JSON-RPC, for `Inbox.recordL1Origins` (docs/fraud-proofs.md D2).

anvil has no raw-header RPC, so the header is re-encoded from `eth_getBlockByNumber` with the
fields of the block's hardfork (London base fee, Shanghai withdrawals, Cancun blob gas and
beacon root, Prague requests hash: each present iff the node returns it). The encoding is
checked against the block hash, so a field this module gets wrong fails here, never on L1.
"""

from __future__ import annotations

from typing import Any

import rlp
from eth_hash.auto import keccak
from eth_utils import to_canonical_address
from web3 import Web3
from web3.exceptions import BlockNotFound

from l2.errors import RollupError

# EIP-2935: L1's block-hash history contract; the Inbox reads it for blocks older than 256.
HISTORY_STORAGE_ADDRESS = "0x0000F90827F1C53a10cb7A02335B175320002935"
HISTORY_SERVE_WINDOW = 8191
BLOCKHASH_WINDOW = 256

# Fields added by later hardforks, in header order; each is encoded iff the block has it.
_OPTIONAL = (
    "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash",
)
_INTS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}


class HeaderMismatch(RollupError):
    """The header rebuilt from the node's JSON does not hash to the block's hash."""


def header_fields(block: Any) -> list[Any]:
    """The RLP fields of an `eth_getBlockByNumber` answer (a web3 AttributeDict)."""
    names = [
        "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
        "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
    ] + [name for name in _OPTIONAL if block.get(name) is not None]  # fmt: skip
    fields: list[Any] = []
    for name in names:
        value = block[name]
        if name in _INTS:
            fields.append(int(value))
        elif name == "miner":
            fields.append(to_canonical_address(value))
        else:
            fields.append(bytes(value))
    return fields


def block_header_rlp(block: Any) -> bytes:
    """The RLP header of `block`, checked to hash to its `hash`."""
    header = rlp.encode(header_fields(block))
    if keccak(header) != bytes(block["hash"]):
        raise HeaderMismatch(f"L1 block {block['number']}: rebuilt header does not hash to the block hash")
    return header


def header_rlp(w3: Web3, number: int) -> bytes | None:
    """L1 block `number`'s RLP header, None if the node has no such block."""
    try:
        block = w3.eth.get_block(number)
    except BlockNotFound:
        return None
    return block_header_rlp(block)


def hash_window(w3: Web3) -> int:
    """How many blocks back the Inbox can check a header: 8191 with EIP-2935's contract, else 256."""
    code = w3.eth.get_code(Web3.to_checksum_address(HISTORY_STORAGE_ADDRESS))
    return HISTORY_SERVE_WINDOW if len(code) else BLOCKHASH_WINDOW
