"""L1 as derivation reads it: inbox entries with their payloads, delayed messages, L1 origins.

L1 origins are the Inbox's records (`Inbox.l1Origins`, docs/fraud-proofs.md D2), read at the
latest L1 block: a record is written once and never changes, and one with `firstEntry <= i`
was written no later than entry `i`, so for an entry handed out (confirmed) the answer is
what it was when the entry landed; one with `firstEntry > i` means "not yet" for entry `i`
whatever becomes of it. A record is cached only when its `firstEntry` is below the entries
handed out, so it sits in a confirmed L1 block (an absent or younger one may still be
written or reorged away); an L1 reorg reported by replay drops the cache.

Implements `l2.replay.InboxSource` over any L1 JSON-RPC endpoint. Entries are only handed
out once their L1 block is `confirmations` deep; everything read is checked against what
the contracts committed (payload hash, delayed message hash and accumulator chain), so a
node trusts its L1 endpoint for availability, not for content it can check.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from web3 import Web3
from web3.exceptions import BlockNotFound

from l1.accumulators import ZERO32, delayed_accumulator
from l1.bindings import DelayedInboxBinding, DeliveredMessage, InboxBinding, InboxEntry, L1Error
from l1.deploy import Deployment
from l2.deposits import Deposit
from l2.derivation import InboxBatch, QueuedDeposit, RecordedOrigin
from l2.types import L1Origin

log = logging.getLogger(__name__)

ORIGIN_CACHE = 1024


def to_batch(entry: InboxEntry) -> InboxBatch:
    return InboxBatch(
        index=entry.index,
        forced=entry.forced,
        payload=entry.payload,
        message_root=entry.message_root,
        message_count=entry.message_count,
        delayed_read=entry.delayed_read,
        l1_block_number=entry.l1_block_number,
        l1_block_hash=entry.l1_block_hash,
        accumulator=entry.accumulator,
    )


class InboxReader:
    """Reads the rollup's L1 contracts for derivation; one per node."""

    def __init__(self, w3: Web3, deployment: Deployment, confirmations: int = 0, max_log_range: int = 2_000) -> None:
        self.w3 = w3
        self.inbox = InboxBinding(w3, deployment.contracts["Inbox"])
        self.delayed_inbox = DelayedInboxBinding(w3, deployment.contracts["DelayedInbox"])
        self.start_block = deployment.l1_start_block_number
        self.confirmations = confirmations
        self.max_log_range = max_log_range
        self._deposits: list[tuple[QueuedDeposit, bytes, bytes]] = []  # (deposit, accumulator, L1 block hash)
        self._deposit_scanned_to = self.start_block - 1
        self._origins: OrderedDict[int, L1Origin] = OrderedDict()  # L1 blocks by number (the sequencer's)
        self._recorded: OrderedDict[int, RecordedOrigin] = OrderedDict()
        self._handed_out = 0  # entries handed out by `entries` (confirmed when read)
        self._ahead: dict[int, Any] = {}  # BatchAppended events read past a `limit`, by index
        self._ahead_to = self.start_block - 1  # every event up to this L1 block is in _ahead or handed out

    # -- L1 head -------------------------------------------------------------------

    def head(self) -> int:
        return int(self.w3.eth.block_number)

    def confirmed_head(self) -> int:
        return self.head() - self.confirmations

    def block_hash(self, number: int) -> bytes | None:
        try:
            block = self.w3.eth.get_block(number)
        except BlockNotFound:  # beyond the head: L1 is shorter now
            return None
        # Any other failure (L1 unreachable) raises: read as "no such block", it made replay
        # rewind its whole chain on every outage.
        return bytes(block["hash"])

    def reorged(self, first_block: int) -> None:
        """L1 blocks from `first_block` on were replaced: drop origins and deposits read from them."""
        self._ahead.clear()
        self._recorded.clear()
        self._handed_out = 0
        for number in [n for n in self._origins if n >= first_block]:
            del self._origins[number]
        keep = len(self._deposits)
        while keep and self._deposits[keep - 1][0].l1_block_number >= first_block:
            keep -= 1
        del self._deposits[keep:]
        self._deposit_scanned_to = min(self._deposit_scanned_to, max(first_block, self.start_block) - 1)

    # -- inbox entries ------------------------------------------------------------------

    def entries(self, first_index: int, from_block: int, limit: int) -> Sequence[InboxBatch]:
        """Confirmed entries first_index, first_index+1, ... (at most `limit`), contiguous.

        Events read past `limit` are kept for the next call, and calldata is fetched only for
        the entries handed out: re-reading a whole log range per call made a catch-up of n
        entries cost ~n^2/limit event decodings and calldata fetches.
        """
        self._check_deposit_cache()
        to_block = self.confirmed_head()
        if first_index in self._ahead:
            start = self._ahead_to + 1
        else:
            self._ahead.clear()  # first call, or replay rewound: read from `from_block`
            start = max(from_block, self.start_block)
        found: list[InboxBatch] = []
        expected = first_index
        while True:
            while expected in self._ahead and len(found) < limit:
                found.append(to_batch(self.inbox._entry(self._ahead.pop(expected))))
                expected += 1
            if len(found) == limit or start > to_block:
                break
            end = min(start + self.max_log_range - 1, to_block)
            for event in self.inbox._logs("BatchAppended", start, end):
                if event["args"]["index"] >= expected:
                    self._ahead[event["args"]["index"]] = event
            self._ahead_to = end
            start = end + 1
        if len(found) < limit and self._ahead:
            missing = min(self._ahead)
            self._ahead.clear()
            raise L1Error(f"inbox entry {expected} missing from L1 logs (found {missing})")
        if found:
            self._handed_out = max(self._handed_out, found[-1].index + 1)
        return found

    # -- L1 facts derivation refers to ------------------------------------------------------

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        """`Inbox.l1Origins(number)`, None if L1 block `number` is not recorded (yet)."""
        cached = self._recorded.get(number)
        if cached is not None:
            return cached
        record = self.inbox.l1_origin(number)
        if record is None:
            return None
        found = RecordedOrigin(L1Origin(number, record.hash, record.base_fee), record.first_entry)
        if found.first_entry < self._handed_out:  # written no later than a confirmed entry
            self._recorded[number] = found
            if len(self._recorded) > ORIGIN_CACHE:
                self._recorded.popitem(last=False)
        return found

    def l1_block_origin(self, number: int) -> L1Origin:
        """L1 block `number`'s hash and base fee, read from L1: what the sequencer adopts as origin.

        Derivation never uses it (only `recorded_origin`): these are the facts the batcher then
        records in the Inbox from the block's header.
        """
        cached = self._origins.get(number)
        if cached is not None:
            return cached
        block = self.w3.eth.get_block(number)
        origin = L1Origin(number, bytes(block["hash"]), int(block.get("baseFeePerGas", 0) or 0))
        self._origins[number] = origin
        if len(self._origins) > ORIGIN_CACHE:
            self._origins.popitem(last=False)
        return origin

    def _check_deposit_cache(self) -> None:
        """Once per poll (not per message): drop cached delayed messages if L1 replaced their blocks."""
        if self._deposits and self.block_hash(self._deposits[-1][0].l1_block_number) != self._deposits[-1][2]:
            log.warning("L1 reorg below cached delayed messages: reading them again")
            self._deposits.clear()
            self._deposit_scanned_to = self.start_block - 1
            self._origins.clear()
            self._recorded.clear()

    def delayed(self, index: int) -> QueuedDeposit:
        while index >= len(self._deposits):
            head = self.head()
            if self._deposit_scanned_to >= head:
                raise L1Error(f"delayed message {index} is not on L1 (have {len(self._deposits)})")
            start = self._deposit_scanned_to + 1
            end = min(start + self.max_log_range - 1, head)
            for delivered in self.delayed_inbox.messages(start, end):
                self._add_deposit(delivered)
            self._deposit_scanned_to = end
        return self._deposits[index][0]

    def _add_deposit(self, delivered: DeliveredMessage) -> None:
        message = delivered.message
        if message.index != len(self._deposits):
            raise L1Error(f"delayed message {message.index} out of order (expected {len(self._deposits)})")
        if message.message_hash() != delivered.message_hash:
            raise L1Error(f"delayed message {message.index}: event data does not match its hash")
        previous = self._deposits[-1][1] if self._deposits else ZERO32
        if delayed_accumulator(previous, delivered.message_hash) != delivered.accumulator:
            raise L1Error(f"delayed message {message.index}: accumulator chain broken")
        deposit = Deposit(
            index=message.index,
            sender=message.sender,
            to=message.to,
            value=message.value,
            gas_limit=message.gas_limit,
            data=message.data,
        )
        queued = QueuedDeposit(deposit, message.l1_block_number, message.l1_timestamp)
        self._deposits.append((queued, delivered.accumulator, delivered.l1_block_hash))

    def deposits_from(self, index: int, to_block: int) -> list[QueuedDeposit]:
        """Delayed messages from `index` on made in L1 blocks up to `to_block` (the sequencer's view)."""
        self._check_deposit_cache()
        out: list[QueuedDeposit] = []
        while True:
            try:
                queued = self.delayed(index)
            except L1Error:
                return out
            if queued.l1_block_number > to_block:
                return out
            out.append(queued)
            index += 1
