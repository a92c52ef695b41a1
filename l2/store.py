"""The chain's LMDB store and the py-evm database views over it.

Everything one sealed block changes (trie nodes, code, header, body, receipts, the
transaction index, canonical head and the rollup head pointers) is written in ONE LMDB
write transaction, so a crash leaves the store at the last sealed block, never between.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import lmdb
from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

from l2.errors import StoreError

STATE_DB = b"state"  # everything py-evm writes: trie nodes, code, headers, bodies, receipts
META_DB = b"meta"  # rollup keys: head pointers, schema, chain spec hash

SCHEMA_VERSION = b"1"
_DELETED = object()


class LMDBStore:
    """One LMDB environment holding the py-evm database and the rollup's own keys."""

    def __init__(self, path: Path | str, map_size: int = 64 << 30, readonly: bool = False) -> None:
        self.path = Path(path)
        if not readonly:
            self.path.mkdir(parents=True, exist_ok=True)
        try:
            self.env = lmdb.open(
                str(self.path),
                map_size=map_size,
                max_dbs=4,
                readonly=readonly,
                # Durable commits: fsync at every block. metasync on, sync on, no writemap.
                sync=True,
                metasync=True,
                readahead=False,
                max_readers=256,
            )
        except lmdb.Error as exc:
            raise StoreError(f"cannot open chain store at {self.path}: {exc}") from exc
        self._state = self.env.open_db(STATE_DB, create=not readonly)
        self._meta = self.env.open_db(META_DB, create=not readonly)
        self._write_lock = threading.Lock()
        version = self.get_meta(b"schema")
        if version is None and not readonly:
            self.commit({}, {b"schema": SCHEMA_VERSION})
        elif version not in (None, SCHEMA_VERSION):
            raise StoreError(f"store schema {version!r} is not {SCHEMA_VERSION!r}")

    def get(self, key: bytes) -> bytes | None:
        with self.env.begin(db=self._state, buffers=False) as txn:
            return txn.get(key)

    def get_meta(self, key: bytes) -> bytes | None:
        with self.env.begin(db=self._meta, buffers=False) as txn:
            return txn.get(key)

    def commit(
        self,
        state_writes: Mapping[bytes, object],
        meta_writes: Mapping[bytes, bytes | None],
    ) -> None:
        """Apply all writes in one durable LMDB transaction (a value of None deletes a meta key)."""
        with self._write_lock, self.env.begin(write=True) as txn:
            for key, value in state_writes.items():
                if value is _DELETED:
                    txn.delete(key, db=self._state)
                else:
                    txn.put(key, value, db=self._state)  # type: ignore[arg-type]
            for key, meta in meta_writes.items():
                if meta is None:
                    txn.delete(key, db=self._meta)
                else:
                    txn.put(key, meta, db=self._meta)

    def close(self) -> None:
        self.env.close()


class ReadOnlyStateDB(BaseDB):
    """py-evm database view of committed data; any write is a bug and raises."""

    def __init__(self, store: LMDBStore) -> None:
        self._store = store

    def __getitem__(self, key: bytes) -> bytes:
        value = self._store.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def _exists(self, key: bytes) -> bool:
        return self._store.get(key) is not None

    def __setitem__(self, key: bytes, value: bytes) -> None:
        raise StoreError("write through a read-only view of the chain store")

    def __delitem__(self, key: bytes) -> None:
        raise StoreError("delete through a read-only view of the chain store")


class PendingWrites(BaseDB):
    """An in-memory overlay over the committed store: what one block being built has written.

    Reads see the overlay first; nothing reaches LMDB until `LMDBStore.commit` is given
    `writes`, so a block that is abandoned leaves no trace.
    """

    def __init__(self, store: LMDBStore) -> None:
        self._store = store
        self.writes: dict[bytes, object] = {}

    def __getitem__(self, key: bytes) -> bytes:
        value = self.writes.get(key)
        if value is None:
            value = self._store.get(key)
            if value is None:
                raise KeyError(key)
        elif value is _DELETED:
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self.writes[key] = _DELETED


def read_view(store: LMDBStore) -> AtomicDB:
    """An atomic py-evm database reading committed data (for queries and eth_call)."""
    return AtomicDB(ReadOnlyStateDB(store))

