"""From the sequencer's block stream to the message stream (DESIGN section 4).

A block becomes `BlockStart{timestamp, l1OriginNumber}` followed by one message per
transaction: a deposit (type 0x7E, built by the sequencer from a DelayedInbox message)
becomes `Delayed{index}`, anything else `L2Tx{signed bytes}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2.deposits import DEPOSIT_TX_TYPE, DepositTransaction
from l2.messages import BlockStart, Delayed, L2Tx, Message
from proto import sequencer_pb2 as pb


@dataclass(frozen=True)
class BatchedBlock:
    number: int
    hash: bytes
    timestamp: int
    messages: tuple[Message, ...]
    raw_bytes: int  # signed transaction bytes, the "bytes in" of the compression ratio
    last_delayed: int | None  # highest delayed index in the block


def block_messages(block: pb.Block) -> BatchedBlock:
    messages: list[Message] = [BlockStart(block.timestamp, block.l1_origin_number)]
    last_delayed = None
    raw_bytes = 0
    for raw in block.transactions:
        raw_bytes += len(raw)
        if raw and raw[0] == DEPOSIT_TX_TYPE:
            index = DepositTransaction.decode(bytes(raw)).source_index
            messages.append(Delayed(index))
            last_delayed = index
        else:
            messages.append(L2Tx(bytes(raw)))
    return BatchedBlock(block.number, bytes(block.hash), block.timestamp, tuple(messages), raw_bytes, last_delayed)
