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
from eth_keys import keys
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
    SOURCE_STORE,
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


# -- TX_DECODE: the stateless rules over the stored raw bytes (2.2, section 17) ----------------
#
# `decode_transaction`'s rules split in two: everything a function of the raw bytes and the chain
# constants is TX_DECODE's (type, canonical RLP, field counts and ranges, chain id, size, the
# block gas limit, tip <= fee cap, y / v, 1 <= r < n, 1 <= s <= n/2, the access list); the
# signature (sender recovery over the signing hash) and the intrinsic gas (the calldata counts)
# are the final SIG_HASH micro-step's. A failure in either is the same no-op. The decoder reads
# only two ranges of the raw bytes, which is what a one-step proof carries: the head (the first
# HEAD_CAP bytes: type, list header, the fields before the data and the data's header) and the
# tail after the data (access list and signature, at most TAIL_CAP bytes); a rule that needs a
# byte outside them fails, which only happens for transactions decode_transaction refuses too
# (the fields before the data of a valid transaction take <= 180 bytes, its tail <= 4,166).

HEAD_CAP = 224  # 7 words
ACCESS_LIST_MAX = 4096  # access-list payload TX_DECODE proves in one step; above: refused by name
TAIL_CAP = 4192  # access-list header (3) + ACCESS_LIST_MAX + y (1) + r (33) + s (33), rounded up
SECP256K1N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1N_HALF = SECP256K1N // 2
UINT64_MAX = 2**64 - 1


class Refused(ValueError):
    """The raw bytes break a stateless rule: the transaction is a no-op."""


@dataclass(frozen=True)
class RawView:
    """The bytes of a raw transaction a TX_DECODE proof carries: `head` from offset 0, `tail`
    from `tail_start` (offsets relative to the raw start). Any other byte is unavailable."""

    head: bytes
    tail_start: int = 0
    tail: bytes = b""

    def at(self, x: int) -> int:
        if x < len(self.head):
            return self.head[x]
        if self.tail_start <= x < self.tail_start + len(self.tail):
            return self.tail[x - self.tail_start]
        raise Refused(f"byte {x} outside the proven ranges")


@dataclass(frozen=True)
class Item:
    """An RLP item at a raw offset: list or string, payload start and length, end."""

    is_list: bool
    start: int
    length: int
    end: int


def rlp_at(v: RawView, pos: int, limit: int) -> Item:
    """The canonical RLP item at `pos`, which must end by `limit` (the enclosing list's end)."""
    if pos >= limit:
        raise Refused("item past its list")
    b = v.at(pos)
    if b < 0x80:
        item = Item(False, pos, 1, pos + 1)
    elif b < 0xB8 or 0xC0 <= b < 0xF8:
        length = b - (0x80 if b < 0xC0 else 0xC0)
        item = Item(b >= 0xC0, pos + 1, length, pos + 1 + length)
        if b == 0x81 and item.end <= limit and v.at(pos + 1) < 0x80:
            raise Refused("single byte below 0x80 with a header")
    else:
        n = b - (0xB7 if b < 0xC0 else 0xF7)
        if v.at(pos + 1) == 0:
            raise Refused("length with a leading zero")
        length = 0
        for i in range(n):
            length = (length << 8) | v.at(pos + 1 + i)
        if length < 56:
            raise Refused("long form for a short payload")
        item = Item(b >= 0xC0, pos + 1 + n, length, pos + 1 + n + length)
    if item.end > limit:
        raise Refused("item past its list")
    return item


def _string(v: RawView, pos: int, limit: int) -> Item:
    item = rlp_at(v, pos, limit)
    if item.is_list:
        raise Refused("a list where a string belongs")
    return item


def rlp_uint(v: RawView, pos: int, limit: int, max_len: int = 32) -> tuple[int, int]:
    """(value, end) of a canonical RLP integer of at most `max_len` bytes (no leading zero)."""
    item = _string(v, pos, limit)
    if item.length > max_len:
        raise Refused("integer too long")
    value = 0
    for i in range(item.length):
        value = (value << 8) | v.at(item.start + i)
    if item.length and v.at(item.start) == 0:
        raise Refused("integer with a leading zero")
    return value, item.end


@dataclass(frozen=True)
class RawHead:
    """The fields up to the data (offsets relative to the raw start)."""

    type: int
    end: int  # the list's end (== raw length)
    first: int  # the first field's offset (after the type byte and the list header)
    nonce: int
    max_fee: int
    tip: int
    gas: int
    to: bytes  # b"" for a contract creation
    value: int
    data_off: int
    data_len: int


