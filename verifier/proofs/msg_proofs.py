"""Proof bytes of NEXT_MESSAGE and TX_LOAD steps of a level-2 block trace, as the standalone step
contract `l1/contracts/osp/ExecMsg.sol` reads them (docs/fraud-proofs.md 2.1, 2.2, 3.2).

A module of its own so that `tx_proofs.proof_for` can route these two kinds here once ExecMsg is
wired into the prover: `msg_proof(trace, j)` for the bytes, `msg_sections(trace, j)` for the
labelled parts (what the corruption tests flip).

- NEXT_MESSAGE: `MachineState (293) ++ Cursor (20) ++ EntryCtx (45) ++ BlockAcc (148)`, then,
  when the entry is a valid batch and `msgIndex < messageCount`, the message as `u8 kind ++ body`
  (BlockStart: `u64 timestamp ++ u64 origin`; L2Tx: its 32-byte leaf; Delayed: `u64 index`) and
  its Merkle path `u8 n ++ n siblings` (l2/messages.py, bottom up).
- TX_LOAD: `MachineState ++ TxCtx (344) ++ BlockAcc ++ Pending SPONGE (227) ++ u8 len ++` the
  block (136 bytes, or the shorter final one) `++` the store words its raw part covers (the first
  block's leading 0x01 tag is not stored) and their siblings.
- DATA_LOAD (a deposit's data): `MachineState ++ TxCtx ++ BlockAcc ++ Pending SPONGE_CHECK (259:
  op 5, the SPONGE fields, the expected dataHash) ++ u8 len ++` the block `++` the store words
  it covers and their siblings; the final step of a one-byte data adds the store word holding the
  byte before it (its string header or not) and its siblings, in the store after the write.
"""

from __future__ import annotations

from l2.messages import BlockStart, Delayed, L2Tx, message_hash
from verifier.proofs.block_machine import BlockTrace
from verifier.proofs.block_steps import MessageWitness
from verifier.proofs.commitments import BlockAcc, Cursor, EntryCtx, MachineState, PendingSponge, TxCtx
from verifier.proofs.machine import Machine, PendingSpongeCheck
from verifier.proofs.steps import Section
from verifier.proofs.tx_proofs import machine_state
from verifier.proofs.tx_steps import SpongeWitness

KINDS = ("NEXT_MESSAGE", "TX_LOAD", "DATA_LOAD")


def message_sections(w: MessageWitness) -> list[Section]:
    """The message (`u8 kind ++ body`, an L2Tx as its leaf hash) and its Merkle path."""
    msg = w.message
    if isinstance(msg, BlockStart):
        kind, body = 0, msg.timestamp.to_bytes(8, "big") + msg.l1_origin_number.to_bytes(8, "big")
    elif isinstance(msg, L2Tx):
        kind, body = 1, message_hash(msg)
    elif isinstance(msg, Delayed):
        kind, body = 2, msg.index.to_bytes(8, "big")
    else:
        raise ValueError("no message to encode")
    return [Section("MsgKind", bytes([kind])), Section("MsgBody", body),
            Section("PathLen", bytes([len(w.path)])), Section("Path", b"".join(w.path))]  # fmt: skip


def next_message_sections(m: Machine, w: MessageWitness) -> list[Section]:
    assert m.entry is not None and m.acc is not None
    out = [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("Cursor", m.cursor.preimage(), Cursor),
        Section("EntryCtx", m.entry.preimage(), EntryCtx),
        Section("BlockAcc", m.acc.commitment().preimage(), BlockAcc),
    ]
    e = m.entry
    if e.kind == 0 and m.cursor.msgIndex < e.messageCount:
        out += message_sections(w)
    return out


def tx_load_sections(m: Machine, w: SpongeWitness) -> list[Section]:
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSponge) and tx is not None and acc is not None
    raw_part = w.data[1:] if p.absorbed == 0 and w.data else w.data
    out = [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("TxCtx", tx.preimage(), TxCtx),
        Section("BlockAcc", acc.commitment().preimage(), BlockAcc),
        Section("Pending", p.preimage(), PendingSponge),
        Section("Len", bytes([len(w.data)])),
        Section("Data", w.data),
    ]
    if raw_part:
        at = tx.rawOff + tx.rawLen
        first, last = at // 32, (at + len(raw_part) - 1) // 32
        count = last - first + 1
        out += [Section("StoreWords", b"".join(acc.store.word(i) for i in range(first, first + count))),
                Section("StoreSiblings", b"".join(acc.store.siblings(first, count)))]  # fmt: skip
    return out


def _store_range(m: Machine, at: int, data: bytes) -> list[Section]:
    """The store words covering `data` written at byte `at` (before the write) and siblings."""
    assert m.acc is not None
    if not data:
        return []
    first, last = at // 32, (at + len(data) - 1) // 32
    count = last - first + 1
    return [Section("StoreWords", b"".join(m.acc.store.word(i) for i in range(first, first + count))),
            Section("StoreSiblings", b"".join(m.acc.store.siblings(first, count)))]  # fmt: skip


def data_load_sections(m: Machine, w: SpongeWitness, post: Machine) -> list[Section]:
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSpongeCheck) and tx is not None and acc is not None and post.acc is not None
    out = [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("TxCtx", tx.preimage(), TxCtx),
        Section("BlockAcc", acc.commitment().preimage(), BlockAcc),
        Section("Pending", b"\x05" + p.sponge.preimage()[1:] + p.expected),
        Section("Len", bytes([len(w.data)])),
        Section("Data", w.data),
        *_store_range(m, tx.dataOff + p.sponge.absorbed, w.data),
    ]
    if w.final and tx.dataLen == 1:
        index = (tx.dataOff - 1) // 32
        out += [Section("HeaderWord", post.acc.store.word(index)),
                Section("HeaderSiblings", b"".join(post.acc.store.siblings(index, 1)))]  # fmt: skip
    return out


def msg_sections(trace: BlockTrace, j: int) -> list[Section]:
    """The labelled parts of the proof of step `j` (a NEXT_MESSAGE, TX_LOAD or DATA_LOAD step)."""
    kind = trace.step_kind(j)
    m, w = trace.machine(j), trace.witness(j)
    if kind == "NEXT_MESSAGE":
        return next_message_sections(m, w)
    if kind == "TX_LOAD":
        return tx_load_sections(m, w)
    if kind == "DATA_LOAD":
        return data_load_sections(m, w, trace.machine(j + 1))
    raise ValueError(f"step {j} is {kind}, not one of {KINDS}")


def msg_proof(trace: BlockTrace, j: int) -> bytes:
    """The `proof` of `ExecMsg.step(trace.state(j), proof)`, which returns `trace.state(j + 1)`,
    for a NEXT_MESSAGE, TX_LOAD or DATA_LOAD step `j` of a trace built with `keep_machines=True`."""
    return b"".join(s.data for s in msg_sections(trace, j))
