"""The world-state halves of LOAD, SLOAD / SSTORE and COMMIT (docs/fraud-proofs.md 2.3-2.5,
section 8): Python twin of `l1/contracts/osp/WorldState.sol`, producing each step's proofs.

LOAD_ACCOUNT / LOAD_SLOT read the pre-tx tries (absent = empty / zero) and insert a cold journal
entry with orig* = current. COMMIT walks the journal in key order, one leaf per step, with at most
one MPT write per step: visiting an account opens it (its storage root so far = the original), a
slot writes the open account's storage trie, and a "close" step writes the account into the world
trie when the next leaf is another account or there is none.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, replace

import rlp
from trie import HexaryTrie

from l1.proofs.journal import (
    EMPTY_CODE_HASH,
    FLAG_EXISTED,
    FLAG_TOUCHED,
    KIND_ACCOUNT,
    KIND_SENTINEL,
    KIND_SLOT,
    ZERO32,
    AccountEntry,
    InsertProof,
    Journal,
    LeafProof,
    SlotEntry,
)
from l1.proofs.mpt import MptWrite, account_path, account_rlp, path_proof, slot_path, write
from l1.proofs.storage_gas import SstoreCost, sload_gas, sstore_gas

WRITE_NONE, WRITE_UPDATE, WRITE_DELETE = 0, 1, 2
STAGE_START, STAGE_WALK, STAGE_DONE = 0, 1, 2


@dataclass(frozen=True)
class LoadAccount:
    """LOAD_ACCOUNT's inputs (MPT proof against worldRoot, journal insert) and the entry."""

    address: bytes
    proof: list[bytes]
    insert: InsertProof
    entry: AccountEntry


@dataclass(frozen=True)
class LoadSlot:
    """LOAD_SLOT's inputs (the account's journal leaf, MPT proof against its origStorageRoot,
    journal insert) and the entry."""

    account_leaf: LeafProof
    slot: int
    proof: list[bytes]
    insert: InsertProof
    entry: SlotEntry


def load_account(db: MutableMapping[bytes, bytes], world_root: bytes, journal: Journal, address: bytes) -> LoadAccount:
    """Reads `address` from the pre-tx trie and inserts it into `journal`."""
    trie = HexaryTrie(db, world_root)
    key = account_path(address)
    proof = path_proof(trie, key)
    value = trie.get(key)
    if value:
        nonce, balance, storage_root, code_hash = rlp.decode(value)
        entry = AccountEntry.loaded(address, int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"),
                                    storage_root, code_hash)
    else:
        entry = AccountEntry.loaded(address, existed=False)
    return LoadAccount(address, proof, journal.insert_account(entry), entry)


def load_slot(db: MutableMapping[bytes, bytes], journal: Journal, address: bytes, slot: int) -> LoadSlot:
    """Reads slot `slot` of `address` (already in the journal) from its pre-tx storage trie."""
    account_leaf = journal.membership_proof(AccountEntry.loaded(address).key)
    account = AccountEntry.decode(account_leaf.leaf.payload)
    trie = HexaryTrie(db, account.orig_storage_root)
    key = slot_path(slot)
    proof = path_proof(trie, key)
    value = trie.get(key)
    original = rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0
    entry = SlotEntry(address, slot, original, original, False)
    return LoadSlot(account_leaf, slot, proof, journal.insert_slot(entry), entry)


def account_write(entry: AccountEntry, storage_root: bytes) -> int:
    """Delete when touched and empty (EIP-161; nothing if it never existed), update when changed."""
    empty = entry.nonce == 0 and entry.balance == 0 and entry.code_hash == EMPTY_CODE_HASH
    if entry.flags & FLAG_TOUCHED and empty:
        return WRITE_DELETE if entry.flags & FLAG_EXISTED else WRITE_NONE
    changed = (entry.nonce, entry.balance, entry.code_hash, storage_root) != (
        entry.orig_nonce, entry.orig_balance, entry.orig_code_hash, entry.orig_storage_root)
    return WRITE_UPDATE if changed else WRITE_NONE


def slot_write(entry: SlotEntry) -> int:
    if entry.current == entry.original:
        return WRITE_NONE
    return WRITE_DELETE if entry.current == 0 else WRITE_UPDATE


