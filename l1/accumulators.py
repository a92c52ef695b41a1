"""The L1 inbox commitments recomputed off chain: delayed message hashes and accumulators.

Exactly the formulas of DelayedInbox.sol and Inbox.sol (docs/l1-contracts.md); a verifier
uses them to check what it read from L1 events against what the contracts stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_hash.auto import keccak

ZERO32 = b"\x00" * 32
EMPTY_PAYLOAD_HASH = keccak(b"")


@dataclass(frozen=True)
class DelayedMessage:
    """One deposit as DelayedInbox recorded it; `sender` is the L2 sender (L1 contracts aliased, l1.aliasing)."""

    index: int
    sender: bytes
    to: bytes
    value: int
    gas_limit: int
    l1_block_number: int
    l1_timestamp: int
    data: bytes

    def message_hash(self) -> bytes:
        """keccak256(abi.encode(index, sender, to, value, gasLimit, l1Block, l1Time, keccak256(data)))."""
        return keccak(
            encode(
                ["uint256", "address", "address", "uint256", "uint256", "uint256", "uint256", "bytes32"],
                [
                    self.index,
                    self.sender,
                    self.to,
                    self.value,
                    self.gas_limit,
                    self.l1_block_number,
                    self.l1_timestamp,
                    keccak(self.data),
                ],
            )
        )


def delayed_accumulator(previous: bytes, message_hash: bytes) -> bytes:
    """delayedAcc[j] = keccak256(delayedAcc[j-1] ++ messageHash); delayedAcc[-1] = 0."""
    return keccak(previous + message_hash)


def inbox_accumulator(
    previous: bytes, payload_hash: bytes, message_root: bytes, message_count: int, delayed_acc: bytes
) -> bytes:
    """acc[i] = keccak256(acc[i-1] ++ payloadHash ++ messageRoot ++ uint256(count) ++ delayedAcc[read-1])."""
    return keccak(previous + payload_hash + message_root + message_count.to_bytes(32, "big") + delayed_acc)

