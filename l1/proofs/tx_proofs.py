"""Proof bytes of any step of a level-2 block trace, as `IOneStepProver.step` decodes them
(docs/fraud-proofs.md 2, 11): the dispute agent's level-2 source calls `proof_for(trace, j)`.

The block trace (`block_machine.BlockTrace`) holds each step's decoded pre-state and witness;
this module packs them the way the Solidity twin reads them. EXEC steps (and the LOADs of
opcodes) already carry their proof bytes as their witness (`steps.step`). The other kinds built
on L1 so far (`osp/ExecTx.sol`, `osp/ExecTxEnd.sol`):

- IDENTITY (a final block claim, 2 intro / 4.1): `BlockClaim preimage (72) ++ Cursor preimage (20)`.
  The verifier tells it from a machine state by its length (every MachineState proof is longer).
- COMMIT (2.5 as built, 8.4): `MachineState (293) ++ Pending (43: op 4 ++ CommitCursor) ++
  LeafProof ++ u32 length ++ bytes[] tail (the MPT write proof, steps.mpt_nodes) ++ u32 length ++
  sibling`.
- TX_END (2.5, 2.7 as built): `tx_end_sections`, handed by OneStepProver to ExecTxEnd unchanged.

Every other kind raises `Unsupported(name)` with `proof` set to bytes the verifier refuses by
the same name (the phase name for a machine state, ENTRY_SKIP / BLOCK_START for a claim).
"""

from __future__ import annotations

from dataclasses import replace

from l1.proofs import kind_proofs, steps
from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.block_steps import CommitWitness
from l1.proofs.commitments import (
    COMMIT,
    PHASE_NAMES,
    TX_END,
    BlockAcc,
    BlockClaim,
    BlockCtx,
    Cursor,
    Frame,
    MachineState,
    TxCtx,
)
from l1.proofs.journal import account_key
from l1.proofs.machine import CLAIM, Game, Machine, PendingCommit
from l1.proofs.steps import Section


class Unsupported(steps.Unsupported, ts.Unsupported):
    """A step with no Solidity twin yet: caught as either module's `Unsupported`; `proof` is what
    makes the verifier revert `Unsupported(name)` too."""

    def __init__(self, name: str, proof: bytes = b"") -> None:
        super().__init__(name)
        self.proof = proof


def machine_state(m: Machine) -> MachineState:
    """The `MachineState` (1.2) of a non-claim machine, as `Machine.commitment` hashes it."""
    return m.machine_state()


def claim_step_is_identity(m: Machine, g: Game) -> bool:
    """`ExecTx.identity`'s rule: the claim's cursor is at (or past) the entry limit, or it is the
    disputed block's claim in the middle of an entry (no ENTRY_SKIP can follow)."""
    c = m.cursor
    return c.entryIndex >= g.entry_limit or (m.number == g.block_number and c.msgIndex != 0)


def identity_sections(m: Machine) -> list[Section]:
    assert m.phase == CLAIM
    claim = BlockClaim(m.number, m.output_root, m.cursor.hash())
    return [Section("BlockClaim", claim.preimage(), BlockClaim), Section("Cursor", m.cursor.preimage(), Cursor)]


def pending_commit_preimage(p: PendingCommit) -> bytes:
    """The 43 bytes after the 0x50 tag of `PendingCommit.hash()`: op 4 and the cursor fields."""
    c = p.cursor
    return (b"\x04" + bytes([c.stage]) + c.leaf_index.to_bytes(4, "big") + c.account_index.to_bytes(4, "big")
            + c.storage_root + bytes([int(c.close)]))  # fmt: skip


def commit_sections(m: Machine, w: CommitWitness) -> list[Section]:
    assert m.phase == COMMIT and isinstance(m.pending, PendingCommit)
    return [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("Pending", pending_commit_preimage(m.pending)),
        Section("LeafProof", w.leaf.encode()),
        Section("Mpt", steps.mpt_nodes(list(w.proof))),
        Section("Sibling", len(w.sibling).to_bytes(4, "big") + w.sibling),
    ]


