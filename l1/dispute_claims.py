"""Level-1 claims of our own chain: the BlockClaim after every L2 block (docs/fraud-proofs.md 1.1).

A level-1 point at position p of a game against assertion A (parent P) is the claim after L2
block `P.l2BlockNumber + p`: `block_claim(n, output_root(n), cursor after n)`. The output root
comes from our chain; the cursor after a block (amended 1.1) is where derivation stands once
the block is sealed:

- a block that is not the last of its inbox entry `i`: `(i, message_end, delayed_end)`, the
  index of the BlockStart that opens the next block (still unread) and the next unread delayed
  message (`l2.derivation.DerivedBlock`);
- the last block of entry `i`: `(j, 0, delayedRead of i)`, where `j` is `i + 1` moved past the
  following entries that derive no block (an invalid batch or an empty one that consumed no
  delayed message: the ENTRY_SKIP steps), but never past the game's `entryLimit`. So the last
  block of an assertion gets exactly the contract's end claim `Cursor(A.inboxEntries, 0, dEnd)`.

Positions past our own last block repeat our last claim (the identity steps of section 2).
The replay records (`l2.replay.EntryRecord`) say which entry made which block; the per-block
message and delayed indices are not recorded, so the entry is derived again (no execution)
from L1 through a reader of its own, and cached.
"""

from __future__ import annotations

from l1.dispute_game import block_claim, cursor
from l1.inbox_reader import InboxReader
from l2.derivation import Cursor, derive_entry
from l2.output_root import output_root_at
from l2.replay import Replayer

CACHE_ENTRIES = 256


class ClaimError(Exception):
    """Our replay cannot give the claim asked for (not replayed that far, or L1 changed)."""


class LevelOneClaims:
    """BlockClaims of the chain a `Replayer` built, for games with a given entry limit."""

    def __init__(self, replayer: Replayer, reader: InboxReader) -> None:
        self.replayer = replayer
        self.chain = replayer.chain
        self.reader = reader  # our own reader: InboxReader caches a read-ahead window per caller
        self._ends: dict[tuple[int, bytes], list[tuple[int, int]]] = {}
        self._roots: dict[bytes, bytes] = {}

    # -- replay records -------------------------------------------------------------------

    def _last_block(self, entries: int) -> int:
        block = self.replayer.last_block_after(entries)
        if block is None:
            raise ClaimError(f"not replayed up to {entries} inbox entries yet")
        return block

    def entry_of(self, block: int) -> int:
        """Index of the inbox entry that derived L2 block `block` (>= 1)."""
        lo, hi = 0, self.replayer.entries  # smallest i with last_block_after(i + 1) >= block
        if block < 1 or hi == 0 or self._last_block(hi) < block:
            raise ClaimError(f"L2 block {block} is not derived from a replayed entry")
        while lo < hi:
            mid = (lo + hi) // 2
            if self._last_block(mid + 1) >= block:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def block_ends(self, index: int) -> list[tuple[int, int]]:
        """(message_end, delayed_end) of each block entry `index` derives, by deriving it again."""
        record = self.replayer.record(index)
        if record is None:
            raise ClaimError(f"inbox entry {index} is not replayed")
        key = (index, record.accumulator)
        cached = self._ends.get(key)
        if cached is not None:
            return cached
        if index == 0:
            before = Cursor(0, 0, self.chain.header_by_number(0).timestamp, 0)
            from_block = 0
        else:
            previous = self.replayer.record(index - 1)
            assert previous is not None
            before, from_block = previous.cursor, previous.l1_block_number
        found = self.reader.entries(index, from_block, 1)
        if len(found) != 1 or found[0].index != index:
            raise ClaimError(f"inbox entry {index} is not on L1 (anymore)")
        if record.accumulator and found[0].accumulator and found[0].accumulator != record.accumulator:
            raise ClaimError(f"inbox entry {index} on L1 differs from the one we replayed (reorg)")
        derived = derive_entry(before, found[0], self.reader, self.chain.spec)
        previous_last = self._last_block(index)
        if previous_last + len(derived.blocks) != record.last_block:
            raise ClaimError(f"inbox entry {index} derives {len(derived.blocks)} blocks now, the replay made "
                             f"{record.last_block - previous_last}")
        ends = [(b.message_end, b.delayed_end) for b in derived.blocks]
        if len(self._ends) >= CACHE_ENTRIES:
            self._ends.pop(next(iter(self._ends)))
        self._ends[key] = ends
        return ends

    # -- claims ---------------------------------------------------------------------------

    def cursor_after(self, block: int, entry_limit: int) -> tuple[int, int, int]:
        """(entryIndex, msgIndex, delayedNext) after L2 block `block` in a game with `entry_limit`."""
        index = self.entry_of(block)
        if index >= entry_limit:
            raise ClaimError(f"L2 block {block} comes from entry {index}, past the entry limit {entry_limit}")
        ends = self.block_ends(index)
        k = block - self._last_block(index) - 1
        if k < len(ends) - 1:
            return index, ends[k][0], ends[k][1]
        record = self.replayer.record(index)
        assert record is not None
        following = index + 1
        while following < entry_limit and self._last_block(following + 1) == record.last_block:
            following += 1  # an entry that derives no block: ENTRY_SKIP
        return following, 0, record.cursor.delayed_read

    def output_root(self, block: int) -> bytes:
        header = self.chain.header_by_number(block)
        root = self._roots.get(header.hash)
        if root is None:
            root = self._roots[header.hash] = output_root_at(self.chain, header)
        return root

    def claim_after(self, block: int, entry_limit: int) -> bytes:
        """BlockClaim after L2 block `block`."""
        return block_claim(block, self.output_root(block), cursor(*self.cursor_after(block, entry_limit)))

    def final_claim(self, parent_block: int, entry_limit: int) -> bytes:
        """Our claim once every entry below `entry_limit` is read (an honest assertion's end claim)."""
        last = self._last_block(entry_limit)
        if last > parent_block:
            return self.claim_after(last, entry_limit)
        delayed = self.replayer.record(entry_limit - 1).cursor.delayed_read if entry_limit else 0  # type: ignore[union-attr]
        return block_claim(last, self.output_root(last), cursor(entry_limit, 0, delayed))

    def at(self, position: int, parent_block: int, start: bytes, entry_limit: int) -> bytes:
        """Our level-1 state at `position` of a game whose agreed start (position 0) is `start`."""
        if position == 0:
            return start
        block = parent_block + position
        if block >= self._last_block(entry_limit):
            return self.final_claim(parent_block, entry_limit)  # our trace has ended: identity
        return self.claim_after(block, entry_limit)
