"""Proof bytes of NEXT_MESSAGE, TX_LOAD, DEPOSIT_LOAD and DATA_LOAD steps of a level-2 block trace,
as the step contract `l1/contracts/osp/ExecMsg.sol` reads them (docs/fraud-proofs.md 2.1, 2.2, 3.2, 16).

`PROVERS` routes the four kinds here from `tx_proofs.proof_for` (kind_proofs); `msg_proof(trace,
j)` gives the bytes, `msg_sections(trace, j)` the labelled parts (what the corruption tests flip),
`preimages_for(trace, j)` what the `PreimageOracle` must hold before the step is proven (an L2Tx
message `0x01 ++ raw`; a deposit's data, for DEPOSIT_LOAD too: its length and first byte): ExecMsg
reads the records live and reverts `PreimageNotRegistered(key)` otherwise. `block_root` is the
Python twin of the oracle's record root.

- NEXT_MESSAGE: `MachineState (293) ++ Cursor (20) ++ EntryCtx (45) ++ BlockAcc (148)`, then,
  when the entry is a valid batch and `msgIndex < messageCount`, the message as `u8 kind ++ body`
  (BlockStart: `u64 timestamp ++ u64 origin`; L2Tx: its 32-byte leaf; Delayed: `u64 index`) and
  its Merkle path `u8 n ++ n siblings` (l2/messages.py, bottom up).
- TX_LOAD: `MachineState ++ TxCtx (344) ++ BlockAcc ++ Pending SPONGE (227) ++ u8 len ++` the
  block (136 bytes, or the shorter final one) `++` its siblings in the oracle's block tree of
  `0x01 ++ raw` (none for an empty block) `++` the store words its raw part covers (the first
  block's leading 0x01 tag is not stored) and their siblings.
- DATA_LOAD (a deposit's data): `MachineState ++ TxCtx ++ BlockAcc ++ Pending SPONGE_CHECK (259:
  op 5, the SPONGE fields, the expected dataHash) ++ u8 len ++` the block `++` its block-tree
  siblings in the oracle's record of the data `++` the store words it covers and their siblings;
  the final step of a one-byte data adds the store word holding the byte before it (its string
  header or not) and its siblings, in the store after the write.
"""

from __future__ import annotations

from eth_hash.auto import keccak

from l1.proofs.block_machine import BlockTrace
from l1.proofs.block_steps import MessageWitness
from l1.proofs.commitments import BlockAcc, Cursor, EntryCtx, MachineState, PendingSponge, TxCtx
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.machine import Machine, PendingSpongeCheck
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import machine_state
from l1.proofs.tx_steps import DepositLoadWitness, SpongeWitness, deposit_prefix
from l2.messages import BlockStart, Delayed, L2Tx, merkle_proof, merkle_root, message_hash

KINDS = ("NEXT_MESSAGE", "TX_LOAD", "DATA_LOAD", "DEPOSIT_LOAD")
BLOCK = 136  # a keccak sponge block: the oracle's chunk


def _block_leaves(preimage: bytes) -> list[bytes]:
    return [keccak(preimage[i : i + BLOCK]) for i in range(0, len(preimage), BLOCK)]


def block_root(preimage: bytes) -> bytes:
    """`PreimageOracle.blockRoot`: the l2/messages Merkle root over the keccak of each 136-byte block."""
    return merkle_root(_block_leaves(preimage))


def block_siblings(preimage: bytes, absorbed: int) -> list[Section]:
    """The path of block `absorbed // 136` in the preimage's block tree (none past the last block)."""
    leaves = _block_leaves(preimage)
    index = absorbed // BLOCK
    if index >= len(leaves):
        return []
    path = merkle_proof(leaves, index)
    return [Section("BlockSiblings", b"".join(path))] if path else []


def sponge_preimage(trace: BlockTrace, j: int) -> bytes:
    """The whole preimage of the sponge run step `j` (a TX_LOAD or DATA_LOAD) belongs to: the
    blocks of the run's steps, from its first block to its final one."""
    kind = trace.step_kind(j)
    p = trace.machine(j).pending
    sponge = p.sponge if isinstance(p, PendingSpongeCheck) else p
    assert isinstance(sponge, PendingSponge) and kind in ("TX_LOAD", "DATA_LOAD")
    k = j - sponge.absorbed // BLOCK
    out = []
    while True:
        assert trace.step_kind(k) == kind
        w = trace.witness(k)
        out.append(w.data)
        if w.final:
            return b"".join(out)
        k += 1


