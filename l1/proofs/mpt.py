"""Proofs for one write into an Ethereum Merkle-Patricia trie, as `l1/contracts/osp/MptUpdate.sol`
takes them (docs/fraud-proofs.md 2.5, section 8), and the root the write must give.

Why here: COMMIT folds each dirty journal entry into the account trie or a storage trie with one
MPT update or delete per step; the prover takes the proof from the `trie` package's HexaryTrie
(py-evm's account DB is one) *before* the write, then applies the write to get the expected root.
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

from l1.withdrawals import hashed_nodes

EMPTY_ROOT = keccak(b"\x80")
EMPTY_CODE_HASH = keccak(b"")


def account_path(address: bytes) -> bytes:
    """The account trie key of `address` (secure trie)."""
    return keccak(address)


def slot_path(slot: int) -> bytes:
    """The storage trie key of slot `slot` (secure trie)."""
    return keccak(slot.to_bytes(32, "big"))


def account_rlp(
    nonce: int, balance: int, storage_root: bytes = EMPTY_ROOT, code_hash: bytes = EMPTY_CODE_HASH
) -> bytes:
    """What the account trie stores: rlp([nonce, balance, storageRoot, codeHash])."""
    return rlp.encode([nonce, balance, storage_root, code_hash])


def storage_rlp(value: int) -> bytes:
    """What a storage trie stores for a non-zero slot value: rlp(value); zero is a delete."""
    if value == 0:
        raise ValueError("a zero slot is deleted, not stored")
    return rlp.encode(value)


def path_proof(trie: HexaryTrie, key: bytes) -> list[bytes]:
    """The hashed nodes on `key`'s path, root first (eth_getProof's list): for a present key down
    to its leaf, for an absent one down to where it diverges; empty for the empty trie."""
    return hashed_nodes([rlp.encode(node) for node in trie.get_proof(key)])


def delete_sibling(trie: HexaryTrie, key: bytes) -> bytes:
    """The node RLP `remove` needs when deleting `key` leaves its parent branch with one child that
    is hashed (that child is merged into a short node); empty otherwise."""
    if not trie.exists(key):
        return b""
    nodes = trie.get_proof(key)
    if len(nodes) < 2:
        return b""  # the leaf is the root: the trie becomes empty
    nibbles = [n for byte in key for n in (byte >> 4, byte & 0x0F)]
    consumed = 0
    for node in nodes[:-2]:  # nibbles consumed above the leaf's parent
        consumed += 1 if len(node) == 17 else _path_length(node[0])
    parent = nodes[-2]
    if len(parent) != 17:
        raise ValueError("a leaf hangs from a branch")
    others = [i for i in range(16) if parent[i] != b"" and i != nibbles[consumed]]
    if len(others) != 1:
        return b""  # the branch keeps two children or more
    other = parent[others[0]]
    if isinstance(other, bytes) and len(other) == 32:
        return rlp.encode(trie.get_node(other))
    return b""  # an inline sibling is read inside the branch


def _path_length(compact: bytes) -> int:
    """Nibbles of a hex-prefix path."""
    return 2 * len(compact) - (1 if compact[0] & 0x10 else 2)


@dataclass(frozen=True)
class MptWrite:
    """One write: `value` empty means delete. `proof`/`sibling` are taken before it."""

    key: bytes
    value: bytes
    proof: list[bytes]
    sibling: bytes
    old_root: bytes
    new_root: bytes

    @property
    def is_delete(self) -> bool:
        return not self.value


def write(trie: HexaryTrie, key: bytes, value: bytes) -> MptWrite:
    """Applies `trie[key] = value` (delete when empty) and records the proof and both roots."""
    old_root = trie.root_hash
    proof = path_proof(trie, key)
    if value:
        sibling = b""
        trie[key] = value
    else:
        sibling = delete_sibling(trie, key)
        if trie.exists(key):
            del trie[key]
    return MptWrite(key, value, proof, sibling, old_root, trie.root_hash)


def read(trie: HexaryTrie, key: bytes) -> tuple[bytes | None, list[bytes]]:
    """The value under `key` (None when absent) and its (inclusion or exclusion) proof."""
    value = trie.get(key)
    return (value or None), path_proof(trie, key)
