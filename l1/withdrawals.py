"""Withdrawals (L2 -> L1): the hash L2's MessagePasser stores, its storage slot, and proofs.

The same formulas as `MessagePasser.sol` (L2) and `DelayedInbox.proveWithdrawal` (L1):

    withdrawalHash = keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))
    slot           = keccak256(abi.encode(withdrawalHash, 0))     sentMessages is slot 0
    trie key       = keccak256(slot)                              value RLP(1) = 0x01

Vectors: docs/vectors/withdrawals.json. User guide: docs/bridge.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_hash.auto import keccak
from eth_utils import to_canonical_address, to_checksum_address

from l2.output_root import output_root
from l2.predeploys import MESSAGE_PASSER_ADDRESS

SENT_MESSAGES_SLOT = 0
MESSAGE_PASSED_TOPIC = keccak(b"MessagePassed(uint256,address,address,uint256,uint256,bytes,bytes32)")
_FIELDS = ["uint256", "address", "address", "uint256", "uint256", "bytes"]


@dataclass(frozen=True)
class Withdrawal:
    """One L2-to-L1 message as MessagePasser recorded it (addresses as 20 bytes)."""

    nonce: int
    sender: bytes
    target: bytes
    value: int
    gas_limit: int
    data: bytes = b""

    def hash(self) -> bytes:
        return keccak(encode(_FIELDS, [self.nonce, self.sender, self.target, self.value, self.gas_limit, self.data]))

    def slot(self) -> bytes:
        return withdrawal_slot(self.hash())

    def as_abi(self) -> tuple[Any, ...]:
        """The `Withdrawal` struct argument of DelayedInbox."""
        return (
            self.nonce, to_checksum_address(self.sender), to_checksum_address(self.target),
            self.value, self.gas_limit, self.data,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce, "sender": to_checksum_address(self.sender),
            "target": to_checksum_address(self.target), "value": self.value,
            "gasLimit": self.gas_limit, "data": "0x" + self.data.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Withdrawal:
        return cls(
            nonce=int(data["nonce"]), sender=to_canonical_address(data["sender"]),
            target=to_canonical_address(data["target"]), value=int(data["value"]),
            gas_limit=int(data["gasLimit"]), data=bytes.fromhex(data["data"].removeprefix("0x")),
        )


def withdrawal_slot(withdrawal_hash: bytes) -> bytes:
    """MessagePasser's storage slot of `sentMessages[withdrawal_hash]`."""
    return keccak(withdrawal_hash + SENT_MESSAGES_SLOT.to_bytes(32, "big"))


def storage_trie_key(slot: bytes) -> bytes:
    return keccak(slot)


@dataclass(frozen=True)
class MessagePassed:
    """A MessagePassed event of the MessagePasser: the withdrawal, its hash as L2 logged it, its block."""

    withdrawal: Withdrawal
    withdrawal_hash: bytes
    l2_block_number: int


def _hex(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def messages_passed(receipt: dict[str, Any], passer: bytes = MESSAGE_PASSER_ADDRESS) -> list[MessagePassed]:
    """The withdrawals initiated in one L2 transaction receipt (JSON-RPC or web3 form);
    `passer` is the MessagePasser's address (the predeploy's, unless a test deploys its own)."""
    found = []
    for log in receipt["logs"]:
        topics = [_hex(t) for t in log["topics"]]
        if _hex(log["address"]) != passer or not topics or topics[0] != MESSAGE_PASSED_TOPIC:
            continue
        value, gas_limit, data, withdrawal_hash = decode(["uint256", "uint256", "bytes", "bytes32"], _hex(log["data"]))
        withdrawal = Withdrawal(
            nonce=int.from_bytes(topics[1], "big"), sender=topics[2][12:], target=topics[3][12:],
            value=value, gas_limit=gas_limit, data=bytes(data),
        )
        if withdrawal.hash() != bytes(withdrawal_hash):
            raise ValueError(f"MessagePassed event hash 0x{bytes(withdrawal_hash).hex()} does not match its fields")
        number = log.get("blockNumber", receipt.get("blockNumber"))
        found.append(MessagePassed(withdrawal, bytes(withdrawal_hash), int(number, 16) if isinstance(number, str)
                                   else int(number)))
    return found


@dataclass(frozen=True)
class OutputRootProof:
    """The preimage of an output root (l2.output_root), the `OutputRootProof` of DelayedInbox."""

    state_root: bytes
    message_passer_storage_root: bytes
    block_hash: bytes

    def root(self) -> bytes:
        return output_root(self.state_root, self.message_passer_storage_root, self.block_hash)

    def as_abi(self) -> tuple[bytes, bytes, bytes]:
        return (self.state_root, self.message_passer_storage_root, self.block_hash)


def hashed_nodes(proof: Sequence[bytes]) -> list[bytes]:
    """The proof as DelayedInbox takes it (and geth returns it): the root, then only the nodes
    of 32 bytes or more; shorter ones are embedded in their parent, where the verifier reads them."""
    return [node for i, node in enumerate(proof) if i == 0 or len(node) >= 32]


@dataclass(frozen=True)
class WithdrawalProof:
    """Everything `proveWithdrawal` takes besides the withdrawal and the assertion id."""

    output: OutputRootProof
    storage_proof: list[bytes]


def proof_from_rpc(block: dict[str, Any], get_proof: dict[str, Any], withdrawal_hash: bytes) -> WithdrawalProof:
    """Build the proof from `eth_getBlockByNumber` and `eth_getProof(MessagePasser, [slot])` answers."""
    slot = withdrawal_slot(withdrawal_hash)
    [entry] = get_proof["storageProof"]
    if int.from_bytes(_hex(entry["key"]).rjust(32, b"\0"), "big") != int.from_bytes(slot, "big"):
        raise ValueError("eth_getProof answered for another storage slot")
    if int(entry["value"], 16) != 1:
        raise ValueError(f"withdrawal 0x{withdrawal_hash.hex()} is not in the MessagePasser at that block")
    output = OutputRootProof(_hex(block["stateRoot"]), _hex(get_proof["storageHash"]), _hex(block["hash"]))
    return WithdrawalProof(output, hashed_nodes([_hex(n) for n in entry["proof"]]))
