"""Transaction-level steps of the level-2 machine (docs/fraud-proofs.md 2.2, 2.4, 2.5): the Python
reference the Solidity steps mirror.

Every step is `step(machine, witness) -> machine`: pure, the witness carrying what a one-step
proof would carry (the `proof:` line of each docstring lists it). The witnesses are made by
`l1.proofs.block_machine` from the chain; here they are only consumed. The journal, store
and tries are the machine's own (decoded) content, so the paths a proof needs (journal leaf +
16 siblings, store words + siblings) are functions of the pre-state; the witness adds what the
pre-state does not hold: MPT proofs against `worldRoot`, message bytes, signatures, L1 records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import rlp
from eth.abc import SignedTransactionAPI
from eth_hash.auto import keccak
from trie import HexaryTrie

from l1.proofs import sponge
from l1.proofs.buf import MEM_DEPTH, ZERO32, Buf
from l1.proofs.commitments import (
    COMMIT,
    EXEC,
    IDLE,
    TX_END,
    TX_LOAD,
    TX_SETUP,
    Code,
    Frame,
    MachineState,
    PendingSponge,
    TxCtx,
    TxRecord,
)
from l1.proofs.journal import (
    EMPTY_CODE_HASH,
    EMPTY_TRIE_ROOT,
    FLAG_TOUCHED,
    FLAG_WARM,
    AccountEntry,
    Journal,
    SlotEntry,
    account_key,
    slot_key,
)
from l1.proofs.machine import (
    PURPOSE_DATA_LOAD,
    PURPOSE_SIG_HASH,
    PURPOSE_TX_LOAD,
    SETUP_ACCESS_LIST,
    SETUP_CALL,
    SETUP_COINBASE,
    SETUP_TO,
    SOURCE_PROOF,
    ST_DECODE,
    ST_DEPOSIT_START,
    ST_SIGHASH,
    ST_START,
    STATUS_CALL_SKIPPED,
    STATUS_SUCCESS,
    Game,
    Machine,
    PendingCommit,
    PendingSpongeCheck,
    align32,
)
from l1.proofs.mpt import account_path, slot_path
from l1.proofs.steps import Chain, ExecState
from l1.proofs.world_state import CommitCursor
from l2.errors import InvalidTransaction
from l2.spec import ChainSpec
from l2.transactions import decode_transaction

BLOCK = 136
GAS_TX = 21_000
DEPOSIT_TYPE = 0x7E
DELEGATION_PREFIX = b"\xef\x01\x00"
EMPTY_BLOOM_HASH = keccak(bytes(256))
TX_TYPE_FIELDS = {0: (5, None), 1: (6, 7), 2: (7, 8)}  # field index of data, access list per type
PRECOMPILES = {i.to_bytes(20, "big") for i in range(1, 0x12)}


class StepError(ValueError):
    """A witness the step refuses (the Solidity twin reverts)."""


class Unsupported(Exception):
    """A step this slice does not trace, by name (the verifier refuses it by the same name)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# -- journal helpers -------------------------------------------------------------------------


def account(j: Journal, address: bytes) -> AccountEntry:
    return AccountEntry.decode(j.get(account_key(address)).payload)


def set_account(j: Journal, entry: AccountEntry) -> None:
    j.update(entry.key, entry.encode())


def has_account(j: Journal, address: bytes) -> bool:
    return account_key(address) in j


def has_slot(j: Journal, address: bytes, slot: int) -> bool:
    return slot_key(address, slot) in j


# -- MPT reads ---------------------------------------------------------------------------------


def verify_read(root: bytes, key: bytes, proof: list[bytes]) -> bytes:
    """The value at `key` (b"" when absent) proven by `proof` (the hashed nodes on its path, root
    first, as `mpt.path_proof` gives) against `root`; a proof that does not fit raises StepError."""
    if root == EMPTY_TRIE_ROOT and not proof:
        return b""
    try:
        return bytes(HexaryTrie.get_from_proof(root, key, [rlp.decode(node) for node in proof]))
    except Exception as exc:  # the trie package raises several kinds for a bad proof
        raise StepError(f"MPT proof does not fit the root: {exc}") from None


