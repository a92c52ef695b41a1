"""Block-level steps of the level-2 machine (docs/fraud-proofs.md 2.1, 2.5, 2.6): ENTRY_SKIP,
BLOCK_START, SYS_WRITE, NEXT_MESSAGE, COMMIT, TRIE and SEAL, as `step(machine, witness, game)`.

The Python reference the Solidity steps mirror; the witnesses (what each one-step proof carries)
are made by `l1.proofs.block_machine`. Each witness class names its proof contents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_UNCLE_HASH
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_hash.auto import keccak
from eth_typing import Address, BlockNumber, Hash32
from trie import HexaryTrie

from l1.proofs import sponge, stacktrie
from l1.proofs.commitments import (
    COMMIT,
    IDLE,
    SYS,
    TRIE,
    TX_LOAD,
    BlockCtx,
    Cursor,
    EntryCtx,
    PendingSponge,
    TxCtx,
    TxRecord,
)
from l1.proofs.journal import (
    EMPTY_TRIE_ROOT,
    KIND_ACCOUNT,
    KIND_SENTINEL,
    AccountEntry,
    Journal,
    LeafProof,
    SlotEntry,
    slot_key,
)
from l1.proofs.machine import (
    CLAIM,
    PURPOSE_TRIE_LEAF,
    PURPOSE_TRIE_LEAF_DONE,
    PURPOSE_TX_LOAD,
    SOURCE_PROOF,
    SOURCE_STORE,
    Acc,
    Game,
    Machine,
    PendingCommit,
    PendingSys,
    align32,
)
from l1.proofs.mpt import account_path, account_rlp, slot_path
from l1.proofs.stacktrie import TrieState
from l1.proofs.tx_steps import StepError, verify_read
from l1.proofs.world_state import (
    STAGE_DONE,
    STAGE_START,
    STAGE_WALK,
    WRITE_NONE,
    WRITE_UPDATE,
    CommitCursor,
    CommitStep,
    account_write,
    slot_write,
)
from l2.execution import EMPTY_REQUESTS_HASH
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_hash, verify_merkle_proof
from l2.output_root import output_root
from l2.predeploys import L1_INFO_ADDRESS, MESSAGE_PASSER_ADDRESS
from l2.types import ZERO_HASH

KIND_VALID, KIND_INVALID, KIND_FORCED = 0, 1, 2
HISTORY_SERVE_WINDOW = 8191
HISTORY_ADDRESS = bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935")


@dataclass(frozen=True)
class EntryWitness:
    """proof (3.1): payloadHash, messageRoot, messageCount, delayedAcc, delayedRead; the verifier
    reads Inbox.accumulators(i-1, i), Inbox.invalid(i), DelayedInbox.accumulators(d-1) live."""

    ctx: EntryCtx

    LIVE: ClassVar[tuple[str, ...]] = ("ctx",)  # checked against L1 state, not here


def derives_nothing(entry: EntryCtx, delayed_next: int) -> bool:
    no_messages = entry.kind != KIND_VALID or entry.messageCount == 0
    return no_messages and entry.delayedEnd <= delayed_next


def entry_skip(m: Machine, w: EntryWitness, g: Game) -> Machine:
    c = m.cursor
    applies = m.phase == CLAIM and c.msgIndex == 0 and c.entryIndex < g.entry_limit
    if not applies or not derives_nothing(w.ctx, c.delayedNext):
        raise StepError("ENTRY_SKIP does not apply")
    return m.replace(cursor=replace(c, entryIndex=c.entryIndex + 1))


@dataclass(frozen=True)
class OriginRecord:
    """`Inbox.l1Origins(number)` as the verifier reads it live (3.4, D2): recorded iff `hash` is
    not zero; immutable once written, `first_entry` = the entry count when it was recorded."""

    hash: bytes = ZERO_HASH
    base_fee: int = 0
    first_entry: int = 0

    @property
    def recorded(self) -> bool:
        return self.hash != ZERO_HASH


@dataclass(frozen=True)
class BlockStartWitness:
    """proof: the claim's output-root preimage (stateRoot, MessagePasser storage root) and the parent
    header RLP (hashes to blockHash), the entry (3.1), L1Info's account and slots 0, 1, 2 with their
    MPT proofs in stateRoot (the parent's origin number, hash, base fee), message `msgIndex` + Merkle
    path (valid batch) or the entry's last delayed message (+ DelayedInbox accumulators, live).
    `record` is `Inbox.l1Origins(given)`, read live, and only when the given origin is after the
    parent's (None otherwise: no read)."""

    parent_header: bytes  # RLP
    state_root: bytes
    passer_root: bytes
    entry: EntryWitness
    message: Message | None
    message_path: list[bytes]
    last_delayed: tuple[int, int] | None  # (l1Timestamp, l1BlockNumber) of the entry's last delayed message
    parent_origin: tuple[int, bytes, int]  # L1Info slots 0, 1, 2 of the parent state
    l1_info_account_proof: list[bytes]  # L1Info's account in stateRoot
    l1_info_slot_proofs: tuple[list[bytes], list[bytes], list[bytes]]  # slots 0, 1, 2 in its storage root
    record: OriginRecord | None

    LIVE: ClassVar[tuple[str, ...]] = ("entry", "last_delayed", "record")


def choose_origin(given: int, parent: tuple[int, bytes, int], record: OriginRecord | None,
                  entry_index: int) -> tuple[int, bytes, int] | None:
    """D2 (3.4): the given origin when it is after the parent's and was recorded by the Inbox
    before entry `entry_index` was appended; else None (the block keeps the parent's origin)."""
    if given <= parent[0]:
        return None
    if record is None:
        raise StepError("a later given origin needs its Inbox record")
    if not record.recorded or record.first_entry > entry_index:
        return None
    return given, record.hash, record.base_fee


def next_base_fee(parent_base_fee: int, parent_gas_used: int, g: Game) -> int:
    target = g.gas_limit // g.elasticity
    if parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        return parent_base_fee + max(parent_base_fee * (parent_gas_used - target) // target // g.denominator, 1)
    return max(parent_base_fee - parent_base_fee * (target - parent_gas_used) // target // g.denominator, 0)


def parent_l1_info(w: BlockStartWitness) -> tuple[int, bytes, int]:
    """L1Info slots 0, 1, 2 of the parent state, each proven against stateRoot (absent: 0)."""
    l1_info = verify_read(w.state_root, account_path(L1_INFO_ADDRESS), w.l1_info_account_proof)
    if not l1_info:
        raise StepError("no L1Info account")
    storage_root = bytes(rlp.decode(l1_info)[2])
    values = []
    for slot, proof in enumerate(w.l1_info_slot_proofs):
        value = verify_read(storage_root, slot_path(slot), proof)
        values.append(rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0)
    if values[0] >= 1 << 64:
        raise StepError("L1Info origin number above u64")
    return values[0], values[1].to_bytes(32, "big"), values[2]


def block_start(m: Machine, w: BlockStartWitness, g: Game) -> Machine:
    c = m.cursor
    if m.phase != CLAIM or m.number + 1 != g.block_number or c.entryIndex >= g.entry_limit:
        raise StepError("BLOCK_START does not apply")
    if output_root(w.state_root, w.passer_root, keccak(w.parent_header)) != m.output_root:
        raise StepError("parent header or output-root preimage does not match the claim")
    parent = rlp.decode(w.parent_header, sedes=PragueBlockHeader)
    if parent.state_root != w.state_root or parent.block_number != m.number:
        raise StepError("header does not fit the claim")
    if parent_l1_info(w) != w.parent_origin:
        raise StepError("parent origin differs from L1Info slots 0, 1, 2")
    if w.message is not None and not verify_merkle_proof(
            w.entry.ctx.messageRoot, message_hash(w.message), c.msgIndex, w.entry.ctx.messageCount, w.message_path):
        raise StepError("message not in the entry")
    entry = w.entry.ctx
    msg_index = c.msgIndex
    if entry.kind == KIND_VALID and msg_index < entry.messageCount:
        if isinstance(w.message, BlockStart):
            given = (w.message.timestamp, w.message.l1_origin_number)
            msg_index += 1
        else:
            given = (parent.timestamp, w.parent_origin[0])
    else:
        if w.last_delayed is None:
            raise StepError("a block of delayed messages takes its values from the last one")
        given = w.last_delayed
    timestamp = max(given[0], parent.timestamp)
    chosen = choose_origin(given[1], w.parent_origin, w.record, c.entryIndex)
    number, origin_hash, origin_base_fee = chosen or w.parent_origin
    block = BlockCtx(number=parent.block_number + 1, timestamp=timestamp, parentHash=keccak(w.parent_header),
                     baseFee=next_base_fee(parent.base_fee_per_gas or 0, parent.gas_used, g),
                     newOrigin=int(chosen is not None), originNumber=number, originHash=origin_hash,
                     originBaseFee=origin_base_fee)
    return Machine(phase=SYS, number=block.number, cursor=replace(c, msgIndex=msg_index), entry=entry, block=block,
                   world_root=w.state_root, acc=Acc(), pending=PendingSys(0))


def sys_target(block: BlockCtx, j: int) -> tuple[bytes, int, int]:
    """(account, slot, value) of system write j (2.1)."""
    if j == 0:
        return HISTORY_ADDRESS, (block.number - 1) % HISTORY_SERVE_WINDOW, int.from_bytes(block.parentHash, "big")
    values = (block.originNumber, int.from_bytes(block.originHash, "big"), block.originBaseFee)
    return L1_INFO_ADDRESS, j - 1, values[j - 1]


def sys_write(m: Machine, g: Game) -> Machine:
    """proof: the slot's journal leaf (LOAD_ACCOUNT / LOAD_SLOT precede it when absent)."""
    p, block = m.pending, m.block
    assert isinstance(p, PendingSys) and block is not None and m.phase == SYS
    address, slot, value = sys_target(block, p.next)
    j = m.journal.copy()
    key = slot_key(address, slot)
    entry = SlotEntry.decode(j.get(key).payload)
    j.update(key, replace(entry, current=value).encode())
    if p.next == 3 or (p.next == 0 and not block.newOrigin):
        return m.replace(phase=COMMIT, journal=j, pending=PendingCommit(CommitCursor()))
    return m.replace(journal=j, pending=PendingSys(p.next + 1))


@dataclass(frozen=True)
class CommitWitness:
    """proof (2.5 as built): one journal leaf with its 16 siblings, and the MPT write's proof (the
    nodes on the key's path before the write) and, for a delete, the sibling node it merges."""

    leaf: LeafProof
    proof: list[bytes]
    sibling: bytes

    @classmethod
    def of(cls, step: CommitStep) -> CommitWitness:
        return cls(step.leaf, step.proof, step.sibling)


def mpt_apply(root: bytes, key: bytes, value: bytes, proof: list[bytes], sibling: bytes) -> bytes:
    """The root after `trie[key] = value` (delete when empty) computed from the proof nodes alone."""
    nodes = {keccak(n): n for n in [*proof, sibling] if n}
    trie = HexaryTrie(nodes, root)
    try:
        if value:
            trie[key] = value
        elif trie.exists(key):
            del trie[key]
    except Exception as exc:  # MissingTrieNode and friends: the proof lacks a node
        raise StepError(f"MPT write proof incomplete: {exc}") from None
    return bytes(trie.root_hash)


def commit(m: Machine, w: CommitWitness) -> Machine:
    """One COMMIT step (`WorldState.commitStep` of 8.4), recomputed from the leaf and the write proof."""
    p = m.pending
    assert isinstance(p, PendingCommit) and m.phase == COMMIT
    c, leaf = p.cursor, w.leaf
    if leaf.index >= m.journal.count or leaf.root() != m.journal.root:
        raise StepError("journal leaf not in the journal")
    root = m.world_root
    if c.close:
        if leaf.index != c.account_index or leaf.leaf.kind != KIND_ACCOUNT:
            raise StepError("close proves the open account")
        entry = AccountEntry.decode(leaf.leaf.payload)
        action = account_write(entry, c.storage_root)
        if action != WRITE_NONE:
            value = account_rlp(entry.nonce, entry.balance, c.storage_root, entry.code_hash)
            root = mpt_apply(root, account_path(entry.address), value if action == WRITE_UPDATE else b"", w.proof,
                             w.sibling)
        after = replace(c, close=False, stage=STAGE_DONE if c.leaf_index == 0 else c.stage)
    else:
        if leaf.index != (0 if c.stage == STAGE_START else c.leaf_index):
            raise StepError("COMMIT proves the next leaf in key order")
        after = c
        if leaf.leaf.kind == KIND_SENTINEL:
            after = replace(after, stage=STAGE_DONE if leaf.leaf.next_key == bytes(64) else STAGE_WALK)
        elif leaf.leaf.kind == KIND_ACCOUNT:
            entry = AccountEntry.decode(leaf.leaf.payload)
            after = replace(after, account_index=leaf.index, storage_root=entry.orig_storage_root)
        else:
            slot = SlotEntry.decode(leaf.leaf.payload)
            action = slot_write(slot)
            if action != WRITE_NONE:
                value = rlp.encode(slot.current) if action == WRITE_UPDATE else b""
                after = replace(after, storage_root=mpt_apply(c.storage_root, slot_path(slot.slot), value, w.proof,
                                                              w.sibling))
        after = replace(after, leaf_index=leaf.leaf.next_index,
                        close=leaf.leaf.kind != KIND_SENTINEL and leaf.leaf.next_key[32:] == bytes(32))
    if after.stage == STAGE_DONE:
        return m.replace(phase=IDLE, world_root=root, journal=Journal(), tx=None, pending=None)
    return m.replace(world_root=root, pending=PendingCommit(after))


@dataclass(frozen=True)
class MessageWitness:
    """proof (3.2): message `msgIndex` (BlockStart / Delayed in full, an L2Tx as its hash) and its
    Merkle path; nothing past the last message."""

    message: Message | None
    path: list[bytes]


def next_message(m: Machine, w: MessageWitness, g: Game) -> Machine:
    c, e, acc = m.cursor, m.entry, m.acc
    assert m.phase == IDLE and e is not None and acc is not None
    if e.kind == KIND_VALID and c.msgIndex < e.messageCount:
        msg = w.message
        if msg is None or not verify_merkle_proof(e.messageRoot, message_hash(msg), c.msgIndex, e.messageCount,
                                                  w.path):
            raise StepError("message not in the entry")
        if isinstance(msg, BlockStart):
            return _close(m, c)
        nxt = replace(c, msgIndex=c.msgIndex + 1)
        if isinstance(msg, L2Tx):
            leaf = keccak(msg.encode())
            tx = TxCtx(kind=0, msgLeaf=leaf, rawOff=align32(acc.buf_len))
            return m.replace(phase=TX_LOAD, cursor=nxt, tx=tx,
                             pending=PendingSponge(source=SOURCE_PROOF, srcOff=tx.rawOff, purpose=PURPOSE_TX_LOAD))
        if isinstance(msg, Delayed):
            if msg.index == c.delayedNext and msg.index < e.delayedEnd:
                return m.replace(phase=TX_LOAD, cursor=replace(nxt, delayedNext=c.delayedNext + 1), tx=None)
            return m.replace(cursor=nxt)
        raise StepError("no message given")
    if c.delayedNext < e.delayedEnd:
        return m.replace(phase=TX_LOAD, cursor=replace(c, delayedNext=c.delayedNext + 1), tx=None)
    return _close(m, Cursor(c.entryIndex + 1, 0, c.delayedNext))


def _close(m: Machine, cursor: Cursor) -> Machine:
    assert m.acc is not None
    return m.replace(phase=TRIE, cursor=cursor, acc=replace(m.acc, trie=TrieState()))


@dataclass(frozen=True)
class TrieWitness:
    """proof: the StackTrie state preimage, TxRecord of key `pos` (its path in txRecRoot), the raw
    tx or logs region (store range); a value above INLINE is hashed by SPONGE micro-steps first."""

    record: TxRecord | None


def receipt_value(record: TxRecord, logs: bytes) -> bytes:
    status = b"\x01" if record.status else b""
    items = (rlp.encode(status) + rlp.encode(record.cumulativeGas) + rlp.encode(record.bloom)
             + _list_header(len(logs)) + logs)
    body = _list_header(len(items)) + items
    return body if record.type == 0 else bytes([record.type]) + body


def _list_header(n: int) -> bytes:
    if n < 56:
        return bytes([0xC0 + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(b)]) + b


def trie_value(m: Machine, w: TrieWitness) -> bytes:
    """The value of the key the next TRIE step inserts (empty for a block without transactions)."""
    acc = m.acc
    assert m.phase == TRIE and acc is not None and acc.trie is not None and acc.trie.which != stacktrie.DONE
    count = acc.tx_count
    if not count:
        return b""
    index = stacktrie.key_index(acc.trie.pos, count)
    record = w.record
    if record is None or acc.records.word(index) != record.hash():
        raise StepError("TxRecord does not match txRecRoot")
    if acc.trie.which == stacktrie.TX:
        return acc.store.read(record.rawOff, record.rawLen)
    return receipt_value(record, acc.store.read(record.logsOff, record.logsLen) if record.logsLen else b"")


def _leaf_message(m: Machine, value: bytes) -> bytes:
    assert m.acc is not None and m.acc.trie is not None
    return stacktrie.leaf_prefix(m.acc.trie.pos, m.acc.tx_count, len(value)) + value


def needs_sponge(m: Machine, w: TrieWitness) -> bool:
    """A value above INLINE whose leaf hash is not finished yet: the next step is TRIE_SPONGE."""
    if len(trie_value(m, w)) <= stacktrie.INLINE:
        return False
    p = m.pending
    return not (isinstance(p, PendingSponge) and p.purpose == PURPOSE_TRIE_LEAF_DONE)


def trie_sponge(m: Machine, w: TrieWitness) -> Machine:
    """One 136-byte block of `leafPrefix ++ value` (2.6), the last one (< 136 bytes, maybe empty)
    padded: the leaf hash of a value above INLINE, `floor(n / 136) + 1` micro-steps for n bytes.
    proof: the sponge state (Pending), TxRecord, the store words of the block."""
    message = _leaf_message(m, trie_value(m, w))
    p = m.pending
    if p is None:
        p = PendingSponge(source=SOURCE_STORE, purpose=PURPOSE_TRIE_LEAF, remaining=len(message))
    if not isinstance(p, PendingSponge) or p.purpose != PURPOSE_TRIE_LEAF or p.absorbed + p.remaining != len(message):
        raise StepError("no leaf sponge in progress")
    rest = message[p.absorbed :]
    if len(rest) >= 136:
        return m.replace(pending=replace(p, state=sponge.absorb(p.state, rest[:136]), absorbed=p.absorbed + 136,
                                         remaining=p.remaining - 136))
    state, _ = sponge.absorb_final(p.state, rest)
    return m.replace(pending=replace(p, state=state, absorbed=len(message), remaining=0,
                                     purpose=PURPOSE_TRIE_LEAF_DONE))


def trie(m: Machine, w: TrieWitness) -> Machine:
    """Insert the next key (2.6); a value above INLINE takes its leaf hash from the finished sponge."""
    acc = m.acc
    assert acc is not None and acc.trie is not None
    value = trie_value(m, w)
    if len(value) <= stacktrie.INLINE:
        return m.replace(acc=replace(acc, trie=stacktrie.step(acc.trie, acc.tx_count, value)))
    p = m.pending
    if needs_sponge(m, w) or not isinstance(p, PendingSponge) or p.absorbed != len(_leaf_message(m, value)):
        raise StepError("the leaf hash is not absorbed yet")
    new = stacktrie.step_hashed_leaf(acc.trie, acc.tx_count, sponge.squeeze(p.state))
    return m.replace(acc=replace(acc, trie=new), pending=None)


@dataclass(frozen=True)
class SealWitness:
    """proof: the TRIE state preimage (both roots), the 256-byte bloom, the MessagePasser account
    (MPT proof against worldRoot) for its storage root."""

    passer_root: bytes
    passer_proof: list[bytes]


def header_of(m: Machine, g: Game) -> PragueBlockHeader:
    acc, block = m.acc, m.block
    assert acc is not None and block is not None and acc.trie is not None
    return PragueBlockHeader(
        parent_hash=Hash32(block.parentHash), uncles_hash=EMPTY_UNCLE_HASH, coinbase=Address(g.coinbase),
        state_root=Hash32(m.world_root), transaction_root=Hash32(acc.trie.tx_root),
        receipt_root=Hash32(acc.trie.receipts_root), bloom=int.from_bytes(acc.bloom, "big"), difficulty=0,
        block_number=BlockNumber(block.number), gas_limit=g.gas_limit, gas_used=acc.gas_used,
        timestamp=block.timestamp, extra_data=b"", mix_hash=Hash32(block.parentHash), nonce=b"\x00" * 8,
        base_fee_per_gas=block.baseFee, withdrawals_root=BLANK_ROOT_HASH, blob_gas_used=0, excess_blob_gas=0,
        parent_beacon_block_root=ZERO_HASH, requests_hash=EMPTY_REQUESTS_HASH,
    )  # fmt: skip


def seal(m: Machine, w: SealWitness, g: Game) -> Machine:
    acc = m.acc
    assert m.phase == TRIE and acc is not None and acc.trie is not None and acc.trie.which == stacktrie.DONE
    passer = verify_read(m.world_root, account_path(MESSAGE_PASSER_ADDRESS), w.passer_proof)
    if (bytes(rlp.decode(passer)[2]) if passer else EMPTY_TRIE_ROOT) != w.passer_root:
        raise StepError("MessagePasser storage root differs from the proven account")
    header = header_of(m, g)
    root = output_root(m.world_root, w.passer_root, header.hash)
    return Machine(phase=CLAIM, number=m.number, cursor=m.cursor, output_root=root)

