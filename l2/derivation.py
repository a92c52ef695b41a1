"""Derivation: from inbox entries on L1 to L2 blocks (DESIGN section 4, docs/derivation.md).

A pure function of (cursor, entry, the L1 facts it names): the verifier replays what it
returns, the sequencer's batcher produces entries that derive back to the sequencer's own
blocks, and the one-step prover follows the same rules. No clock, no node state.

Rules, per entry (docs/derivation.md has the reasons):
- forced entry: one block holding its delayed messages; timestamp the last one's (never below
  the parent's), L1 origin by `choose_origin` with `given` = the last one's L1 block;
- batch that does not decode to exactly `messageCount` messages with root `messageRoot`:
  invalid, its messages are no-ops; its delayed messages still execute, as for a forced entry;
- valid batch: `BlockStart` opens a block (timestamp never below the parent's; L1 origin by
  `choose_origin`); transactions before the first `BlockStart` go into a block
  with the parent's timestamp and origin; a `Delayed` message must name the next unread
  delayed message below the entry's `delayedRead`, else it is a no-op; delayed messages the
  entry consumes but never placed run at the end of its last block; an `L2Tx` that does not
  decode or fails a stateless rule is a no-op (stateful failures are skipped at execution).
L1 origins (docs/fraud-proofs.md D2): a block takes a new origin only if the Inbox recorded it
(`Inbox.l1Origins`) before the entry; its hash and base fee are the record's, never read from
L1 by number, so the one-step proof of a block start can check them live.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from eth.abc import SignedTransactionAPI

import l2  # noqa: F401
from l2.codec import decode_batch
from l2.deposits import Deposit, deposit_transaction
from l2.errors import BatchDecodeError, InvalidTransaction
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, L1Origin


@dataclass(frozen=True)
class InboxBatch:
    """What derivation needs of one L1 inbox entry (the l1 reader fills it from events)."""

    index: int
    forced: bool
    payload: bytes
    message_root: bytes
    message_count: int
    delayed_read: int  # total delayed messages consumed once this entry is read
    l1_block_number: int
    l1_block_hash: bytes = b""
    accumulator: bytes = b""


@dataclass(frozen=True)
class QueuedDeposit:
    """A delayed message with the L1 block it was made in."""

    deposit: Deposit
    l1_block_number: int
    l1_timestamp: int


# The L2 genesis's origin, "no origin yet": never read from L1 (L1 block 0 is not recorded
# at genesis, and the genesis state holds zero L1Info slots).
NULL_ORIGIN = L1Origin(0, bytes(32), 0)


@dataclass(frozen=True)
class RecordedOrigin:
    """`Inbox.l1Origins(number)`: an L1 block's facts, usable as an origin by entries from `first_entry` on."""

    origin: L1Origin
    first_entry: int


class L1Facts(Protocol):
    """The L1 facts an entry can refer to, beyond the entry itself."""

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        """The Inbox's record of L1 block `number` (None if not recorded); records never change."""
        ...

    def delayed(self, index: int) -> QueuedDeposit:
        """Delayed message `index` of the DelayedInbox."""
        ...


@dataclass(frozen=True)
class Cursor:
    """Where derivation stands: after `entries` inbox entries, at the parent block's values."""

    entries: int
    delayed_read: int
    timestamp: int
    l1_origin_number: int


@dataclass
class DerivedBlock:
    attrs: BlockAttributes
    transactions: list[SignedTransactionAPI] = field(default_factory=list)
    # Where the block ends in its entry (the dispute game's cursor, docs/fraud-proofs.md 1.1):
    # the index of the first message after it, and the next unread delayed message after it.
    message_end: int = 0
    delayed_end: int = 0


@dataclass(frozen=True)
class DerivedEntry:
    entry: InboxBatch
    blocks: list[DerivedBlock]
    cursor: Cursor  # after the entry
    invalid_reason: str | None  # set for an invalid batch


def choose_origin(given: int, parent: L1Origin, entry_index: int, l1: L1Facts) -> L1Origin:
    """The L1 origin of a block of entry `entry_index` that names `given`, after a parent at `parent`.

    `given` only if it moves forward and the Inbox recorded it no later than the entry (so the
    one-step proof reads the same record live); otherwise the parent's origin. Total: a
    sequencer naming an unrecorded or older block just keeps the parent's origin.
    """
    if given <= parent.number:
        return parent
    record = l1.recorded_origin(given)
    if record is None or record.first_entry > entry_index:
        return parent
    return record.origin


def origin_of(number: int, l1: L1Facts) -> L1Origin:
    """The full origin of a block whose origin number is `number` (a cursor holds only the number).

    0 is the null origin; any other number was taken through `choose_origin`, so it is recorded.
    """
    if number == 0:
        return NULL_ORIGIN
    record = l1.recorded_origin(number)
    if record is None:
        raise ValueError(f"L1 origin {number} of a parent block is not recorded in the Inbox")
    return record.origin