@dataclass(frozen=True)
class RawFields:
    """Everything TX_DECODE records: the head, the access-list range and counts, y, r, s."""

    head: RawHead
    al_off: int = 0
    al_len: int = 0
    al_addresses: int = 0
    al_keys: int = 0
    sig_off: int = 0
    y: int = 0
    r: int = 0
    s: int = 0


def decode_head(v: RawView, raw_len: int, g: Game) -> RawHead:
    """Type, list header and the fields before the data (the head range)."""
    if raw_len == 0 or raw_len > g.max_tx_size:
        raise Refused("size")
    b0 = v.at(0)
    if b0 == 4:
        raise Unsupported("SET_CODE_TX")
    if b0 < 0x80 and b0 not in (1, 2) or 0x80 <= b0 < 0xC0:
        raise Refused("type")
    type_id = b0 if b0 < 0x80 else 0
    outer = rlp_at(v, 1 if type_id else 0, raw_len)
    if not outer.is_list or outer.end != raw_len:
        raise Refused("not one list spanning the transaction")
    pos, end = outer.start, outer.end
    if type_id:
        chain_id, pos = rlp_uint(v, pos, end)
        if chain_id != g.chain_id:
            raise Refused("chain id")
    nonce, pos = rlp_uint(v, pos, end, 8)
    if nonce >= UINT64_MAX:
        raise Refused("nonce")
    tip, pos = rlp_uint(v, pos, end)
    max_fee = tip
    if type_id == 2:
        max_fee, pos = rlp_uint(v, pos, end)
    gas, pos = rlp_uint(v, pos, end)
    if gas > g.gas_limit:
        raise Refused("gas above the block gas limit")
    to = _string(v, pos, end)
    if to.length not in (0, 20):
        raise Refused("to")
    to_bytes = bytes(v.at(to.start + i) for i in range(to.length))
    value, pos = rlp_uint(v, to.end, end)
    data = _string(v, pos, end)
    return RawHead(type_id, end, outer.start, nonce, max_fee, tip, gas, to_bytes, value, data.start, data.length)


def decode_tail(v: RawView, h: RawHead, g: Game) -> RawFields:
    """The access list (typed), y or v, r, s after the data (the tail range), the list's end."""
    pos, end = h.data_off + h.data_len, h.end
    al = Item(True, pos, 0, pos)
    addresses = keys = 0
    if h.type:
        al = rlp_at(v, pos, end)
        if not al.is_list:
            raise Refused("access list is not a list")
        if al.length > ACCESS_LIST_MAX:
            raise Unsupported("ACCESS_LIST_TOO_LARGE")
        q = al.start
        while q < al.end:
            entry = rlp_at(v, q, al.end)
            address = _string(v, entry.start, entry.end) if entry.is_list else None
            if address is None or address.length != 20:
                raise Refused("access-list entry")
            slots = rlp_at(v, address.end, entry.end)
            if not slots.is_list or slots.end != entry.end:
                raise Refused("access-list entry")
            k = slots.start
            while k < slots.end:
                key = _string(v, k, slots.end)
                if key.length != 32:
                    raise Refused("storage key")
                k, keys = key.end, keys + 1
            q, addresses = entry.end, addresses + 1
        sig = al.end
        y, pos = rlp_uint(v, sig, end)
        if y > 1:
            raise Refused("y parity")
    else:
        sig = pos
        v_, pos = rlp_uint(v, sig, end)
        y = v_ - 35 - 2 * g.chain_id
        if y not in (0, 1):
            raise Refused("v (EIP-155 with this chain id)")
    r, pos = rlp_uint(v, pos, end)
    s, pos = rlp_uint(v, pos, end)
    if not (1 <= r < SECP256K1N and 1 <= s <= SECP256K1N_HALF):
        raise Refused("r or s out of range")
    if pos != end:
        raise Refused("field count")
    if h.tip > h.max_fee:
        raise Refused("tip above the fee cap")
    return RawFields(h, al.start, al.length, addresses, keys, sig, y, r, s)


def head_range(raw_len: int) -> int:
    """Bytes of the head range a TX_DECODE proof carries (from the raw start)."""
    return min(raw_len, HEAD_CAP)


