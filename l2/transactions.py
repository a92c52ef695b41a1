"""Decoding and validity rules of L2 transactions.

Every rule has a name (`InvalidTransaction.rule`) so that the mempool, the RPC error and
the rejection metric all say which one failed. Stateless rules run once per transaction;
stateful ones against the state the transaction would execute on.
"""

from __future__ import annotations

import rlp
from eth.abc import DecodedZeroOrOneLayerRLP, SignedTransactionAPI, StateAPI
from eth.vm.forks.prague.receipts import PragueReceiptBuilder
from eth.vm.forks.prague.transactions import (
    PragueLegacyTransaction,
    PragueTransactionBuilder,
    PragueTypedTransaction,
)
from eth_typing import Address
from eth_utils import ValidationError

import l2  # noqa: F401
from l2.deposits import DEPOSIT_TX_TYPE, DEPOSIT_TYPE_BYTE, DepositTransaction, L2TypedReceipt
from l2.errors import InvalidTransaction
from l2.spec import ChainSpec

BLOB_TX_TYPE = 3
SET_CODE_TX_TYPE = 4
GAS_TX = 21_000
FLOOR_PER_TOKEN = 10  # EIP-7623
STANDARD_TOKEN_COST = 4
SECP256K1N_HALF = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
DELEGATION_PREFIX = b"\xef\x01\x00"  # EIP-7702 delegation designator

# Rule names, used as the `reason` label of the rejection metrics.
RULES = (
    "encoding",
    "tx_type",
    "oversize",
    "chain_id",
    "signature",
    "intrinsic_gas",
    "gas_limit",
    "fee_cap",
    "nonce_too_low",
    "nonce_too_high",
    "insufficient_funds",
    "sender_has_code",
    "evm",
)


class _CachedSender:
    """Mixin: recover the sender once per transaction (py-evm asks for it several times)."""

    _sender: Address | None = None

    def get_sender(self) -> Address:
        sender = self._sender
        if sender is None:
            sender = super().get_sender()  # type: ignore[misc]
            self._sender = sender
        return sender

    def set_sender(self, sender: bytes) -> None:
        """Install a sender recovered elsewhere (e.g. by a parallel recovery pool)."""
        self._sender = Address(sender)


class L2LegacyTransaction(_CachedSender, PragueLegacyTransaction):
    pass


class L2TypedTransaction(_CachedSender, PragueTypedTransaction):
    pass


class L2TransactionBuilder(PragueTransactionBuilder):
    """Prague's transactions plus deposits (0x7E), for blocks the chain itself stored.

    Never the entry point of user input: `decode_transaction` refuses 0x7E before this.
    """

    legacy_signed = L2LegacyTransaction
    typed_transaction = L2TypedTransaction

    @classmethod
    def decode(cls, encoded: bytes) -> SignedTransactionAPI:
        if encoded[:1] == DEPOSIT_TYPE_BYTE:
            return DepositTransaction.decode(encoded)
        return super().decode(encoded)

    @classmethod
    def deserialize(cls, encoded: DecodedZeroOrOneLayerRLP) -> SignedTransactionAPI:
        if isinstance(encoded, bytes) and encoded[:1] == DEPOSIT_TYPE_BYTE:
            return DepositTransaction.decode(encoded)
        return super().deserialize(encoded)

    @classmethod
    def serialize(cls, obj: SignedTransactionAPI) -> DecodedZeroOrOneLayerRLP:
        if isinstance(obj, DepositTransaction):
            return obj.encode()
        return super().serialize(obj)


class L2ReceiptBuilder(PragueReceiptBuilder):
    """Prague's receipts plus the deposit receipt (type 0x7E)."""

    typed_receipt_class = L2TypedReceipt


