"""The L1 transaction sender of the batcher and the proposer: `L1Transactor`.

Every way an L1 write goes wrong in production is handled here once, so that a role calls
`send` (or `submit` + `wait`) and gets one final receipt or an error it can act on:
RPC hiccups (retried with backoff; a nonce is never given to two transactions), stuck
transactions (re-signed at the same nonce with both fees bumped by at least 10%), a nonce
taken by another process (resynced, never looped on), transactions a previous run left in
the pool (waited for, cancelled when stuck), reorgs (re-sent until `confirmations` deep on
the canonical chain) and fee spikes (held back at the cap, never overpaid).
Design and defaults: docs/l1-transactions.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, TypeVar

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import (
    BadResponseFormat,
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
    TransactionIndexingInProgress,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import TxReceipt

from l1.bindings import L1Error, L1Reverted, decode_revert, revert_data
from l2.errors import ConfigError

log = logging.getLogger(__name__)

GWEI = 10**9
MIN_FEE_BUMP_PERCENT = 10  # geth's txpool.pricebump: a smaller bump is refused as underpriced
CANCEL_GAS = 21_000

_T = TypeVar("_T")

# Faults of the transport, not answers of the node: the request may or may not have arrived.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # requests' ConnectionError, Timeout and HTTPError (5xx, 429) are OSErrors
    json.JSONDecodeError,
    BadResponseFormat,
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TooManyRequests,
)
# JSON-RPC errors that providers return while overloaded or catching up.
_TRANSIENT_RPC_HINTS = ("timeout", "timed out", "rate limit", "too many requests", "header not found", "try again")


# -- errors ----------------------------------------------------------------------------


class L1Unavailable(L1Error):
    """The L1 RPC did not answer before the deadline; nothing was signed or sent."""


class L1InsufficientFunds(L1Error):
    """The sender cannot pay for the transaction; nothing was sent. Top up the key."""

    def __init__(self, address: str, balance: int, cost: int) -> None:
        super().__init__(f"{address} holds {balance} wei, the transaction may cost {cost} wei")
        self.balance = balance
        self.cost = cost


class L1TxTimeout(L1Error):
    """Not final before the deadline. The transaction is still in flight: `wait(pending)` again, never re-send."""

    def __init__(self, pending: PendingTx, message: str) -> None:
        super().__init__(message)
        self.pending = pending


class L1FeeCapExceeded(L1TxTimeout):
    """Timed out while the market asked more than the configured fee caps allow; nothing was overpaid."""

    def __init__(self, pending: PendingTx, required: int, cap: int) -> None:
        super().__init__(
            pending, f"nonce {pending.nonce}: L1 needs {required} wei/gas, above the cap of {cap} wei/gas; waiting"
        )
        self.required = required
        self.cap = cap


class L1NonceConflict(L1Error):
    """Another process keeps taking this key's nonces: give every role its own key."""


class L1NonceGap(L1Error):
    """A transaction we had settled below this one is gone from L1 (a reorg deeper than the
    confirmation depth, a devnet snapshot revert), so this one can never be mined. It was
    replaced in the pool by a no-op and the gap filled: re-plan from what L1 holds now."""


class L1TxRejected(L1Error):
    """The node refused the transaction for a reason re-sending cannot fix (e.g. intrinsic gas too low)."""


class L1TxReverted(L1Reverted):
    """Mined, confirmed and reverted (its fee was paid); `receipt` is the final receipt."""

    def __init__(self, error: str, args: tuple[Any, ...], receipt: L1Receipt) -> None:
        super().__init__(error, args)
        self.receipt = receipt


# -- configuration, handles, receipts, metrics -----------------------------------------


