"""Keccak-256 as a resumable sponge: the Python twin of l1/contracts/osp/Keccak.sol.

A hash whose input is too long for one proof step (docs/fraud-proofs.md D6, 1.8 op SPONGE) is
absorbed one 136-byte block per micro-step; between steps only the 200-byte sponge state is
carried (committed in `Pending`). The state is the FIPS 202 byte string: lane `i = x + 5y` at
bytes `8i .. 8i+8`, little-endian, so absorbing is a plain XOR into bytes 0..136 and the digest is
bytes 0..32 of the final state. Pure Python on purpose: it must be checkable line by line against
the Solidity and against `eth_hash`, not call into the same C code that it is checked against.
"""

from __future__ import annotations

from eth_hash.auto import keccak

RATE = 136  # bytes absorbed per permutation (Keccak-256: capacity 512 bits)
STATE_BYTES = 200
EMPTY_STATE = bytes(STATE_BYTES)
PENDING_TAG = 0x50
OP_SPONGE = 2
MASK64 = (1 << 64) - 1

ROUND_CONSTANTS: tuple[int, ...] = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip

# Rotation offsets r[x + 5y] (FIPS 202 rho), derived rather than tabulated: (x, y) walks
# (1, 0) -> (y, 2x + 3y) and the t-th lane visited rotates by (t+1)(t+2)/2.
ROTATIONS: tuple[int, ...]


def _rotations() -> tuple[int, ...]:
    r = [0] * 25
    x, y = 1, 0
    for t in range(24):
        r[x + 5 * y] = ((t + 1) * (t + 2) // 2) % 64
        x, y = y, (2 * x + 3 * y) % 5
    return tuple(r)


ROTATIONS = _rotations()


class SpongeError(ValueError):
    """A block or state of the wrong size."""


def _rol(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & MASK64 if n else v


def keccak_f(lanes: list[int]) -> list[int]:
    """keccak-f[1600] on 25 lanes indexed `x + 5y`."""
    a = list(lanes)
    for rc in ROUND_CONSTANTS:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(a[x + 5 * y] ^ d[x], ROTATIONS[x + 5 * y])
        a = [b[i] ^ (~b[(i % 5 + 1) % 5 + 5 * (i // 5)] & b[(i % 5 + 2) % 5 + 5 * (i // 5)]) for i in range(25)]
        a[0] ^= rc
    return a


def lanes_of(state: bytes) -> list[int]:
    if len(state) != STATE_BYTES:
        raise SpongeError(f"sponge state is {len(state)} bytes, not {STATE_BYTES}")
    return [int.from_bytes(state[8 * i : 8 * i + 8], "little") for i in range(25)]


def state_of(lanes: list[int]) -> bytes:
    return b"".join(lane.to_bytes(8, "little") for lane in lanes)


def permute(state: bytes) -> bytes:
    """keccak-f[1600] on the 200-byte state encoding."""
    return state_of(keccak_f(lanes_of(state)))


def absorb(state: bytes, block: bytes) -> bytes:
    """One micro-step: XOR a full 136-byte block into the rate and permute."""
    if len(block) != RATE:
        raise SpongeError(f"a sponge block is {RATE} bytes, got {len(block)}")
    if len(state) != STATE_BYTES:
        raise SpongeError(f"sponge state is {len(state)} bytes, not {STATE_BYTES}")
    mixed = bytes(s ^ b for s, b in zip(state[:RATE], block, strict=True)) + state[RATE:]
    return permute(mixed)


def pad(tail: bytes) -> bytes:
    """The last block of Keccak-256 (original Keccak multi-rate padding 0x01 .. 0x80, not SHA3's 0x06)."""
    if len(tail) >= RATE:
        raise SpongeError(f"a final tail is < {RATE} bytes, got {len(tail)}")
    block = bytearray(tail) + bytearray(RATE - len(tail))
    block[len(tail)] ^= 0x01
    block[RATE - 1] ^= 0x80
    return bytes(block)


def squeeze(state: bytes) -> bytes:
    """The 32-byte digest of a state whose last absorbed block was padded."""
    if len(state) != STATE_BYTES:
        raise SpongeError(f"sponge state is {len(state)} bytes, not {STATE_BYTES}")
    return state[:32]


def absorb_final(state: bytes, tail: bytes) -> tuple[bytes, bytes]:
    """The last micro-step: pad `tail` (0..135 bytes), absorb it; returns (final state, digest)."""
    final = absorb(state, pad(tail))
    return final, squeeze(final)


def blocks(message: bytes) -> tuple[list[bytes], bytes]:
    """Split a message the way the micro-steps take it: full blocks, then a tail of 0..135 bytes."""
    full = len(message) // RATE
    return [message[RATE * k : RATE * (k + 1)] for k in range(full)], message[RATE * full :]


def intermediate_states(message: bytes) -> list[bytes]:
    """Every state a sponge over `message` passes through: the empty state, one per block, the final one."""
    states = [EMPTY_STATE]
    full, tail = blocks(message)
    for block in full:
        states.append(absorb(states[-1], block))
    states.append(absorb_final(states[-1], tail)[0])
    return states


def keccak256(message: bytes) -> bytes:
    """keccak256 through the sponge (for tests; production code uses eth_hash)."""
    return squeeze(intermediate_states(message)[-1])


def pending_hash(state: bytes, absorbed: int, source: int, src_off: int, remaining: int, purpose: int) -> bytes:
    """`Pending` of op SPONGE (docs/fraud-proofs.md 1.8):
    H(0x50 ++ u8 2 ++ state[200] ++ u64 absorbed ++ u8 source ++ u64 srcOff ++ u64 remaining ++ u8 purpose)."""
    if len(state) != STATE_BYTES:
        raise SpongeError(f"sponge state is {len(state)} bytes, not {STATE_BYTES}")
    return keccak(
        bytes([PENDING_TAG, OP_SPONGE])
        + state
        + absorbed.to_bytes(8, "big")
        + bytes([source])
        + src_off.to_bytes(8, "big")
        + remaining.to_bytes(8, "big")
        + bytes([purpose])
    )
