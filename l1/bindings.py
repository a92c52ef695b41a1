"""Typed Python bindings of the L1 contracts (Inbox, DelayedInbox, Rollup) over web3.py.

Used by the batcher, proposer and verifier: they send transactions signed with a local key
and read events as frozen dataclasses. A revert surfaces as `L1Reverted` with the name of
the contract's custom error, decoded once here from the committed ABI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_utils import to_canonical_address, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from l1.accumulators import EMPTY_PAYLOAD_HASH, DelayedMessage
from l1.artifacts import load_artifact
from l1.withdrawals import Withdrawal, WithdrawalProof
from l2.errors import RollupError

DEFAULT_TX_TIMEOUT = 120.0


class L1Error(RollupError):
    """An L1 transaction could not be sent or did not succeed."""


class L1Reverted(L1Error):
    """A contract call reverted; `error` is the custom error's name, `args` its values."""

    def __init__(self, error: str, args: tuple[Any, ...] = ()) -> None:
        super().__init__(f"reverted: {error}{args if args else ''}")
        self.error = error
        self.args_ = args


def _error_table(abi: list[dict]) -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = keccak(f"{item['name']}({','.join(types)})".encode())[:4]
            table[selector] = (item["name"], types)
    return table


def decode_revert(abi: list[dict], data: bytes) -> L1Reverted:
    """The `L1Reverted` for raw revert data (custom error, Error(string) or empty)."""
    if len(data) < 4:
        return L1Reverted("(no reason)")
    selector, body = data[:4], data[4:]
    if selector == keccak(b"Error(string)")[:4]:
        return L1Reverted(decode(["string"], body)[0])
    known = _error_table(abi).get(selector)
    if known is None:
        return L1Reverted(f"unknown error 0x{data.hex()}")
    name, types = known
    return L1Reverted(name, tuple(decode(types, body)))


def revert_data(exc: ContractLogicError) -> bytes:
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    return b""


class ContractBinding:
    """A deployed contract plus the account that signs transactions to it."""

    name: str = ""

    def __init__(self, w3: Web3, address: str | bytes, signer: LocalAccount | str | None = None) -> None:
        self.w3 = w3
        self.abi = load_artifact(self.name)["abi"]
        self.address = to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)
        self.signer = Account.from_key(signer) if isinstance(signer, str) else signer

    def with_signer(self, signer: LocalAccount | str) -> ContractBinding:
        """The same contract, transactions signed by `signer`."""
        return type(self)(self.w3, self.address, signer)

    def call(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self.contract.functions, fn)(*args).call()
        except ContractLogicError as exc:
            raise decode_revert(self.abi, revert_data(exc)) from None

    def transact(self, fn: str, *args: Any, value: int = 0, gas: int | None = None) -> TxReceipt:
        """Sign, send and wait for `fn(*args)`; raises `L1Reverted` with the decoded error."""
        if self.signer is None:
            raise L1Error(f"{self.name}.{fn}: no signing key configured")
        call = getattr(self.contract.functions, fn)(*args)
        params: dict[str, Any] = {"from": self.signer.address, "value": value}
        try:
            estimate = call.estimate_gas(params)
        except ContractLogicError as exc:
            raise decode_revert(self.abi, revert_data(exc)) from None
        params["gas"] = gas if gas is not None else estimate + estimate // 5
        params["nonce"] = self.w3.eth.get_transaction_count(self.signer.address, "pending")
        params["chainId"] = self.w3.eth.chain_id
        tx = call.build_transaction(params)
        signed = self.signer.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=DEFAULT_TX_TIMEOUT)
        if receipt["status"] != 1:
            raise L1Error(f"{self.name}.{fn} failed in block {receipt['blockNumber']} (tx 0x{bytes(tx_hash).hex()})")
        return receipt

    def _logs(self, event: str, from_block: int, to_block: int | str) -> list[Any]:
        return list(getattr(self.contract.events, event)().get_logs(from_block=from_block, to_block=to_block))


# -- DelayedInbox ----------------------------------------------------------------------


