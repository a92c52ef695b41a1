"""The message stream (DESIGN section 4): message kinds, message hashes, the message root.

Every role agrees on these bytes: the batcher commits to them on L1, the Inbox's on-chain
decoder (`markInvalid`) and the one-step prover recompute them, derivation replays them.

    BlockStart{timestamp, l1OriginNumber}  hash = keccak(0x00 ++ uint64 ts ++ uint64 origin)
    L2Tx{signed tx bytes}                  hash = keccak(0x01 ++ tx bytes (EIP-2718 encoding))
    Delayed{index}                         hash = keccak(0x02 ++ uint64 index)

`messageRoot` is a binary keccak Merkle tree over the message hashes: a level of odd length
is padded with one zero word, a node is `keccak(left ++ right)`, one message is its own
root and zero messages have root zero. The depth is fixed by `messageCount`, which the
Inbox stores next to the root, so an inner node can never pass for a leaf in a proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak

import l2  # noqa: F401

BLOCK_START = 0
L2_TX = 1
DELAYED = 2

MAX_UINT64 = (1 << 64) - 1
ZERO32 = b"\x00" * 32


def _u64(value: int, what: str) -> bytes:
    if not 0 <= value <= MAX_UINT64:
        raise ValueError(f"{what} {value} does not fit 64 bits")
    return value.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class BlockStart:
    """Opens an L2 block: its timestamp and the number of its L1 origin block."""

    timestamp: int
    l1_origin_number: int

    def encode(self) -> bytes:
        return bytes([BLOCK_START]) + _u64(self.timestamp, "timestamp") + _u64(self.l1_origin_number, "L1 origin")


@dataclass(frozen=True, slots=True)
class L2Tx:
    """A user transaction as signed (EIP-2718 bytes: legacy RLP or type byte ++ payload)."""

    raw: bytes

    def encode(self) -> bytes:
        return bytes([L2_TX]) + self.raw


@dataclass(frozen=True, slots=True)
class Delayed:
    """Executes delayed message (deposit) `index` of the DelayedInbox at this position."""

    index: int

    def encode(self) -> bytes:
        return bytes([DELAYED]) + _u64(self.index, "delayed index")


Message = BlockStart | L2Tx | Delayed


def message_hash(message: Message) -> bytes:
    return keccak(message.encode())


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Binary keccak Merkle root; odd levels padded with a zero word; no leaves -> zero."""
    if not leaves:
        return ZERO32
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(ZERO32)
        level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The sibling path of leaf `index`, bottom up (what a one-step proof carries)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of {len(leaves)}")
    proof: list[bytes] = []
    level = list(leaves)
    while len(level) > 1:
        if len(level) % 2:
            level.append(ZERO32)
        proof.append(level[index ^ 1])
        level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index //= 2
    return proof


def verify_merkle_proof(root: bytes, leaf: bytes, index: int, count: int, proof: Sequence[bytes]) -> bool:
    """True if `leaf` is leaf `index` of a tree of `count` leaves with root `root`."""
    if not 0 <= index < count:
        return False
    depth = (count - 1).bit_length()
    if len(proof) != depth:
        return False
    node = leaf
    for sibling in proof:
        node = keccak(sibling + node) if index & 1 else keccak(node + sibling)
        index //= 2
    return node == root


def message_root(messages: Sequence[Message]) -> bytes:
    return merkle_root([message_hash(m) for m in messages])