def preimages_for(trace: BlockTrace, j: int) -> list[bytes]:
    """What ExecMsg reads from the PreimageOracle to prove step `j` (register each first)."""
    kind = trace.step_kind(j) if j < trace.steps else "IDENTITY"
    if kind in ("NEXT_MESSAGE", "BLOCK_START"):  # BLOCK_START: a block opened by an L2Tx (fraud-proofs 18)
        msg = trace.witness(j).message
        return [msg.encode()] if isinstance(msg, L2Tx) else []
    if kind in ("TX_LOAD", "DATA_LOAD"):
        return [sponge_preimage(trace, j)]
    if kind == "DEPOSIT_LOAD":  # the data's size and first byte (its DATA_LOAD run follows)
        return [sponge_preimage(trace, j + 1)]
    return []


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


def tx_load_sections(m: Machine, w: SpongeWitness, preimage: bytes) -> list[Section]:
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
        *block_siblings(preimage, p.absorbed),
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


def data_load_sections(m: Machine, w: SpongeWitness, post: Machine, preimage: bytes) -> list[Section]:
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSpongeCheck) and tx is not None and acc is not None and post.acc is not None
    out = [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("TxCtx", tx.preimage(), TxCtx),
        Section("BlockAcc", acc.commitment().preimage(), BlockAcc),
        Section("Pending", b"\x05" + p.sponge.preimage()[1:] + p.expected),
        Section("Len", bytes([len(w.data)])),
        Section("Data", w.data),
        *block_siblings(preimage, p.sponge.absorbed),
        *_store_range(m, tx.dataOff + p.sponge.absorbed, w.data),
    ]
    if w.final and tx.dataLen == 1:
        index = (tx.dataOff - 1) // 32
        out += [Section("HeaderWord", post.acc.store.word(index)),
                Section("HeaderSiblings", b"".join(post.acc.store.siblings(index, 1)))]  # fmt: skip
    return out


def deposit_load_sections(m: Machine, w: DepositLoadWitness) -> list[Section]:
    """DEPOSIT_LOAD: `MachineState ++ Cursor ++ BlockAcc ++` the deposit (`u64 index ++ sender ++ to
    ++ u256 value ++ u64 gasLimit ++ u64 l1Block ++ u64 l1Timestamp ++ dataHash`, 136 bytes; its
    accumulator and its data's record are read live) `++` the store words the encoding prefix
    covers at align32(bufLen) and their siblings."""
    assert m.acc is not None
    raw_off = (m.acc.buf_len + 31) // 32 * 32
    return [
        Section("MachineState", machine_state(m).preimage(), MachineState),
        Section("Cursor", m.cursor.preimage(), Cursor),
        Section("BlockAcc", m.acc.commitment().preimage(), BlockAcc),
        Section("DepIndex", w.index.to_bytes(8, "big")),
        Section("DepSender", w.sender),
        Section("DepTo", w.to),
        Section("DepValue", w.value.to_bytes(32, "big")),
        Section("DepGasLimit", w.gas_limit.to_bytes(8, "big")),
        Section("DepL1Block", w.l1_block_number.to_bytes(8, "big")),
        Section("DepL1Timestamp", w.l1_timestamp.to_bytes(8, "big")),
        Section("DepDataHash", w.data_hash),
        *_store_range(m, raw_off, deposit_prefix(w)),
    ]


def msg_sections(trace: BlockTrace, j: int) -> list[Section]:
    """The labelled parts of the proof of step `j` (a NEXT_MESSAGE, TX_LOAD or DATA_LOAD step)."""
    kind = trace.step_kind(j)
    m, w = trace.machine(j), trace.witness(j)
    if kind == "NEXT_MESSAGE":
        return next_message_sections(m, w)
    if kind == "TX_LOAD":
        return tx_load_sections(m, w, sponge_preimage(trace, j))
    if kind == "DATA_LOAD":
        return data_load_sections(m, w, trace.machine(j + 1), sponge_preimage(trace, j))
    if kind == "DEPOSIT_LOAD":
        return deposit_load_sections(m, w)
    raise ValueError(f"step {j} is {kind}, not one of {KINDS}")


def msg_proof(trace: BlockTrace, j: int) -> bytes:
    """The `proof` of `ExecMsg.step(trace.state(j), proof)`, which returns `trace.state(j + 1)`,
    for a NEXT_MESSAGE, TX_LOAD or DATA_LOAD step `j` of a trace built with `keep_machines=True`."""
    return b"".join(s.data for s in msg_sections(trace, j))


PROVERS: dict[str, ProofFn] = {kind: msg_sections for kind in KINDS}