def _delayed_message(args: Any) -> DelayedMessage:
    return DelayedMessage(
        index=args["index"],
        sender=to_canonical_address(args["sender"]),
        to=to_canonical_address(args["to"]),
        value=args["value"],
        gas_limit=args["gasLimit"],
        l1_block_number=args["l1BlockNumber"],
        l1_timestamp=args["l1Timestamp"],
        data=bytes(args["data"]),
    )


@dataclass(frozen=True)
class ProvenWithdrawal:
    """DelayedInbox.provenWithdrawals: when (L1 time) and against which assertion; proven_at 0 = not proven."""

    proven_at: int
    assertion_id: int


@dataclass(frozen=True)
class DeliveredMessage:
    """A MessageDelivered event: the message, and the hash and accumulator L1 stored."""

    message: DelayedMessage
    message_hash: bytes
    accumulator: bytes
    l1_block_hash: bytes


class DelayedInboxBinding(ContractBinding):
    name = "DelayedInbox"

    def deposit(self, to: str | bytes, gas_limit: int, data: bytes = b"", value: int = 0) -> TxReceipt:
        return self.transact("depositTransaction", to_checksum_address(to), gas_limit, data, value=value)

    def message_count(self) -> int:
        return self.call("messageCount")

    def accumulator(self, index: int) -> bytes:
        return bytes(self.call("accumulators", index))

    def timestamp(self, index: int) -> int:
        return self.call("timestamps", index)

    def max_gas_limit(self) -> int:
        return self.call("maxGasLimit")

    def prove_withdrawal(self, withdrawal: Withdrawal, assertion_id: int, proof: WithdrawalProof) -> TxReceipt:
        return self.transact(
            "proveWithdrawal", withdrawal.as_abi(), assertion_id, proof.output.as_abi(), proof.storage_proof
        )

    def finalize_withdrawal(self, withdrawal: Withdrawal) -> TxReceipt:
        return self.transact("finalizeWithdrawal", withdrawal.as_abi())

    def proven_withdrawal(self, withdrawal_hash: bytes) -> ProvenWithdrawal:
        proven_at, assertion_id = self.call("provenWithdrawals", withdrawal_hash)
        return ProvenWithdrawal(proven_at, assertion_id)

    def is_finalized(self, withdrawal_hash: bytes) -> bool:
        return self.call("finalizedWithdrawals", withdrawal_hash)

    def withdrawal_delay(self) -> int:
        return self.call("withdrawalDelay")

    def hash_withdrawal(self, withdrawal: Withdrawal) -> bytes:
        """The contract's own hash of `withdrawal` (an eth_call)."""
        return bytes(self.call("hashWithdrawal", withdrawal.as_abi()))

    def messages(self, from_block: int = 0, to_block: int | str = "latest") -> list[DeliveredMessage]:
        return [
            DeliveredMessage(
                message=_delayed_message(log["args"]),
                message_hash=bytes(log["args"]["messageHash"]),
                accumulator=bytes(log["args"]["accumulator"]),
                l1_block_hash=bytes(log["blockHash"]),
            )
            for log in self._logs("MessageDelivered", from_block, to_block)
        ]

    def messages_in(self, receipt: TxReceipt) -> list[DeliveredMessage]:
        """The MessageDelivered events of one receipt."""
        return [
            DeliveredMessage(
                _delayed_message(ev["args"]),
                bytes(ev["args"]["messageHash"]),
                bytes(ev["args"]["accumulator"]),
                bytes(ev["blockHash"]),
            )
            for ev in self.contract.events.MessageDelivered().process_receipt(receipt)
        ]


# -- Inbox -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxEntry:
    """A BatchAppended event with its payload (read from the transaction's calldata)."""

    index: int
    accumulator: bytes
    payload_hash: bytes
    message_root: bytes
    message_count: int
    delayed_read: int
    delayed_accumulator: bytes
    forced: bool
    payload: bytes
    l1_block_number: int
    l1_block_hash: bytes
    tx_hash: bytes


@dataclass(frozen=True)
class L1OriginRecord:
    """`Inbox.l1Origins(number)`: an L1 block recorded as an origin for entries from `first_entry` on."""

    number: int
    hash: bytes
    base_fee: int
    first_entry: int


