"""Proof bytes of the block-end steps TRIE, TRIE_SPONGE and SEAL, as `l1/contracts/osp/ExecTrie.sol`
(and its ExecSeal) read them (docs/fraud-proofs.md 2.1, 2.6, 15). OneStepProver hands every step of
phase TRIE to ExecTrie (`phaseSteps[TRIE]`); SEAL is a step of that phase (`which == DONE`).

- TRIE / TRIE_SPONGE: `MachineState (293) ++ BlockAcc (148) ++ u32 n ++ trieState (n) ++ [Pending
  SPONGE (227) when the state has a pending] ++ [txCount > 0: TxRecord (294) of the key's index ++
  its 16 siblings in the record tree] ++ [store words the step reads ++ their siblings]`. The value
  is `head ++ store[off, off + len)` (raw tx: no head; receipt: `block_steps.receipt_value` up to its
  logs payload); an inline TRIE reads all of the store part, a TRIE_SPONGE the store part of its
  136-byte window of `leafPrefix ++ value`, the TRIE after the sponge nothing.
- SEAL: `MachineState ++ BlockAcc ++ u32 70 ++ trieState (70) ++ BlockCtx (153) ++ bloom (256) ++`
  the MessagePasser account's MPT proof in worldRoot (`steps.mpt_nodes`).
"""

from __future__ import annotations

from l1.proofs import block_steps as bs
from l1.proofs import stacktrie
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import BlockAcc, BlockCtx, MachineState, PendingSponge, TxRecord
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.machine import PURPOSE_TRIE_LEAF_DONE, Machine
from l1.proofs.steps import Section, mpt_nodes
from l1.proofs.tx_proofs import machine_state

BLOCK = 136


def _common(m: Machine) -> list[Section]:
    assert m.acc is not None and m.acc.trie is not None
    state = m.acc.trie.encode()
    return [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("BlockAcc", m.acc.commitment().preimage(), BlockAcc),
        Section("TrieState", len(state).to_bytes(4, "big") + state),
    ]


def _store(m: Machine, off: int, size: int) -> list[Section]:
    """The store words covering `[off, off + size)` and their siblings (nothing for no bytes)."""
    assert m.acc is not None
    if size <= 0:
        return []
    first, last = off // 32, (off + size - 1) // 32
    count = last - first + 1
    return [Section("StoreWords", b"".join(m.acc.store.word(i) for i in range(first, first + count))),
            Section("StoreSiblings", b"".join(m.acc.store.siblings(first, count)))]  # fmt: skip


def value_parts(m: Machine, w: bs.TrieWitness) -> tuple[bytes, int, int]:
    """(head, off, len): the value of the key the step inserts is `head ++ store[off, off + len)`."""
    acc = m.acc
    assert acc is not None and acc.trie is not None
    record = w.record
    if not acc.tx_count or record is None:
        return b"", 0, 0
    if acc.trie.which == stacktrie.TX:
        return b"", record.rawOff, record.rawLen
    value = bs.trie_value(m, w)
    return value[: len(value) - record.logsLen], record.logsOff, record.logsLen


def trie_sections(m: Machine, w: bs.TrieWitness) -> list[Section]:
    """A TRIE or TRIE_SPONGE step's proof (the kind follows from the pre-state, as in the trace)."""
    acc = m.acc
    assert acc is not None and acc.trie is not None and acc.trie.which != stacktrie.DONE
    out = _common(m)
    p = m.pending
    if p is not None:
        assert isinstance(p, PendingSponge)
        out.append(Section("Pending", p.preimage(), PendingSponge))
    if acc.tx_count:
        record = w.record
        assert record is not None
        index = stacktrie.key_index(acc.trie.pos, acc.tx_count)
        out += [Section("TxRecord", record.preimage(), TxRecord),
                Section("TxRecSiblings", b"".join(acc.records.siblings(index, 1)))]  # fmt: skip
    head, off, size = value_parts(m, w)
    n = len(head) + size
    if n <= stacktrie.INLINE:
        return out + _store(m, off, size)
    if isinstance(p, PendingSponge) and p.purpose == PURPOSE_TRIE_LEAF_DONE:
        return out
    absorbed = p.absorbed if isinstance(p, PendingSponge) else 0
    full = len(stacktrie.leaf_prefix(acc.trie.pos, acc.tx_count, n)) + len(head)  # bytes before the store part
    start, end = max(absorbed, full), min(absorbed + BLOCK, full + size)
    return out + _store(m, off + start - full, end - start)


def seal_sections(m: Machine, w: bs.SealWitness) -> list[Section]:
    assert m.acc is not None and m.block is not None
    return [*_common(m), Section("BlockCtx", m.block.preimage(), BlockCtx), Section("Bloom", m.acc.bloom),
            Section("Mpt", mpt_nodes(list(w.passer_proof)))]  # fmt: skip


def trie_proof_sections(trace: BlockTrace, j: int) -> list[Section]:
    """The labelled parts of the proof of TRIE, TRIE_SPONGE or SEAL step `j`."""
    kind, m, w = trace.step_kind(j), trace.machine(j), trace.witness(j)
    if kind == "SEAL":
        return seal_sections(m, w)
    if kind in ("TRIE", "TRIE_SPONGE"):
        return trie_sections(m, w)
    raise ValueError(f"step {j} is {kind}, not TRIE, TRIE_SPONGE or SEAL")


def trie_proof(trace: BlockTrace, j: int) -> bytes:
    """The `proof` of `ExecTrie.step(trace.state(j), proof)` (and of the prover's step), which
    returns `trace.state(j + 1)`."""
    return b"".join(s.data for s in trie_proof_sections(trace, j))


PROVERS: dict[str, ProofFn] = {"TRIE": trie_proof_sections, "TRIE_SPONGE": trie_proof_sections,
                               "SEAL": trie_proof_sections}  # fmt: skip
