"""Proof bytes of the block-start steps (docs/fraud-proofs.md 2.1, 3.1, 14): the claim steps
ENTRY_SKIP and BLOCK_START (and IDENTITY's layout) for `osp/ExecBlockStart.sol`, OneStepProver's
`phaseSteps[0]`, and phase SYS (SYS_WRITE and the LOAD_ACCOUNT / LOAD_SLOT before it, routed here
by `load_proofs`) for `osp/ExecSys.sol`, `phaseSteps[SYS]`.

The trace's witnesses give the pre-state's parts; what they lack is read here: the entry's
accumulator preimage (payload hash, delayed accumulator) from the L1 source the trace was built
from (`BlockTrace.l1`). BLOCK_START carries no origin record: the verifier reads
`Inbox.l1Origins(given)` live (D2, 3.4), so a new origin needs nothing more in the proof.
"""

from __future__ import annotations

from typing import Any

from eth_abi import encode
from eth_hash.auto import keccak

from l1.accumulators import ZERO32, DelayedMessage, delayed_accumulator
from l1.proofs import block_steps as bs
from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import SYS, BlockClaim, BlockCtx, Cursor, MachineState
from l1.proofs.journal import SlotEntry, account_key, slot_key
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.machine import CLAIM, Machine, PendingSys
from l1.proofs.steps import Section, mpt_nodes
from l1.proofs.tx_proofs import claim_step_is_identity, machine_state
from l2.messages import L2Tx, Message, message_hash

ACTION_LOAD_ACCOUNT, ACTION_LOAD_SLOT, ACTION_SYS_WRITE = 0, 1, 2


def _u(v: int, n: int) -> bytes:
    return v.to_bytes(n, "big")


# -- the entry (3.1) ----------------------------------------------------------------------------


def delayed_accumulator_at(l1: Any, count: int) -> bytes:
    """`DelayedInbox.accumulators(count - 1)` (0 for none) recomputed from the source's delayed
    messages (their hashes as DelayedInbox.sol makes them), or asked of a source that knows it."""
    if count == 0:
        return ZERO32
    known = getattr(l1, "delayed_accumulator", None)
    if known is not None:
        return bytes(known(count))
    return _fold(l1, count)


def _fold(l1: Any, count: int) -> bytes:
    acc = ZERO32
    for k in range(count):
        acc = delayed_accumulator(acc, _message_of(l1, k).message_hash())
    return acc


def _message_of(l1: Any, index: int) -> DelayedMessage:
    q = l1.delayed(index)
    d = q.deposit
    return DelayedMessage(d.index, bytes(d.sender), bytes(d.to), d.value, d.gas_limit, q.l1_block_number,
                          q.l1_timestamp, bytes(d.data))  # fmt: skip


def delayed_preimage(l1: Any, index: int) -> bytes:
    """The 256 bytes DelayedInbox hashes into delayed message `index`'s hash: abi.encode(index,
    sender, to, value, gasLimit, l1BlockNumber, l1Timestamp, keccak(data))."""
    m = _message_of(l1, index)
    return encode(["uint256", "address", "address", "uint256", "uint256", "uint256", "uint256", "bytes32"],
                  [m.index, m.sender, m.to, m.value, m.gas_limit, m.l1_block_number, m.l1_timestamp,
                   keccak(m.data)])  # fmt: skip


def entry_section(trace: BlockTrace, index: int) -> Section:
    """`b32 payloadHash ++ b32 messageRoot ++ u32 messageCount ++ b32 delayedAcc ++ u64 delayedEnd`:
    the preimage of `Inbox.accumulators(index)` after the previous accumulator, and the entry's
    delayedRead, which the verifier checks against `DelayedInbox.accumulators(d - 1)`."""
    if trace.l1 is None:
        raise ValueError("the trace keeps no L1 source (BlockTrace.l1): the entry's preimage is unknown")
    found = trace.l1.entries(index, 0, 1)
    if not found or found[0].index != index:
        raise ValueError(f"inbox entry {index} not found")
    e = found[0]
    data = (keccak(e.payload) + e.message_root + _u(e.message_count, 4)
            + delayed_accumulator_at(trace.l1, e.delayed_read) + _u(e.delayed_read, 8))  # fmt: skip
    return Section("Entry", data)


def claim_head(m: Machine) -> list[Section]:
    """The claim and cursor preimages: IDENTITY's whole proof, the head of every claim step."""
    assert m.phase == CLAIM
    claim = BlockClaim(m.number, m.output_root, m.cursor.hash())
    return [Section("BlockClaim", claim.preimage(), BlockClaim), Section("Cursor", m.cursor.preimage(), Cursor)]