def batch_messages(entry: InboxBatch, chain_id: int) -> tuple[list[Message] | None, str | None]:
    """The messages of a batch, or (None, reason) when the batch is invalid."""
    try:
        messages = decode_batch(entry.payload, chain_id)
    except BatchDecodeError as exc:
        return None, f"payload does not decode: {exc}"
    if len(messages) != entry.message_count:
        return None, f"payload holds {len(messages)} messages, the entry claims {entry.message_count}"
    root = message_root(messages)
    if root != entry.message_root:
        return None, f"message root 0x{root.hex()} differs from the entry's 0x{entry.message_root.hex()}"
    return messages, None


class _Builder:
    """Accumulates the blocks of one entry while tracking the parent values."""

    def __init__(self, cursor: Cursor, entry: InboxBatch, l1: L1Facts) -> None:
        self.entry = entry
        self.l1 = l1
        self.timestamp = cursor.timestamp
        self._origin_number = cursor.l1_origin_number
        self._origin: L1Origin | None = None  # read from the record only once a block opens
        self.next_delayed = cursor.delayed_read
        self.blocks: list[DerivedBlock] = []

    @property
    def origin(self) -> L1Origin:
        if self._origin is None:
            self._origin = origin_of(self._origin_number, self.l1)
        return self._origin

    def open(self, timestamp: int, origin: int) -> DerivedBlock:
        self.timestamp = max(timestamp, self.timestamp)
        self._origin = choose_origin(origin, self.origin, self.entry.index, self.l1)
        self._origin_number = self._origin.number
        block = DerivedBlock(BlockAttributes(self.timestamp, self._origin))
        self.blocks.append(block)
        return block

    def current(self) -> DerivedBlock:
        return self.blocks[-1] if self.blocks else self.open(self.timestamp, self._origin_number)

    def place_delayed(self, block: DerivedBlock) -> None:
        queued = self.l1.delayed(self.next_delayed)
        block.transactions.append(deposit_transaction(queued.deposit))
        self.next_delayed += 1

    def flush_delayed(self) -> None:
        """Delayed messages the entry consumed but did not place: at the end of its last block."""
        if self.next_delayed >= self.entry.delayed_read:
            return
        if not self.blocks:
            last = self.l1.delayed(self.entry.delayed_read - 1)
            self.open(last.l1_timestamp, last.l1_block_number)
        block = self.blocks[-1]
        while self.next_delayed < self.entry.delayed_read:
            self.place_delayed(block)

    def cursor(self) -> Cursor:
        return Cursor(self.entry.index + 1, self.next_delayed, self.timestamp, self._origin_number)


def derive_entry(
    cursor: Cursor,
    entry: InboxBatch,
    l1: L1Facts,
    spec: ChainSpec,
    decode_tx: Callable[[bytes, ChainSpec], SignedTransactionAPI] = decode_transaction,
) -> DerivedEntry:
    """The L2 blocks inbox entry `entry` adds after `cursor` (which must be right before it)."""
    if entry.index != cursor.entries:
        raise ValueError(f"entry {entry.index} does not follow cursor at {cursor.entries} entries")
    if entry.delayed_read < cursor.delayed_read:
        raise ValueError(f"entry {entry.index} reads delayed messages backwards")
    builder = _Builder(cursor, entry, l1)
    reason: str | None = None
    if not entry.forced:
        messages, reason = batch_messages(entry, spec.chain_id)
        for index, message in enumerate(messages or ()):
            if isinstance(message, BlockStart):
                if builder.blocks:
                    builder.blocks[-1].message_end, builder.blocks[-1].delayed_end = index, builder.next_delayed
                builder.open(message.timestamp, message.l1_origin_number)
            elif isinstance(message, L2Tx):
                block = builder.current()
                try:
                    block.transactions.append(decode_tx(message.raw, spec))
                except InvalidTransaction:
                    pass  # a no-op, like any transaction the chain cannot include
            elif isinstance(message, Delayed):
                block = builder.current()
                if message.index == builder.next_delayed and message.index < entry.delayed_read:
                    builder.place_delayed(block)
    builder.flush_delayed()
    if builder.blocks:
        count = 0 if entry.forced else len(messages or ())
        builder.blocks[-1].message_end, builder.blocks[-1].delayed_end = count, builder.next_delayed
    return DerivedEntry(entry, builder.blocks, builder.cursor(), reason)


def count_blocks(entry: InboxBatch, previous_delayed_read: int, chain_id: int) -> int:
    """How many L2 blocks `derive_entry` makes of `entry`, without L1 facts or execution.

    The batcher uses it to find, from L1 alone, the last L2 block already batched.
    """
    messages = None if entry.forced else batch_messages(entry, chain_id)[0]
    if not messages:
        return 1 if entry.delayed_read > previous_delayed_read else 0
    starts = sum(1 for m in messages if isinstance(m, BlockStart))
    return starts + (0 if isinstance(messages[0], BlockStart) else 1)