def tail_range(h: RawHead) -> tuple[int, int]:
    """(start, length) of the tail range: the bytes after the data, at most TAIL_CAP of them."""
    start = h.data_off + h.data_len
    return start, min(h.end, start + TAIL_CAP) - start


def decode_fields(raw: bytes, g: Game) -> RawFields:
    """TX_DECODE's rules over `raw` (Refused: a no-op; Unsupported: refused by name), reading
    only the head and tail ranges, as the step contract does."""
    if not raw or len(raw) > g.max_tx_size:
        raise Refused("size")
    h = decode_head(RawView(raw[: head_range(len(raw))]), len(raw), g)
    start, length = tail_range(h)
    return decode_tail(RawView(raw[: head_range(len(raw))], start, raw[start : start + length]), h, g)


def decode_raw(raw: bytes, g: Game) -> SignedTransactionAPI | None:
    """`decode_transaction`'s stateless rules with the chain constants of the game (None: refused)."""
    spec = ChainSpec(chain_id=g.chain_id, gas_limit=g.gas_limit, max_tx_size=g.max_tx_size)
    try:
        return decode_transaction(raw, spec)
    except InvalidTransaction:
        return None


def skipped_anyway(decoded: SignedTransactionAPI) -> bool:
    """A transaction decode_transaction accepts but TX_DECODE refuses: an EIP-2930 one (whose
    fields py-evm does not range-check) with a nonce >= 2^64 - 1 or a gas price or value >= 2^256.
    TX_START would skip it for sure (no account reaches that nonce, no balance covers that cost),
    and a skip ends in the same state as a no-op."""
    return decoded.nonce >= UINT64_MAX or decoded.max_fee_per_gas >> 256 != 0 or decoded.value >> 256 != 0


def _raw(m: Machine) -> bytes:
    assert m.tx is not None and m.acc is not None
    return m.acc.store.read(m.tx.rawOff, m.tx.rawLen)


def _noop(m: Machine) -> Machine:
    """A transaction that breaks a stateless rule: its raw bytes dropped, phase IDLE."""
    assert m.tx is not None and m.acc is not None
    return m.replace(phase=IDLE, tx=None, pending=None, acc=replace(m.acc, buf_len=m.tx.rawOff))


def rlp_uint_bytes(value: int) -> bytes:
    """rlp(value) of an integer."""
    return rlp.encode(value)


def list_header(length: int) -> bytes:
    if length < 56:
        return bytes([0xC0 + length])
    n = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0xF7 + len(n)]) + n


def signing_layout(tx: TxCtx, src_off: int, chain_id: int) -> tuple[bytes, int, bytes]:
    """(prefix, body length, suffix) of the signing payload `prefix ++ store[src_off, src_off +
    body) ++ suffix`: the stored fields before the signature under a new list header (typed: after
    the type byte; legacy: followed by `rlp(chainId) ++ 0x80 0x80`, EIP-155)."""
    sig = tx.alOff + tx.alLen if tx.type else tx.dataOff + tx.dataLen
    body = sig - src_off
    suffix = b"" if tx.type else rlp_uint_bytes(chain_id) + b"\x80\x80"
    prefix = (bytes([tx.type]) if tx.type else b"") + list_header(body + len(suffix))
    return prefix, body, suffix


@dataclass(frozen=True)
class DecodeWitness:
    """proof: the store words of the head range (<= 224 bytes from rawOff) and of the tail range
    (<= 4,192 bytes after the data) with their siblings; the step decodes them itself."""


def tx_decode(m: Machine, w: DecodeWitness, g: Game) -> Machine:
    """The stateless rules of the raw bytes (`decode_fields`); a refused transaction is a no-op.
    Records the fields and offsets in TxCtx and opens the SIG_HASH sponge over the store."""
    tx = m.tx
    assert tx is not None and m.acc is not None and tx.setup == ST_DECODE
    try:
        f = decode_fields(_raw(m), g)
    except Refused:
        return _noop(m)
    h = f.head
    if not h.to:
        raise Unsupported("CREATE")
    tx = replace(tx, type=h.type, to=h.to, nonce=h.nonce, gasLimit=h.gas, value=h.value, maxFee=h.max_fee,
                 tip=h.tip, dataOff=tx.rawOff + h.data_off, dataLen=h.data_len,
                 alOff=tx.rawOff + f.al_off if h.type else 0, alLen=f.al_len,
                 alAddresses=f.al_addresses, alKeys=f.al_keys, setup=ST_SIGHASH)  # fmt: skip
    src = tx.rawOff + h.first
    prefix, body, suffix = signing_layout(tx, src, g.chain_id)
    pending = PendingSponge(source=SOURCE_STORE, srcOff=src, remaining=len(prefix) + body + len(suffix),
                            purpose=PURPOSE_SIG_HASH)
    return m.replace(tx=tx, pending=pending)