def account_from_rlp(address: bytes, value: bytes) -> AccountEntry:
    """The cold journal entry of an account read from the world trie (absent: empty, not existed)."""
    if not value:
        return AccountEntry.loaded(address, existed=False)
    nonce, balance, storage_root, code_hash = rlp.decode(value)
    return AccountEntry.loaded(address, int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"),
                               bytes(storage_root), bytes(code_hash))


# -- LOAD (2.4) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadAccountWitness:
    """proof: MPT proof of `address` against worldRoot (<= 8 nodes) + the journal insert paths."""

    address: bytes
    mpt_proof: list[bytes]
    entry: AccountEntry  # decoded from the proven leaf (absent: empty, existed = 0)


def load_account(m: Machine, w: LoadAccountWitness) -> Machine:
    j = m.journal.copy()
    if has_account(j, w.address):
        raise StepError("account already loaded")
    if account_from_rlp(w.address, verify_read(m.world_root, account_path(w.address), w.mpt_proof)) != w.entry:
        raise StepError("account entry differs from the proven leaf")
    j.insert_account(w.entry)
    return m.replace(journal=j)


@dataclass(frozen=True)
class LoadSlotWitness:
    """proof: the account's journal leaf, MPT proof of the slot against its origStorageRoot."""

    address: bytes
    slot: int
    mpt_proof: list[bytes]
    original: int


def load_slot(m: Machine, w: LoadSlotWitness) -> Machine:
    j = m.journal.copy()
    if not has_account(j, w.address) or has_slot(j, w.address, w.slot):
        raise StepError("slot load needs its account and no entry yet")
    value = verify_read(account(j, w.address).orig_storage_root, slot_path(w.slot), w.mpt_proof)
    if (rlp.decode(value, sedes=rlp.sedes.big_endian_int) if value else 0) != w.original:
        raise StepError("slot value differs from the proven leaf")
    j.insert_slot(SlotEntry(w.address, w.slot, w.original, w.original, False))
    return m.replace(journal=j)


# -- user transaction: TX_LOAD, TX_DECODE, SIG_HASH, TX_START (2.2) ---------------------------


@dataclass(frozen=True)
class SpongeWitness:
    """proof: the 136-byte block (or the final tail) absorbed, the sponge state (in Pending),
    the store words written (TX_LOAD / DATA_LOAD) or read (SIG_HASH) with their siblings."""

    data: bytes  # 136 bytes, or < 136 for the final micro-step
    final: bool


def _absorb(p: PendingSponge, w: SpongeWitness) -> tuple[PendingSponge, bytes | None]:
    if w.final:
        if len(w.data) >= BLOCK:
            raise StepError("final block must be shorter than 136 bytes")
        state, digest = sponge.absorb_final(p.state, w.data)
        return replace(p, state=state, absorbed=p.absorbed + len(w.data)), digest
    if len(w.data) != BLOCK:
        raise StepError("a non-final block is 136 bytes")
    return replace(p, state=sponge.absorb(p.state, w.data), absorbed=p.absorbed + BLOCK), None


def tx_load(m: Machine, w: SpongeWitness) -> Machine:
    """Sponge over `0x01 ++ raw`, writing the raw bytes into the store at `rawOff`."""
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSponge) and tx is not None and acc is not None and p.purpose == PURPOSE_TX_LOAD
    raw_part = w.data[1:] if p.absorbed == 0 else w.data  # the first block starts with the 0x01 tag
    store = acc.store.write(tx.rawOff + tx.rawLen, raw_part)
    tx = replace(tx, rawLen=tx.rawLen + len(raw_part))
    acc = replace(acc, store=store, buf_len=tx.rawOff + tx.rawLen)
    p, digest = _absorb(p, w)
    if digest is None:
        return m.replace(pending=p, tx=tx, acc=acc)
    if digest != tx.msgLeaf:
        raise StepError("raw bytes do not hash to the message leaf")
    return m.replace(pending=None, tx=replace(tx, setup=ST_DECODE), acc=acc)


def rlp_item(data: bytes, pos: int) -> tuple[int, int, int]:
    """(payload start, payload length, end) of the RLP item at `pos`."""
    b = data[pos]
    if b < 0x80:
        return pos, 1, pos + 1
    if b < 0xB8:
        return pos + 1, b - 0x80, pos + 1 + b - 0x80
    if b < 0xC0:
        n = b - 0xB7
        length = int.from_bytes(data[pos + 1 : pos + 1 + n], "big")
        return pos + 1 + n, length, pos + 1 + n + length
    if b < 0xF8:
        return pos + 1, b - 0xC0, pos + 1 + b - 0xC0
    n = b - 0xF7
    length = int.from_bytes(data[pos + 1 : pos + 1 + n], "big")
    return pos + 1 + n, length, pos + 1 + n + length