@dataclass(frozen=True)
class CommitCursor:
    """The COMMIT walk's `Pending` (see WorldState.CommitCursor)."""

    stage: int = STAGE_START
    leaf_index: int = 0
    account_index: int = 0
    storage_root: bytes = ZERO32
    close: bool = False

    def as_abi(self) -> tuple[int, int, int, bytes, bool]:
        return (self.stage, self.leaf_index, self.account_index, self.storage_root, self.close)

    def pending_hash(self) -> bytes:
        """`MachineState.pending` during COMMIT: `commitments.PendingCommit` of this cursor (1.8)."""
        from l1.proofs.commitments import PendingCommit

        return PendingCommit(stage=self.stage, leafIndex=self.leaf_index, accountIndex=self.account_index,
                             storageRoot=self.storage_root, close=int(self.close)).hash()  # fmt: skip


@dataclass(frozen=True)
class CommitStep:
    """One COMMIT step: the cursor and world root before and after, the journal leaf it proves,
    and its MPT write (None when it writes nothing)."""

    cursor: CommitCursor
    world_root: bytes
    leaf: LeafProof
    write: MptWrite | None
    next_cursor: CommitCursor
    next_world_root: bytes

    @property
    def proof(self) -> list[bytes]:
        return self.write.proof if self.write else []

    @property
    def sibling(self) -> bytes:
        return self.write.sibling if self.write else b""


def commit_steps(db: MutableMapping[bytes, bytes], world_root: bytes, journal: Journal) -> list[CommitStep]:
    """Every COMMIT step folding `journal` into the pre-tx world trie `world_root`; the last step's
    `next_world_root` is the post-tx state root. Trie nodes are written into `db`."""
    steps: list[CommitStep] = []
    cursor = CommitCursor()
    root = world_root
    while cursor.stage != STAGE_DONE:
        if cursor.close:
            leaf = journal.proof(cursor.account_index)
            entry = AccountEntry.decode(leaf.leaf.payload)
            action = account_write(entry, cursor.storage_root)
            value = account_rlp(entry.nonce, entry.balance, cursor.storage_root, entry.code_hash)
            mpt = _write(HexaryTrie(db, root), account_path(entry.address), action, value)
            next_root = mpt.new_root if mpt else root
            after = replace(cursor, close=False, stage=STAGE_DONE if cursor.leaf_index == 0 else cursor.stage)
        else:
            index = 0 if cursor.stage == STAGE_START else cursor.leaf_index
            leaf = journal.proof(index)
            mpt, next_root, after = None, root, cursor
            if leaf.leaf.kind == KIND_SENTINEL:
                after = replace(after, stage=STAGE_DONE if leaf.leaf.next_key == bytes(64) else STAGE_WALK)
            elif leaf.leaf.kind == KIND_ACCOUNT:
                entry = AccountEntry.decode(leaf.leaf.payload)
                after = replace(after, account_index=index, storage_root=entry.orig_storage_root)
            elif leaf.leaf.kind == KIND_SLOT:
                slot = SlotEntry.decode(leaf.leaf.payload)
                value = rlp.encode(slot.current) if slot.current else b""
                mpt = _write(HexaryTrie(db, cursor.storage_root), slot_path(slot.slot), slot_write(slot), value)
                if mpt:
                    after = replace(after, storage_root=mpt.new_root)
            after = replace(after, leaf_index=leaf.leaf.next_index,
                            close=leaf.leaf.kind != KIND_SENTINEL and leaf.leaf.next_key[32:] == ZERO32)
        steps.append(CommitStep(cursor, root, leaf, mpt, after, next_root))
        cursor, root = after, next_root
    return steps


def _write(trie: HexaryTrie, key: bytes, action: int, value: bytes) -> MptWrite | None:
    if action == WRITE_NONE:
        return None
    return write(trie, key, value if action == WRITE_UPDATE else b"")



def sload(journal: Journal, address: bytes, slot: int) -> tuple[int, int, LeafProof]:
    """SLOAD of a loaded slot: (value, gas, the slot's leaf proof before); marks it warm."""
    key = SlotEntry(address, slot, 0, 0, False).key
    proof = journal.membership_proof(key)
    entry = SlotEntry.decode(proof.leaf.payload)
    if not entry.warm:
        journal.update(key, replace(entry, warm=True).encode())
    return entry.current, sload_gas(entry.warm), proof


def sstore(journal: Journal, address: bytes, slot: int, new: int, gas_left: int) -> tuple[SstoreCost, LeafProof]:
    """SSTORE into a loaded slot: its cost and the slot's leaf proof before; the journal changes
    (current = new, warm) only when the cost is `ok`."""
    key = SlotEntry(address, slot, 0, 0, False).key
    proof = journal.membership_proof(key)
    entry = SlotEntry.decode(proof.leaf.payload)
    cost = sstore_gas(entry.original, entry.current, new, entry.warm, gas_left)
    if cost.ok:
        journal.update(key, replace(entry, current=new, warm=True).encode())
    return cost, proof
