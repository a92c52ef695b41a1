"""Proof bytes of the transaction-start steps, as `l1/contracts/osp/ExecTxStart.sol` reads them
(docs/fraud-proofs.md 2.2, 2.4, section 13): TX_START and DEPOSIT_START (phase TX_LOAD), TX_SETUP
and TX_CALL (phase TX_SETUP), and the LOAD_ACCOUNT / LOAD_SLOT steps before them.

A LOAD is not told apart from the step it precedes by the pre-state alone (the journal's content
decides), so every proof of these phases after `MachineState ++ TxCtx` carries a `u8 load` flag:
1 = this step inserts the key the next step needs (its absence is proven by the insert), 0 = the
step itself (the key's presence is proven by its LeafProof). The key is the pre-state's: the
sender (TX_START, DEPOSIT_START), `to`, the coinbase, or access-list item `alCursor`, which
ExecTxStart reads from the store words of the access-list payload (so those come before the flag).

LOAD_ACCOUNT / LOAD_SLOT are one step kind in every phase: `load_proofs` routes them by the
pre-state's phase and hands the TX_LOAD / TX_SETUP ones to `load_sections` here.
"""

from __future__ import annotations

from dataclasses import replace

from l1.proofs import steps
from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import (
    PHASE_NAMES,
    TX_LOAD,
    TX_SETUP,
    BlockAcc,
    BlockCtx,
    Code,
    MachineState,
    TxCtx,
)
from l1.proofs.journal import EMPTY_CODE_HASH, FLAG_TOUCHED, SlotEntry, account_key, slot_key
from l1.proofs.kind_proofs import ProofFn
from l1.proofs.machine import SETUP_ACCESS_LIST, ST_DEPOSIT_START, ST_START, Machine
from l1.proofs.steps import Section, mpt_nodes
from l1.proofs.tx_proofs import Unsupported, machine_state

DELEGATION_SIZE = 23


def _head(m: Machine) -> list[Section]:
    assert m.tx is not None
    return [Section("MachineState", machine_state(m).preimage(), MachineState),
            Section("TxCtx", m.tx.preimage(), TxCtx)]


def _access_list_words(m: Machine) -> list[Section]:
    """BlockAcc and the store words of the access-list payload (TX_SETUP at an access-list item)."""
    tx, acc = m.tx, m.acc
    assert tx is not None and acc is not None
    first, last = tx.alOff // 32, (tx.alOff + tx.alLen - 1) // 32
    count = last - first + 1
    return [Section("BlockAcc", acc.commitment().preimage(), BlockAcc),
            Section("StoreWords", b"".join(acc.store.word(i) for i in range(first, first + count))),
            Section("StoreSiblings", b"".join(acc.store.siblings(first, count)))]  # fmt: skip


def _prefix(m: Machine) -> list[Section]:
    """What precedes the load flag: MachineState, TxCtx, and the access-list words at an item."""
    assert m.tx is not None
    out = _head(m)
    if m.phase == TX_SETUP and m.tx.setup == SETUP_ACCESS_LIST:
        out += _access_list_words(m)
    return out


def load_sections(trace: BlockTrace, j: int) -> list[Section]:
    """LOAD_ACCOUNT / LOAD_SLOT step `j` (load_proofs routes those of phases TX_LOAD and TX_SETUP
    here; an opcode's LOAD keeps steps.py's proof, any other phase is refused by its name)."""
    m, w = trace.machine(j), trace.witness(j)
    if m.exec is not None:  # an opcode's LOAD: steps.py made the proof (the witness)
        return steps.step_sections(m.exec)[1]
    if m.phase not in (TX_LOAD, TX_SETUP):
        raise Unsupported(PHASE_NAMES.get(m.phase, "PHASE"), machine_state(m).preimage())
    out = [*_prefix(m), Section("Load", b"\x01")]
    journal = m.journal.copy()
    if isinstance(w, ts.LoadAccountWitness):
        ins = journal.insert_account(w.entry)
        return out + [Section("Mpt", mpt_nodes(list(w.mpt_proof))), Section("Insert", ins.encode())]
    assert isinstance(w, ts.LoadSlotWitness)
    account = journal.membership_proof(account_key(w.address))
    ins = journal.insert_slot(SlotEntry(w.address, w.slot, w.original, w.original, False))
    return out + [Section("LeafProof", account.encode()), Section("Mpt", mpt_nodes(list(w.mpt_proof))),
                  Section("Insert", ins.encode())]  # fmt: skip


