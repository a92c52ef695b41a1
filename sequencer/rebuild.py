"""Keep the sequencer's chain equal to what L1 derives: check each inbox entry, rebuild on a difference.

The chain verifiers derive from L1 is the rollup's truth (docs/derivation.md). Batches the
batcher posts from the sequencer's own blocks derive back to exactly those blocks. A forced
entry (`Inbox.forceInclude`, which anyone may call once a deposit is older than the
force-inclusion delay) does not: it adds one block of delayed messages right after the
blocks of the entries before it, while the sequencer may already have unsafe blocks there.
The same holds for a batch the batcher posted from blocks the sequencer has since dropped.

So the L1 follower derives every confirmed entry (with `l2.derivation.derive_entry`, the
verifiers' own code, without executing it) and compares the blocks with the sequencer's
own. On a difference, the block producer (the chain's single writer) rebuilds:

1. rewinds the chain to the last block of the entries before (`L2Chain.rewind`);
2. executes the derived blocks exactly as replay does (`l2.replay.execute_derived`), with the
   delayed-message cursor moved past the messages the entry consumed, in the same LMDB
   transaction as the last block;
3. puts the users' transactions of the dropped blocks back into the mempool: they were
   acknowledged with receipts, so whatever still validates is sequenced again. Deposits of
   the dropped blocks are not re-queued as transactions: the producer re-includes the ones
   past the cursor from L1, as always.

Between the rewind and their inclusion in a new block those transactions would live only in
the in-memory pool, and `kill -9` there would lose what users hold receipts for. So their raw
bytes are first committed to the chain's meta (`REQUEUE_KEY`, an RLP list), alone and before
the rewind: `L2Chain.rewind` is an LMDB transaction of its own, so no later write could cover
the moment right after it. At start the producer offers the stored list to the pool again
(`restore_requeued`); with each block it commits the list minus what the block included and
what the pool no longer holds, until it is empty (b"").

The adopted entry is recorded with its parent block (`ADOPTED_KEY`), so checking it again
accepts it even where execution skipped some of its transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import rlp
from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth.db.chain import ChainDB
from eth_utils import keccak

from l2.chain import L2Chain
from l2.deposits import DepositTransaction
from l2.derivation import Cursor, DerivedEntry, InboxBatch, L1Facts, derive_entry
from l2.errors import InvalidTransaction, UnknownBlock
from l2.predeploys import L1_INFO_ADDRESS, L1_INFO_HASH_SLOT, L1_INFO_NUMBER_SLOT
from l2.replay import execute_derived
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import Head

log = logging.getLogger(__name__)

# The last entry the producer adopted: its index and the hash of the block it was applied on.
# Its derived blocks may leave out transactions that execution skipped, so comparing them with
# the entry's messages would never match again; this record says they are ours.
ADOPTED_KEY = b"sequencer:adopted_entry"
# The acknowledged transactions of dropped blocks not yet back in a block: RLP list of raw
# transactions, b"" (or absent) when there are none. Written by `rebuild`, read at start.
REQUEUE_KEY = b"sequencer:requeue"


@dataclass(frozen=True)
class Divergent:
    """A confirmed inbox entry whose derived blocks are not the sequencer's blocks after `parent_number`."""

    derived: DerivedEntry  # with decoded, signature-checked transactions: ready to execute
    parent_number: int  # the last L2 block of the entries before it
    parent_hash: bytes

    @property
    def index(self) -> int:
        return self.derived.entry.index

    @property
    def forced(self) -> bool:
        return self.derived.entry.forced


@dataclass(frozen=True)
class Rebuilt:
    dropped_blocks: int  # unsafe blocks rewound
    applied: list[BlockHeaderAPI]  # the blocks the entry derives to, now on the chain


class _Raw:
    """Stands in for a decoded transaction when only its bytes are compared (no signature recovery)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def encode(self) -> bytes:
        return self.raw


def _raw(raw: bytes, spec: ChainSpec) -> _Raw:
    return _Raw(raw)


def cursor_after(chain: L2Chain, entries: int, delayed_read: int, parent: BlockHeaderAPI) -> Cursor:
    """The derivation cursor after `entries` entries whose last block is the chain's `parent`."""
    return Cursor(entries, delayed_read, parent.timestamp, chain.l1_origin_number(parent))


def check_entry(
    chain: L2Chain, spec: ChainSpec, entry: InboxBatch, delayed_read: int, parent_number: int, facts: L1Facts
) -> tuple[DerivedEntry, Divergent | None]:
    """Derive `entry` on the sequencer's block `parent_number`; (derived, None) when its blocks are ours.

    The comparison works on transaction bytes (no signature recovery, as cheap as reading our
    own blocks); only a divergent entry is derived again with full transaction decoding.
    """
    parent = chain.header_by_number(parent_number)
    cursor = cursor_after(chain, entry.index, delayed_read, parent)
    cheap = derive_entry(cursor, entry, facts, spec, decode_tx=_raw)  # type: ignore[arg-type]
    if chain.store.get_meta(ADOPTED_KEY) == _adopted(entry.index, parent.hash) or _ours(chain, parent_number, cheap):
        return cheap, None
    derived = derive_entry(cursor, entry, facts, spec)
    return derived, Divergent(derived, parent_number, parent.hash)


