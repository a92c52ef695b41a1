"""The transaction journal of the one-step prover (docs/fraud-proofs.md 1.6, D3): an indexed
Merkle tree of fixed depth 16 holding a sorted linked list of account and slot entries.

Why an indexed tree: membership and non-membership both have a fixed-size proof (a leaf and 16
siblings), an insert is two path updates, and a rollback is a root restore. Python twin of
`l1/contracts/osp/Journal.sol`; the proof encodings here are what that library decodes.

    JournalLeaf = H(0x4A ++ u8 kind ++ key(64) ++ nextKey(64) ++ u32 nextIndex ++ payload)
    node        = H(left ++ right); leaves beyond `count` are b32 0
    LeafProof   = u32 index ++ leaf preimage (without the tag) ++ 16 x b32 siblings (leaf level first)
    InsertProof = LeafProof of the low leaf ++ 16 x b32 siblings of index `count` in the tree
                  where the low leaf already points at the new key
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from eth_hash.auto import keccak

DEPTH = 16
CAPACITY = 1 << DEPTH
LEAF_TAG = b"\x4a"
ZERO32 = b"\x00" * 32
ZERO_KEY = b"\x00" * 64

KIND_SENTINEL = 0
KIND_ACCOUNT = 1
KIND_SLOT = 2
PAYLOAD_SIZE = {KIND_SENTINEL: 0, KIND_ACCOUNT: 197, KIND_SLOT: 117}
LEAF_PREIMAGE_FIXED = 1 + 64 + 64 + 4  # kind, key, nextKey, nextIndex (the tag is not encoded)

# account flags (spec 1.6)
FLAG_WARM = 1
FLAG_EXISTED = 2
FLAG_TOUCHED = 4
FLAG_CREATED = 8
FLAG_DESTROYED = 16

EMPTY_CODE_HASH = keccak(b"")
EMPTY_TRIE_ROOT = keccak(b"\x80")


class JournalError(ValueError):
    """A journal operation that the Solidity library would refuse (full tree, duplicate key ...)."""


def _zero_hashes() -> list[bytes]:
    zeros = [ZERO32]
    for _ in range(DEPTH):
        zeros.append(keccak(zeros[-1] + zeros[-1]))
    return zeros


ZEROS = _zero_hashes()


def account_key(address: bytes) -> bytes:
    """The 64-byte journal key of an account: H(a) ++ b32 0 (sorts before the account's slots)."""
    return keccak(address) + ZERO32


def slot_key(address: bytes, slot: int) -> bytes:
    """The 64-byte journal key of storage slot `slot` of `address`: H(a) ++ H(slot)."""
    return keccak(address) + keccak(slot.to_bytes(32, "big"))


@dataclass(frozen=True)
class AccountEntry:
    """Payload of an account leaf: the pre-tx values (`orig_*`) and the current ones."""

    address: bytes
    flags: int
    orig_nonce: int
    orig_balance: int
    orig_storage_root: bytes
    orig_code_hash: bytes
    nonce: int
    balance: int
    code_hash: bytes

    def encode(self) -> bytes:
        return (
            self.address
            + bytes([self.flags])
            + self.orig_nonce.to_bytes(8, "big")
            + self.orig_balance.to_bytes(32, "big")
            + self.orig_storage_root
            + self.orig_code_hash
            + self.nonce.to_bytes(8, "big")
            + self.balance.to_bytes(32, "big")
            + self.code_hash
        )

    @classmethod
    def decode(cls, data: bytes) -> AccountEntry:
        if len(data) != PAYLOAD_SIZE[KIND_ACCOUNT]:
            raise JournalError(f"account payload is {len(data)} bytes")
        return cls(
            address=data[0:20],
            flags=data[20],
            orig_nonce=int.from_bytes(data[21:29], "big"),
            orig_balance=int.from_bytes(data[29:61], "big"),
            orig_storage_root=data[61:93],
            orig_code_hash=data[93:125],
            nonce=int.from_bytes(data[125:133], "big"),
            balance=int.from_bytes(data[133:165], "big"),
            code_hash=data[165:197],
        )

    @classmethod
    def loaded(
        cls,
        address: bytes,
        nonce: int = 0,
        balance: int = 0,
        storage_root: bytes = EMPTY_TRIE_ROOT,
        code_hash: bytes = EMPTY_CODE_HASH,
        existed: bool = True,
    ) -> AccountEntry:
        """The entry LOAD_ACCOUNT inserts: current = original, cold."""
        return cls(
            address, FLAG_EXISTED if existed else 0, nonce, balance, storage_root, code_hash, nonce, balance, code_hash
        )

    @property
    def key(self) -> bytes:
        return account_key(self.address)


@dataclass(frozen=True)
class SlotEntry:
    """Payload of a slot leaf: the value at tx start (`original`) and now (`current`)."""

    address: bytes
    slot: int
    original: int
    current: int
    warm: bool

    def encode(self) -> bytes:
        return (
            self.address
            + self.slot.to_bytes(32, "big")
            + self.original.to_bytes(32, "big")
            + self.current.to_bytes(32, "big")
            + bytes([1 if self.warm else 0])
        )

    @classmethod
    def decode(cls, data: bytes) -> SlotEntry:
        if len(data) != PAYLOAD_SIZE[KIND_SLOT]:
            raise JournalError(f"slot payload is {len(data)} bytes")
        return cls(
            data[0:20],
            int.from_bytes(data[20:52], "big"),
            int.from_bytes(data[52:84], "big"),
            int.from_bytes(data[84:116], "big"),
            data[116] != 0,
        )

    @property
    def key(self) -> bytes:
        return slot_key(self.address, self.slot)


@dataclass(frozen=True)
class Leaf:
    """One journal leaf; `next_key` all zero means +infinity (end of the list)."""

    kind: int
    key: bytes
    next_key: bytes
    next_index: int
    payload: bytes

    def encode(self) -> bytes:
        """The leaf preimage without the tag, as proofs carry it."""
        return bytes([self.kind]) + self.key + self.next_key + self.next_index.to_bytes(4, "big") + self.payload

    def hash(self) -> bytes:
        return keccak(LEAF_TAG + self.encode())

    @classmethod
    def decode(cls, data: bytes) -> Leaf:
        kind = data[0]
        size = PAYLOAD_SIZE.get(kind)
        if size is None or len(data) != LEAF_PREIMAGE_FIXED + size:
            raise JournalError("malformed journal leaf")
        return cls(kind, data[1:65], data[65:129], int.from_bytes(data[129:133], "big"), data[133:])


SENTINEL = Leaf(KIND_SENTINEL, ZERO_KEY, ZERO_KEY, 0, b"")


@dataclass(frozen=True)
class LeafProof:
    """A leaf at `index` and its 16 siblings (leaf level first)."""

    index: int
    leaf: Leaf
    siblings: tuple[bytes, ...]

    def encode(self) -> bytes:
        return self.index.to_bytes(4, "big") + self.leaf.encode() + b"".join(self.siblings)

    @classmethod
    def decode(cls, data: bytes) -> LeafProof:
        size = PAYLOAD_SIZE.get(data[4]) if len(data) > 4 else None
        if size is None or len(data) != 4 + LEAF_PREIMAGE_FIXED + size + 32 * DEPTH:
            raise JournalError("malformed journal leaf proof")
        end = 4 + LEAF_PREIMAGE_FIXED + size
        siblings = tuple(data[end + 32 * i : end + 32 * (i + 1)] for i in range(DEPTH))
        return cls(int.from_bytes(data[:4], "big"), Leaf.decode(data[4:end]), siblings)

    def root(self) -> bytes:
        return root_from(self.leaf.hash(), self.index, self.siblings)


@dataclass(frozen=True)
class InsertProof:
    """What an insert needs: the low leaf's proof, and the siblings of the new index after the
    low leaf was rewritten."""

    low: LeafProof
    new_siblings: tuple[bytes, ...]

    def encode(self) -> bytes:
        return self.low.encode() + b"".join(self.new_siblings)


def root_from(leaf_hash: bytes, index: int, siblings: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The root of a tree holding `leaf_hash` at `index` with these siblings."""
    node = leaf_hash
    for level in range(DEPTH):
        if (index >> level) & 1:
            node = keccak(siblings[level] + node)
        else:
            node = keccak(node + siblings[level])
    return node


def key_less(a: bytes, b: bytes) -> bool:
    """64-byte keys compare as big-endian integers (bytes order)."""
    return a < b


def verify_member(root: bytes, count: int, proof: LeafProof, key: bytes) -> None:
    """Raises unless `proof` shows the leaf with `key` in the journal (root, count)."""
    if proof.index >= count or proof.leaf.kind == KIND_SENTINEL or proof.leaf.key != key:
        raise JournalError("not a membership proof of that key")
    if proof.root() != root:
        raise JournalError("journal proof does not match the root")


def verify_absent(root: bytes, count: int, low: LeafProof, key: bytes) -> None:
    """Raises unless `low` is the low leaf of `key`: `low.key < key < low.nextKey` (0 = infinity)."""
    if low.index >= count or not key_less(low.leaf.key, key):
        raise JournalError("not the low leaf of that key")
    if low.leaf.next_key != ZERO_KEY and not key_less(key, low.leaf.next_key):
        raise JournalError("not the low leaf of that key")
    if low.root() != root:
        raise JournalError("journal proof does not match the root")


def apply_insert(root: bytes, count: int, proof: InsertProof, kind: int, key: bytes, payload: bytes) -> bytes:
    """The root after inserting (kind, key, payload), checked like the Solidity library does."""
    verify_absent(root, count, proof.low, key)
    if count >= CAPACITY:
        raise JournalError("journal full")
    low = proof.low
    relinked = replace(low.leaf, next_key=key, next_index=count)
    middle = root_from(relinked.hash(), low.index, low.siblings)
    if root_from(ZERO32, count, proof.new_siblings) != middle:
        raise JournalError("new index is not empty under these siblings")
    new = Leaf(kind, key, low.leaf.next_key, low.leaf.next_index, payload)
    return root_from(new.hash(), count, proof.new_siblings)


def apply_update(root: bytes, count: int, proof: LeafProof, payload: bytes) -> bytes:
    """The root after replacing the payload of the proven leaf."""
    verify_member(root, count, proof, proof.leaf.key)
    if len(payload) != PAYLOAD_SIZE[proof.leaf.kind]:
        raise JournalError("payload size does not fit the leaf kind")
    return root_from(replace(proof.leaf, payload=payload).hash(), proof.index, proof.siblings)


class Journal:
    """The journal of one transaction: leaves in insertion order, a sparse tree of their hashes."""

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self._index: dict[bytes, int] = {}
        self._nodes: list[dict[int, bytes]] = [{} for _ in range(DEPTH + 1)]
        self._append(SENTINEL)

    # -- tree --------------------------------------------------------------------------------

    def _node(self, level: int, position: int) -> bytes:
        return self._nodes[level].get(position, ZEROS[level])

    def _set_leaf(self, index: int, leaf: Leaf) -> None:
        node = leaf.hash()
        self._nodes[0][index] = node
        for level in range(DEPTH):
            index >>= 1
            node = keccak(self._node(level, 2 * index) + self._node(level, 2 * index + 1))
            self._nodes[level + 1][index] = node

    def _append(self, leaf: Leaf) -> None:
        if len(self.leaves) >= CAPACITY:
            raise JournalError("journal full")
        self.leaves.append(leaf)
        if leaf.kind != KIND_SENTINEL:
            self._index[leaf.key] = len(self.leaves) - 1
        self._set_leaf(len(self.leaves) - 1, leaf)

    def siblings(self, index: int) -> tuple[bytes, ...]:
        return tuple(self._node(level, (index >> level) ^ 1) for level in range(DEPTH))

    @property
    def root(self) -> bytes:
        return self._node(DEPTH, 0)

    @property
    def count(self) -> int:
        return len(self.leaves)

    # -- lookups -----------------------------------------------------------------------------

    def find(self, key: bytes) -> int | None:
        return self._index.get(key)

    def __contains__(self, key: bytes) -> bool:
        return key in self._index

    def get(self, key: bytes) -> Leaf:
        index = self._index.get(key)
        if index is None:
            raise KeyError(key.hex())
        return self.leaves[index]

    def low_index(self, key: bytes) -> int:
        """The leaf with the largest key below `key` (the sentinel when none)."""
        index = 0
        while True:
            leaf = self.leaves[index]
            if leaf.next_key == ZERO_KEY or not key_less(leaf.next_key, key):
                return index
            index = leaf.next_index

    def proof(self, index: int) -> LeafProof:
        return LeafProof(index, self.leaves[index], self.siblings(index))

    def membership_proof(self, key: bytes) -> LeafProof:
        index = self.find(key)
        if index is None:
            raise KeyError(key.hex())
        return self.proof(index)

    def non_membership_proof(self, key: bytes) -> LeafProof:
        if key in self._index:
            raise JournalError("key is present")
        return self.proof(self.low_index(key))

    def __iter__(self) -> Iterator[Leaf]:
        """Entries in key order (the COMMIT walk), the sentinel excluded."""
        index = self.leaves[0].next_index
        leaf = self.leaves[0]
        while leaf.next_key != ZERO_KEY:
            leaf = self.leaves[index]
            yield leaf
            index = leaf.next_index

    # -- changes -----------------------------------------------------------------------------

    def insert(self, kind: int, key: bytes, payload: bytes) -> InsertProof:
        """Inserts a new entry; returns the proof the Solidity `insert` takes (pre-insert state)."""
        if kind not in (KIND_ACCOUNT, KIND_SLOT) or len(payload) != PAYLOAD_SIZE[kind]:
            raise JournalError("bad kind or payload size")
        if key == ZERO_KEY:
            raise JournalError("the zero key is the sentinel's")
        if len(self.leaves) >= CAPACITY:
            raise JournalError("journal full")
        low_index = self.low_index(key)
        low = self.proof(low_index)
        if low.leaf.key == key or key in self._index:
            raise JournalError("key is present")
        old = low.leaf
        self.leaves[low_index] = replace(old, next_key=key, next_index=self.count)
        self._set_leaf(low_index, self.leaves[low_index])
        new_siblings = self.siblings(self.count)
        self._append(Leaf(kind, key, old.next_key, old.next_index, payload))
        return InsertProof(low, new_siblings)

    def insert_account(self, entry: AccountEntry) -> InsertProof:
        return self.insert(KIND_ACCOUNT, entry.key, entry.encode())

    def insert_slot(self, entry: SlotEntry) -> InsertProof:
        return self.insert(KIND_SLOT, entry.key, entry.encode())

    def update(self, key: bytes, payload: bytes) -> LeafProof:
        """Replaces the payload of entry `key`; returns its proof before the change."""
        index = self.find(key)
        if index is None:
            raise KeyError(key.hex())
        proof = self.proof(index)
        if len(payload) != PAYLOAD_SIZE[proof.leaf.kind]:
            raise JournalError("payload size does not fit the leaf kind")
        self.leaves[index] = replace(proof.leaf, payload=payload)
        self._set_leaf(index, self.leaves[index])
        return proof

    def snapshot(self) -> tuple[bytes, int]:
        """(root, count): what a frame's `snapJournal*` fields hold."""
        return self.root, self.count

    def copy(self) -> Journal:
        """A frame's snapshot: the verifier restores (root, count), the prover keeps the copy."""
        other = Journal.__new__(Journal)
        other.leaves = list(self.leaves)
        other._index = dict(self._index)
        other._nodes = [dict(level) for level in self._nodes]
        return other


def empty_root() -> bytes:
    """`J0`: the root of the journal holding only the sentinel (count 1)."""
    return root_from(SENTINEL.hash(), 0, ZEROS[:DEPTH])