def tx_start_sections(trace: BlockTrace, j: int) -> list[Section]:
    """TX_START step `j` (see `tx_start_of`)."""
    return tx_start_of(trace.machine(j), trace.witness(j))


def tx_start_of(m: Machine, w: ts.TxStartWitness) -> list[Section]:
    """TX_START from `m`: `BlockCtx ++ BlockAcc ++` the sender's LeafProof `++ u32 n ++` its code:
    only a 23-byte code (a possible EIP-7702 delegation) is sent; n = 0 for an empty code hash, and
    for any other code, whose size ExecTxStart reads from the code oracle (registered first)."""
    assert m.tx is not None and m.tx.setup == ST_START and m.block is not None and m.acc is not None
    assert isinstance(w, ts.TxStartWitness)
    leaf = m.journal.membership_proof(account_key(m.tx.sender))
    code = w.sender_code if len(w.sender_code) == DELEGATION_SIZE else b""
    return [*_head(m), Section("Load", b"\x00"),
            Section("BlockCtx", m.block.preimage(), BlockCtx),
            Section("BlockAcc", m.acc.commitment().preimage(), BlockAcc),
            Section("LeafProof", leaf.encode()),
            Section("Code", len(code).to_bytes(4, "big") + code)]  # fmt: skip


def deposit_start_sections(trace: BlockTrace, j: int) -> list[Section]:
    """DEPOSIT_START: the sender's LeafProof."""
    m = trace.machine(j)
    assert m.tx is not None and m.tx.setup == ST_DEPOSIT_START
    leaf = m.journal.membership_proof(account_key(m.tx.sender))
    return [*_head(m), Section("Load", b"\x00"), Section("LeafProof", leaf.encode())]


def tx_setup_sections(trace: BlockTrace, j: int) -> list[Section]:
    """TX_SETUP: the account's (or the access-list slot's) LeafProof, none for a precompile."""
    m, g = trace.machine(j), trace.game
    tx = m.tx
    assert tx is not None and g is not None
    out = [*_prefix(m), Section("Load", b"\x00")]
    if tx.setup == SETUP_ACCESS_LIST:
        address, slot = ts.access_list_items(m, g)[tx.alCursor]
    else:
        address, slot = (tx.to if tx.setup == 0 else g.coinbase), None
    if slot is not None:
        return out + [Section("LeafProof", m.journal.membership_proof(slot_key(address, slot)).encode())]
    if address in ts.PRECOMPILES:
        return out
    return out + [Section("LeafProof", m.journal.membership_proof(account_key(address)).encode())]


def tx_call_sections(trace: BlockTrace, j: int) -> list[Section]:
    """TX_CALL step `j` (see `tx_call_of`)."""
    return tx_call_of(trace.machine(j), trace.witness(j))


def tx_call_of(m: Machine, w: ts.CallWitness) -> list[Section]:
    """TX_CALL from `m`: the sender's LeafProof, `to`'s in the journal after the sender's debit, and
    for a 23-byte code its first word and siblings (ExecTxStart refuses an EIP-7702 delegation)."""
    tx = m.tx
    assert tx is not None and isinstance(w, ts.CallWitness)
    journal = m.journal.copy()
    out = [*_head(m), Section("LeafProof", journal.membership_proof(account_key(tx.sender)).encode())]
    sender = ts.account(journal, tx.sender)
    ts.set_account(journal, replace(sender, balance=sender.balance - tx.value, flags=sender.flags | FLAG_TOUCHED))
    out.append(Section("LeafProof", journal.membership_proof(account_key(tx.to)).encode()))
    if ts.account(journal, tx.to).code_hash != EMPTY_CODE_HASH and len(w.code) == DELEGATION_SIZE:
        tree = Code(w.code).tree
        out += [Section("CodeWord", tree.word(0)), Section("CodeSiblings", b"".join(tree.siblings(0, 1)))]
    return out


PROVERS: dict[str, ProofFn] = {
    "TX_START": tx_start_sections,
    "DEPOSIT_START": deposit_start_sections,
    "TX_SETUP": tx_setup_sections,
    "TX_CALL": tx_call_sections,
}
