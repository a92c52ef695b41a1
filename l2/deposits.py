"""Deposits: delayed messages of L1's DelayedInbox as L2 transactions of type 0x7E.

Like the OP Stack's deposit transaction: no signature (L1 authenticated it), no fee, no
nonce in the encoding. Derivation and the sequencer build the same `DepositTransaction`
from the same `Deposit`, so both produce identical blocks. Execution (mint, then call) is
in `l2.execution`; the exact rules are in docs/state-transition.md, section "Deposits".

    encoding = 0x7E ++ rlp([index, sender, to, value, gasLimit, data])
    hash     = keccak(encoding)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import rlp
from eth.abc import ComputationAPI, ReceiptAPI, SetCodeAuthorizationAPI, SignedTransactionAPI
from eth.rlp.logs import Log
from eth.rlp.receipts import Receipt
from eth.vm.forks.berlin.transactions import calculate_txn_intrinsic_gas_berlin
from eth.vm.forks.prague.receipts import PragueTypedReceipt
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from rlp.sedes import Binary, List, big_endian_int, binary

import l2  # noqa: F401
from l2.errors import InvalidTransaction

DEPOSIT_TX_TYPE = 0x7E
DEPOSIT_TYPE_BYTE = bytes([DEPOSIT_TX_TYPE])

_UINT64 = 1 << 64
_UINT256 = 1 << 256
_address = Binary.fixed_length(20)
_PAYLOAD = List([big_endian_int, _address, _address, big_endian_int, big_endian_int, binary], strict=True)


@dataclass(frozen=True)
class Deposit:
    """One delayed message as DelayedInbox recorded it (`sender` already aliased on L1 for contract callers)."""

    index: int
    sender: bytes
    to: bytes
    value: int
    gas_limit: int
    data: bytes = b""

    def __post_init__(self) -> None:
        # Bounds of the L1 types (uint64 index as in Delayed{index}, uint256 value): a
        # deposit outside them cannot come from L1, and must not get an encoding.
        if not 0 <= self.index < _UINT64:
            raise ValueError(f"deposit index {self.index} does not fit 64 bits")
        for name in ("sender", "to"):
            value = getattr(self, name)
            if not isinstance(value, bytes | bytearray) or len(value) != 20:
                raise ValueError(f"deposit {name} must be a 20-byte address")
        if not 0 <= self.value < _UINT256:
            raise ValueError(f"deposit value {self.value} does not fit 256 bits")
        if not 0 <= self.gas_limit < _UINT64:
            raise ValueError(f"deposit gas limit {self.gas_limit} does not fit 64 bits")
        if not isinstance(self.data, bytes | bytearray):
            raise ValueError("deposit data must be bytes")


class L2TypedReceipt(PragueTypedReceipt):
    """Prague's typed receipts plus 0x7E, whose body is the same [status, gas, bloom, logs]."""

    codecs = {**PragueTypedReceipt.codecs, DEPOSIT_TX_TYPE: Receipt}


