"""The L2 chain on its LMDB store: genesis, sealing blocks, heads, and reads.

One writer (the sequencer or a verifier's replay) builds blocks; any number of readers
(JSON-RPC, gRPC) read committed data concurrently through LMDB snapshots.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI, StateAPI
from eth.chains.base import ChainContext
from eth.constants import BLANK_ROOT_HASH, EMPTY_UNCLE_HASH
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.db.schema import SchemaV1
from eth.exceptions import HeaderNotFound, TransactionNotFound
from eth.rlp.sedes import chain_gaps
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth_typing import Address, BlockNumber, Hash32

import l2  # noqa: F401
from l2.errors import InvalidTransaction, StoreError, UnknownBlock
from l2.execution import EMPTY_REQUESTS_HASH, L2VM, BlockBuilder, L2Block
from l2.predeploys import L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT, predeploy_code
from l2.spec import ChainSpec
from l2.store import LMDBStore, PendingWrites, read_view
from l2.types import ZERO_HASH, BlockAttributes, Head, Heads, SealedBlock

ANCESTOR_DEPTH = 256  # BLOCKHASH reaches back this far
_HEAD_KEYS = {head: b"head:" + head.value.encode() for head in Head}
_SPEC_KEY = b"spec_hash"


class L2Chain:
    """The chain of one node; `open` creates genesis on an empty store."""

    def __init__(self, store: LMDBStore, spec: ChainSpec) -> None:
        self.store = store
        self.spec = spec
        self.context = ChainContext(spec.chain_id)
        self.chaindb = ChainDB(read_view(store))
        self._write_lock = threading.Lock()
        stored = store.get_meta(_SPEC_KEY)
        if stored is None:
            self._write_genesis()
        elif stored != spec.spec_hash():
            raise StoreError(
                f"store at {store.path} holds another chain (spec hash {stored.hex()}, "
                f"expected {spec.spec_hash().hex()})"
            )
        self._ancestors: deque[bytes] = deque(maxlen=ANCESTOR_DEPTH)
        self._load_ancestors(self.head(Head.UNSAFE))

    @classmethod
    def open(cls, path: Path | str, spec: ChainSpec, map_size: int = 64 << 30) -> L2Chain:
        return cls(LMDBStore(path, map_size=map_size), spec)

    def close(self) -> None:
        self.store.close()

    # -- genesis -----------------------------------------------------------------

    def _write_genesis(self) -> None:
        pending = PendingWrites(self.store)
        db = AtomicDB(pending)
        template = PragueBlockHeader(
            difficulty=0,
            block_number=BlockNumber(0),
            gas_limit=self.spec.gas_limit,
            timestamp=self.spec.genesis_timestamp,
            state_root=BLANK_ROOT_HASH,
            base_fee_per_gas=self.spec.genesis_base_fee,
            withdrawals_root=BLANK_ROOT_HASH,
            parent_beacon_block_root=ZERO_HASH,
            requests_hash=EMPTY_REQUESTS_HASH,
        )
        state = L2VM.build_state(db, template, self.context)
        for raw_address, account in self.spec.alloc:
            address = Address(raw_address)
            state.set_balance(address, account.balance)
            state.set_nonce(address, account.nonce)
            if account.code:
                state.set_code(address, account.code)
            for slot, value in account.storage:
                state.set_storage(address, slot, value)
        for predeploy, code in predeploy_code().items():
            state.set_code(Address(predeploy), code)
        state.persist()
        header = template.copy(state_root=state.state_root, uncles_hash=EMPTY_UNCLE_HASH)
        genesis = PragueBlock(header, transactions=[], uncles=[], withdrawals=[])
        ChainDB(db).persist_block(genesis)
        meta: dict[bytes, bytes | None] = {key: header.hash for key in _HEAD_KEYS.values()}
        meta[_SPEC_KEY] = self.spec.spec_hash()
        self.store.commit(pending.writes, meta)

    def _load_ancestors(self, head: BlockHeaderAPI) -> None:
        self._ancestors.clear()
        header = head
        while len(self._ancestors) < ANCESTOR_DEPTH:
            self._ancestors.append(header.hash)
            if header.block_number == 0:
                break
            header = self.chaindb.get_block_header_by_hash(header.parent_hash)

    # -- building ----------------------------------------------------------------

    def open_block(self, attrs: BlockAttributes) -> BlockBuilder:
        """Start a block on the unsafe head; commit it with `commit`."""
        return BlockBuilder(self.store, self.spec, self.head(Head.UNSAFE), attrs, tuple(self._ancestors))

    def commit(self, builder: BlockBuilder, sealed: SealedBlock, meta: Mapping[bytes, bytes] | None = None) -> None:
        """Write a sealed block and move the unsafe head to it, in one LMDB transaction.

        `meta` is written in the same transaction (a role's own bookkeeping per block, e.g.
        the derivation cursor), so it can never disagree with the block after a crash.
        """
        with self._write_lock:
            head = self.head(Head.UNSAFE)
            if sealed.header.parent_hash != head.hash:
                raise StoreError(f"block {sealed.number} does not extend the head {head.block_number}")
            meta_writes: dict[bytes, bytes | None] = dict(meta or {})
            meta_writes[_HEAD_KEYS[Head.UNSAFE]] = sealed.hash
            self.store.commit(builder.pending.writes, meta_writes)
            self._ancestors.appendleft(sealed.hash)

    def rewind(self, number: int) -> BlockHeaderAPI:
        """Make block `number` the unsafe head again (an L1 reorg changed what follows it).

        The dropped blocks stay in the store (readable by hash) but lose their number and
        transaction lookups; safe and finalized heads above `number` come down with it.
        """
        with self._write_lock:
            head = self.head(Head.UNSAFE)
            if number >= head.block_number:
                return head
            target = self.header_by_number(number)
            pending = PendingWrites(self.store)
            db = AtomicDB(pending)
            for n in range(number + 1, head.block_number + 1):
                header = self.header_by_number(n)
                for tx_hash in ChainDB._get_block_transaction_hashes(db, header):
                    ChainDB._remove_transaction_from_canonical_chain(db, tx_hash)
                db.delete(SchemaV1.make_block_number_to_hash_lookup_key(BlockNumber(n)))
            db.set(SchemaV1.make_canonical_head_hash_lookup_key(), target.hash)
            # py-evm tracks which numbers it holds; without this it looks for the dropped blocks.
            gaps = rlp.encode(((), BlockNumber(number + 1)), sedes=chain_gaps)
            db.set(SchemaV1.make_chain_gaps_lookup_key(), gaps)
            db.set(SchemaV1.make_header_chain_gaps_lookup_key(), gaps)
            meta: dict[bytes, bytes | None] = {_HEAD_KEYS[Head.UNSAFE]: target.hash}
            for which in (Head.SAFE, Head.FINALIZED):
                if self.head(which).block_number > number:
                    meta[_HEAD_KEYS[which]] = target.hash
            self.store.commit(pending.writes, meta)
            self._load_ancestors(target)
            return target

    def build_block(
        self,
        attrs: BlockAttributes,
        transactions: Iterable[SignedTransactionAPI],
        skip_invalid: bool = False,
    ) -> tuple[SealedBlock, list[tuple[SignedTransactionAPI, InvalidTransaction]]]:
        """Execute, seal and commit one block.

        With `skip_invalid` an invalid transaction is left out (as derivation must do with
        a batch already on L1) and returned with its error; otherwise the first invalid
        transaction raises and nothing is written.
        """
        builder = self.open_block(attrs)
        skipped: list[tuple[SignedTransactionAPI, InvalidTransaction]] = []
        for tx in transactions:
            try:
                builder.add(tx)
            except InvalidTransaction as exc:
                if not skip_invalid:
                    raise
                skipped.append((tx, exc))
        sealed = builder.seal()
        self.commit(builder, sealed)
        return sealed, skipped

    # -- heads -------------------------------------------------------------------

    def head(self, which: Head) -> BlockHeaderAPI:
        head_hash = self.store.get_meta(_HEAD_KEYS[which])
        if head_hash is None:
            raise StoreError(f"store has no {which.value} head")
        return self.chaindb.get_block_header_by_hash(Hash32(head_hash))

    def heads(self) -> Heads:
        return Heads(*(self.head(h) for h in (Head.UNSAFE, Head.SAFE, Head.FINALIZED)))

    def set_head(self, which: Head, block_hash: bytes) -> None:
        """Move the safe or finalized head (never ahead of the unsafe head)."""
        if which is Head.UNSAFE:
            raise ValueError("the unsafe head moves only by committing blocks")
        header = self.header_by_hash(block_hash)
        canonical = self.header_by_number(header.block_number)
        if canonical.hash != block_hash:
            raise StoreError(f"block {block_hash.hex()} is not canonical")
        self.store.commit({}, {_HEAD_KEYS[which]: block_hash})

    # -- reads -------------------------------------------------------------------

    def header_by_number(self, number: int) -> BlockHeaderAPI:
        try:
            return self.chaindb.get_canonical_block_header_by_number(BlockNumber(number))
        except HeaderNotFound:
            raise UnknownBlock(f"no block {number}") from None

    def header_by_hash(self, block_hash: bytes) -> BlockHeaderAPI:
        try:
            return self.chaindb.get_block_header_by_hash(Hash32(block_hash))
        except HeaderNotFound:
            raise UnknownBlock(f"no block 0x{block_hash.hex()}") from None

    def block(self, header: BlockHeaderAPI) -> BlockAPI:
        return L2Block.from_header(header, self.chaindb)

    def transactions(self, header: BlockHeaderAPI) -> Sequence[SignedTransactionAPI]:
        return self.chaindb.get_block_transactions(header, L2Block.transaction_builder)

    def receipts(self, header: BlockHeaderAPI) -> tuple[ReceiptAPI, ...]:
        return tuple(self.chaindb.get_receipts(header, L2Block.receipt_builder))

    def transaction_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(block number, index) of a canonical transaction, or None."""
        try:
            number, index = self.chaindb.get_transaction_index(Hash32(tx_hash))
        except TransactionNotFound:
            return None
        return number, index

    def l1_origin_number(self, header: BlockHeaderAPI) -> int:
        """The L1 origin block number the L1Info predeploy holds after `header`."""
        return self.state_at(header).get_storage(L1_INFO_ADDRESS, L1_INFO_NUMBER_SLOT)

    def state_at(self, header: BlockHeaderAPI) -> StateAPI:
        """A read-only view of the state after `header` (writes stay in memory)."""
        return L2VM.build_state(read_view(self.store), header, self.context, ())
