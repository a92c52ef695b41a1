"""L1 -> L2 sender aliasing: the L2 sender of a deposit made by an L1 contract.

`DelayedInbox` records `alias(caller)` when the caller is not the transaction's origin (a
contract), so an L1 contract never acts as the L2 account of its own address (whoever
holds that address on L2 may be someone else). Same rule as the OP Stack and Arbitrum.
"""

from __future__ import annotations

ALIAS_OFFSET = 0x1111000000000000000000000000000000001111
_MOD = 1 << 160


def apply_alias(l1_address: bytes) -> bytes:
    """The L2 sender of deposits made by the L1 contract at `l1_address`."""
    return ((int.from_bytes(l1_address, "big") + ALIAS_OFFSET) % _MOD).to_bytes(20, "big")


def undo_alias(l2_address: bytes) -> bytes:
    """The L1 contract whose deposits come from `l2_address` on L2."""
    return ((int.from_bytes(l2_address, "big") - ALIAS_OFFSET) % _MOD).to_bytes(20, "big")