class DepositTransaction(SignedTransactionAPI):
    """A `Deposit` as a py-evm transaction: enough of SignedTransactionAPI for our pipeline.

    Fee fields, nonce and signature read as 0 (they are not part of the encoding); the
    nonce actually used is the sender's account nonce at execution.
    """

    type_id = DEPOSIT_TX_TYPE

    def __init__(self, deposit: Deposit) -> None:
        self.deposit = deposit
        self._encoded = DEPOSIT_TYPE_BYTE + rlp.encode(
            [deposit.index, bytes(deposit.sender), bytes(deposit.to), deposit.value, deposit.gas_limit,
             bytes(deposit.data)],
            sedes=_PAYLOAD,
        )
        self._hash = Hash32(keccak(self._encoded))

    # -- encoding ---------------------------------------------------------------------

    def encode(self) -> bytes:
        return self._encoded

    @classmethod
    def decode(cls, encoded: bytes) -> DepositTransaction:
        """Decode a canonical 0x7E encoding; anything else raises InvalidTransaction("encoding")."""
        if encoded[:1] != DEPOSIT_TYPE_BYTE:
            raise InvalidTransaction("encoding", "not a deposit transaction (type byte is not 0x7e)")
        try:
            index, sender, to, value, gas_limit, data = rlp.decode(bytes(encoded[1:]), sedes=_PAYLOAD, strict=True)
            tx = cls(Deposit(index, sender, to, value, gas_limit, data))
        except (rlp.exceptions.RLPException, ValueError, TypeError, RecursionError) as exc:
            raise InvalidTransaction("encoding", f"cannot decode deposit transaction: {exc}") from None
        if tx.encode() != encoded:
            raise InvalidTransaction("encoding", "non-canonical deposit encoding")
        return tx

    @property
    def hash(self) -> Hash32:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DepositTransaction) and other._encoded == self._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        d = self.deposit
        return (
            f"DepositTransaction(index={d.index}, sender=0x{d.sender.hex()}, to=0x{d.to.hex()}, "
            f"value={d.value}, gas={d.gas_limit}, data={len(d.data)} bytes)"
        )

    def copy(self, **overrides: Any) -> DepositTransaction:
        """A copy with `Deposit` fields replaced (e.g. `copy(value=0)`)."""
        return DepositTransaction(replace(self.deposit, **overrides))

    # -- fields -----------------------------------------------------------------------

    @property
    def source_index(self) -> int:
        """The DelayedInbox index of this deposit (JSON-RPC `sourceIndex`)."""
        return self.deposit.index

    @property
    def sender(self) -> Address:
        return Address(bytes(self.deposit.sender))

    def get_sender(self) -> Address:
        return self.sender

    @property
    def to(self) -> Address:
        return Address(bytes(self.deposit.to))

    @property
    def value(self) -> int:
        return self.deposit.value

    @property
    def gas(self) -> int:
        return self.deposit.gas_limit

    @property
    def data(self) -> bytes:
        return bytes(self.deposit.data)

    @property
    def nonce(self) -> int:
        return 0

    @property
    def chain_id(self) -> int | None:
        return None

    @property
    def gas_price(self) -> int:
        return 0

    @property
    def max_fee_per_gas(self) -> int:
        return 0

    @property
    def max_priority_fee_per_gas(self) -> int:
        return 0

    @property
    def max_fee_per_blob_gas(self) -> int:
        return 0

    @property
    def blob_versioned_hashes(self) -> Sequence[Hash32]:
        return ()

    @property
    def access_list(self) -> Sequence[tuple[Address, Sequence[int]]]:
        return ()

    @property
    def authorization_list(self) -> Sequence[SetCodeAuthorizationAPI]:
        return ()

    @property
    def y_parity(self) -> int:
        return 0

    @property
    def v(self) -> int:
        return 0

    @property
    def r(self) -> int:
        return 0

    @property
    def s(self) -> int:
        return 0

    # -- validity and gas -------------------------------------------------------------

    def validate(self) -> None:
        """Nothing to check: `Deposit` bounds every field, and a deposit is never refused."""

    @property
    def is_signature_valid(self) -> bool:
        return True  # authenticated by L1 (the DelayedInbox event), not by a signature

    def check_signature_validity(self) -> None:
        pass

    def get_message_for_signing(self) -> bytes:
        raise NotImplementedError("deposit transactions are not signed")

    def get_intrinsic_gas(self) -> int:
        return calculate_txn_intrinsic_gas_berlin(self)

    @property
    def intrinsic_gas(self) -> int:
        return self.get_intrinsic_gas()

    def gas_used_by(self, computation: ComputationAPI) -> int:
        return self.get_intrinsic_gas() + computation.get_gas_used()

    def make_receipt(
        self,
        status: bytes,
        gas_used: int,
        log_entries: tuple[tuple[bytes, tuple[int, ...], bytes], ...],
    ) -> ReceiptAPI:
        logs = [Log(address, topics, data) for address, topics, data in log_entries]
        return L2TypedReceipt(DEPOSIT_TX_TYPE, Receipt(state_root=status, gas_used=gas_used, logs=logs))


def deposit_transaction(deposit: Deposit) -> DepositTransaction:
    """The L2 transaction of a deposit (derivation and the sequencer both call this)."""
    return DepositTransaction(deposit)


def is_deposit(tx: SignedTransactionAPI) -> bool:
    return isinstance(tx, DepositTransaction)
