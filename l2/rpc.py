"""The Ethereum JSON-RPC of every L2 node: dispatcher, batches, errors (as geth returns them),
parameter parsing, and the read methods over an `L2Chain`.

One method table serves the sequencer and every verifier (one conformance suite runs against
both). A role adds what only it has with `register`: the sequencer plugs in
`eth_sendRawTransaction` and its pool's view of pending nonces and transactions; a node
without a write method answers it with a clear error. `JsonRpc.handle` takes a request body
and returns the response body; the HTTP server only moves bytes. Cheap reads run on the
event loop; calls that execute EVM code or scan many blocks run in a reader thread pool.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import rlp
from eth.abc import BlockHeaderAPI, ComputationAPI, SignedTransactionAPI, StateAPI
from eth.db.chain import ChainDB
from eth.exceptions import Revert
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_bloom import BloomFilter
from eth_hash.auto import keccak
from eth_typing import Address
from eth_utils import ValidationError
from trie import HexaryTrie

import l2  # noqa: F401
from l2 import ethjson
from l2.chain import L2Chain
from l2.errors import InvalidTransaction, UnknownBlock
from l2.ethjson import qty
from l2.execution import L2VM
from l2.store import ReadOnlyStateDB, read_view
from l2.types import Head

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
FEE_HISTORY_MAX_BLOCKS = 1024
# Methods that change something: served only by the role that registers them.
WRITE_METHODS = {"eth_sendRawTransaction": "send transactions to the sequencer"}

# geth's wording for each l2 rule (clients match on these prefixes).
GETH_MESSAGES = {
    "tx_type": "transaction type not supported",
    "oversize": "oversized data",
    "chain_id": "invalid chain id for signer",
    "signature": "invalid sender",
    "intrinsic_gas": "intrinsic gas too low",
    "gas_limit": "exceeds block gas limit",
    "fee_cap": "max fee per gas less than block base fee",
    "nonce_too_low": "nonce too low",
    "nonce_too_high": "nonce too high",
    "insufficient_funds": "insufficient funds for gas * price + value",
    "sender_has_code": "sender not an eoa",
}


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(-32602, message)


def tx_error(exc: InvalidTransaction) -> RpcError:
    """-32000 with geth's message for a rejected transaction."""
    prefix = GETH_MESSAGES.get(exc.rule)
    message = exc.message
    if exc.rule == "fee_cap" and "priority" in message:
        prefix = "max priority fee per gas higher than max fee per gas"
    if prefix and not message.startswith(prefix):
        message = f"{prefix}: {message}"
    return RpcError(-32000, message)


# -- parameter parsing ------------------------------------------------------------------


def _hexstr(value: Any, what: str) -> str:
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise InvalidParams(f"invalid argument: {what} must be a 0x-prefixed hex string")
    return value[2:]


def p_quantity(value: Any, what: str = "quantity") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value  # geth is strict; web3 and cast always send hex, but lenient here costs nothing
    digits = _hexstr(value, what)
    if not digits or len(digits) > 64:
        raise InvalidParams(f"invalid argument: {what} is not a hex quantity")
    try:
        return int(digits, 16)
    except ValueError:
        raise InvalidParams(f"invalid argument: {what} is not a hex quantity") from None


def p_bytes(value: Any, what: str = "data", length: int | None = None) -> bytes:
    digits = _hexstr(value, what)
    try:
        out = bytes.fromhex(digits)
    except ValueError:
        raise InvalidParams(f"invalid argument: {what} is not valid hex") from None
    if length is not None and len(out) != length:
        raise InvalidParams(f"invalid argument: {what} must be {length} bytes")
    return out


def p_address(value: Any, what: str = "address") -> Address:
    return Address(p_bytes(value, what, 20))


def p_hash(value: Any, what: str = "hash") -> bytes:
    return p_bytes(value, what, 32)


def p_slot(value: Any) -> int:
    raw = p_bytes(value if isinstance(value, str) and len(value) % 2 == 0 else _even(value), "storage key")
    if len(raw) > 32:
        raise InvalidParams("invalid argument: storage key longer than 32 bytes")
    return int.from_bytes(raw, "big")