@dataclass(frozen=True)
class BatchCheck:
    """What the Inbox's on-chain decoder makes of a payload (`Inbox.checkBatch`).

    `reason` is the BatchDecoder rule an invalid payload breaks (0 when valid).
    """

    valid: bool
    reason: int
    message_count: int
    message_root: bytes


class InboxBinding(ContractBinding):
    name = "Inbox"

    def append_batch(
        self,
        payload: bytes,
        message_root: bytes,
        message_count: int,
        delayed_read: int,
        origin_headers: Sequence[bytes] = (),
    ) -> TxReceipt:
        """Append a batch; `origin_headers` (RLP L1 headers) are recorded as L1 origins first."""
        return self.transact("appendBatch", payload, message_root, message_count, delayed_read, list(origin_headers))

    def record_l1_origins(self, headers: Sequence[bytes]) -> TxReceipt:
        return self.transact("recordL1Origins", list(headers))

    def l1_origin(self, number: int, block: int | str = "latest") -> L1OriginRecord | None:
        """The Inbox's record of L1 block `number` as of L1 block `block`, None if not recorded."""
        hash_, base_fee, first_entry = self.contract.functions.l1Origins(number).call(block_identifier=block)
        if bytes(hash_) == bytes(32):
            return None
        return L1OriginRecord(number, bytes(hash_), base_fee, first_entry)

    def force_include(self) -> TxReceipt:
        return self.transact("forceInclude")

    def set_batcher(self, batcher: str | bytes) -> TxReceipt:
        return self.transact("setBatcher", to_checksum_address(batcher))

    def entry_count(self) -> int:
        return self.call("entryCount")

    def accumulator(self, index: int) -> bytes:
        return bytes(self.call("accumulators", index))

    def delayed_read(self) -> int:
        return self.call("delayedRead")

    def batcher(self) -> str:
        return self.call("batcher")

    def force_inclusion_delay(self) -> int:
        return self.call("forceInclusionDelay")

    def l2_chain_id(self) -> int:
        return self.call("l2ChainId")

    def mark_invalid(
        self, index: int, payload: bytes, message_root: bytes, message_count: int, delayed_accumulator: bytes
    ) -> TxReceipt:
        """Prove entry `index` invalid; the other arguments are its accumulator's inputs."""
        return self.transact("markInvalid", index, payload, message_root, message_count, delayed_accumulator)

    def mark_invalid_entry(self, entry: InboxEntry) -> TxReceipt:
        """`mark_invalid` with the inputs of an entry read from L1."""
        return self.mark_invalid(
            entry.index, entry.payload, entry.message_root, entry.message_count, entry.delayed_accumulator
        )

    def is_invalid(self, index: int) -> bool:
        return self.call("invalid", index)

    def check_batch(self, payload: bytes) -> BatchCheck:
        """Run the on-chain decoder on `payload` (an eth_call; nothing is sent)."""
        valid, reason, count, root = self.call("checkBatch", payload)
        return BatchCheck(valid, reason, count, bytes(root))

    def invalidated(self, from_block: int = 0, to_block: int | str = "latest") -> list[int]:
        """Indices of the entries proven invalid (BatchInvalidated events) in a block range."""
        return [log["args"]["index"] for log in self._logs("BatchInvalidated", from_block, to_block)]

    def _entry(self, log: Any) -> InboxEntry:
        args = log["args"]
        payload = b""
        if not args["forced"]:
            # The batcher is an EOA calling appendBatch directly, so the payload is its calldata.
            try:
                tx = self.w3.eth.get_transaction(log["transactionHash"])
            except TransactionNotFound:
                # the log was read, then L1 reorged its transaction away
                raise L1Error(f"inbox entry {args['index']}: its transaction is gone from L1 (reorg)") from None
            _, params = self.contract.decode_function_input(tx["input"])
            payload = bytes(params["payload"])
            if keccak(payload) != bytes(args["payloadHash"]):
                raise L1Error(f"inbox entry {args['index']}: calldata payload does not match its hash")
        elif bytes(args["payloadHash"]) != EMPTY_PAYLOAD_HASH:
            raise L1Error(f"inbox entry {args['index']}: forced entry with a non-empty payload hash")
        return InboxEntry(
            index=args["index"],
            accumulator=bytes(args["accumulator"]),
            payload_hash=bytes(args["payloadHash"]),
            message_root=bytes(args["messageRoot"]),
            message_count=args["messageCount"],
            delayed_read=args["delayedRead"],
            delayed_accumulator=bytes(args["delayedAccumulator"]),
            forced=args["forced"],
            payload=payload,
            l1_block_number=log["blockNumber"],
            l1_block_hash=bytes(log["blockHash"]),
            tx_hash=bytes(log["transactionHash"]),
        )

    def entries(self, from_block: int = 0, to_block: int | str = "latest") -> list[InboxEntry]:
        return [self._entry(log) for log in self._logs("BatchAppended", from_block, to_block)]

    def entries_in(self, receipt: TxReceipt) -> list[InboxEntry]:
        # The receipt also holds L1OriginRecorded logs: skipped, not warned about.
        events = self.contract.events.BatchAppended().process_receipt(receipt, errors=DISCARD)
        return [self._entry(ev) for ev in events]


