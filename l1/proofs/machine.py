"""The level-2 machine as the Python reference holds it (docs/fraud-proofs.md 1.1-1.3, 1.8, 11).

`Machine` keeps every field of a `MachineState` (1.2) *decoded*: the sub-commitments' objects
(EntryCtx, BlockCtx, TxCtx, the journal, the block byte store, the tx-record tree, the
StackTrie state) instead of their hashes, so a step can be written as a plain function
`step(machine, witness) -> machine` and `commitment()` gives the 32-byte state the game
dissects. A block claim (1.1) is the same object in phase `CLAIM` (0): its commitment is
`BlockClaim(number, outputRoot, cursor)`.

Machines are immutable by convention: a step copies the journal before changing it and the
`Buf` trees are persistent (a write returns a new tree), so every state of a trace stays
valid after later steps ran.

Pending operations added by this slice (1.8 left them open; amended in 2.1 / 2.2 / 2.5):
op 4 COMMIT is `WorldState.CommitCursor`, op 5 SPONGE_CHECK is a SPONGE that must end on a
given digest (DATA_LOAD's `dataHash`), op 6 SYS is the next system write.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak

from l1.proofs.buf import MEM_DEPTH, ZERO32, Buf
from l1.proofs.commitments import (
    BlockAcc,
    BlockClaim,
    BlockCtx,
    Cursor,
    EntryCtx,
    Frame,
    MachineState,
    PendingSponge,
    TxCtx,
)
from l1.proofs.journal import Journal
from l1.proofs.stacktrie import TrieState
from l1.proofs.world_state import CommitCursor

CLAIM = 0  # boundary state: a block claim (1.1)
TXREC_DEPTH = 16
EMPTY_BLOOM = bytes(256)

# TxCtx.setup: the sub-stage of a transaction (2.2 amended)
ST_LOAD, ST_DECODE, ST_SIGHASH, ST_START, ST_DATA, ST_DEPOSIT_START = 0, 1, 2, 3, 4, 5  # phase TX_LOAD
SETUP_TO, SETUP_COINBASE, SETUP_ACCESS_LIST, SETUP_CALL = 0, 1, 2, 3  # phase TX_SETUP

# TxCtx.status bits
STATUS_SUCCESS = 1
STATUS_CALL_SKIPPED = 2  # a deposit whose gas limit is below its intrinsic gas

# sponge purposes and sources (PendingSponge.purpose / .source)
PURPOSE_TX_LOAD, PURPOSE_SIG_HASH, PURPOSE_DATA_LOAD, PURPOSE_TRIE_LEAF, PURPOSE_TRIE_LEAF_DONE = 1, 2, 3, 4, 5
SOURCE_STORE, SOURCE_PROOF = 4, 5


@dataclass(frozen=True)
class PendingSys:
    """Op 6: the next system write of the SYS phase (0 EIP-2935, 1..3 L1Info slots 0..2)."""

    next: int = 0

    def hash(self) -> bytes:
        return keccak(b"\x50\x06" + bytes([self.next]))


@dataclass(frozen=True)
class PendingCommit:
    """Op 4: the COMMIT walk's cursor (2.5 as built)."""

    cursor: CommitCursor = CommitCursor()

    def hash(self) -> bytes:
        c = self.cursor
        return keccak(b"\x50\x04" + bytes([c.stage]) + c.leaf_index.to_bytes(4, "big")
                      + c.account_index.to_bytes(4, "big") + c.storage_root + bytes([int(c.close)]))


@dataclass(frozen=True)
class PendingSpongeCheck:
    """Op 5: a SPONGE (1.8 layout) that must end on `expected` (DATA_LOAD: the deposit's dataHash)."""

    sponge: PendingSponge
    expected: bytes

    def hash(self) -> bytes:
        return keccak(b"\x50\x05" + self.sponge.preimage()[1:] + self.expected)


Pending = PendingSys | PendingCommit | PendingSponge | PendingSpongeCheck


@dataclass(frozen=True)
class Acc:
    """`BlockAcc` (1.3) decoded: the bloom, the byte store and the tx-record tree as objects."""

    gas_used: int = 0
    tx_count: int = 0
    records: Buf = field(default_factory=lambda: Buf(TXREC_DEPTH))
    bloom: bytes = EMPTY_BLOOM
    store: Buf = field(default_factory=lambda: Buf(MEM_DEPTH))
    buf_len: int = 0
    trie: TrieState | None = None

    def commitment(self) -> BlockAcc:
        return BlockAcc(self.gas_used, self.tx_count, self.records.root, keccak(self.bloom), self.store.root,
                        self.buf_len, self.trie.commitment() if self.trie is not None else ZERO32)


@dataclass(frozen=True)
class Machine:
    """One state of a level-2 trace (a block claim when `phase == CLAIM`)."""

    phase: int
    number: int  # CLAIM: the claim's block; else the open block's number
    cursor: Cursor
    output_root: bytes = ZERO32  # CLAIM only
    entry: EntryCtx | None = None
    block: BlockCtx | None = None
    world_root: bytes = ZERO32
    journal: Journal = field(default_factory=Journal)
    acc: Acc | None = None
    tx: TxCtx | None = None
    frame: Frame | None = None  # the top frame after EXEC ended (phase TX_END), else None
    pending: Pending | None = None
    # phase EXEC: the opcode machine's state (`l1.proofs.steps.ExecState`), which then holds
    # the frame, tx, journal and store and gives the commitment (its fields are this machine's)
    exec: Any = None

    def commitment(self) -> bytes:
        if self.exec is not None:
            return self.exec.hash()
        if self.phase == CLAIM:
            return BlockClaim(self.number, self.output_root, self.cursor.hash()).hash()
        return self.machine_state().hash()

    def machine_state(self) -> MachineState:
        """The `MachineState` (1.2) of a non-claim machine: what `commitment` hashes."""
        if self.exec is not None:
            return self.exec.machine_state()
        assert self.phase != CLAIM
        return MachineState(
            phase=self.phase,
            cursor=self.cursor.hash(),
            entry=self.entry.hash() if self.entry else ZERO32,
            block=self.block.hash() if self.block else ZERO32,
            worldRoot=self.world_root,
            journalRoot=self.journal.root,
            journalCount=self.journal.count,
            blockAcc=self.acc.commitment().hash() if self.acc else ZERO32,
            tx=self.tx.hash() if self.tx else ZERO32,
            frame=self.frame.hash() if self.frame is not None else ZERO32,
            pending=self.pending.hash() if self.pending is not None else ZERO32,
        )

    def replace(self, **changes: Any) -> Machine:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Game:
    """The constants every step gets (1.1): the disputed block, the entry limit and the chain
    constants baked into the verifier at deployment."""

    block_number: int
    entry_limit: int
    chain_id: int
    gas_limit: int
    coinbase: bytes
    elasticity: int
    denominator: int
    max_tx_size: int


def align32(n: int) -> int:
    return (n + 31) // 32 * 32
