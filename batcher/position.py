"""Where the batcher stands, recovered from L1 alone (never from a local file).

After a crash, a restart or an L1 reorg the batcher rescans the Inbox: the L2 blocks that
the entries derive to are batched, everything after is not. So it can neither skip a block
(a lost batch is simply not on L1) nor post one twice (a landed batch is counted).
"""

from __future__ import annotations

from dataclasses import dataclass

from l1.inbox_reader import InboxReader
from l2.derivation import count_blocks


@dataclass(frozen=True)
class Position:
    entries: int  # inbox entries on L1
    last_block: int  # the last L2 block they derive to
    delayed_read: int  # delayed messages they consume
    accumulator: bytes  # acc of the last entry (b"" when none)


def recover_position(reader: InboxReader, chain_id: int, page: int = 512) -> Position:
    """Scan every inbox entry on L1 (any depth) and count the L2 blocks they derive to."""
    entries = last_block = delayed = 0
    accumulator = b""
    from_block = reader.start_block
    while True:
        batch = reader.entries(entries, from_block, page)
        for entry in batch:
            last_block += count_blocks(entry, delayed, chain_id)
            delayed = entry.delayed_read
            accumulator = entry.accumulator
            from_block = entry.l1_block_number
        entries += len(batch)
        if len(batch) < page:
            return Position(entries, last_block, delayed, accumulator)


def still_on_l1(reader: InboxReader, position: Position) -> bool:
    """True while L1 holds exactly the entries `position` was computed from (no reorg, no other writer)."""
    if reader.inbox.entry_count() != position.entries:
        return False
    return position.entries == 0 or reader.inbox.accumulator(position.entries - 1) == position.accumulator