def rlp_fields(raw: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each field payload of a transaction's RLP list (after a type byte)."""
    pos, length, _ = rlp_item(raw, 0 if raw[0] >= 0xC0 else 1)
    end, out = pos + length, []
    while pos < end:
        p, n, pos = rlp_item(raw, pos)
        out.append((p, n))
    return out


def decode_raw(raw: bytes, g: Game) -> SignedTransactionAPI | None:
    """`decode_transaction`'s stateless rules with the chain constants of the game (None: refused)."""
    spec = ChainSpec(chain_id=g.chain_id, gas_limit=g.gas_limit, max_tx_size=g.max_tx_size)
    try:
        return decode_transaction(raw, spec)
    except InvalidTransaction:
        return None


def _raw(m: Machine) -> bytes:
    assert m.tx is not None and m.acc is not None
    return m.acc.store.read(m.tx.rawOff, m.tx.rawLen)


@dataclass(frozen=True)
class DecodeWitness:
    """proof: the store ranges of the raw transaction (fixed fields <= 160 B, data and access-list
    headers, y/r/s <= 67 B); the step decodes them itself."""


def tx_decode(m: Machine, w: DecodeWitness, g: Game) -> Machine:
    """The stateless rules; a refused transaction is a no-op (raw bytes dropped, phase IDLE)."""
    tx, acc = m.tx, m.acc
    assert tx is not None and acc is not None and tx.setup == ST_DECODE
    raw = _raw(m)
    decoded = decode_raw(raw, g)
    if decoded is None:
        return m.replace(phase=IDLE, tx=None, acc=replace(acc, buf_len=tx.rawOff))
    if not decoded.to:
        raise Unsupported("CREATE")
    type_id = raw[0] if raw[0] < 0x80 else 0
    if type_id not in TX_TYPE_FIELDS:
        raise Unsupported("SET_CODE_TX")
    fields = rlp_fields(raw)
    data_i, al_i = TX_TYPE_FIELDS[type_id]
    al = list(decoded.access_list)
    values: dict[str, Any] = dict(
        type=type_id, to=bytes(decoded.to), nonce=decoded.nonce, gasLimit=decoded.gas, value=decoded.value,
        maxFee=decoded.max_fee_per_gas, tip=decoded.max_priority_fee_per_gas,
        dataOff=tx.rawOff + fields[data_i][0], dataLen=fields[data_i][1],
        alAddresses=len(al), alKeys=sum(len(keys) for _, keys in al))  # fmt: skip
    if al_i is not None:
        values.update(alOff=tx.rawOff + fields[al_i][0], alLen=fields[al_i][1])
    return m.replace(tx=replace(tx, setup=ST_SIGHASH, **values),
                     pending=PendingSponge(source=SOURCE_PROOF, srcOff=tx.rawOff, purpose=PURPOSE_SIG_HASH))


@dataclass(frozen=True)
class SigHashWitness(SpongeWitness):
    """SpongeWitness plus, on the final block, the signature and the recovered sender (ecrecover,
    3,000 gas on L1) and the calldata byte counts over [dataOff, dataOff + dataLen)."""

    sender: bytes = b""
    zero_bytes: int = 0
    nonzero_bytes: int = 0


def sig_hash(m: Machine, w: SigHashWitness, g: Game) -> Machine:
    """One block of the signing payload (rebuilt from the store's fields: checked against it here);
    the final block also recovers the sender and counts the calldata bytes."""
    p, tx = m.pending, m.tx
    assert isinstance(p, PendingSponge) and tx is not None and p.purpose == PURPOSE_SIG_HASH
    decoded = decode_raw(_raw(m), g)
    assert decoded is not None
    payload = decoded.get_message_for_signing()
    if w.data != payload[p.absorbed : p.absorbed + len(w.data)] or w.final != (len(payload) - p.absorbed < BLOCK):
        raise StepError("not the signing payload")
    p, digest = _absorb(p, w)
    if digest is None:
        if w.sender or w.zero_bytes or w.nonzero_bytes:
            raise StepError("sender and counts come with the final block only")
        return m.replace(pending=p)
    data = _raw(m)[tx.dataOff - tx.rawOff : tx.dataOff - tx.rawOff + tx.dataLen]
    zeros = data.count(0)
    if keccak(payload) != digest or bytes(decoded.sender) != w.sender or (w.zero_bytes, w.nonzero_bytes) != (
            zeros, len(data) - zeros):
        raise StepError("sender or calldata counts do not fit the signature and data")
    tx = replace(tx, sender=w.sender, zeroBytes=w.zero_bytes, nonZeroBytes=w.nonzero_bytes, setup=ST_START)
    return m.replace(pending=None, tx=tx)


def intrinsic_and_floor(tx: TxCtx) -> tuple[int, int]:
    data_gas = 4 * tx.zeroBytes + 16 * tx.nonZeroBytes
    intrinsic = GAS_TX + data_gas + 2400 * tx.alAddresses + 1900 * tx.alKeys
    floor = GAS_TX + 10 * (tx.zeroBytes + 4 * tx.nonZeroBytes)
    return intrinsic, floor


@dataclass(frozen=True)
class TxStartWitness:
    """proof: the sender's journal leaf (loaded before), TxCtx, BlockCtx, BlockAcc; a delegation
    designator's preimage when the code hash is not empty."""

    sender_code: bytes = b""


def tx_start(m: Machine, w: TxStartWitness, g: Game) -> Machine:
    """Intrinsic gas and floor, then `check_against_state`: failure skips the transaction."""
    tx, acc, block = m.tx, m.acc, m.block
    assert tx is not None and acc is not None and block is not None
    intrinsic, floor = intrinsic_and_floor(tx)
    j = m.journal.copy()
    sender = account(j, tx.sender)
    gas_left = max(g.gas_limit - acc.gas_used, 0)
    ok = (tx.gasLimit >= max(intrinsic, floor) and tx.maxFee >= block.baseFee and tx.gasLimit <= gas_left
          and tx.tip <= tx.maxFee and tx.nonce == sender.nonce
          and sender.balance >= tx.gasLimit * tx.maxFee + tx.value
          and (sender.code_hash == EMPTY_CODE_HASH
               or (keccak(w.sender_code) == sender.code_hash and w.sender_code.startswith(DELEGATION_PREFIX)
                   and len(w.sender_code) == 23)))
    if not ok:
        return m.replace(phase=IDLE, tx=None, journal=Journal(), acc=replace(acc, buf_len=tx.rawOff))
    price = min(tx.maxFee, block.baseFee + tx.tip)
    sender = replace(sender, balance=sender.balance - tx.gasLimit * price, nonce=sender.nonce + 1,
                     flags=sender.flags | FLAG_WARM | FLAG_TOUCHED)
    set_account(j, sender)
    tx = replace(tx, gasPrice=price, intrinsic=intrinsic, floor=floor, setup=SETUP_TO)
    return m.replace(phase=TX_SETUP, tx=tx, journal=j)


# -- deposits (2.2) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositLoadWitness:
    """proof: the deposit preimage (index, sender, to, value, gasLimit, l1BlockNumber, l1Timestamp,
    dataHash); the verifier reads DelayedInbox.accumulators(index - 1, index) live."""

    index: int
    sender: bytes
    to: bytes
    value: int
    gas_limit: int
    l1_block_number: int
    l1_timestamp: int
    data_hash: bytes
    data_len: int
    bare_byte: bool = False  # data is one byte below 0x80: RLP gives it no string header

    # checked live: DelayedInbox.accumulators(index) == H(accumulators(index - 1) ++ messageHash)
    LIVE: ClassVar[tuple[str, ...]] = ("index", "sender", "to", "value", "gas_limit", "l1_block_number",
                                       "l1_timestamp", "data_hash", "data_len")


def deposit_message_hash(w: DepositLoadWitness) -> bytes:
    """`DelayedInbox` messageHash: keccak(abi.encode(index, sender, to, value, gasLimit, l1Block,
    l1Timestamp, keccak(data)))."""
    words = [w.index.to_bytes(32, "big"), bytes(12) + w.sender, bytes(12) + w.to, w.value.to_bytes(32, "big"),
             w.gas_limit.to_bytes(32, "big"), w.l1_block_number.to_bytes(32, "big"),
             w.l1_timestamp.to_bytes(32, "big"), w.data_hash]
    return keccak(b"".join(words))


def deposit_prefix(w: DepositLoadWitness) -> bytes:
    """`0x7E ++ list header ++ rlp(index, sender, to, value, gasLimit) ++ string header(data)`."""
    head = b"".join(rlp.encode(v) for v in (w.index, w.sender, w.to, w.value, w.gas_limit))
    if w.bare_byte:
        string_header = b""
    elif w.data_len < 56:
        string_header = bytes([0x80 + w.data_len])
    else:
        n = w.data_len.to_bytes((w.data_len.bit_length() + 7) // 8, "big")
        string_header = bytes([0xB7 + len(n)]) + n
    payload_len = len(head) + len(string_header) + w.data_len
    if payload_len < 56:
        list_header = bytes([0xC0 + payload_len])
    else:
        n = payload_len.to_bytes((payload_len.bit_length() + 7) // 8, "big")
        list_header = bytes([0xF7 + len(n)]) + n
    return bytes([DEPOSIT_TYPE]) + list_header + head + string_header


def deposit_load(m: Machine, w: DepositLoadWitness) -> Machine:
    acc = m.acc
    assert acc is not None and m.phase == TX_LOAD
    raw_off = align32(acc.buf_len)
    prefix = deposit_prefix(w)
    tx = TxCtx(kind=1, type=DEPOSIT_TYPE, msgLeaf=deposit_message_hash(w), sender=w.sender, to=w.to,
               gasLimit=w.gas_limit, value=w.value, rawOff=raw_off, rawLen=len(prefix) + w.data_len,
               dataOff=raw_off + len(prefix), dataLen=w.data_len, setup=4)
    acc = replace(acc, store=acc.store.write(raw_off, prefix), buf_len=raw_off + len(prefix))
    pending = PendingSpongeCheck(PendingSponge(source=SOURCE_PROOF, srcOff=tx.dataOff, remaining=w.data_len,
                                               purpose=PURPOSE_DATA_LOAD), w.data_hash)
    return m.replace(tx=tx, acc=acc, pending=pending)


def data_load(m: Machine, w: SpongeWitness) -> Machine:
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSpongeCheck) and tx is not None and acc is not None
    off = tx.dataOff + p.sponge.absorbed
    acc = replace(acc, store=acc.store.write(off, w.data), buf_len=off + len(w.data))
    zeros = w.data.count(0)
    tx = replace(tx, zeroBytes=tx.zeroBytes + zeros, nonZeroBytes=tx.nonZeroBytes + len(w.data) - zeros)
    s, digest = _absorb(p.sponge, w)
    if digest is None:
        return m.replace(pending=replace(p, sponge=s), tx=tx, acc=acc)
    if digest != p.expected or s.absorbed != tx.dataLen:
        raise StepError("deposit data does not hash to its dataHash")
    if tx.dataLen == 1 and (acc.store.read(tx.dataOff - 1, 1) != b"\x81") != (w.data[0] < 0x80):
        raise StepError("a one-byte data's RLP header does not fit the byte")
    return m.replace(pending=None, tx=replace(tx, setup=ST_DEPOSIT_START), acc=acc)


def deposit_start(m: Machine) -> Machine:
    """Mint, nonce + 1; below the intrinsic gas: skip the call. proof: the sender's journal leaf."""
    tx = m.tx
    assert tx is not None
    j = m.journal.copy()
    sender = account(j, tx.sender)
    intrinsic, floor = intrinsic_and_floor(tx)  # no access list
    sender = replace(sender, balance=sender.balance + tx.value, nonce=sender.nonce + 1,
                     flags=sender.flags | FLAG_TOUCHED)
    tx = replace(tx, intrinsic=intrinsic, floor=floor, gasPrice=0)
    if tx.gasLimit < max(intrinsic, floor):
        set_account(j, sender)
        return m.replace(phase=TX_END, journal=j, tx=replace(tx, status=STATUS_CALL_SKIPPED))
    set_account(j, replace(sender, flags=sender.flags | FLAG_WARM))
    return m.replace(phase=TX_SETUP, journal=j, tx=replace(tx, setup=SETUP_TO))


# -- TX_SETUP, TX_CALL, TX_END (2.2, 2.5) ------------------------------------------------------


def _warm(j: Journal, address: bytes) -> None:
    entry = account(j, address)
    set_account(j, replace(entry, flags=entry.flags | FLAG_WARM))


@dataclass(frozen=True)
class SetupWitness:
    """proof: the account (or slot) journal leaf; for an access-list item its store range (the
    item is read from the store at `alCursor`, nothing is taken from the prover)."""


def access_list_items(m: Machine, g: Game) -> list[tuple[bytes, int | None]]:
    """The access list of the stored transaction as TX_SETUP visits it: an address, then its keys."""
    decoded = decode_raw(_raw(m), g)
    assert decoded is not None
    return [item for a, keys in decoded.access_list for item in [(bytes(a), None)] + [(bytes(a), k) for k in keys]]


def tx_setup(m: Machine, w: SetupWitness, g: Game) -> Machine:
    tx = m.tx
    assert tx is not None
    j = m.journal.copy()
    if tx.setup == SETUP_TO:
        if tx.to not in PRECOMPILES:
            _warm(j, tx.to)
        return m.replace(journal=j, tx=replace(tx, setup=SETUP_COINBASE))
    if tx.setup == SETUP_COINBASE:
        _warm(j, g.coinbase)
        nxt = SETUP_ACCESS_LIST if tx.alAddresses else SETUP_CALL
        return m.replace(journal=j, tx=replace(tx, setup=nxt))
    if tx.setup == SETUP_ACCESS_LIST:
        items = access_list_items(m, g)
        address, slot = items[tx.alCursor]
        if slot is None:
            if address not in PRECOMPILES:
                _warm(j, address)
        else:
            if address in PRECOMPILES:  # precompiles are never journalled: nothing to hold the slot
                raise Unsupported("PRECOMPILE_SLOT")
            key = slot_key(address, slot)
            entry = SlotEntry.decode(j.get(key).payload)
            j.update(key, replace(entry, warm=True).encode())
        last = tx.alCursor + 1 == len(items)
        return m.replace(journal=j, tx=replace(tx, alCursor=tx.alCursor + 1, setup=SETUP_CALL if last else tx.setup))
    raise StepError(f"TX_SETUP at stage {tx.setup}")


@dataclass(frozen=True)
class CallWitness:
    """proof: the sender's and `to`'s journal leaves, the code-oracle record of `to` (read live from
    CodeOracle by its code hash; `code` is what the prover keeps to trace EXEC, not sent)."""

    code: bytes = b""


def tx_call(m: Machine, w: CallWitness, g: Game, world_db: Any = None) -> Machine:
    """Value transfer; an account without code succeeds at once (phase TX_END), else the top frame
    is pushed (phase EXEC: `gas = gasLimit - intrinsic`, calldata = the store's data range, code
    from the oracle, snapshot = the journal *before* the transfer: a reverting call gives the
    value back, as py-evm's message snapshot does; the warm flags of TX_START / TX_SETUP stay)."""
    tx, acc = m.tx, m.acc
    assert tx is not None and acc is not None and tx.setup == SETUP_CALL
    snap = m.journal
    j = m.journal.copy()
    sender = account(j, tx.sender)
    if sender.balance < tx.value:
        raise StepError("unreachable: the balance was checked at TX_START")
    set_account(j, replace(sender, balance=sender.balance - tx.value, flags=sender.flags | FLAG_TOUCHED))
    to = account(j, tx.to)
    set_account(j, replace(to, balance=to.balance + tx.value, flags=to.flags | FLAG_TOUCHED))
    raw_end = tx.rawOff + tx.rawLen
    tx = replace(tx, logsOff=align32(raw_end), bloom=EMPTY_BLOOM_HASH)
    if to.code_hash == EMPTY_CODE_HASH:
        return m.replace(phase=TX_END, journal=j, tx=replace(tx, status=STATUS_SUCCESS))
    if keccak(w.code) != to.code_hash:
        raise StepError("code of another hash")
    code = Code(w.code)
    frame = Frame(depth=0, kind=0, static=0, address=tx.to, caller=tx.sender, value=tx.value,
                  code=code.record.hash(), gas=tx.gasLimit - tx.intrinsic, cdRoot=ZERO32, cdOff=tx.dataOff,
                  cdLen=tx.dataLen, snapJournalRoot=snap.root, snapJournalCount=snap.count, snapRefund=tx.refund,
                  snapBufLen=raw_end, snapLogCount=0, snapBloom=EMPTY_BLOOM_HASH)
    assert m.entry is not None and m.block is not None
    ms = MachineState(phase=EXEC, cursor=m.cursor.hash(), entry=m.entry.hash(), worldRoot=m.world_root)
    st = ExecState(ms=ms, frame=frame, tx=tx, block=m.block, acc=acc.commitment(), code=code, stack=(),
                   memory=Buf(MEM_DEPTH), store=acc.store, chain=Chain(g.chain_id, g.gas_limit, g.coinbase),
                   journal=j, world_db=world_db, snap_journal=snap.copy())
    return m.replace(phase=EXEC, journal=j, tx=tx, exec=st)


def exec_end(m: Machine, post: Any) -> Machine:
    """The Machine of an EXEC state that reached TX_END (the top frame stays in `frame`)."""
    acc = m.acc
    assert acc is not None and post.ms.phase == TX_END
    acc = replace(acc, store=post.store, buf_len=post.acc.bufLen)
    out = m.replace(phase=TX_END, journal=post.journal, tx=post.tx, acc=acc, frame=post.committed_frame(), exec=None)
    if out.commitment() != post.hash():
        raise StepError("EXEC state and machine disagree at TX_END")
    return out


@dataclass(frozen=True)
class TxEndWitness:
    """proof: sender and coinbase journal leaves, TxCtx, the top frame (gas left), BlockAcc with
    the tx-record path at `txCount`, the 256-byte block bloom and the tx bloom."""

    tx_bloom: bytes = bytes(256)


def tx_end(m: Machine, w: TxEndWitness, g: Game) -> Machine:
    return tx_end_record(m, w, g)[0]


def tx_end_record(m: Machine, w: TxEndWitness, g: Game) -> tuple[Machine, TxRecord]:
    """TX_END and the TxRecord it appends (the prover keeps the preimages for TRIE proofs)."""
    tx, acc, block = m.tx, m.acc, m.block
    assert tx is not None and acc is not None and block is not None
    if keccak(w.tx_bloom) != tx.bloom and not (tx.bloom == ZERO32 and not any(w.tx_bloom)):
        raise StepError("tx bloom preimage")
    j = m.journal.copy()
    gas_left = m.frame.gas if m.frame is not None else tx.gasLimit - tx.intrinsic
    if tx.status & STATUS_CALL_SKIPPED:
        gas_used = tx.gasLimit
    else:
        used = tx.gasLimit - gas_left
        refund = min(max(tx.refund, 0), used // 5)
        gas_used = max(used - refund, tx.floor)
    if tx.kind == 0:
        sender = account(j, tx.sender)
        set_account(j, replace(sender, balance=sender.balance + (tx.gasLimit - gas_used) * tx.gasPrice))
        coinbase = account(j, g.coinbase)
        set_account(j, replace(coinbase, balance=coinbase.balance + gas_used * (tx.gasPrice - block.baseFee),
                               flags=coinbase.flags | FLAG_TOUCHED))
    elif has_account(j, g.coinbase):
        coinbase = account(j, g.coinbase)
        set_account(j, replace(coinbase, flags=coinbase.flags | FLAG_TOUCHED))
    logs_off = align32(tx.rawOff + tx.rawLen)
    logs_len = max(acc.buf_len - logs_off, 0)
    cumulative = acc.gas_used + gas_used
    bloom = bytes(a | b for a, b in zip(acc.bloom, w.tx_bloom, strict=True))
    record = TxRecord(type=tx.type, status=tx.status & STATUS_SUCCESS, cumulativeGas=cumulative, rawOff=tx.rawOff,
                      rawLen=tx.rawLen, logsOff=logs_off, logsLen=logs_len, bloom=w.tx_bloom)
    records = acc.records.write(32 * acc.tx_count, record.hash())
    acc = replace(acc, gas_used=cumulative, tx_count=acc.tx_count + 1, records=records, bloom=bloom,
                  buf_len=logs_off + logs_len)
    return m.replace(phase=COMMIT, journal=j, acc=acc, frame=None, pending=PendingCommit(CommitCursor())), record
