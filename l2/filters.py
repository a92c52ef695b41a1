"""Polling filters as geth serves them: eth_newFilter, eth_newBlockFilter,
eth_newPendingTransactionFilter, eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter.

Why polled cursors rather than geth's pushed events: the chain has one writer and any number
of readers, and the writer must not pay for filters. A block or log filter keeps only the last
block it delivered (number and hash); a poll walks from there to the head, so it never scans
from genesis, never skips a block, and sees a rewind (`L2Chain.rewind`: force inclusion on the
sequencer, an L1 reorg on a verifier) because that block is no longer canonical. It then walks
the dropped branch back to the common ancestor, which stays readable by hash, reporting each
dropped block's logs again with `removed: true` (newest block first, as geth undoes a reorg),
then the new branch. Pending-transaction filters share one bounded list of arrivals fed by the
role that has a pool (`transaction_arrived`); a node without one (a verifier) feeds nothing and
its pending filters always answer [].
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth.abc import BlockHeaderAPI, SignedTransactionAPI
from eth_hash.auto import keccak

from l2 import ethjson
from l2.errors import UnknownBlock
from l2.rpc import (
    InvalidParams,
    JsonRpc,
    RpcError,
    _address_filter,
    _bloom_may_match,
    _log_matches,
    _topic_filter,
    arguments,
    p_bool,
    p_quantity,
)
from l2.types import Head

MAX_ADDRESSES = 1_000  # per log filter, as geth's maxAddresses: keeps a filter's state small
MAX_TOPIC_ALTERNATIVES = 1_000  # per topic position
PENDING_HISTORY = 10_000  # arrivals kept for pending filters; a slower poller loses the oldest

Clock = Callable[[], float]


@dataclass
class _Filter:
    kind: str  # "logs", "blocks" or "pending"
    deadline: float = 0.0  # clock time; set at install and by each eth_getFilterChanges
    lock: threading.Lock = field(default_factory=threading.Lock)  # one poll of this filter at a time
    number: int = 0  # blocks/logs: the last block delivered (or the head at install)...
    block_hash: bytes = b""  # ...and its hash, to notice that it left the canonical chain
    criteria: dict[str, Any] = field(default_factory=dict)  # logs: as given, for eth_getFilterLogs
    addresses: list[str] | None = None
    topics: list[list[str] | None] = field(default_factory=list)
    first: int = 0  # logs: block range; `last` None = no upper end ("latest")
    last: int | None = None
    seen: int = 0  # pending: arrivals already delivered (a count over the node's life)
    full: bool = False  # pending: whole transactions instead of hashes


class FilterRegistry:
    """The live filters of one `JsonRpc`, safe to use from the event loop and the reader threads."""

    def __init__(self, rpc: JsonRpc, timeout: float, max_filters: int, clock: Clock = time.monotonic) -> None:
        self.rpc = rpc
        self.chain = rpc.chain
        self.timeout = timeout
        self.max_filters = max_filters
        self.max_blocks = rpc.settings.logs_max_blocks  # blocks read per poll, as eth_getLogs' widest range
        self.clock = clock
        self._lock = threading.Lock()  # the table, the arrivals; never held while reading the chain
        self._filters: OrderedDict[int, _Filter] = OrderedDict()  # least recently polled first
        self._arrivals: deque[SignedTransactionAPI] = deque(maxlen=PENDING_HISTORY)
        self._arrived = 0
        self._pending_filters = 0

    def methods(self) -> list[tuple[str, Callable[[list[Any]], Any], bool]]:
        """(name, method, threaded): installing and uninstalling are cheap; polls read blocks."""
        return [
            ("eth_newFilter", self.new_filter, False),
            ("eth_newBlockFilter", self.new_block_filter, False),
            ("eth_newPendingTransactionFilter", self.new_pending_filter, False),
            ("eth_uninstallFilter", self.uninstall, False),
            ("eth_getFilterChanges", self.changes, True),
            ("eth_getFilterLogs", self.filter_logs, True),
        ]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._filters)

    # -- the pool's hook ----------------------------------------------------------------

    def transaction_arrived(self, tx: SignedTransactionAPI) -> None:
        """A transaction entered the pool (called by the role that has one)."""
        with self._lock:
            self._arrived += 1
            if self._pending_filters:  # with nobody listening, keep no transactions alive
                self._arrivals.append(tx)

    # -- installing ---------------------------------------------------------------------

    def new_filter(self, params: list[Any]) -> str:
        (crit,) = arguments(params, 1, 1)
        if not isinstance(crit, dict):
            raise InvalidParams("invalid argument 0: filter must be an object")
        if crit.get("blockHash") is not None:
            raise InvalidParams("invalid argument 0: blockHash is not supported by eth_newFilter, use eth_getLogs")
        addresses = _address_filter(crit.get("address"))
        if addresses is not None and len(addresses) > MAX_ADDRESSES:
            raise InvalidParams(f"invalid argument 0: exceed max addresses ({MAX_ADDRESSES})")
        topics = _topic_filter(crit.get("topics"))
        if any(position is not None and len(position) > MAX_TOPIC_ALTERNATIVES for position in topics):
            raise InvalidParams(f"invalid argument 0: exceed max topic alternatives ({MAX_TOPIC_ALTERNATIVES})")
        first, last = self._bound(crit.get("fromBlock")), self._bound(crit.get("toBlock"))
        if first == "pending" or last == "pending":
            raise RpcError(-32000, "pending logs are not supported")
        if first is None and last is not None:  # geth: from latest to a fixed block is no range
            raise RpcError(-32000, "invalid from and to block combination: from > to")
        if isinstance(first, int) and isinstance(last, int) and last < first:
            raise RpcError(-32000, "invalid from and to block combination: from > to")
        kept = {k: crit[k] for k in ("fromBlock", "toBlock", "address", "topics") if crit.get(k) is not None}
        head = self.chain.head(Head.UNSAFE)
        return self._install(_Filter(
            "logs", number=head.block_number, block_hash=head.hash, criteria=kept, addresses=addresses,
            topics=topics, first=first if isinstance(first, int) else 0, last=last if isinstance(last, int) else None,
        ))

    def _bound(self, tag: Any) -> int | str | None:
        """A fromBlock/toBlock: a number, None for latest, "pending" (refused by the caller)."""
        if tag is None or tag == "latest":
            return None
        if tag == "earliest":
            return 0
        if tag == "pending":
            return "pending"
        if tag in ("safe", "finalized"):  # geth: these move, so no fixed range of future blocks
            raise InvalidParams(f"invalid argument 0: {tag} is not supported by eth_newFilter")
        return p_quantity(tag, "block number")

    def new_block_filter(self, params: list[Any]) -> str:
        arguments(params, 0, 0)
        head = self.chain.head(Head.UNSAFE)
        return self._install(_Filter("blocks", number=head.block_number, block_hash=head.hash))

    def new_pending_filter(self, params: list[Any]) -> str:
        (full,) = arguments(params, 1, 0)
        return self._install(_Filter("pending", full=full is not None and p_bool(full, "fullTx")))

    def _install(self, flt: _Filter) -> str:
        with self._lock:
            self._expire()
            if len(self._filters) >= self.max_filters:
                raise RpcError(-32000, f"too many filters installed (max {self.max_filters}); uninstall some")
            flt.deadline = self.clock() + self.timeout
            while (key := int.from_bytes(secrets.token_bytes(16), "big")) in self._filters or not key:
                pass
            self._filters[key] = flt
            if flt.kind == "pending":
                self._pending_filters += 1
                flt.seen = self._arrived
        return hex(key)  # geth's rpc.ID: 16 random bytes as a quantity (no leading zeros)

    def uninstall(self, params: list[Any]) -> bool:
        (fid,) = arguments(params, 1, 1)
        key = _key(fid)
        with self._lock:
            self._expire()
            flt = self._filters.pop(key, None) if key is not None else None
            if flt is not None:
                self._dropped(flt)
        return flt is not None

    def _expire(self) -> None:
        """Drop filters not polled for `timeout` (the table is ordered by last poll). Holds `_lock`."""
        now = self.clock()
        while self._filters:
            key, flt = next(iter(self._filters.items()))
            if flt.deadline > now:
                break
            del self._filters[key]
            self._dropped(flt)

    def _dropped(self, flt: _Filter) -> None:
        if flt.kind == "pending":
            self._pending_filters -= 1
            if not self._pending_filters:
                self._arrivals.clear()

    def _get(self, fid: Any, touch: bool) -> _Filter:
        key = _key(fid)
        with self._lock:
            self._expire()
            flt = self._filters.get(key) if key is not None else None
            if flt is None:
                raise RpcError(-32000, "filter not found")
            if touch:  # geth: only eth_getFilterChanges keeps a filter alive
                flt.deadline = self.clock() + self.timeout
                self._filters.move_to_end(key)  # type: ignore[arg-type]
        return flt

    # -- polling ------------------------------------------------------------------------

    def changes(self, params: list[Any]) -> list[Any]:
        (fid,) = arguments(params, 1, 1)
        flt = self._get(fid, touch=True)
        with flt.lock:
            if flt.kind == "pending":
                return self._pending_changes(flt)
            return self._chain_changes(flt)

    def _pending_changes(self, flt: _Filter) -> list[Any]:
        with self._lock:
            fresh = min(self._arrived - flt.seen, len(self._arrivals))
            txs = list(self._arrivals)[len(self._arrivals) - fresh:] if fresh > 0 else []
            flt.seen = self._arrived
        if flt.full:
            return [ethjson.tx_json(tx, None, None) for tx in txs]
        return [ethjson.data(tx.hash) for tx in txs]

    def _chain_changes(self, flt: _Filter) -> list[Any]:
        """Walk back over blocks that left the chain, then forward to the head; at most
        `max_blocks` blocks per poll (the rest next poll, nothing skipped)."""
        out: list[Any] = []
        budget = self.max_blocks
        while budget > 0 and not self._canonical(flt.number, flt.block_hash):
            dropped = self.chain.header_by_hash(flt.block_hash)
            if flt.kind == "logs" and self._in_range(flt, dropped.block_number):
                out.extend(reversed(self._logs(flt, dropped, removed=True)))
            flt.number, flt.block_hash = dropped.block_number - 1, dropped.parent_hash
            budget -= 1
        head = self.chain.head(Head.UNSAFE).block_number
        end = head if flt.kind == "blocks" or flt.last is None else min(head, flt.last)
        while budget > 0 and flt.number < end:
            try:
                header = self.chain.header_by_number(flt.number + 1)
            except UnknownBlock:
                break  # rewound since we read the head: the next poll walks back
            if header.parent_hash != flt.block_hash:
                break  # the chain changed under this poll: the next one sees it
            if flt.kind == "blocks":
                out.append(ethjson.data(header.hash))
            elif self._in_range(flt, header.block_number):
                out.extend(self._logs(flt, header, removed=False))
            flt.number, flt.block_hash = header.block_number, header.hash
            budget -= 1
        return out

    def _canonical(self, number: int, block_hash: bytes) -> bool:
        try:
            return self.chain.header_by_number(number).hash == block_hash
        except UnknownBlock:
            return False

    @staticmethod
    def _in_range(flt: _Filter, number: int) -> bool:
        return number >= flt.first and (flt.last is None or number <= flt.last)

    def _logs(self, flt: _Filter, header: BlockHeaderAPI, removed: bool) -> list[dict[str, Any]]:
        """A block's matching logs from its receipts alone: a log needs its transaction's hash,
        not the transaction (decoding it would recover every sender, ~2x the time of a poll)."""
        if not _bloom_may_match(header.bloom, flt.addresses, flt.topics):
            return []
        out = []
        hashes: list[bytes] | None = None
        log_index = 0
        for tx_index, receipt in enumerate(self.chain.receipts(header)):
            for entry in receipt.logs:
                brief = {"address": ethjson.address(entry.address),
                         "topics": ["0x" + t.to_bytes(32, "big").hex() for t in entry.topics]}
                if _log_matches(brief, flt.addresses, flt.topics):
                    if hashes is None:
                        hashes = [keccak(e) for e in self.rpc._encoded_transactions(header)]
                    log = ethjson.log_json(entry, header, hashes[tx_index], tx_index, log_index)
                    log["removed"] = removed
                    out.append(log)
                log_index += 1
        return out

    def filter_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        """Every log of a log filter's criteria, as eth_getLogs answers them now (same range limit)."""
        (fid,) = arguments(params, 1, 1)
        flt = self._get(fid, touch=False)
        if flt.kind != "logs":
            raise RpcError(-32000, "filter not found")  # geth's answer for a block or pending filter
        return self.rpc.get_logs([flt.criteria])


def _key(fid: Any) -> int | None:
    """A filter id as sent back by the client; None if it cannot be one (then: not found)."""
    if not isinstance(fid, str):
        raise InvalidParams("invalid argument 0: filter id must be a hex string")
    if fid[:2] not in ("0x", "0X") or not 0 < len(fid) - 2 <= 32:
        return None
    try:
        return int(fid[2:], 16)
    except ValueError:
        return None