def decode_transaction(raw: bytes, spec: ChainSpec) -> SignedTransactionAPI:
    """Decode raw bytes (as in eth_sendRawTransaction) and apply the stateless rules."""
    if not isinstance(raw, bytes | bytearray):
        raise InvalidTransaction("encoding", "transaction must be bytes")
    if len(raw) > spec.max_tx_size:
        raise InvalidTransaction("oversize", f"transaction of {len(raw)} bytes exceeds {spec.max_tx_size}")
    if not raw:
        raise InvalidTransaction("encoding", "empty transaction")
    if raw[0] < 0x80:
        type_id = raw[0]
        if type_id == DEPOSIT_TX_TYPE:
            raise InvalidTransaction("tx_type", "deposit transactions (type 0x7e) come only from L1")
        if type_id == BLOB_TX_TYPE:
            raise InvalidTransaction("tx_type", "blob transactions are not supported on L2")
        if type_id not in (1, 2, SET_CODE_TX_TYPE):
            raise InvalidTransaction("tx_type", f"unknown transaction type {type_id}")
    try:
        tx = L2TransactionBuilder.decode(bytes(raw))
    except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError, TypeError) as exc:
        raise InvalidTransaction("encoding", f"cannot decode transaction: {exc}") from None
    if tx.encode() != bytes(raw):
        raise InvalidTransaction("encoding", "non-canonical encoding")
    check_stateless(tx, spec)
    return tx


def check_stateless(tx: SignedTransactionAPI, spec: ChainSpec) -> None:
    """Rules that need no state: chain id, signature, intrinsic gas, block gas limit."""
    chain_id = tx.chain_id
    if chain_id is None:
        raise InvalidTransaction("chain_id", "transaction is not replay-protected (EIP-155 required)")
    if chain_id != spec.chain_id:
        raise InvalidTransaction("chain_id", f"chain id {chain_id} is not {spec.chain_id}")
    try:
        if tx.s > SECP256K1N_HALF:
            raise ValidationError("s value above secp256k1n/2 (EIP-2)")
        tx.sender  # noqa: B018  (validates v, r, s; recovers once and caches the sender)
    except Exception as exc:  # eth_keys raises BadSignature, py-evm ValidationError
        raise InvalidTransaction("signature", f"invalid signature: {exc}") from None
    try:
        tx.validate()
    except (ValidationError, ValueError) as exc:
        raise InvalidTransaction("encoding", f"malformed field: {exc}") from None
    needed = max(tx.intrinsic_gas, floor_gas(tx))
    if tx.gas < needed:
        raise InvalidTransaction("intrinsic_gas", f"gas {tx.gas} below intrinsic gas {needed}")
    if tx.gas > spec.gas_limit:
        raise InvalidTransaction("gas_limit", f"gas {tx.gas} exceeds block gas limit {spec.gas_limit}")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction("fee_cap", "max priority fee per gas above max fee per gas")


def check_against_state(tx: SignedTransactionAPI, state: StateAPI, gas_available: int) -> None:
    """Rules that need the state the transaction would run on, and the block's gas left."""
    base_fee = state.execution_context.base_fee_per_gas or 0
    if tx.max_fee_per_gas < base_fee:
        raise InvalidTransaction("fee_cap", f"max fee per gas {tx.max_fee_per_gas} below base fee {base_fee}")
    if tx.gas > gas_available:
        raise InvalidTransaction("gas_limit", f"gas {tx.gas} exceeds gas left in block {gas_available}")
    sender = tx.sender
    nonce = state.get_nonce(sender)
    if tx.nonce < nonce:
        raise InvalidTransaction("nonce_too_low", f"nonce {tx.nonce} below account nonce {nonce}")
    if tx.nonce > nonce:
        raise InvalidTransaction("nonce_too_high", f"nonce {tx.nonce} above account nonce {nonce}")
    cost = max_cost(tx)
    balance = state.get_balance(sender)
    if balance < cost:
        raise InvalidTransaction("insufficient_funds", f"balance {balance} below maximum cost {cost}")
    code = state.get_code(sender)
    if code and not code.startswith(DELEGATION_PREFIX):
        raise InvalidTransaction("sender_has_code", "sender is a contract (EIP-3607)")


def max_cost(tx: SignedTransactionAPI) -> int:
    """The most a transaction can take from its sender: gas at the fee cap plus value."""
    return tx.gas * tx.max_fee_per_gas + tx.value


def floor_gas(tx: SignedTransactionAPI) -> int:
    """EIP-7623: the least gas a transaction with this calldata is charged."""
    data = tx.data
    zeros = data.count(0)
    return GAS_TX + FLOOR_PER_TOKEN * (zeros + (len(data) - zeros) * STANDARD_TOKEN_COST)

