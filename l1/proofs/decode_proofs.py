"""Proof bytes of TX_DECODE and SIG_HASH steps of a level-2 block trace, as the step contracts
`l1/contracts/osp/ExecTxDecode.sol` and `ExecSigHash.sol` read them (docs/fraud-proofs.md 2.2, 17).

`PROVERS` routes the two kinds here from `tx_proofs.proof_for` (kind_proofs). Every proof opens
with `MachineState (293) ++ TxCtx (344) ++ BlockAcc (148)`; nothing after it is a value the step
takes on trust: each range is store words proven against `bufRoot` by their siblings.

- TX_DECODE: when `0 < rawLen <= maxTxSize`, the words of the head `[rawOff, rawOff + min(rawLen,
  224))` and their siblings; when the fields before the data decode (`tx_steps.decode_head`), the
  words of the tail `[dataEnd, min(rawEnd, dataEnd + 4192))` (none when empty) and their siblings.
- SIG_HASH: `++ Pending SPONGE (227) ++` the words of the block's body part `[srcOff + lo, srcOff +
  hi)` (`tx_steps.sig_block`; none when the block is all prefix / suffix) and their siblings; the
  final micro-step adds the words of the signature fields `[sig, rawOff + rawLen)` and siblings.
"""

from __future__ import annotations

from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import BlockAcc, MachineState, PendingSponge, TxCtx
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.machine import Game, Machine
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import machine_state

KINDS = ("TX_DECODE", "SIG_HASH")


def store_range(m: Machine, at: int, length: int, name: str) -> list[Section]:
    """The store words covering `[at, at + length)` and their siblings (nothing when empty)."""
    assert m.acc is not None
    if length <= 0:
        return []
    first, last = at // 32, (at + length - 1) // 32
    count = last - first + 1
    return [Section(f"{name}Words", b"".join(m.acc.store.word(i) for i in range(first, first + count))),
            Section(f"{name}Siblings", b"".join(m.acc.store.siblings(first, count)))]  # fmt: skip


def _common(m: Machine) -> list[Section]:
    assert m.tx is not None and m.acc is not None
    return [Section("MachineState", machine_state(m).preimage(), MachineState),
            Section("TxCtx", m.tx.preimage(), TxCtx),
            Section("BlockAcc", m.acc.commitment().preimage(), BlockAcc)]  # fmt: skip


def decode_sections(m: Machine, g: Game) -> list[Section]:
    """TX_DECODE of machine `m` (TxCtx.setup 1) with the chain constants `g`."""
    tx = m.tx
    assert tx is not None and m.acc is not None
    out = _common(m)
    if tx.rawLen == 0 or tx.rawLen > g.max_tx_size:
        return out
    head_len = ts.head_range(tx.rawLen)
    out += store_range(m, tx.rawOff, head_len, "Head")
    raw = m.acc.store.read(tx.rawOff, tx.rawLen)
    try:
        head = ts.decode_head(ts.RawView(raw[:head_len]), tx.rawLen, g)
    except (ts.Refused, ts.Unsupported):
        return out
    start, length = ts.tail_range(head)
    return out + store_range(m, tx.rawOff + start, length, "Tail")


def sig_hash_sections(m: Machine, g: Game) -> list[Section]:
    """SIG_HASH of machine `m` (TxCtx.setup 2, Pending SPONGE of purpose 2 over the store)."""
    tx, p = m.tx, m.pending
    assert tx is not None and m.acc is not None and isinstance(p, PendingSponge)
    out = [*_common(m), Section("Pending", p.preimage(), PendingSponge)]
    _, (lo, hi) = ts.sig_block(tx, p, m.acc.store, g.chain_id)
    out += store_range(m, lo, hi - lo, "Body")
    if p.remaining < ts.BLOCK:
        sig = tx.alOff + tx.alLen if tx.type else tx.dataOff + tx.dataLen
        out += store_range(m, sig, tx.rawOff + tx.rawLen - sig, "Sig")
    return out


def decode_proof_sections(trace: BlockTrace, j: int) -> list[Section]:
    """The labelled parts of the proof of step `j` (a TX_DECODE or SIG_HASH step)."""
    kind, m, g = trace.step_kind(j), trace.machine(j), trace.game
    assert g is not None
    if kind == "TX_DECODE":
        return decode_sections(m, g)
    if kind == "SIG_HASH":
        return sig_hash_sections(m, g)
    raise ValueError(f"step {j} is {kind}, not one of {KINDS}")


def decode_proof(trace: BlockTrace, j: int) -> bytes:
    return b"".join(s.data for s in decode_proof_sections(trace, j))


PROVERS: dict[str, ProofFn] = {kind: decode_proof_sections for kind in KINDS}