@dataclass(frozen=True)
class TransactorConfig:
    """How the sender waits, bumps and caps. Defaults suit Ethereum mainnet (12 s slots)."""

    confirmations: int = 10  # blocks on top of the receipt's, its own included (1 = in the head block)
    resubmit_after: float = 48.0  # seconds without a receipt before re-signing with higher fees (4 slots)
    fee_bump_percent: int = MIN_FEE_BUMP_PERCENT  # per re-signing, on both fee fields; at least 10
    max_fee_per_gas: int = 200 * GWEI  # never sign a maxFeePerGas above this
    max_priority_fee_per_gas: int = 10 * GWEI  # never sign a tip above this
    min_priority_fee_per_gas: int = 1 * GWEI  # floor under the node's suggested tip
    poll_interval: float = 1.0  # seconds between passes of `wait`
    receipt_timeout: float = 600.0  # default deadline of `send`/`wait`; the transaction stays in flight after it
    rpc_timeout: float = 10.0  # seconds per request (used by `L1Transactor.connect`)
    rpc_backoff_initial: float = 0.25  # first pause after an RPC fault, doubled per fault in a row
    rpc_backoff_max: float = 10.0
    gas_margin_percent: int = 20  # added on top of eth_estimateGas
    min_balance: int = 10**18  # wei; below it the low-balance alarm is raised
    balance_check_interval: float = 60.0  # seconds between balance reads while polling
    max_nonce_resyncs: int = 5  # nonces taken by others, per transaction, before L1NonceConflict

    def __post_init__(self) -> None:
        if self.fee_bump_percent < MIN_FEE_BUMP_PERCENT:
            raise ConfigError(f"fee_bump_percent must be at least {MIN_FEE_BUMP_PERCENT} (geth refuses smaller bumps)")
        if self.confirmations < 1:
            raise ConfigError("confirmations must be at least 1")
        if not 0 < self.min_priority_fee_per_gas <= self.max_priority_fee_per_gas <= self.max_fee_per_gas:
            raise ConfigError("need 0 < min_priority_fee_per_gas <= max_priority_fee_per_gas <= max_fee_per_gas")
        for name in ("resubmit_after", "poll_interval", "receipt_timeout", "rpc_timeout", "rpc_backoff_initial"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.rpc_backoff_max < self.rpc_backoff_initial:
            raise ConfigError("rpc_backoff_max must be at least rpc_backoff_initial")
        if self.gas_margin_percent < 0 or self.min_balance < 0 or self.max_nonce_resyncs < 0:
            raise ConfigError("gas_margin_percent, min_balance and max_nonce_resyncs must not be negative")


class TxStatus(Enum):
    QUEUED = "queued"  # nonce reserved, not yet accepted by the node
    FEE_CAPPED = "fee_capped"  # nonce reserved, held back: the market asks more than the caps
    PENDING = "pending"  # in the node's pool
    MINED = "mined"  # in a block, not yet `confirmations` deep
    CONFIRMED = "confirmed"  # final, succeeded
    REVERTED = "reverted"  # final, reverted (see `error`)
    FAILED = "failed"  # given up (see `error`)


_FINAL = (TxStatus.CONFIRMED, TxStatus.REVERTED, TxStatus.FAILED)


@dataclass
class Attempt:
    """One signed version of a transaction; re-signings share the nonce and raise the fees."""

    tx_hash: bytes
    raw: bytes
    nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    signed_at: float  # time.monotonic()
    acknowledged: bool = False  # the node said accepted or known; False after a transport fault


@dataclass(frozen=True)
class L1Receipt:
    """The one final receipt: `confirmations` deep and on the canonical chain."""

    tx_hash: bytes
    nonce: int
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int
    effective_gas_price: int
    fee_wei: int
    attempts: int  # signed versions sent for it
    raw: TxReceipt  # web3's receipt, to decode events: `contract.events.X().process_receipt(raw)`

    @classmethod
    def from_web3(cls, r: TxReceipt, nonce: int, attempts: int) -> L1Receipt:
        price = int(r["effectiveGasPrice"])
        return cls(
            tx_hash=bytes(r["transactionHash"]),
            nonce=nonce,
            block_number=int(r["blockNumber"]),
            block_hash=bytes(r["blockHash"]),
            status=int(r["status"]),
            gas_used=int(r["gasUsed"]),
            effective_gas_price=price,
            fee_wei=int(r["gasUsed"]) * price,
            attempts=attempts,
            raw=r,
        )


@dataclass(eq=False)
class PendingTx:
    """A transaction in flight: its nonce, every signed version of it, and where it stands."""

    to: str
    data: bytes
    value: int
    gas: int
    nonce: int
    abi: list[dict] | None = None
    status: TxStatus = TxStatus.QUEUED
    attempts: list[Attempt] = field(default_factory=list)
    receipt: L1Receipt | None = None
    error: L1Error | None = None
    fee_capped: bool = False  # the last (re-)signing was held back by a cap
    required_fee_per_gas: int = 0  # what the market asked when it was
    filler: bool = False  # a no-op that fills a nonce (left by a previous run or a failed send); no caller
    # Bookkeeping of the transactor.
    next_sign_at: float = 0.0  # monotonic time the next (re-)signing is due
    rebroadcast: bool = False  # re-send attempts[-1] as is (after a transport fault or a reorg)
    floor: tuple[int, int] = (0, 0)  # fees a replacement must beat (refused as underpriced)
    resyncs: int = 0
    nonce_gone_at: float = 0.0  # monotonic time the chain was seen past our nonce without a receipt of ours
    gap_seen_at: float = 0.0  # monotonic time the chain was first seen below our nonce with nothing of ours between
    releases: list[PendingTx] = field(default_factory=list, repr=False)  # fillers held until this one is in the pool
    mined: TxReceipt | None = field(default=None, repr=False)

    @property
    def tx_hashes(self) -> list[bytes]:
        return [a.tx_hash for a in self.attempts]

    @property
    def done(self) -> bool:
        return self.status in _FINAL

    def current(self) -> list[Attempt]:
        """The attempts at the current nonce (a resync moves the transaction to a new one)."""
        return [a for a in self.attempts if a.nonce == self.nonce]


@dataclass
class TransactorStats:
    """Counters and gauges for the role's metrics (no prometheus here); a copy from `L1Transactor.stats()`."""

    submitted_total: int = 0
    confirmed_total: int = 0
    reverted_total: int = 0
    failed_total: int = 0
    resubmissions_total: int = 0  # re-signings with higher fees accepted by the node
    nonce_too_low_total: int = 0
    nonce_resyncs_total: int = 0  # a nonce taken by someone else: moved to a fresh one
    reorgs_total: int = 0  # a receipt seen, then gone from the canonical chain
    rpc_errors_total: int = 0
    fee_cap_holds_total: int = 0  # signings held back because the market asked more than the caps
    cancellations_total: int = 0  # no-ops confirmed to fill a nonce
    fees_paid_wei_total: int = 0  # gasUsed * effectiveGasPrice of every final receipt, cancellations included
    inherited_total: int = 0  # transactions of this key found in the pool at start (a previous run's)
    next_nonce: int = -1
    last_confirmed_nonce: int = -1
    in_flight: int = 0
    fee_capped: bool = False
    base_fee_wei: int = 0  # of the next block, last seen
    balance_wei: int = -1
    balance_low: bool = False


# -- helpers ---------------------------------------------------------------------------


def _bump(value: int, percent: int) -> int:
    """`value` raised by at least `percent` percent (rounded up) and by at least 1 wei."""
    return max(value + 1, value + -(-value * percent // 100))


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return exc.message if isinstance(exc.message, str) else str(exc)


def _is_transient(exc: BaseException) -> bool:
    """True for faults worth retrying: transport errors and the overload answers of providers."""
    if isinstance(exc, _TRANSPORT_ERRORS):
        return True
    if isinstance(exc, Web3RPCError):
        message = _rpc_message(exc).lower()
        return any(hint in message for hint in _TRANSIENT_RPC_HINTS)
    return False


# -- the sender ------------------------------------------------------------------------


class L1Transactor:
    """Signs locally, sends, bumps, confirms; one key, any number of transactions in flight.

    Thread-safe. `submit` reserves the next nonce and broadcasts; `poll` advances everything in
    flight one step; `wait` polls until one transaction is final; `send` is submit + wait.
    """

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        config: TransactorConfig = TransactorConfig(),
        on_low_balance: Callable[[int], None] | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.address = to_checksum_address(account.address)
        self.config = config
        self.on_low_balance = on_low_balance
        self._lock = threading.RLock()
        self._chain_id: int | None = None
        self._next_nonce: int | None = None
        self._inflight: list[PendingTx] = []
        self._stats = TransactorStats()
        self._backoff = 0.0
        self._balance_due_at = 0.0
        self._head_cache: int | None = None

    @classmethod
    def connect(
        cls,
        url: str,
        account: LocalAccount,
        config: TransactorConfig = TransactorConfig(),
        on_low_balance: Callable[[int], None] | None = None,
    ) -> L1Transactor:
        """A transactor on its own HTTP client: `rpc_timeout` per request, web3's own retries off (ours decide)."""
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": config.rpc_timeout}, exception_retry_configuration=None
        )
        return cls(Web3(provider), account, config, on_low_balance)

    # -- public API --------------------------------------------------------------------

    def send(
        self,
        to: str | bytes,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        abi: list[dict] | None = None,
        timeout: float | None = None,
    ) -> L1Receipt:
        """Send and wait for the final receipt; raises L1TxReverted, L1TxTimeout (still in flight), L1Error."""
        deadline = time.monotonic() + (self.config.receipt_timeout if timeout is None else timeout)
        pending = self.submit(to, data, value, gas, abi, timeout=deadline - time.monotonic())
        return self.wait(pending, timeout=max(0.0, deadline - time.monotonic()))

    def submit(
        self,
        to: str | bytes,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        abi: list[dict] | None = None,
        timeout: float | None = None,
    ) -> PendingTx:
        """Reserve the next nonce, sign and broadcast; returns at once with the handle to `wait` on.

        Raises before reserving a nonce, so nothing is in flight: L1Reverted (the gas estimate
        reverts, decoded with `abi`), L1InsufficientFunds, L1Unavailable (RPC down until `timeout`).
        """
        deadline = time.monotonic() + (self.config.receipt_timeout if timeout is None else timeout)
        to = to_checksum_address(to)
        data = bytes(data)
        self._until(deadline, self._sync)
        if gas is None:
            gas = self._until(deadline, lambda: self._estimate_gas(to, data, value, abi))
        base_fee, tip = self._until(deadline, self._market_fees)
        balance = self._until(deadline, self.refresh_balance)
        cost = gas * min(self.config.max_fee_per_gas, 2 * base_fee + tip) + value
        if balance < cost:
            raise L1InsufficientFunds(self.address, balance, cost)
        with self._lock:
            assert self._next_nonce is not None
            pending = PendingTx(to=to, data=data, value=value, gas=gas, nonce=self._next_nonce, abi=abi)
            self._next_nonce += 1
            self._inflight.append(pending)
            self._stats.submitted_total += 1
            log.info("L1 tx nonce %d to %s (%d bytes, gas %d) submitted", pending.nonce, to, len(data), gas)
            self._guarded(lambda: self._advance(pending, time.monotonic()))
        return pending

    def wait(self, pending: PendingTx, timeout: float | None = None) -> L1Receipt:
        """Poll until `pending` is final: its receipt, or L1TxReverted / L1Error; L1TxTimeout keeps it in flight."""
        deadline = time.monotonic() + (self.config.receipt_timeout if timeout is None else timeout)
        while True:
            if not pending.done:
                self.poll()
            if pending.status is TxStatus.CONFIRMED:
                assert pending.receipt is not None
                return pending.receipt
            if pending.done:
                assert pending.error is not None
                raise pending.error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout(pending)
            time.sleep(min(remaining, max(self.config.poll_interval, self._backoff)))

    def poll(self) -> None:
        """Advance every transaction in flight one step. RPC faults are counted and backed off, never raised."""
        with self._lock:
            self._guarded(self._pass)

    def refresh_balance(self) -> int:
        """Read the balance, update the gauges, and fire the alarm when it drops below `min_balance`."""
        with self._lock:
            balance = int(self.w3.eth.get_balance(self.address))
            self._balance_due_at = time.monotonic() + self.config.balance_check_interval
            was_low = self._stats.balance_low
            low = balance < self.config.min_balance
            self._stats.balance_wei, self._stats.balance_low = balance, low
            if low and not was_low:
                log.error(
                    "L1 BALANCE LOW: %s holds %d wei, below the alarm threshold of %d wei; top it up",
                    self.address, balance, self.config.min_balance,
                )
                if self.on_low_balance is not None:
                    try:
                        self.on_low_balance(balance)
                    except Exception:  # a metrics hook must never stop L1 writes
                        log.exception("on_low_balance callback failed")
            elif was_low and not low:
                log.info("L1 balance of %s back to %d wei", self.address, balance)
            return balance

    def stats(self) -> TransactorStats:
        """A copy of the counters and gauges."""
        with self._lock:
            return replace(
                self._stats,
                next_nonce=-1 if self._next_nonce is None else self._next_nonce,
                in_flight=len(self._inflight),
                fee_capped=any(p.fee_capped for p in self._inflight),
            )

    def resync(self) -> None:
        """Forget the local nonce (nothing may be in flight): the next send reads it from the chain.

        For callers that saw L1 lose history they had settled (a reorg deeper than their
        confirmation depth, a devnet snapshot revert): the local nonce is ahead of the chain.
        """
        with self._lock:
            if self._inflight:
                raise L1Error("cannot resync the nonce with transactions in flight")
            self._next_nonce = None

    def in_flight(self) -> list[PendingTx]:
        """The transactions not final yet, lowest nonce first (fillers included)."""
        with self._lock:
            return sorted(self._inflight, key=lambda p: p.nonce)

    # -- RPC fault handling ------------------------------------------------------------

    def _until(self, deadline: float, fn: Callable[[], _T]) -> _T:
        """`fn()` retried with backoff on transient faults until `deadline`, then L1Unavailable."""
        while True:
            try:
                with self._lock:
                    result = fn()
            except Web3Exception as exc:
                if not _is_transient(exc):
                    message = _rpc_message(exc) if isinstance(exc, Web3RPCError) else str(exc)
                    raise L1Error(f"L1 RPC refused: {message}") from exc
                self._rpc_failed(exc)
            except _TRANSPORT_ERRORS as exc:
                self._rpc_failed(exc)
            else:
                self._backoff = 0.0
                return result
            if time.monotonic() + self._backoff > deadline:
                raise L1Unavailable(f"L1 RPC unavailable ({self._stats.rpc_errors_total} faults so far)")
            time.sleep(self._backoff)

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (*_TRANSPORT_ERRORS, Web3Exception) as exc:
            self._rpc_failed(exc)
        else:
            self._backoff = 0.0

    def _rpc_failed(self, exc: BaseException) -> None:
        self._stats.rpc_errors_total += 1
        self._backoff = min(self.config.rpc_backoff_max, max(self.config.rpc_backoff_initial, 2 * self._backoff))
        log.warning("L1 RPC fault (retrying in %.2fs): %s: %s", self._backoff, type(exc).__name__, exc)

    # -- chain reads -------------------------------------------------------------------

    def _sync(self) -> None:
        """Once: chain id and nonces from the chain; a previous run's pool transactions become fillers."""
        if self._next_nonce is not None:
            return
        chain_id = int(self.w3.eth.chain_id)
        latest = int(self.w3.eth.get_transaction_count(self.address, "latest"))
        pending = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        due = time.monotonic() + self.config.resubmit_after
        for nonce in range(latest, pending):
            self._inflight.append(self._filler(nonce, due))
        self._chain_id, self._next_nonce = chain_id, pending
        self._stats.inherited_total = pending - latest
        if pending > latest:
            log.warning(
                "%s has %d transaction(s) in the pool from before (nonces %d..%d): waiting for them, "
                "cancelling them if still stuck after %.0fs", self.address, pending - latest, latest, pending - 1,
                self.config.resubmit_after,
            )
        log.info("L1 transactor for %s on chain %d starts at nonce %d", self.address, chain_id, pending)

    def _filler(self, nonce: int, due: float) -> PendingTx:
        return PendingTx(
            to=self.address, data=b"", value=0, gas=CANCEL_GAS, nonce=nonce, status=TxStatus.PENDING,
            filler=True, next_sign_at=due,
        )

    def _estimate_gas(self, to: str, data: bytes, value: int, abi: list[dict] | None) -> int:
        try:
            estimate = int(self.w3.eth.estimate_gas({"from": self.address, "to": to, "data": data, "value": value}))
        except ContractLogicError as exc:
            raise decode_revert(abi or [], revert_data(exc)) from None
        return estimate + estimate * self.config.gas_margin_percent // 100

    def _market_fees(self) -> tuple[int, int]:
        """(base fee of the next block, tip clamped to the configured range)."""
        history = self.w3.eth.fee_history(1, "latest")
        base_fee = int(history["baseFeePerGas"][-1])
        tip = int(self.w3.eth.max_priority_fee)
        tip = max(self.config.min_priority_fee_per_gas, min(tip, self.config.max_priority_fee_per_gas))
        self._stats.base_fee_wei = base_fee
        return base_fee, tip

    def _receipt(self, tx_hash: bytes) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except (TransactionNotFound, TransactionIndexingInProgress):
            return None

    def _find_receipt(self, p: PendingTx) -> TxReceipt | None:
        """A receipt of any version of `p`: whichever got mined settles it."""
        for attempt in reversed(p.attempts):
            receipt = self._receipt(attempt.tx_hash)
            if receipt is not None:
                return receipt
        return None

    def _head(self) -> int:
        if self._head_cache is None:
            self._head_cache = int(self.w3.eth.block_number)
        return self._head_cache

    # -- the state machine -------------------------------------------------------------

    def _pass(self) -> None:
        self._sync()
        self._head_cache = None
        now = time.monotonic()
        for p in sorted(self._inflight, key=lambda p: p.nonce):
            if p in self._inflight:  # an earlier step of this pass may have settled it
                self._advance(p, now)
        if now >= self._balance_due_at:
            self.refresh_balance()

    def _advance(self, p: PendingTx, now: float) -> None:
        if p.status is TxStatus.MINED:
            self._check_mined(p)
            return
        receipt = self._find_receipt(p)
        if receipt is not None:
            self._on_mined(p, receipt)
            return
        if p.filler and int(self.w3.eth.get_transaction_count(self.address, "latest")) > p.nonce:
            log.info("nonce %d was used by a transaction from before; nothing to cancel", p.nonce)
            self._inflight.remove(p)
            p.status = TxStatus.CONFIRMED
            return
        if p.nonce_gone_at:
            if now - p.nonce_gone_at < self.config.resubmit_after:
                return
            log.warning("no receipt of ours for nonce %d %.0fs after the chain used it", p.nonce, now - p.nonce_gone_at)
            self._resync(p)
            return
        if p.rebroadcast and p.attempts:
            self._broadcast(p, p.attempts[-1], new=False)
        elif now >= p.next_sign_at:
            if not p.filler and p.current() and self._nonce_gap(p, now):
                return
            fees = self._plan_fees(p)
            if fees is None:
                if not any(a.acknowledged for a in p.current()):
                    p.status = TxStatus.FEE_CAPPED
                return
            self._broadcast(p, self._sign(p, *fees), new=True)

    def _nonce_gap(self, p: PendingTx, now: float) -> bool:
        """Whether `p` waits on a nonce gap, and if so, give it up safely.

        A transaction we had settled below `p` is gone from the chain (a reorg deeper than
        `confirmations`, a devnet snapshot revert) and nothing of ours is in flight between: `p`
        can never be mined. Seen twice, `resubmit_after` apart (a lagging replica is not a gap),
        `p` and every later transaction of ours fail with L1NonceGap (they were planned on what L1
        lost; their callers re-plan). Each is replaced in the pool by a no-op at a bumped fee, and
        only once such a replacement is in the pool are the missing nonces filled: filled first,
        the stale version would be mined the moment its nonce became next.
        """
        latest = int(self.w3.eth.get_transaction_count(self.address, "latest"))
        if latest >= p.nonce or any(latest <= q.nonce < p.nonce for q in self._inflight):
            p.gap_seen_at = 0.0
            return False
        if not p.gap_seen_at:
            p.gap_seen_at = now
            p.next_sign_at = now + self.config.resubmit_after
            return True
        if now - p.gap_seen_at < self.config.resubmit_after:
            return True
        log.error(
            "L1 lost our transaction(s) at nonce %d..%d (a reorg deeper than %d confirmation(s)): nonce %d and "
            "later can never be mined; replacing them with no-ops, then filling the gap", latest, p.nonce - 1,
            self.config.confirmations, p.nonce,
        )
        gap = [self._filler(nonce, float("inf")) for nonce in range(latest, p.nonce)]
        stale = sorted((q for q in self._inflight if not q.filler and q.nonce >= p.nonce), key=lambda q: q.nonce)
        for i, q in enumerate(stale):
            versions = q.current()
            self._fail(q, L1NonceGap(f"nonce {q.nonce}: L1 lost our nonces {latest}..{p.nonce - 1}"), nonce_used=True)
            replacement = self._filler(q.nonce, 0.0)
            if versions:
                replacement.floor = (max(a.max_fee_per_gas for a in versions),
                                     max(a.max_priority_fee_per_gas for a in versions))
            if i == 0:
                replacement.releases = gap
            self._inflight.append(replacement)
        self._inflight.extend(gap)
        return True

    def _plan_fees(self, p: PendingTx) -> tuple[int, int] | None:
        """(maxFeePerGas, maxPriorityFeePerGas) of the next signing, or None while the caps forbid it."""
        cfg = self.config
        base_fee, tip = self._market_fees()
        previous = [(a.max_fee_per_gas, a.max_priority_fee_per_gas) for a in p.current()]
        if p.floor != (0, 0):
            previous.append(p.floor)
        min_max_fee = 0
        if previous:  # a replacement: both fields at least fee_bump_percent above every earlier version
            tip = max(tip, _bump(max(t for _, t in previous), cfg.fee_bump_percent))
            min_max_fee = _bump(max(f for f, _ in previous), cfg.fee_bump_percent)
        required = max(base_fee + tip, min_max_fee)
        if tip > cfg.max_priority_fee_per_gas or required > cfg.max_fee_per_gas:
            if not p.fee_capped:
                log.warning(
                    "L1 fees above the cap: nonce %d needs %d wei/gas (tip %d), cap %d (tip cap %d); holding back",
                    p.nonce, required, tip, cfg.max_fee_per_gas, cfg.max_priority_fee_per_gas,
                )
                self._stats.fee_cap_holds_total += 1
            p.fee_capped, p.required_fee_per_gas = True, required
            return None
        p.fee_capped = False
        return min(cfg.max_fee_per_gas, max(2 * base_fee + tip, min_max_fee)), tip

    def _sign(self, p: PendingTx, max_fee: int, tip: int) -> Attempt:
        signed = self.account.sign_transaction(
            {
                "type": 2,
                "chainId": self._chain_id,
                "nonce": p.nonce,
                "to": p.to,
                "value": p.value,
                "data": p.data,
                "gas": p.gas,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
            }
        )
        return Attempt(bytes(signed.hash), bytes(signed.raw_transaction), p.nonce, max_fee, tip, time.monotonic())

    def _broadcast(self, p: PendingTx, attempt: Attempt, new: bool) -> None:
        """Send one version. Tracked before the call: after a transport fault it may be in the pool."""
        if new:
            p.attempts.append(attempt)
            p.next_sign_at = time.monotonic() + self.config.resubmit_after  # refusals below may bring it forward
        p.rebroadcast = True  # cleared once the node answers
        try:
            self.w3.eth.send_raw_transaction(attempt.raw)
        except Web3RPCError as exc:
            if _is_transient(exc):
                raise
            p.rebroadcast = False
            self._on_refused(p, attempt, new, _rpc_message(exc))
            return
        p.rebroadcast = False
        self._on_accepted(p, attempt, new)

    def _on_accepted(self, p: PendingTx, attempt: Attempt, new: bool) -> None:
        if new:
            if any(a.acknowledged for a in p.current() if a is not attempt):
                self._stats.resubmissions_total += 1
                log.warning(
                    "L1 tx nonce %d not mined after %.0fs: re-signed with maxFee %d, tip %d (version %d)",
                    p.nonce, self.config.resubmit_after, attempt.max_fee_per_gas, attempt.max_priority_fee_per_gas,
                    len(p.current()),
                )
        attempt.acknowledged = True
        p.status = TxStatus.PENDING
        for held in p.releases:  # the stale version is replaced in the pool: the gap may be filled now
            held.next_sign_at = 0.0
        p.releases = []

    def _on_refused(self, p: PendingTx, attempt: Attempt, new: bool, message: str) -> None:
        text = message.lower()
        if "already known" in text or "already imported" in text or "known transaction" in text:
            self._on_accepted(p, attempt, new)
            return
        if new:  # refused, so never in any pool: stop tracking it
            p.attempts.remove(attempt)
        if "nonce too low" in text or "nonce is too low" in text:
            self._on_nonce_too_low(p)
        elif "underpriced" in text and ("replace" in text or "replacement" in text):
            # The pool holds a version we do not know the fees of (a previous run's, another process's).
            p.floor = (max(p.floor[0], attempt.max_fee_per_gas), max(p.floor[1], attempt.max_priority_fee_per_gas))
            p.next_sign_at = 0.0
        elif "underpriced" in text or "base fee" in text or "fee cap" in text:
            p.next_sign_at = 0.0  # the base fee moved since we read it: sign again with fresh fees
        elif "insufficient funds" in text:
            log.error("L1 tx nonce %d: %s; retrying in %.0fs", p.nonce, message, self.config.resubmit_after)
            p.next_sign_at = time.monotonic() + self.config.resubmit_after
            self.refresh_balance()
        elif any(a.acknowledged for a in p.current()):
            log.error("L1 tx nonce %d: a re-signing was refused (%s); the earlier version stays", p.nonce, message)
            p.next_sign_at = time.monotonic() + self.config.resubmit_after
        else:
            self._fail(p, L1TxRejected(f"L1 refused the transaction with nonce {p.nonce}: {message}"))

    def _on_nonce_too_low(self, p: PendingTx) -> None:
        """Ours got mined (settled), or someone else used the nonce (move to a fresh one, a bounded number of times)."""
        self._stats.nonce_too_low_total += 1
        receipt = self._find_receipt(p)
        if receipt is not None:
            self._on_mined(p, receipt)
            return
        latest = int(self.w3.eth.get_transaction_count(self.address, "latest"))
        if latest <= p.nonce:  # a lagging replica behind a load balancer: ask again next pass
            p.next_sign_at = 0.0
            return
        if p.filler:
            self._inflight.remove(p)
            p.status = TxStatus.CONFIRMED
            return
        if p.current():
            # A version of ours may be what got mined, its receipt not indexed yet (a lagging replica):
            # look for it a while longer before concluding the nonce went to someone else.
            p.nonce_gone_at = p.nonce_gone_at or time.monotonic()
            return
        self._resync(p)

    def _resync(self, p: PendingTx) -> None:
        """Someone else used `p`'s nonce: move `p` to a fresh one, at most `max_nonce_resyncs` times."""
        pending = int(self.w3.eth.get_transaction_count(self.address, "pending"))  # RPC before any change
        assert self._next_nonce is not None
        p.nonce_gone_at = 0.0
        p.resyncs += 1
        if p.resyncs > self.config.max_nonce_resyncs:
            conflict = L1NonceConflict(
                f"{self.address}: {p.resyncs} nonces taken by other transactions; is another process using this key?"
            )
            self._fail(p, conflict, nonce_used=True)
            return
        old = p.nonce
        p.nonce = max(self._next_nonce, pending)
        self._next_nonce = p.nonce + 1
        p.floor, p.rebroadcast, p.next_sign_at, p.status = (0, 0), False, 0.0, TxStatus.QUEUED
        self._stats.nonce_resyncs_total += 1
        log.warning(
            "nonce %d of %s was used by a transaction that is not ours (another process with this key?): "
            "moving to nonce %d", old, self.address, p.nonce,
        )

    def _on_mined(self, p: PendingTx, receipt: TxReceipt) -> None:
        p.mined, p.status, p.rebroadcast, p.nonce_gone_at = receipt, TxStatus.MINED, False, 0.0
        self._check_mined(p)

    def _check_mined(self, p: PendingTx) -> None:
        """Final once `confirmations` deep with the same block hash at its height; back to the pool if reorged."""
        assert p.mined is not None
        receipt = self._receipt(p.mined["transactionHash"])
        if receipt is None:
            self._on_reorged(p)
            return
        if receipt["blockHash"] != p.mined["blockHash"]:
            self._stats.reorgs_total += 1
            log.warning(
                "L1 reorg: tx 0x%s (nonce %d) moved from block %d to block %d",
                bytes(receipt["transactionHash"]).hex(), p.nonce, int(p.mined["blockNumber"]),
                int(receipt["blockNumber"]),
            )
        p.mined = receipt
        number = int(receipt["blockNumber"])
        if self._head() < number + self.config.confirmations - 1:
            return
        if not self._canonical(receipt):
            self._on_reorged(p)
            return
        self._finalize(p, receipt)

    def _canonical(self, receipt: TxReceipt) -> bool:
        block = self.w3.eth.get_block(int(receipt["blockNumber"]))
        return bytes(block["hash"]) == bytes(receipt["blockHash"])

    def _on_reorged(self, p: PendingTx) -> None:
        assert p.mined is not None
        self._stats.reorgs_total += 1
        log.warning(
            "L1 reorg: tx 0x%s (nonce %d) left block %d; re-sending it",
            bytes(p.mined["transactionHash"]).hex(), p.nonce, int(p.mined["blockNumber"]),
        )
        p.mined, p.status = None, TxStatus.PENDING
        p.rebroadcast = bool(p.attempts)
        p.next_sign_at = time.monotonic() + self.config.resubmit_after

    def _finalize(self, p: PendingTx, r: TxReceipt) -> None:
        nonce = next((a.nonce for a in p.attempts if a.tx_hash == bytes(r["transactionHash"])), p.nonce)
        receipt = L1Receipt.from_web3(r, nonce, len(p.attempts))
        error = self._revert_error(p, receipt) if receipt.status != 1 else None  # RPC first: may fault
        self._inflight.remove(p)
        p.receipt, p.mined = receipt, None
        self._stats.fees_paid_wei_total += receipt.fee_wei
        self._stats.last_confirmed_nonce = max(self._stats.last_confirmed_nonce, p.nonce)
        self._balance_due_at = 0.0
        if p.filler:
            p.status = TxStatus.CONFIRMED
            self._stats.cancellations_total += 1
            log.info("nonce %d filled by a no-op (tx 0x%s)", p.nonce, receipt.tx_hash.hex())
        elif error is not None:
            p.status, p.error = TxStatus.REVERTED, error
            self._stats.reverted_total += 1
            log.error("L1 tx 0x%s (nonce %d) reverted: %s", receipt.tx_hash.hex(), p.nonce, error)
        else:
            p.status = TxStatus.CONFIRMED
            self._stats.confirmed_total += 1
            log.info(
                "L1 tx 0x%s (nonce %d) final in block %d after %d version(s); fee %d wei",
                receipt.tx_hash.hex(), p.nonce, receipt.block_number, receipt.attempts, receipt.fee_wei,
            )

    def _revert_error(self, p: PendingTx, receipt: L1Receipt) -> L1TxReverted:
        """The revert reason, by replaying the call on the state of the receipt's block."""
        call = {"from": self.address, "to": p.to, "data": p.data, "value": p.value, "gas": p.gas}
        try:
            self.w3.eth.call(call, block_identifier=receipt.block_hash)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            decoded = decode_revert(p.abi or [], revert_data(exc))
            return L1TxReverted(decoded.error, decoded.args_, receipt)
        reason = f"(no reason: the call succeeds when replayed on block {receipt.block_number})"
        return L1TxReverted(reason, (), receipt)

    def _fail(self, p: PendingTx, error: L1Error, nonce_used: bool = False) -> None:
        """Give up on `p` without leaving a hole in the nonces: release the last one, fill any other."""
        assert self._next_nonce is not None
        self._inflight.remove(p)
        p.status, p.error = TxStatus.FAILED, error
        self._stats.failed_total += 1
        log.error("L1 tx nonce %d failed: %s", p.nonce, error)
        if nonce_used or p.filler:  # a filler the node refuses cannot be helped by another filler
            return
        if p.nonce == self._next_nonce - 1:
            self._next_nonce -= 1
        else:
            self._inflight.append(self._filler(p.nonce, 0.0))

    def _timeout(self, p: PendingTx) -> L1TxTimeout:
        if p.fee_capped:
            return L1FeeCapExceeded(p, p.required_fee_per_gas, self.config.max_fee_per_gas)
        state = f"{p.status.value}, {len(p.attempts)} version(s)"
        return L1TxTimeout(p, f"L1 tx nonce {p.nonce} not final in time ({state}); still in flight")
