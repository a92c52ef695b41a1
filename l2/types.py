"""Types that cross folder boundaries, defined once here and imported everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI
from eth_typing import Hash32

ZERO_HASH = Hash32(b"\x00" * 32)


@dataclass(frozen=True)
class L1Origin:
    """The L1 block an L2 block builds on; written into the L1Info predeploy at block start."""

    number: int
    hash: bytes = ZERO_HASH
    base_fee: int = 0


@dataclass(frozen=True)
class BlockAttributes:
    """Everything besides transactions that a block is a function of (never the wall clock)."""

    timestamp: int
    l1_origin: L1Origin


@dataclass(frozen=True)
class SealedBlock:
    """A block executed and sealed: header, transactions and receipts."""

    block: BlockAPI
    receipts: tuple[ReceiptAPI, ...]

    @property
    def header(self) -> BlockHeaderAPI:
        return self.block.header

    @property
    def hash(self) -> bytes:
        return self.block.header.hash

    @property
    def number(self) -> int:
        return self.block.header.block_number


class Head(Enum):
    """The three heads of DESIGN section 3 (JSON-RPC tags latest, safe, finalized)."""

    UNSAFE = "unsafe"
    SAFE = "safe"
    FINALIZED = "finalized"


@dataclass(frozen=True)
class Heads:
    unsafe: BlockHeaderAPI
    safe: BlockHeaderAPI
    finalized: BlockHeaderAPI