def _even(value: Any) -> str:
    digits = _hexstr(value, "storage key")
    return "0x0" + digits


def p_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"invalid argument: {what} must be a boolean")
    return value


def arguments(params: list[Any], count: int, required: int) -> list[Any]:
    """`params` padded with None to `count`; -32602 unless it holds `required` to `count` values."""
    if len(params) < required:
        raise InvalidParams(f"missing value for required argument {len(params)}")
    if len(params) > count:
        raise InvalidParams(f"too many arguments, want at most {count}")
    return list(params) + [None] * (count - len(params))


# -- what a role plugs in ---------------------------------------------------------------

Method = Callable[[list[Any]], Any]  # params -> result (or an awaitable of it)


@dataclass(frozen=True)
class Staged:
    """A method in two steps, for work that is stateless and worth doing in bulk.

    `prepare` gets the params of every call of the method in one request (a whole batch) and
    returns one value per call, e.g. decoded transactions with their senders recovered in
    worker processes. `apply(params, prepared)` then runs each call in request order; it gets
    the prepared value, or the exception `prepare` raised. Requests keep geth's sequential
    semantics: only work without visible effects moves ahead.
    """

    prepare: Callable[[list[list[Any]]], Awaitable[list[Any]]]
    apply: Callable[[list[Any], Any], Any]


class PendingView(Protocol):
    """What a node with a transaction pool adds to the reads (the sequencer's mempool)."""

    def next_nonce(self, sender: bytes) -> int | None: ...

    def pending_transaction(self, tx_hash: bytes) -> SignedTransactionAPI | None: ...


Observer = Callable[[str, str, float], None]  # (method or "unknown", outcome ok/error/invalid, seconds)


@dataclass(frozen=True)
class RpcSettings:
    """The limits and answers of one node's JSON-RPC (each role maps its config onto these)."""

    client_version: str = "pyrollup/v0.1.0/python"
    max_batch: int = 1_000  # requests in one batch
    logs_max_blocks: int = 10_000  # widest eth_getLogs block range
    gas_cap: int = 50_000_000  # gas limit of eth_call / eth_estimateGas
    suggested_tip_wei: int = 1_000_000  # eth_maxPriorityFeePerGas
    reader_threads: int = 4
    filter_timeout_seconds: float = 300.0  # a filter not polled this long is dropped (geth's deadline)
    max_filters: int = 10_000  # live filters of all clients (l2.filters)


_UNPREPARED = object()


# -- the API ----------------------------------------------------------------------------


