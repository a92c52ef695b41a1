"""SLOAD / SSTORE gas and refunds as pure functions of the journal's slot entry (docs/fraud-proofs.md
2.3): EIP-2929 cold/warm, EIP-2200 net metering with its 2300-gas stipend guard, EIP-3529 refunds,
exactly as py-evm's Prague fork charges them. Python twin of `l1/contracts/osp/StorageGas.sol`.

Why pure: the one-step prover has the original, current and new values and the warm flag in the
journal leaf, not a py-evm computation; the step charges `gas`, adds `refund` to the tx refund
counter (which may go negative within a tx) and halts exceptionally when `ok` is false.
"""

from __future__ import annotations

from dataclasses import dataclass

COLD_SLOAD = 2100  # EIP-2929
WARM_READ = 100  # EIP-2929 (also the "no-op" SSTORE cost)
SSTORE_SET = 20_000
SSTORE_RESET = 5_000 - COLD_SLOAD  # 2900 (EIP-2929)
SSTORE_CLEARS = SSTORE_RESET + 1_900  # 4800 (EIP-3529: reset + an access-list storage key)
STIPEND = 2_300  # EIP-2200: an SSTORE with this much gas left or less always fails


def sload_gas(warm: bool) -> int:
    """Gas of SLOAD on a slot that was (not) accessed earlier in the transaction."""
    return WARM_READ if warm else COLD_SLOAD


@dataclass(frozen=True)
class SstoreCost:
    """`ok` false: out of gas (stipend guard or `gas > gas_left`), the frame halts exceptionally;
    `gas` and `refund` are then what the SSTORE would have cost."""

    ok: bool
    gas: int
    refund: int


def sstore_gas(original: int, current: int, new: int, warm: bool, gas_left: int) -> SstoreCost:
    """Gas and refund delta of `SSTORE(slot, new)` given the slot's value at tx start
    (`original`), now (`current`), whether it is warm, and the frame's gas left before it."""
    refund = 0
    if current == new:
        gas = WARM_READ
    elif original == current:
        if original == 0:
            gas = SSTORE_SET
        else:
            gas = SSTORE_RESET
            if new == 0:
                refund += SSTORE_CLEARS
    else:
        gas = WARM_READ
        if original != 0:
            if current == 0:
                refund -= SSTORE_CLEARS
            if new == 0:
                refund += SSTORE_CLEARS
        if original == new:
            refund += (SSTORE_SET if original == 0 else SSTORE_RESET) - WARM_READ
    if not warm:
        gas += COLD_SLOAD
    return SstoreCost(gas_left > STIPEND and gas <= gas_left, gas, refund)