def _adopted(index: int, parent_hash: bytes) -> bytes:
    return index.to_bytes(8, "big") + parent_hash


def _ours(chain: L2Chain, parent_number: int, derived: DerivedEntry) -> bool:
    for offset, block in enumerate(derived.blocks, start=1):
        try:
            header = chain.header_by_number(parent_number + offset)
        except UnknownBlock:
            return False  # we do not have that many blocks (yet, or any more)
        if header.timestamp != block.attrs.timestamp:
            return False
        state = chain.state_at(header)
        origin = block.attrs.l1_origin
        if state.get_storage(L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT) != origin.number:
            return False
        if state.get_storage(L1_INFO_ADDRESS, L1_INFO_HASH_SLOT).to_bytes(32, "big") != origin.hash:
            return False
        # Raw bytes from the transaction trie: no decoding of our own transactions.
        ours = [bytes(raw) for raw in ChainDB._get_block_data_from_root_hash(chain.chaindb.db, header.transaction_root)]
        if ours != [tx.encode() for tx in block.transactions]:
            return False
    return True


def unsafe_transactions(chain: L2Chain, parent_number: int) -> list[SignedTransactionAPI]:
    """The users' transactions of the blocks after `parent_number`, in chain order (no deposits)."""
    head = chain.head(Head.UNSAFE).block_number
    return [
        tx
        for number in range(parent_number + 1, head + 1)
        for tx in chain.transactions(chain.header_by_number(number))
        if not isinstance(tx, DepositTransaction)
    ]


def rebuild(
    chain: L2Chain, divergent: Divergent, meta: dict[bytes, bytes], requeued: Collection[bytes] = ()
) -> Rebuilt:
    """Replace the blocks after the divergent entry's parent with the entry's derived blocks.

    `meta` (the producer's cursor keys) is committed with the last derived block. `requeued`
    (raw transactions: the dropped blocks' ones, `unsafe_transactions`, plus those of an
    earlier rebuild not yet back in a block) is committed under `REQUEUE_KEY` before anything
    is dropped. Must run on the chain's single writer (the producer's thread). The caller
    then offers the transactions to the pool (`requeue`).
    """
    parent = chain.header_by_number(divergent.parent_number)
    if parent.hash != divergent.parent_hash:
        raise RuntimeError(f"block {divergent.parent_number} changed since entry {divergent.index} was checked")
    head = chain.head(Head.UNSAFE).block_number
    if requeued:  # durable before the rewind's own LMDB transaction drops the blocks holding them
        chain.store.commit({}, {REQUEUE_KEY: encode_requeued(requeued)})
    chain.rewind(divergent.parent_number)
    meta = {**meta, ADOPTED_KEY: _adopted(divergent.index, parent.hash)}
    applied, _, skipped = execute_derived(chain, divergent.derived, meta)
    if applied:
        chain.set_head(Head.SAFE, applied[-1].hash)  # derived from a confirmed entry
    if skipped:
        log.info("inbox entry %d: %d transactions skipped by derivation", divergent.index, skipped)
    return Rebuilt(head - divergent.parent_number, applied)


def requeue(
    add: Callable[[SignedTransactionAPI], object], txs: Sequence[SignedTransactionAPI]
) -> tuple[int, list[tuple[bytes, str]]]:
    """Offer the dropped blocks' transactions to the pool (`Mempool.add`); (re-admitted, [(hash, rule) refused])."""
    kept = 0
    refused: list[tuple[bytes, str]] = []
    for tx in txs:
        try:
            add(tx)
            kept += 1
        except InvalidTransaction as exc:
            refused.append((tx.hash, exc.rule))
    return kept, refused


def encode_requeued(raws: Collection[bytes]) -> bytes:
    """The `REQUEUE_KEY` value: an RLP list of raw transactions, b"" for none."""
    return rlp.encode(list(raws)) if raws else b""


def stored_requeued(chain: L2Chain) -> list[bytes]:
    """The raw transactions under `REQUEUE_KEY`, in the order they were dropped."""
    stored = chain.store.get_meta(REQUEUE_KEY)
    return [bytes(raw) for raw in rlp.decode(stored)] if stored else []


def restore_requeued(
    chain: L2Chain, add: Callable[[SignedTransactionAPI], object]
) -> tuple[dict[bytes, bytes], list[tuple[bytes, str]]]:
    """At start: offer the stored transactions to the pool; ({hash: raw} re-admitted, [(hash, rule) refused]).

    One already in a block (a crash after the list's write and before the rewind) fails with
    `nonce_too_low` and is refused: never sequenced twice. The caller counts the refused ones
    and drops them from the list with its next block.
    """
    kept: dict[bytes, bytes] = {}
    refused: list[tuple[bytes, str]] = []
    for raw in stored_requeued(chain):
        try:
            tx = decode_transaction(raw, chain.spec)
        except InvalidTransaction as exc:  # cannot happen for bytes we executed; never fatal
            refused.append((keccak(raw), exc.rule))
            continue
        admitted, refusals = requeue(add, [tx])
        if admitted:
            kept[tx.hash] = raw
        refused.extend(refusals)
    return kept, refused