class JsonRpc:
    """Method table and dispatcher; `handle(body)` never raises on client input.

    Without `register` it is a read-only node: every read method, and a clear error for the
    write methods.
    """

    def __init__(
        self,
        chain: L2Chain,
        settings: RpcSettings = RpcSettings(),
        pending: PendingView | None = None,
        observe: Observer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chain = chain
        self.spec = chain.spec
        self.settings = settings
        self.pending = pending
        self.observe = observe
        self.readers = ThreadPoolExecutor(max_workers=settings.reader_threads, thread_name_prefix="rpc-reader")
        self.inline: dict[str, Method] = {
            "web3_clientVersion": lambda p: settings.client_version,
            "web3_sha3": lambda p: ethjson.data(keccak(p_bytes(arguments(p, 1, 1)[0]))),
            "net_version": lambda p: str(self.spec.chain_id),
            "net_listening": lambda p: True,
            "net_peerCount": lambda p: "0x0",
            "eth_chainId": lambda p: qty(self.spec.chain_id),
            "eth_syncing": lambda p: False,
            "eth_accounts": lambda p: [],
            "eth_mining": lambda p: False,
            "eth_hashrate": lambda p: "0x0",
            "eth_blockNumber": lambda p: qty(self.chain.head(Head.UNSAFE).block_number),
            "eth_gasPrice": self.gas_price,
            "eth_maxPriorityFeePerGas": lambda p: qty(settings.suggested_tip_wei),
            "eth_blobBaseFee": lambda p: "0x1",
            "eth_getBalance": self.get_balance,
            "eth_getTransactionCount": self.get_transaction_count,
            "eth_getCode": self.get_code,
            "eth_getStorageAt": self.get_storage_at,
            "eth_getTransactionByHash": self.get_transaction_by_hash,
            "eth_getTransactionReceipt": self.get_transaction_receipt,
            "eth_getBlockByNumber": self.get_block_by_number,
            "eth_getBlockByHash": self.get_block_by_hash,
            "eth_getBlockTransactionCountByNumber": self.block_tx_count_by_number,
            "eth_getBlockTransactionCountByHash": self.block_tx_count_by_hash,
            "eth_getTransactionByBlockNumberAndIndex": self.tx_by_number_and_index,
            "eth_getTransactionByBlockHashAndIndex": self.tx_by_hash_and_index,
            "eth_getUncleCountByBlockNumber": lambda p: "0x0",
            "eth_getUncleCountByBlockHash": lambda p: "0x0",
            "rollup_getHeads": self.rollup_get_heads,
            "rollup_syncStatus": self.rollup_get_heads,
        }
        self.threaded: dict[str, Method] = {
            "eth_call": self.call,
            "eth_estimateGas": self.estimate_gas,
            "eth_feeHistory": self.fee_history,
            "eth_getBlockReceipts": self.get_block_receipts,
            "eth_getLogs": self.get_logs,
            "eth_getProof": self.get_proof,
        }
        self.staged: dict[str, Staged] = {}
        # Every method name this node answers, plus the write methods: the bounded metric labels.
        self.methods = frozenset({*self.inline, *self.threaded, *WRITE_METHODS})
        from l2.filters import FilterRegistry  # here: l2.filters builds on this module

        self.filters = FilterRegistry(self, settings.filter_timeout_seconds, settings.max_filters, clock)
        for name, method, threaded in self.filters.methods():
            self.register(name, method, threaded)

    def register(self, name: str, method: Method | Staged, threaded: bool = False) -> None:
        """Add or replace a method: inline on the loop, in the reader pool, or staged."""
        for table in (self.inline, self.threaded, self.staged):
            table.pop(name, None)
        if isinstance(method, Staged):
            self.staged[name] = method
        elif threaded:
            self.threaded[name] = method
        else:
            self.inline[name] = method
        self.methods = self.methods | {name}

    def close(self) -> None:
        self.readers.shutdown(wait=True)

    # -- dispatch ---------------------------------------------------------------------

    async def handle(self, body: bytes) -> bytes | None:
        """One HTTP body in, one out (None: only notifications, nothing to answer)."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _dump(_error(None, RpcError(-32700, "parse error")))
        if isinstance(request, list):
            if not request:
                return _dump(_error(None, RpcError(-32600, "empty batch")))
            if len(request) > self.settings.max_batch:
                return _dump(_error(None, RpcError(-32600, f"batch too large (max {self.settings.max_batch})")))
            prepared = await self._prepare(request)
            results = [await self._one(item, prepared.get(i, _UNPREPARED)) for i, item in enumerate(request)]
            answers = [r for r in results if r is not None]
            return _dump(answers) if answers else None
        prepared = await self._prepare([request])
        answer = await self._one(request, prepared.get(0, _UNPREPARED))
        return None if answer is None else _dump(answer)

    async def _prepare(self, requests: Sequence[Any]) -> dict[int, Any]:
        """Run each staged method's `prepare` once over all its calls in `requests`, by position."""
        if not self.staged:
            return {}
        groups: dict[str, list[int]] = {}
        for i, request in enumerate(requests):
            if _is_request(request) and request["method"] in self.staged and isinstance(request.get("params"), list):
                groups.setdefault(request["method"], []).append(i)
        prepared: dict[int, Any] = {}
        for method, positions in groups.items():
            try:
                values = await self.staged[method].prepare([requests[i]["params"] for i in positions])
            except Exception as exc:  # handed to each call's `apply`, which reports it
                values = [exc] * len(positions)
            prepared.update(zip(positions, values, strict=True))
        return prepared

    async def _one(self, request: Any, prepared: Any = _UNPREPARED) -> dict[str, Any] | None:
        start = time.perf_counter()
        if not _is_request(request):
            self._observe("unknown", "invalid", start)
            req_id = request.get("id") if isinstance(request, dict) else None
            return _error(_valid_id(req_id), RpcError(-32600, "invalid request"))
        method = request["method"]
        is_notification = "id" not in request
        req_id = _valid_id(request.get("id"))
        params = request.get("params", [])
        if params is None:
            params = []
        try:
            if not isinstance(params, list):
                raise InvalidParams("non-array args")
            if method in self.inline:
                result = self.inline[method](params)
            elif method in self.threaded:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.readers, self.threaded[method], params)
            elif method in self.staged:
                staged = self.staged[method]
                if prepared is _UNPREPARED:
                    prepared = (await staged.prepare([params]))[0]
                result = staged.apply(params, prepared)
            elif method in WRITE_METHODS:
                raise RpcError(
                    -32601, f"the method {method} is not supported by a read-only node: {WRITE_METHODS[method]}"
                )
            else:
                raise RpcError(-32601, f"the method {method} does not exist/is not available")
            if isinstance(result, Awaitable):
                result = await result
            outcome, answer = "ok", {"jsonrpc": "2.0", "id": req_id, "result": result}
        except RpcError as exc:
            outcome, answer = "error", _error(req_id, exc)
        except InvalidTransaction as exc:
            outcome, answer = "error", _error(req_id, tx_error(exc))
        except UnknownBlock:
            outcome, answer = "error", _error(req_id, RpcError(-32000, "header not found"))
        except Exception as exc:  # a bug in one method must not take the server down
            outcome, answer = "error", _error(req_id, RpcError(-32603, f"internal error: {type(exc).__name__}"))
        self._observe(method if method in self.methods else "unknown", outcome, start)
        return None if is_notification else answer

    def _observe(self, label: str, outcome: str, start: float) -> None:
        if self.observe is not None:
            self.observe(label, outcome, time.perf_counter() - start)

    # -- block resolution -------------------------------------------------------------

    def resolve(self, tag: Any, default: str = "latest") -> BlockHeaderAPI:
        """A block tag, number or EIP-1898 object to a header (UnknownBlock if absent)."""
        if tag is None:
            tag = default
        if isinstance(tag, dict):
            if "blockHash" in tag:
                header = self.chain.header_by_hash(p_hash(tag["blockHash"], "blockHash"))
                if tag.get("requireCanonical"):
                    canonical = self.chain.header_by_number(header.block_number)
                    if canonical.hash != header.hash:
                        raise RpcError(-32000, f"hash {tag['blockHash']} is not currently canonical")
                return header
            if "blockNumber" in tag:
                return self.resolve(tag["blockNumber"])
            raise InvalidParams("invalid argument: block object needs blockHash or blockNumber")
        if tag in ("latest", "pending"):
            return self.chain.head(Head.UNSAFE)
        if tag == "safe":
            return self.chain.head(Head.SAFE)
        if tag == "finalized":
            return self.chain.head(Head.FINALIZED)
        if tag == "earliest":
            return self.chain.header_by_number(0)
        if isinstance(tag, str) and len(tag) == 66:
            return self.chain.header_by_hash(p_hash(tag))
        return self.chain.header_by_number(p_quantity(tag, "block number"))

    def _state(self, tag: Any) -> StateAPI:
        return self.chain.state_at(self.resolve(tag))

    # -- accounts ---------------------------------------------------------------------

    def get_balance(self, params: list[Any]) -> str:
        addr, tag = arguments(params, 2, 1)
        return qty(self._state(tag).get_balance(p_address(addr)))

    def get_transaction_count(self, params: list[Any]) -> str:
        addr, tag = arguments(params, 2, 1)
        sender = p_address(addr)
        nonce = self._state(tag).get_nonce(sender)
        if tag == "pending":
            pooled = None if self.pending is None else self.pending.next_nonce(sender)
            if pooled is not None:
                nonce = max(nonce, pooled)
        return qty(nonce)

    def get_code(self, params: list[Any]) -> str:
        addr, tag = arguments(params, 2, 1)
        return ethjson.data(self._state(tag).get_code(p_address(addr)))

    def get_storage_at(self, params: list[Any]) -> str:
        addr, slot, tag = arguments(params, 3, 2)
        value = self._state(tag).get_storage(p_address(addr), p_slot(slot))
        return "0x" + value.to_bytes(32, "big").hex()

    # -- fees ---------------------------------------------------------------------------

    def _next_base_fee(self) -> int:
        head = self.chain.head(Head.UNSAFE)
        return self.spec.next_base_fee(_base_fee(head), head.gas_used)

    def gas_price(self, params: list[Any]) -> str:
        return qty(self._next_base_fee() + self.settings.suggested_tip_wei)

    def fee_history(self, params: list[Any]) -> dict[str, Any]:
        count_arg, newest_arg, percentiles_arg = arguments(params, 3, 2)
        count = min(p_quantity(count_arg, "blockCount"), FEE_HISTORY_MAX_BLOCKS)
        newest = self.resolve(newest_arg)
        percentiles: list[float] = []
        if percentiles_arg is not None:
            if not isinstance(percentiles_arg, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= 100 for x in percentiles_arg
            ):
                raise InvalidParams("invalid argument 2: reward percentiles must be numbers in [0, 100]")
            if any(b < a for a, b in zip(percentiles_arg, percentiles_arg[1:], strict=False)):
                raise InvalidParams("invalid reward percentile: must be increasing")
            percentiles = [float(x) for x in percentiles_arg]
        oldest = max(0, newest.block_number - count + 1) if count else newest.block_number + 1
        base_fees: list[str] = []
        ratios: list[float] = []
        rewards: list[list[str]] = []
        header = newest
        for number in range(oldest, newest.block_number + 1):
            header = self.chain.header_by_number(number)
            base_fees.append(qty(_base_fee(header)))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append([qty(r) for r in self._rewards(header, percentiles)])
        out: dict[str, Any] = {"oldestBlock": qty(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
        if count:
            base_fees.append(qty(self.spec.next_base_fee(_base_fee(header), header.gas_used)))
        if percentiles:
            out["reward"] = rewards
        return out

    def _rewards(self, header: BlockHeaderAPI, percentiles: list[float]) -> list[int]:
        txs = self.chain.transactions(header)
        if not txs:
            return [0] * len(percentiles)
        receipts = self.chain.receipts(header)
        used, prev = [], 0
        for r in receipts:
            used.append(r.gas_used - prev)
            prev = r.gas_used
        base = _base_fee(header)
        tips = sorted(
            (min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base), gas)
            for tx, gas in zip(txs, used, strict=True)
        )
        out = []
        for pct in percentiles:
            threshold = header.gas_used * pct / 100
            total, i = tips[0][1], 0
            while total < threshold and i < len(tips) - 1:
                i += 1
                total += tips[i][1]
            out.append(tips[i][0])
        return out

    # -- transactions -------------------------------------------------------------------

    def _located(self, tx_hash: bytes) -> tuple[BlockHeaderAPI, int] | None:
        location = self.chain.transaction_location(tx_hash)
        if location is None:
            return None
        number, index = location
        try:
            return self.chain.header_by_number(number), index
        except UnknownBlock:
            return None

    def get_transaction_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        (h,) = arguments(params, 1, 1)
        tx_hash = p_hash(h)
        located = self._located(tx_hash)
        if located is not None:
            header, index = located
            return ethjson.tx_json(self.chain.transactions(header)[index], header, index)
        pooled = None if self.pending is None else self.pending.pending_transaction(tx_hash)
        return None if pooled is None else ethjson.tx_json(pooled, None, None)

    def get_transaction_receipt(self, params: list[Any]) -> dict[str, Any] | None:
        (h,) = arguments(params, 1, 1)
        located = self._located(p_hash(h))
        if located is None:
            return None
        header, index = located
        txs = self.chain.transactions(header)
        return ethjson.receipts_json(header, txs[: index + 1], self.chain.receipts(header)[: index + 1])[index]

    # -- blocks -------------------------------------------------------------------------

    def _block_or_none(self, fn: Callable[[], BlockHeaderAPI]) -> BlockHeaderAPI | None:
        try:
            return fn()
        except UnknownBlock:
            return None

    def get_block_by_number(self, params: list[Any]) -> dict[str, Any] | None:
        tag, full = arguments(params, 2, 1)
        header = self._block_or_none(lambda: self.resolve(tag))
        if header is None:
            return None
        return self._block_json(header, p_bool(bool(full), "full"))

    def get_block_by_hash(self, params: list[Any]) -> dict[str, Any] | None:
        h, full = arguments(params, 2, 1)
        block_hash = p_hash(h)
        header = self._block_or_none(lambda: self.chain.header_by_hash(block_hash))
        if header is None:
            return None
        return self._block_json(header, bool(full))

    def _block_json(self, header: BlockHeaderAPI, full: bool) -> dict[str, Any]:
        txs = self.chain.transactions(header) if full else self._encoded_transactions(header)
        return ethjson.block_json(header, txs, full)

    def _encoded_transactions(self, header: BlockHeaderAPI) -> list[bytes]:
        """A block's transactions as stored: hashes, count and size need no decoding (~0.1 ms each).

        Pollers fetch every block by number; decoding 1400 transfers would hold the loop ~0.2 s.
        """
        db = self.chain.chaindb.db
        return list(ChainDB._get_block_data_from_root_hash(db, header.transaction_root))  # py-evm is pinned

    def block_tx_count_by_number(self, params: list[Any]) -> str | None:
        (tag,) = arguments(params, 1, 1)
        header = self._block_or_none(lambda: self.resolve(tag))
        return None if header is None else qty(len(self._encoded_transactions(header)))

    def block_tx_count_by_hash(self, params: list[Any]) -> str | None:
        (h,) = arguments(params, 1, 1)
        block_hash = p_hash(h)
        header = self._block_or_none(lambda: self.chain.header_by_hash(block_hash))
        return None if header is None else qty(len(self._encoded_transactions(header)))

    def _tx_at(self, header: BlockHeaderAPI | None, index_arg: Any) -> dict[str, Any] | None:
        index = p_quantity(index_arg, "index")
        if header is None:
            return None
        txs = self.chain.transactions(header)
        return ethjson.tx_json(txs[index], header, index) if index < len(txs) else None

    def tx_by_number_and_index(self, params: list[Any]) -> dict[str, Any] | None:
        tag, index = arguments(params, 2, 2)
        return self._tx_at(self._block_or_none(lambda: self.resolve(tag)), index)

    def tx_by_hash_and_index(self, params: list[Any]) -> dict[str, Any] | None:
        h, index = arguments(params, 2, 2)
        block_hash = p_hash(h)
        return self._tx_at(self._block_or_none(lambda: self.chain.header_by_hash(block_hash)), index)

    def get_block_receipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        (tag,) = arguments(params, 1, 1)
        header = self._block_or_none(lambda: self.resolve(tag))
        if header is None:
            return None
        return ethjson.receipts_json(header, self.chain.transactions(header), self.chain.receipts(header))

    # -- logs ---------------------------------------------------------------------------

    def get_logs(self, params: list[Any]) -> list[dict[str, Any]]:
        (flt,) = arguments(params, 1, 1)
        if not isinstance(flt, dict):
            raise InvalidParams("invalid argument 0: filter must be an object")
        addresses = _address_filter(flt.get("address"))
        topics = _topic_filter(flt.get("topics"))
        if flt.get("blockHash") is not None:
            if flt.get("fromBlock") is not None or flt.get("toBlock") is not None:
                raise InvalidParams("invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock")
            headers: Iterable[BlockHeaderAPI] = [self.resolve({"blockHash": flt["blockHash"]})]
        else:
            head = self.chain.head(Head.UNSAFE).block_number
            first = self._range_end(flt.get("fromBlock"), head)
            last = self._range_end(flt.get("toBlock"), head)
            if first > last:
                raise InvalidParams("invalid block range params")
            if last - first + 1 > self.settings.logs_max_blocks:
                raise RpcError(-32005, f"query exceeds max block range {self.settings.logs_max_blocks}")
            headers = (self.chain.header_by_number(n) for n in range(first, last + 1))
        out = []
        for header in headers:
            if not _bloom_may_match(header.bloom, addresses, topics):
                continue
            txs = self.chain.transactions(header)
            for receipt in ethjson.receipts_json(header, txs, self.chain.receipts(header)):
                for entry in receipt["logs"]:
                    if _log_matches(entry, addresses, topics):
                        out.append(entry)
        return out

    def _range_end(self, tag: Any, head: int) -> int:
        if tag is None:
            return head
        return min(self.resolve(tag).block_number, head)

    # -- execution ----------------------------------------------------------------------

    def _execute(self, obj: Any, header: BlockHeaderAPI, gas: int | None) -> ComputationAPI:
        """Run a call on the state after `header`, costless (no fee charged); writes are discarded."""
        if not isinstance(obj, dict):
            raise InvalidParams("invalid argument 0: call object expected")
        sender = p_address(obj["from"], "from") if obj.get("from") else Address(b"\x00" * 20)
        to = p_address(obj["to"], "to") if obj.get("to") else Address(b"")
        raw = obj.get("input", obj.get("data"))
        payload = p_bytes(raw, "input") if raw is not None else b""
        value = p_quantity(obj["value"], "value") if obj.get("value") is not None else 0
        cap = min(self.settings.gas_cap, header.gas_limit)
        if gas is None:
            gas = min(p_quantity(obj["gas"], "gas"), cap) if obj.get("gas") is not None else cap
        state = L2VM.build_state(read_view(self.chain.store), header.copy(base_fee_per_gas=0), self.chain.context, ())
        nonce = state.get_nonce(sender)
        unsigned = L2VM.get_transaction_builder().create_unsigned_transaction(
            nonce=nonce, gas_price=0, gas=gas, to=to, value=value, data=payload
        )
        try:
            return state.apply_transaction(SpoofTransaction(unsigned, from_=sender))  # type: ignore[arg-type]
        except ValidationError as exc:
            raise RpcError(-32000, str(exc)) from None

    def call(self, params: list[Any]) -> str:
        obj, tag, overrides = arguments(params, 3, 1)
        if overrides:
            raise InvalidParams("state overrides are not supported")
        computation = self._execute(obj, self.resolve(tag), None)
        if computation.is_error:
            raise _execution_error(computation)
        return ethjson.data(computation.output)

    def estimate_gas(self, params: list[Any]) -> str:
        obj, tag, overrides = arguments(params, 3, 1)
        if overrides:
            raise InvalidParams("state overrides are not supported")
        header = self.resolve(tag, "latest")
        cap = min(self.settings.gas_cap, header.gas_limit)
        hi = min(p_quantity(obj["gas"], "gas"), cap) if isinstance(obj, dict) and obj.get("gas") else cap
        computation = self._execute(obj, header, hi)
        if computation.is_error:
            if isinstance(computation.error, Revert):
                raise _execution_error(computation)
            raise RpcError(-32000, f"gas required exceeds allowance ({hi})")
        lo = 20_999
        # Binary search as geth does; the first guess (64/63 of the gas used) usually succeeds.
        used = hi - computation.get_gas_remaining()
        guess = min(hi, used * 64 // 63 + 1)
        if guess < hi and self._try(obj, header, guess):
            hi = guess
        lo = max(lo, used - 1)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if self._try(obj, header, mid):
                hi = mid
            else:
                lo = mid
        return qty(hi)

    def _try(self, obj: Any, header: BlockHeaderAPI, gas: int) -> bool:
        try:
            return not self._execute(obj, header, gas).is_error
        except RpcError:
            return False  # e.g. gas below intrinsic gas

    # -- proofs -------------------------------------------------------------------------

    def get_proof(self, params: list[Any]) -> dict[str, Any]:
        addr_arg, keys_arg, tag = arguments(params, 3, 2)
        addr = p_address(addr_arg)
        if not isinstance(keys_arg, list):
            raise InvalidParams("invalid argument 1: storage keys must be an array")
        slots = [p_slot(k) for k in keys_arg]
        header = self.resolve(tag)
        db = ReadOnlyStateDB(self.chain.store)
        state_trie = HexaryTrie(db, header.state_root)
        account_key = keccak(addr)
        account_rlp = state_trie.get(account_key)
        if account_rlp:
            nonce, balance, storage_root, code_hash = rlp.decode(account_rlp)
            nonce_i, balance_i = int.from_bytes(nonce, "big"), int.from_bytes(balance, "big")
        else:
            nonce_i, balance_i = 0, 0
            storage_root, code_hash = HexaryTrie.BLANK_NODE_HASH, keccak(b"")
        storage_trie = HexaryTrie(db, storage_root)
        storage = []
        for key_arg, slot in zip(keys_arg, slots, strict=True):
            slot_key = keccak(slot.to_bytes(32, "big"))
            value_rlp = storage_trie.get(slot_key)
            value = rlp.decode(value_rlp, sedes=rlp.sedes.big_endian_int) if value_rlp else 0
            storage.append(
                {"key": key_arg, "value": qty(value), "proof": [ethjson.data(rlp.encode(n))
                                                                for n in storage_trie.get_proof(slot_key)]}
            )
        return {
            "address": ethjson.address(addr),
            "accountProof": [ethjson.data(rlp.encode(n)) for n in state_trie.get_proof(account_key)],
            "balance": qty(balance_i),
            "codeHash": ethjson.data(code_hash),
            "nonce": qty(nonce_i),
            "storageHash": ethjson.data(storage_root),
            "storageProof": storage,
        }

    # -- rollup ---------------------------------------------------------------------------

    def rollup_get_heads(self, params: list[Any]) -> dict[str, Any]:
        heads = self.chain.heads()

        def one(h: BlockHeaderAPI) -> dict[str, Any]:
            return {"number": qty(h.block_number), "hash": ethjson.data(h.hash), "timestamp": qty(h.timestamp)}

        return {
            "unsafe": one(heads.unsafe),
            "safe": one(heads.safe),
            "finalized": one(heads.finalized),
        }


def _base_fee(header: BlockHeaderAPI) -> int:
    return header.base_fee_per_gas or 0  # set on every L2 header (London rules from genesis)


def _execution_error(computation: ComputationAPI) -> RpcError:
    """geth's answers: code 3 and the revert data for a revert, -32000 for other EVM errors."""
    error = computation.error
    if isinstance(error, Revert):
        output = computation.output
        message = "execution reverted"
        reason = _revert_reason(output)
        if reason:
            message += f": {reason}"
        return RpcError(3, message, ethjson.data(output))
    return RpcError(-32000, str(error) or type(error).__name__)


def _revert_reason(output: bytes) -> str | None:
    try:
        if output[:4] == ERROR_SELECTOR:
            return str(abi_decode(["string"], output[4:])[0])
        if output[:4] == PANIC_SELECTOR:
            return f"panic: 0x{abi_decode(['uint256'], output[4:])[0]:x}"
    except Exception:  # undecodable reason: geth then says only "execution reverted"
        return None
    return None


def _address_filter(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [ethjson.address(p_address(a)) for a in items]


def _topic_filter(value: Any) -> list[list[str] | None]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 4:
        raise InvalidParams("invalid argument 0: topics must be an array of at most 4 positions")
    out: list[list[str] | None] = []
    for position in value:
        if position is None or position == []:
            out.append(None)
        else:
            items = position if isinstance(position, list) else [position]
            out.append([ethjson.data(p_hash(t, "topic")) for t in items])
    return out


def _bloom_may_match(bloom_int: int, addresses: list[str] | None, topics: list[list[str] | None]) -> bool:
    bloom = BloomFilter(bloom_int)
    if addresses is not None and not any(bytes.fromhex(a[2:]) in bloom for a in addresses):
        return False
    for position in topics:
        if position is not None and not any(bytes.fromhex(t[2:]) in bloom for t in position):
            return False
    return True


def _log_matches(entry: dict[str, Any], addresses: list[str] | None, topics: list[list[str] | None]) -> bool:
    if addresses is not None and entry["address"] not in addresses:
        return False
    if len(topics) > len(entry["topics"]):
        return False
    return all(position is None or entry["topics"][i] in position for i, position in enumerate(topics))


def _is_request(value: Any) -> bool:
    return isinstance(value, dict) and value.get("jsonrpc") == "2.0" and isinstance(value.get("method"), str)


def _valid_id(value: Any) -> Any:
    return value if isinstance(value, str | int | float) and not isinstance(value, bool) or value is None else None


def _error(req_id: Any, exc: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": exc.to_json()}


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