def identity_sections(trace: BlockTrace, j: int) -> list[Section]:
    """IDENTITY of the final claim (j >= trace.steps): the claim and cursor preimages, as
    ExecTx.identity reads them, when the cursor is at the limit or mid-entry; else (msgIndex 0
    before the limit: final only because the entry there derives a block) also that entry."""
    m, g = trace.machine(j), trace.game
    assert m.phase == CLAIM and g is not None
    if claim_step_is_identity(m, g):
        return claim_head(m)
    return [*claim_head(m), entry_section(trace, m.cursor.entryIndex)]


def entry_skip_sections(trace: BlockTrace, j: int) -> list[Section]:
    m = trace.machine(j)
    return [*claim_head(m), entry_section(trace, m.cursor.entryIndex)]


# -- BLOCK_START (2.1) --------------------------------------------------------------------------


def message_section(message: Message) -> Section:
    """`u32 length ++ message` (BlockStart, Delayed: small, and a BlockStart's fields are read), or
    an L2Tx as `u32 0 ++ leaf`: the verifier reads its kind byte from the PreimageOracle record
    (`msg_proofs.preimages_for` registers it), so a large transaction keeps the proof small."""
    if isinstance(message, L2Tx):
        return Section("Message", _u(0, 4) + message_hash(message))
    encoded = message.encode()
    return Section("Message", _u(len(encoded), 4) + encoded)


def block_start_sections(trace: BlockTrace, j: int) -> list[Section]:
    """Claim, cursor, entry, output-root preimage, parent header, the L1Info account and slots
    0..2, then message `msgIndex` and its Merkle path (valid batch) or the preimage of the entry's
    last delayed message (forced or invalid entry)."""
    m, w = trace.machine(j), trace.witness(j)
    assert isinstance(w, bs.BlockStartWitness)
    out = [*claim_head(m), entry_section(trace, m.cursor.entryIndex),
           Section("OutputRoot", w.state_root + w.passer_root + keccak(w.parent_header)),
           Section("Header", _u(len(w.parent_header), 4) + w.parent_header),
           Section("L1InfoAccount", mpt_nodes(list(w.l1_info_account_proof))),
           *[Section(f"L1InfoSlot{k}", mpt_nodes(list(p))) for k, p in enumerate(w.l1_info_slot_proofs)]]  # fmt: skip
    entry, index = w.entry.ctx, m.cursor.msgIndex
    if entry.kind == bs.KIND_VALID and index < entry.messageCount:
        assert w.message is not None
        out += [message_section(w.message), Section("Path", b"".join(w.message_path))]
    else:
        assert trace.l1 is not None and w.last_delayed is not None
        out.append(Section("LastDelayed", delayed_preimage(trace.l1, entry.delayedEnd - 1)))
    return out


# -- phase SYS ----------------------------------------------------------------------------------


def sys_head(m: Machine, action: int) -> list[Section]:
    assert m.phase == SYS and isinstance(m.pending, PendingSys) and m.block is not None
    return [Section("MachineState", machine_state(m).preimage(), MachineState),
            Section("Pending", bytes([6, m.pending.next])), Section("BlockCtx", m.block.preimage(), BlockCtx),
            Section("Action", bytes([action]))]  # fmt: skip


def sys_sections(trace: BlockTrace, j: int) -> list[Section]:
    """SYS_WRITE, or the LOAD_ACCOUNT / LOAD_SLOT of phase SYS (`load_proofs` routes those here)."""
    m, w, kind = trace.machine(j), trace.witness(j), trace.step_kind(j)
    journal = m.journal.copy()
    if kind == "LOAD_ACCOUNT":
        assert isinstance(w, ts.LoadAccountWitness)
        insert = journal.insert_account(w.entry)
        return [*sys_head(m, ACTION_LOAD_ACCOUNT), Section("Mpt", mpt_nodes(list(w.mpt_proof))),
                Section("InsertProof", insert.encode())]  # fmt: skip
    if kind == "LOAD_SLOT":
        assert isinstance(w, ts.LoadSlotWitness)
        account = journal.membership_proof(account_key(w.address))
        insert = journal.insert_slot(SlotEntry(w.address, w.slot, w.original, w.original, False))
        return [*sys_head(m, ACTION_LOAD_SLOT), Section("LeafProof", account.encode()),
                Section("Mpt", mpt_nodes(list(w.mpt_proof))), Section("InsertProof", insert.encode())]  # fmt: skip
    assert kind == "SYS_WRITE" and isinstance(m.pending, PendingSys) and m.block is not None
    address, slot, _ = bs.sys_target(m.block, m.pending.next)
    leaf = journal.membership_proof(slot_key(address, slot))
    return [*sys_head(m, ACTION_SYS_WRITE), Section("LeafProof", leaf.encode())]


PROVERS: dict[str, ProofFn] = {
    "IDENTITY": identity_sections,
    "ENTRY_SKIP": entry_skip_sections,
    "BLOCK_START": block_start_sections,
    "SYS_WRITE": sys_sections,
}