def tx_end_sections(m: Machine, w: ts.TxEndWitness, g: Game, gas_used: int) -> list[Section]:
    """TX_END's proof for `osp/ExecTxEnd.sol` (OneStepProver hands it on as is, its `phaseSteps[TX_END]`):
    `MachineState ++ TxCtx ++ BlockCtx ++ BlockAcc ++ [Frame] ++ tx bloom ++ block bloom ++` the
    record tree's word at `txCount` and its siblings `++` the journal leaves (user tx: sender,
    then coinbase after the sender's refund; deposit: `u8 present ++` coinbase or its low leaf).
    `gas_used` is the step's (the post-state's `gasUsed` minus the pre-state's)."""
    assert m.phase == TX_END and m.tx is not None and m.acc is not None and m.block is not None
    tx, acc = m.tx, m.acc
    out = [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("TxCtx", tx.preimage(), TxCtx),
        Section("BlockCtx", m.block.preimage(), BlockCtx),
        Section("BlockAcc", acc.commitment().preimage(), BlockAcc),
    ]
    if m.frame is not None:
        out.append(Section("Frame", m.frame.preimage(), Frame))
    out += [Section("TxBloom", w.tx_bloom), Section("BlockBloom", acc.bloom),
            Section("TxRecords", acc.records.proof(acc.tx_count, 1))]
    j = m.journal.copy()
    if tx.kind == 0:
        out.append(Section("LeafProof", j.membership_proof(account_key(tx.sender)).encode()))
        sender = ts.account(j, tx.sender)
        ts.set_account(j, replace(sender, balance=sender.balance + (tx.gasLimit - gas_used) * tx.gasPrice))
        out.append(Section("LeafProof", j.membership_proof(account_key(g.coinbase)).encode()))
    else:
        present = ts.has_account(j, g.coinbase)
        leaf = j.membership_proof if present else j.non_membership_proof
        out += [Section("Present", bytes([present])), Section("LeafProof", leaf(account_key(g.coinbase)).encode())]
    return out


def tx_end_proof(trace: BlockTrace, j: int) -> bytes:
    """The proof of TX_END step `j` for `ExecTxEnd.step(trace.state(j), proof)` (the same bytes as
    `proof_for(trace, j)`, which `OneStepProver.step` passes on to ExecTxEnd)."""
    assert trace.step_kind(j) == "TX_END" and trace.game is not None
    return b"".join(s.data for s in tx_end_sections_of(trace, j))


def tx_end_sections_of(trace: BlockTrace, j: int) -> list[Section]:
    m, post = trace.machine(j), trace.machine(j + 1)
    assert m.acc is not None and post.acc is not None and trace.game is not None
    return tx_end_sections(m, trace.witness(j), trace.game, post.acc.gas_used - m.acc.gas_used)


def proof_sections(trace: BlockTrace, j: int) -> list[Section]:
    """The labelled parts of the proof of step `j` (pre-state `trace.state(j)`)."""
    m, g = trace.machine(j), trace.game
    assert g is not None
    packer = kind_proofs.provers().get(trace.step_kind(j))  # past the end: "IDENTITY" (block_proofs)
    if packer is not None:
        return packer(trace, j)
    if m.phase == CLAIM:
        sections = identity_sections(m)
        if claim_step_is_identity(m, g):
            if j < trace.steps:  # the trace would step on where the verifier stays: they disagree
                raise AssertionError(f"step {j} ({trace.step_kind(j)}) of a final claim")
            return sections
        # a final claim at msgIndex 0 before the entry limit (the next entry derives a block), or a
        # claim that starts the block: the verifier needs the entry (3.1), not built yet
        name = "ENTRY_SKIP" if m.number == g.block_number else "BLOCK_START"
        raise Unsupported(name, b"".join(s.data for s in sections))
    # a kind whose phase has a step contract in OneStepProver.phaseSteps (l1/deploy.py PHASE_STEPS);
    # the next ones route here the same way (NEXT_MESSAGE / TX_LOAD: msg_proofs.msg_sections, once
    # ExecMsg fills the IDLE and TX_LOAD slots)
    if j < trace.steps and trace.step_kind(j) == "TX_END":
        return tx_end_sections_of(trace, j)
    if m.exec is not None:  # EXEC and the LOADs of opcodes: the witness is the proof
        return steps.step_sections(m.exec)[1]
    if j < trace.steps and trace.step_kind(j) == "COMMIT":
        return commit_sections(m, trace.witness(j))
    raise Unsupported(PHASE_NAMES.get(m.phase, "PHASE"), machine_state(m).preimage())


def proof_for(trace: BlockTrace, j: int) -> bytes:
    """The `proof` argument of `IOneStepProver.step(ctx, trace.state(j), proof)` for step `j` of
    `trace` (`j >= trace.steps`: the identity step of the final claim); the verifier returns
    `trace.state(j + 1)`. Needs a trace built with `keep_machines=True`. Raises `Unsupported`
    (a subclass of both `steps.Unsupported` and `tx_steps.Unsupported`) for a step kind the
    verifier does not prove yet."""
    return b"".join(s.data for s in proof_sections(trace, j))
