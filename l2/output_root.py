"""Output roots: the L2 state commitment posted in assertions (DESIGN section 5).

`keccak(bytes32(0) ++ stateRoot ++ messagePasserStorageRoot ++ blockHash)`, the OP Stack's
shape: the version word lets the format change later, the message passer's storage root
lets L1 prove withdrawals with one storage proof, the block hash pins the block.
"""

from __future__ import annotations

import tempfile

import rlp
from eth.abc import BlockHeaderAPI
from eth.constants import BLANK_ROOT_HASH
from eth.rlp.accounts import Account
from eth_hash.auto import keccak
from trie import HexaryTrie

from l2.chain import L2Chain
from l2.predeploys import MESSAGE_PASSER_ADDRESS
from l2.spec import ChainSpec
from l2.types import Head

OUTPUT_ROOT_VERSION = b"\x00" * 32


def output_root(state_root: bytes, message_passer_storage_root: bytes, block_hash: bytes) -> bytes:
    """The output root of one L2 block from its three commitments."""
    for name, value in (
        ("state root", state_root),
        ("message passer storage root", message_passer_storage_root),
        ("block hash", block_hash),
    ):
        if len(value) != 32:
            raise ValueError(f"{name} must be 32 bytes, got {len(value)}")
    return keccak(OUTPUT_ROOT_VERSION + state_root + message_passer_storage_root + block_hash)


def storage_root(chain: L2Chain, header: BlockHeaderAPI, address: bytes) -> bytes:
    """Storage root of `address` in the state after `header` (blank root if it has none)."""
    state_trie = HexaryTrie(chain.chaindb.db, header.state_root)
    encoded = state_trie.get(keccak(address))
    if not encoded:
        return BLANK_ROOT_HASH
    return bytes(rlp.decode(encoded, sedes=Account).storage_root)


def output_root_at(chain: L2Chain, header: BlockHeaderAPI) -> bytes:
    """The output root of the block `header` of `chain`."""
    passer_root = storage_root(chain, header, MESSAGE_PASSER_ADDRESS)
    return output_root(header.state_root, passer_root, header.hash)


def genesis_output_root(spec: ChainSpec) -> bytes:
    """The output root of the genesis block of `spec`, built in a throwaway store."""
    with tempfile.TemporaryDirectory(prefix="genesis-") as tmp:
        chain = L2Chain.open(tmp, spec, map_size=1 << 28)
        try:
            return output_root_at(chain, chain.head(Head.UNSAFE))
        finally:
            chain.close()
