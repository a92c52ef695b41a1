"""The transaction pool: admission rules, pending vs queued, replacement, caps, ordering.

Synchronous and guarded by one lock: the JSON-RPC handlers add on the event loop thread
while the block producer selects and prunes from its worker thread.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from eth.abc import SignedTransactionAPI, StateAPI
from eth_typing import Address

from l2.chain import L2Chain
from l2.errors import InvalidTransaction
from l2.transactions import max_cost
from l2.types import Head

# Reasons the pool itself rejects or drops a transaction (beyond l2.transactions.RULES).
POOL_REASONS = ("already_known", "underpriced_replacement", "sender_cap", "pool_full", "underpriced")

REPLACEMENT_BUMP_PERCENT = 10
DEFAULT_PER_SENDER = 64
DEFAULT_GLOBAL = 10_000

AccountReader = Callable[[bytes], tuple[int, int]]  # sender -> (nonce, balance) at the head


class HeadAccounts:
    """The pool's `AccountReader` over a chain: one state view per unsafe head.

    Building a state view costs ~0.6 ms, reading an account from it ~2 us; the pool reads
    every pooled sender after each block and each new sender on arrival. Called under the
    pool's lock only.
    """

    def __init__(self, chain: L2Chain) -> None:
        self.chain = chain
        self._head_hash = b""
        self._state: StateAPI | None = None

    def __call__(self, sender: bytes) -> tuple[int, int]:
        head = self.chain.head(Head.UNSAFE)
        if self._state is None or head.hash != self._head_hash:
            self._state = self.chain.state_at(head)
            self._head_hash = head.hash
        address = Address(sender)
        return self._state.get_nonce(address), self._state.get_balance(address)


class PoolRejection(InvalidTransaction):
    """The pool refuses a transaction that is valid by itself (duplicate, caps, pricing)."""


@dataclass(eq=False)
class PoolTx:
    tx: SignedTransactionAPI
    hash: bytes
    sender: bytes
    nonce: int
    arrival: int
    size: int  # encoded bytes, what the block's byte cap counts

    def effective_tip(self, base_fee: int) -> int:
        return min(self.tx.max_priority_fee_per_gas, self.tx.max_fee_per_gas - base_fee)


@dataclass
class _Account:
    nonce: int  # account nonce at the head
    balance: int
    txs: dict[int, PoolTx] = field(default_factory=dict)

    def pending_count(self) -> int:
        """How many transactions run one after another from the account nonce (no gap)."""
        n = self.nonce
        while n in self.txs:
            n += 1
        return n - self.nonce


class Mempool:
    """Pending transactions (executable now) and queued ones (future nonce, held for the gap)."""

    def __init__(
        self,
        read_account: AccountReader,
        base_fee: int,
        per_sender: int = DEFAULT_PER_SENDER,
        global_cap: int = DEFAULT_GLOBAL,
        min_tip: int = 0,
    ) -> None:
        self._read_account = read_account
        self.base_fee = base_fee
        self.per_sender = per_sender
        self.global_cap = global_cap
        self.min_tip = min_tip
        self._accounts: dict[bytes, _Account] = {}
        self._by_hash: dict[bytes, PoolTx] = {}
        self._arrivals = itertools.count()
        self._touched: set[bytes] = set()  # senders with a transaction added since `take_touched`
        self.lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._by_hash)

    # -- admission ----------------------------------------------------------------

    def add(self, tx: SignedTransactionAPI) -> PoolTx:
        """Admit a decoded (stateless-checked) transaction or raise with the rule it breaks.

        Returns the pooled entry; the evicted ones are gone from the pool.
        """
        with self.lock:
            tx_hash = tx.hash
            if tx_hash in self._by_hash:
                raise PoolRejection("already_known", "already known")
            sender = tx.sender
            account = self._account(sender)
            if tx.nonce < account.nonce:
                raise InvalidTransaction(
                    "nonce_too_low", f"nonce too low: address {_hex(sender)}, tx: {tx.nonce} state: {account.nonce}"
                )
            if tx.max_fee_per_gas < self.base_fee:
                raise InvalidTransaction(
                    "fee_cap",
                    f"max fee per gas less than block base fee: address {_hex(sender)}, "
                    f"maxFeePerGas: {tx.max_fee_per_gas}, baseFee: {self.base_fee}",
                )
            if tx.max_priority_fee_per_gas < self.min_tip:
                raise PoolRejection("underpriced", "transaction underpriced")
            cost = max_cost(tx)
            if account.balance < cost:
                raise InvalidTransaction(
                    "insufficient_funds",
                    f"insufficient funds for gas * price + value: address {_hex(sender)} "
                    f"have {account.balance} want {cost}",
                )
            old = account.txs.get(tx.nonce)
            if old is not None:
                if not _bumped(old.tx, tx):
                    raise PoolRejection("underpriced_replacement", "replacement transaction underpriced")
            elif len(account.txs) >= self.per_sender:
                raise PoolRejection(
                    "sender_cap", f"too many transactions from {_hex(sender)} (limit {self.per_sender})"
                )
            elif len(self._by_hash) >= self.global_cap:
                self._evict_cheapest_for(tx)
            entry = PoolTx(tx, tx_hash, sender, tx.nonce, next(self._arrivals), len(tx.encode()))
            if old is not None:
                del self._by_hash[old.hash]
            account.txs[tx.nonce] = entry
            self._by_hash[tx_hash] = entry
            self._touched.add(sender)
            return entry

    def _account(self, sender: bytes) -> _Account:
        account = self._accounts.get(sender)
        if account is None:
            nonce, balance = self._read_account(sender)
            account = _Account(nonce, balance)
            self._accounts[sender] = account
        return account

    def _evict_cheapest_for(self, incoming: SignedTransactionAPI) -> None:
        """Make room by dropping the cheapest last-in-line transaction, if cheaper than `incoming`."""
        victim: PoolTx | None = None
        for account in self._accounts.values():
            if not account.txs:
                continue
            last = account.txs[max(account.txs)]  # evict from the tail: never open a nonce gap
            if victim is None or _price_key(last) < _price_key(victim):
                victim = last
        if victim is None or _price_key(victim) >= (incoming.max_priority_fee_per_gas, incoming.max_fee_per_gas):
            raise PoolRejection("pool_full", "txpool is full")
        self._remove(victim)

    # -- queries ------------------------------------------------------------------

    def get(self, tx_hash: bytes) -> PoolTx | None:
        return self._by_hash.get(tx_hash)

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None:
        """A pooled transaction by hash (`l2.rpc.PendingView`: eth_getTransactionByHash)."""
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.tx

    def next_nonce(self, sender: bytes) -> int | None:
        """The nonce after the sender's pending run, or None when the pool holds nothing of it."""
        with self.lock:
            account = self._accounts.get(sender)
            if account is None or not account.txs:
                return None
            return account.nonce + account.pending_count()

    def counts(self) -> tuple[int, int]:
        """(pending, queued) transaction counts."""
        with self.lock:
            pending = sum(a.pending_count() for a in self._accounts.values())
            return pending, len(self._by_hash) - pending

    def take_touched(self) -> set[bytes]:
        """The senders that got a transaction since the last call (the producer's next fill looks only at them)."""
        with self.lock:
            touched, self._touched = self._touched, set()
            return touched

    def select(
        self,
        base_fee: int,
        after: Mapping[bytes, int] | None = None,
        senders: Iterable[bytes] | None = None,
    ) -> list[PoolTx]:
        """Executable transactions in block order: best effective tip first, then arrival,
        each sender's in nonce order. Transactions whose fee cap is below `base_fee` are held.

        For a block being filled in steps: `after` gives, per sender, the nonce after its
        transactions already in the block (its run starts there), and `senders` limits the
        pass to the senders that may have something new (`take_touched`): a fill costs what
        arrived, not the whole pool.
        """
        after = after or {}
        with self.lock:
            runs: list[list[PoolTx]] = []
            accounts = self._accounts
            for sender in accounts if senders is None else senders:
                account = accounts.get(sender)
                if account is None:
                    continue
                run = []
                n = max(account.nonce, after.get(sender, 0))
                while n in account.txs:
                    run.append(account.txs[n])
                    n += 1
                if run:
                    runs.append(run)
        heap = []
        for i, run in enumerate(runs):
            first = run[0]
            if first.tx.max_fee_per_gas >= base_fee:
                heap.append((-first.effective_tip(base_fee), first.arrival, i, 0))
        heapq.heapify(heap)
        out: list[PoolTx] = []
        while heap:
            _, _, i, j = heapq.heappop(heap)
            out.append(runs[i][j])
            if j + 1 < len(runs[i]):
                nxt = runs[i][j + 1]
                if nxt.tx.max_fee_per_gas >= base_fee:
                    heapq.heappush(heap, (-nxt.effective_tip(base_fee), nxt.arrival, i, j + 1))
        return out

    # -- after a block ------------------------------------------------------------

    def on_new_head(
        self,
        base_fee: int,
        dropped: Iterable[bytes] = (),
        mined: Iterable[bytes] = (),
        touched: Collection[bytes] | None = None,
    ) -> list[PoolTx]:
        """Move to a new head: remove mined, stale and unaffordable transactions.

        `dropped` are hashes the producer found invalid at inclusion, `mined` the new block's.
        Only the senders in `touched` (the accounts the block changed) are read again at the
        new head: no other account's nonce or balance moved. None (after a rewind): all of
        them. Returns removed entries that were not mined (for the caller's metrics).
        """
        removed: list[PoolTx] = []
        with self.lock:
            self.base_fee = base_fee
            for tx_hash in itertools.chain(dropped, mined):
                entry = self._by_hash.get(tx_hash)
                if entry is not None:
                    self._remove(entry)
            for sender in list(self._accounts):
                account = self._accounts[sender]
                if account.txs and (touched is None or sender in touched):
                    account.nonce, account.balance = self._read_account(sender)
                    for nonce in [n for n in account.txs if n < account.nonce]:
                        self._remove(account.txs[nonce])
                    for nonce in sorted(account.txs):
                        entry = account.txs[nonce]
                        if max_cost(entry.tx) > account.balance:
                            removed.append(entry)
                            self._remove(entry)
                if not account.txs:
                    del self._accounts[sender]
        return removed

    def _remove(self, entry: PoolTx) -> None:
        account = self._accounts.get(entry.sender)
        if account is not None and account.txs.get(entry.nonce) is entry:
            del account.txs[entry.nonce]
        self._by_hash.pop(entry.hash, None)


def _bumped(old: SignedTransactionAPI, new: SignedTransactionAPI) -> bool:
    """geth's rule: a replacement raises both the fee cap and the tip by at least 10%."""
    factor = 100 + REPLACEMENT_BUMP_PERCENT
    return (
        new.max_fee_per_gas * 100 >= old.max_fee_per_gas * factor
        and new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * factor
    )


def _price_key(entry: PoolTx) -> tuple[int, int]:
    return entry.tx.max_priority_fee_per_gas, entry.tx.max_fee_per_gas


def _hex(address: bytes) -> str:
    return "0x" + address.hex()