# -- SIG_HASH: the signing hash over the store, then sender and intrinsic gas ------------------


@dataclass(frozen=True)
class SigHashWitness:
    """proof: the store words of the block's body part (and, on the final block, of the
    signature `[sig, rawOff + rawLen)`) with their siblings; the step builds the block itself."""


def _clip(seg_start: int, seg_len: int, a: int, n: int) -> tuple[int, int]:
    """The part of payload bytes [a, a + n) inside the segment [seg_start, seg_start + seg_len),
    in segment coordinates (lo == hi: none)."""
    lo = min(max(a - seg_start, 0), seg_len)
    hi = min(max(a + n - seg_start, 0), seg_len)
    return lo, max(hi, lo)


def sig_block(tx: TxCtx, p: PendingSponge, store: Buf, chain_id: int) -> tuple[bytes, tuple[int, int]]:
    """The next block of the signing payload and the store range [lo, hi) its body part reads."""
    prefix, body, suffix = signing_layout(tx, p.srcOff, chain_id)
    a, n = p.absorbed, min(BLOCK, p.remaining)
    plo, phi = _clip(0, len(prefix), a, n)
    blo, bhi = _clip(len(prefix), body, a, n)
    slo, shi = _clip(len(prefix) + body, len(suffix), a, n)
    block = prefix[plo:phi] + store.read(p.srcOff + blo, bhi - blo) + suffix[slo:shi]
    return block, (p.srcOff + blo, p.srcOff + bhi)


def signature_of(tx: TxCtx, store: Buf, chain_id: int) -> tuple[int, int, int]:
    """(y, r, s) read from the stored signature fields (made canonical by TX_DECODE)."""
    sig = tx.alOff + tx.alLen if tx.type else tx.dataOff + tx.dataLen
    end = tx.rawOff + tx.rawLen
    v = RawView(b"", sig, store.read(sig, end - sig))
    first, pos = rlp_uint(v, sig, end)
    r, pos = rlp_uint(v, pos, end)
    s, _ = rlp_uint(v, pos, end)
    return (first if tx.type else first - 35 - 2 * chain_id), r, s


def ecrecover(digest: bytes, y: int, r: int, s: int) -> bytes | None:
    """The L1 precompile 0x01 on (digest, 27 + y, r, s): the signer's address, None on failure."""
    try:
        return bytes(keys.Signature(vrs=(y, r, s)).recover_public_key_from_msg_hash(digest).to_canonical_address())
    except Exception:  # eth_keys raises BadSignature / ValidationError for what the precompile refuses
        return None


def sig_hash(m: Machine, w: SigHashWitness, g: Game) -> Machine:
    """One block of the signing payload, rebuilt from the store, counting the zero / non-zero
    calldata bytes it covers; the final block recovers the sender (ecrecover) and checks the
    intrinsic gas and floor: a failure is TX_DECODE's no-op."""
    p, tx, acc = m.pending, m.tx, m.acc
    assert isinstance(p, PendingSponge) and tx is not None and acc is not None and p.purpose == PURPOSE_SIG_HASH
    block, (lo, hi) = sig_block(tx, p, acc.store, g.chain_id)
    dlo, dhi = max(lo, tx.dataOff), min(hi, tx.dataOff + tx.dataLen)
    data = acc.store.read(dlo, dhi - dlo) if dhi > dlo else b""
    zeros = data.count(0)
    tx = replace(tx, zeroBytes=tx.zeroBytes + zeros, nonZeroBytes=tx.nonZeroBytes + len(data) - zeros)
    if p.remaining >= BLOCK:
        state = sponge.absorb(p.state, block)
        return m.replace(tx=tx, pending=replace(p, state=state, absorbed=p.absorbed + BLOCK,
                                                remaining=p.remaining - BLOCK))
    _, digest = sponge.absorb_final(p.state, block)
    sender = ecrecover(digest, *signature_of(tx, acc.store, g.chain_id))
    if sender is None or tx.gasLimit < max(intrinsic_and_floor(tx)):
        return _noop(m)
    return m.replace(pending=None, tx=replace(tx, sender=sender, setup=ST_START))


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
