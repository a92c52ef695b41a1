"""The prover's face to the game: the pre-state hash, proof bytes and post-state of a step.

A step is identified by its pre-state (`ExecState`, as the tracer rebuilds it); the bytes
are what `IOneStepProver.step(ctx, pre, proof)` decodes, and `post_state` is the hash the
verifier must return for them. `step_calldata` ABI-encodes the call for any L1 client.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_hash.auto import keccak

from l1.proofs.steps import ExecState, step

STEP_SELECTOR = keccak(b"step((uint64,uint64,uint64),bytes32,bytes)")[:4]


@dataclass(frozen=True)
class GameContext:
    """IOneStepProver.GameContext: the dispute's constants a step may read."""

    l2_block: int = 0
    entry_limit: int = 0
    created_at: int = 0


def pre_state(state: ExecState) -> bytes:
    return state.hash()


def proof(state: ExecState) -> bytes:
    """The proof bytes of the step from `state` (raises `Unsupported` like the verifier)."""
    return step(state)[1]


def post_state(state: ExecState) -> bytes:
    """The state hash after the step from `state`."""
    return step(state)[0].hash()


def step_calldata(ctx: GameContext, pre: bytes, proof_bytes: bytes) -> bytes:
    args = encode(
        ["(uint64,uint64,uint64)", "bytes32", "bytes"],
        [(ctx.l2_block, ctx.entry_limit, ctx.created_at), pre, proof_bytes],
    )
    return STEP_SELECTOR + args