# -- Rollup ----------------------------------------------------------------------------


class AssertionStatus(IntEnum):
    NONE = 0
    PENDING = 1
    CONFIRMED = 2
    REJECTED = 3
    RELEASED = 4  # stranded by a sibling branch that confirmed; bond returned (releaseStranded)


@dataclass(frozen=True)
class Assertion:
    id: int
    parent_id: int
    inbox_entries: int
    l2_block_number: int
    created_at: int
    asserter: str
    status: AssertionStatus
    output_root: bytes
    inbox_accumulator: bytes


class RollupBinding(ContractBinding):
    name = "Rollup"

    def create_assertion(
        self, parent_id: int, inbox_entries: int, l2_block_number: int, output_root: bytes, value: int | None = None
    ) -> TxReceipt:
        bond = self.bond() if value is None else value
        return self.transact("createAssertion", parent_id, inbox_entries, l2_block_number, output_root, value=bond)

    def confirm_assertion(self, assertion_id: int) -> TxReceipt:
        return self.transact("confirmAssertion", assertion_id)

    def reject_assertion(self, assertion_id: int) -> TxReceipt:
        return self.transact("rejectAssertion", assertion_id)

    def reject_descendant(self, assertion_id: int) -> TxReceipt:
        return self.transact("rejectDescendant", assertion_id)

    def release_stranded(self, assertion_id: int) -> TxReceipt:
        return self.transact("releaseStranded", assertion_id)

    def set_dispute_game(self, game: str | bytes) -> TxReceipt:
        return self.transact("setDisputeGame", to_checksum_address(game))

    def set_proposer(self, proposer: str | bytes, allowed: bool) -> TxReceipt:
        return self.transact("setProposer", to_checksum_address(proposer), allowed)

    def set_permissionless(self, permissionless: bool) -> TxReceipt:
        return self.transact("setPermissionless", permissionless)

    def bond(self) -> int:
        return self.call("bond")

    def challenge_period(self) -> int:
        return self.call("challengePeriod")

    def bonds_held(self) -> int:
        return self.call("bondsHeld")

    def latest_confirmed(self) -> int:
        return self.call("latestConfirmed")

    def assertion_count(self) -> int:
        return self.call("assertionCount")

    def open_games(self, assertion_id: int) -> int:
        """Dispute games still open against `assertion_id` (it cannot confirm while > 0)."""
        return self.call("openGames", assertion_id)

    def dispute_game(self) -> str:
        return self.call("disputeGame")

    def assertion(self, assertion_id: int) -> Assertion:
        raw = self.call("getAssertion", assertion_id)
        return Assertion(
            id=assertion_id,
            parent_id=raw[0],
            inbox_entries=raw[1],
            l2_block_number=raw[2],
            created_at=raw[3],
            asserter=raw[4],
            status=AssertionStatus(raw[5]),
            output_root=bytes(raw[6]),
            inbox_accumulator=bytes(raw[7]),
        )

    def created_id(self, receipt: TxReceipt) -> int:
        """The id of the assertion a createAssertion receipt created."""
        events = self.contract.events.AssertionCreated().process_receipt(receipt)
        if len(events) != 1:
            raise L1Error(f"expected one AssertionCreated event, found {len(events)}")
        return events[0]["args"]["id"]

