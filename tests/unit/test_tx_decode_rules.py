"""TX_DECODE + SIG_HASH (docs/fraud-proofs.md 2.2, 17) accept exactly what `decode_transaction` accepts.

The twin `l1.proofs.tx_steps` splits the chain's stateless rules in two steps that read only the
stored raw bytes: TX_DECODE (type, canonical RLP, field counts and ranges, chain id, size, y / v, r,
s, the access list) and the final SIG_HASH micro-step (sender recovery over the signing hash rebuilt
from the store, intrinsic gas from calldata counts accumulated per block). Here each is run on a
made-up machine holding only the raw bytes, and its verdict compared with the chain's rule on
signed transactions of every type and on hypothesis' mutations of them (flipped, inserted and
deleted bytes, non-canonical headers, leading zeros, wrong field counts, out-of-range fields).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
import rlp
from eth_hash.auto import keccak
from eth_keys import keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l1.proofs import tx_steps as ts
from l1.proofs.buf import MEM_DEPTH, Buf
from l1.proofs.commitments import IDLE, TX_LOAD, Cursor, TxCtx
from l1.proofs.machine import ST_DECODE, ST_SIGHASH, ST_START, Acc, Game, Machine
from l2.spec import MAX_TX_SIZE
from tests.conftest import CHAIN_ID

GAME = Game(1, 1, CHAIN_ID, 30_000_000, bytes(20), 2, 8, MAX_TX_SIZE)
PRIVATE = [keys.PrivateKey(keccak(bytes([i]))) for i in range(3)]
SINK = bytes.fromhex("00000000000000000000000000000000000dead1")
TOKEN = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")


# -- building raw transactions -------------------------------------------------------------------


@dataclass(frozen=True)
class TxSpec:
    """An unsigned transaction as field values (ints, bytes, the access list as nested lists)."""

    type: int = 2
    chain_id: int = CHAIN_ID
    nonce: int = 0
    tip: int = 1
    max_fee: int = 10**10
    gas: int = 21_000
    to: bytes = SINK
    value: int = 1
    data: bytes = b""
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()

    def unsigned(self) -> list[Any]:
        al = [[a, [k.to_bytes(32, "big") for k in ks]] for a, ks in self.access_list]
        if self.type == 0:
            return [self.nonce, self.max_fee, self.gas, self.to, self.value, self.data]
        if self.type == 1:
            return [self.chain_id, self.nonce, self.max_fee, self.gas, self.to, self.value, self.data, al]
        return [self.chain_id, self.nonce, self.tip, self.max_fee, self.gas, self.to, self.value, self.data, al]

    def payload(self) -> bytes:
        if self.type == 0:
            return rlp.encode([*self.unsigned(), self.chain_id, b"", b""])
        return bytes([self.type]) + rlp.encode(self.unsigned())


def signature(spec: TxSpec, key: keys.PrivateKey = PRIVATE[0]) -> list[int]:
    sig = key.sign_msg_hash(keccak(spec.payload()))
    y = sig.v
    return [35 + 2 * spec.chain_id + y if spec.type == 0 else y, sig.r, sig.s]


def encode(spec: TxSpec, sig: list[Any]) -> bytes:
    body = rlp.encode([*spec.unsigned(), *sig])
    return body if spec.type == 0 else bytes([spec.type]) + body


def signed(spec: TxSpec, key: keys.PrivateKey = PRIVATE[0]) -> bytes:
    return encode(spec, signature(spec, key))


# -- running the two steps on the raw bytes alone ------------------------------------------------


def machine_of(raw: bytes, raw_off: int = 64) -> Machine:
    """A machine at TX_DECODE whose store holds `raw` at `raw_off` (bytes before it non-zero, as
    another transaction's would be)."""
    store = Buf(MEM_DEPTH).write(0, b"\x5a" * raw_off + raw)
    tx = TxCtx(msgLeaf=keccak(b"\x01" + raw), rawOff=raw_off, rawLen=len(raw), setup=ST_DECODE)
    return Machine(phase=TX_LOAD, number=1, cursor=Cursor(0, 1, 0), acc=Acc(store=store, buf_len=raw_off + len(raw)),
                   tx=tx)


def run_l1(raw: bytes, g: Game = GAME) -> tuple[str, Machine, list[Machine]]:
    """("ok" | "noop" | "unsupported:NAME", last machine, every machine) of TX_DECODE then SIG_HASH."""
    m = machine_of(raw)
    seen = [m]
    try:
        m = ts.tx_decode(m, ts.DecodeWitness(), g)
        seen.append(m)
        while m.tx is not None and m.tx.setup == ST_SIGHASH:
            m = ts.sig_hash(m, ts.SigHashWitness(), g)
            seen.append(m)
    except ts.Unsupported as exc:
        return f"unsupported:{exc.name}", m, seen
    if m.phase == IDLE:
        assert m.tx is None and m.acc is not None and m.acc.buf_len == 64 and m.pending is None
        return "noop", m, seen
    assert m.tx is not None and m.tx.setup == ST_START and m.pending is None
    return "ok", m, seen


def check(raw: bytes, g: Game = GAME) -> str:
    """The L1 verdict, asserted consistent with decode_transaction (and its recorded fields equal)."""
    verdict, m, _ = run_l1(raw, g)
    ref = ts.decode_raw(raw, g)
    if raw[:1] == b"\x04":
        assert verdict == "unsupported:SET_CODE_TX"
        return verdict
    if verdict == "unsupported:ACCESS_LIST_TOO_LARGE":
        return verdict
    if verdict == "unsupported:CREATE":
        assert ref is None or not ref.to
        return verdict
    if ref is None:
        assert verdict == "noop", raw.hex()
        return verdict
    if verdict == "noop":
        assert ts.skipped_anyway(ref), f"L1 refuses a transaction the chain accepts: {raw.hex()}"
        return verdict
    assert verdict == "ok", (verdict, raw.hex())
    tx = m.tx
    assert tx is not None
    data = bytes(ref.data)
    al = ref.access_list
    assert (tx.type, tx.sender, tx.to, tx.nonce, tx.gasLimit, tx.value, tx.maxFee, tx.tip) == (
        raw[0] if raw[0] < 0x80 else 0, bytes(ref.sender), bytes(ref.to), ref.nonce, ref.gas, ref.value,
        ref.max_fee_per_gas, ref.max_priority_fee_per_gas)
    assert m.acc is not None and m.acc.store.read(tx.dataOff, tx.dataLen) == data
    assert (tx.zeroBytes, tx.nonZeroBytes) == (data.count(0), len(data) - data.count(0))
    assert (tx.alAddresses, tx.alKeys) == (len(al), sum(len(k) for _, k in al))
    return verdict


def signing_payload(raw: bytes) -> bytes:
    """The bytes SIG_HASH absorbed, block by block, rebuilt from the store."""
    _, _, seen = run_l1(raw)
    out = b""
    for m in seen[1:]:
        if m.tx is not None and m.tx.setup == ST_SIGHASH:
            assert isinstance(m.pending, ts.PendingSponge) and m.acc is not None
            block, _ = ts.sig_block(m.tx, m.pending, m.acc.store, CHAIN_ID)
            out += block
    return out


# -- the honest transactions ---------------------------------------------------------------------

AL = ((TOKEN, (0, 1, 2**255)), (SINK, ()), (bytes(20), (7,)))
HONEST = {
    "eip1559": TxSpec(),
    "eip1559-data": TxSpec(gas=100_000, data=bytes(range(256)) * 3 + bytes(40)),
    "eip1559-al": TxSpec(gas=100_000, access_list=AL),
    "eip2930": TxSpec(type=1, gas=60_000, access_list=AL, data=b"\x00\x01"),
    "eip2930-empty-al": TxSpec(type=1),
    "legacy": TxSpec(type=0),
    "legacy-data": TxSpec(type=0, gas=80_000, data=b"\xa9\x05\x9c\xbb" + bytes(64), value=0),
    "zero-values": TxSpec(nonce=0, tip=0, max_fee=0, value=0, to=bytes(20)),
    "big-values": TxSpec(nonce=2**64 - 2, tip=2**256 - 1, max_fee=2**256 - 1, value=2**256 - 1, gas=30_000_000),
    "long-data": TxSpec(gas=1_000_000, data=bytes([1, 0, 2]) * 700),
}


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_transactions_decode_and_recover(name: str) -> None:
    spec = HONEST[name]
    raw = signed(spec)
    assert check(raw) == "ok"
    assert signing_payload(raw) == spec.payload()
    _, m, _ = run_l1(raw)
    assert m.tx is not None and m.tx.sender == PRIVATE[0].public_key.to_canonical_address()


def _resign(spec: TxSpec, **changes: Any) -> bytes:
    return signed(replace(spec, **changes))


def _with_sig(spec: TxSpec, y: int | None = None, r: int | None = None, s: int | None = None) -> bytes:
    sig = signature(spec)
    return encode(spec, [sig[0] if y is None else y, sig[1] if r is None else r, sig[2] if s is None else s])


FAILING = {
    "bad signature": lambda: _with_sig(TxSpec(), r=12345),
    "r zero": lambda: _with_sig(TxSpec(), r=0),
    "s zero": lambda: _with_sig(TxSpec(), s=0),
    "r above n": lambda: _with_sig(TxSpec(), r=ts.SECP256K1N + 1),
    "high s": lambda: _with_sig(TxSpec(), s=ts.SECP256K1N - signature(TxSpec())[2]),
    "y 2": lambda: _with_sig(TxSpec(), y=2),
    "legacy v 27": lambda: _with_sig(TxSpec(type=0), y=27),
    "legacy v other chain": lambda: _with_sig(TxSpec(type=0), y=35 + 2 * 902),
    "wrong chain id": lambda: _resign(TxSpec(), chain_id=902),
    "legacy wrong chain id": lambda: signed(TxSpec(type=0, chain_id=902)),
    "intrinsic gas": lambda: _resign(TxSpec(), gas=20_999),
    "floor gas": lambda: _resign(TxSpec(), gas=21_000 + 16 * 9, data=b"\x01" * 10),
    "access-list gas": lambda: _resign(TxSpec(), gas=21_000 + 2400, access_list=((SINK, (1,)),)),
    "gas above block": lambda: _resign(TxSpec(), gas=30_000_001),
    "tip above fee cap": lambda: _resign(TxSpec(), tip=11, max_fee=10),
    "nonce 2^64-1": lambda: _resign(TxSpec(), nonce=2**64 - 1),
    "type 3": lambda: b"\x03" + signed(TxSpec())[1:],
    "type 0x7e": lambda: b"\x7e" + signed(TxSpec())[1:],
    "type 0": lambda: b"\x00" + signed(TxSpec())[1:],
    "string not list": lambda: b"\x02\x85hello",
    "trailing byte": lambda: signed(TxSpec()) + b"\x00",
    "truncated": lambda: signed(TxSpec())[:-1],
    "empty": lambda: b"",
    "oversize": lambda: b"\x02" + b"\x00" * MAX_TX_SIZE,
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_transactions_are_noops(name: str) -> None:
    raw = FAILING[name]()
    if name == "empty":
        verdict, _, _ = run_l1(raw)
        assert verdict == "noop" and ts.decode_raw(raw, GAME) is None
        return
    assert check(raw) == "noop"


def test_refused_by_name() -> None:
    assert check(signed(replace(TxSpec(), to=b""))) == "unsupported:CREATE"
    assert check(b"\x04" + signed(TxSpec())[1:]) == "unsupported:SET_CODE_TX"
    big = tuple((bytes([i]) * 20, ()) for i in range(179))  # 179 x 23 bytes > 4 KiB
    raw = signed(TxSpec(gas=1_000_000, access_list=big))
    assert ts.decode_raw(raw, GAME) is not None
    assert check(raw) == "unsupported:ACCESS_LIST_TOO_LARGE"
    fits = tuple((bytes([i]) * 20, ()) for i in range(178))  # 178 x 23 = 4,094 bytes: proven
    assert check(signed(TxSpec(gas=1_000_000, access_list=fits))) == "ok"


def test_eip2930_fields_py_evm_leaves_unchecked_fail_as_a_skip_would() -> None:
    """A type-1 transaction with a nonce >= 2^64 - 1 or a gas price / value >= 2^256 passes
    decode_transaction (py-evm range-checks no field of it) and TX_START would skip it; TX_DECODE
    makes it a no-op, the same end state."""
    for changes in ({"nonce": 2**64 - 1}, {"nonce": 2**70}, {"max_fee": 2**256}, {"value": 2**260}):
        raw = signed(replace(TxSpec(type=1), **changes))
        ref = ts.decode_raw(raw, GAME)
        assert ref is not None and ts.skipped_anyway(ref)
        assert check(raw) == "noop"


# -- mutations -----------------------------------------------------------------------------------


def _item(payload: bytes, long: bool = False, wrap: bool = False) -> bytes:
    """An RLP string, optionally non-canonical: a long-form header or a 0x81 before a low byte."""
    if long:
        n = len(payload).to_bytes(max(1, (len(payload).bit_length() + 7) // 8), "big")
        return bytes([0xB7 + len(n)]) + n + payload
    if wrap and len(payload) == 1:
        return b"\x81" + payload
    return rlp.encode(payload)


def _ints(spec: TxSpec) -> list[int]:
    """Indexes of the integer fields of a transaction's top-level list."""
    return {0: [0, 1, 2, 4, 6, 7, 8], 1: [0, 1, 2, 3, 5, 8, 9, 10], 2: [0, 1, 2, 3, 4, 6, 9, 10, 11]}[spec.type]


def _fields(raw: bytes) -> tuple[bytes, list[bytes]]:
    """(type prefix, the top-level items' encodings)."""
    prefix = raw[:1] if raw[0] < 0x80 else b""
    body = raw[len(prefix) :]
    start, length, _ = ts.rlp_item(body, 0)
    out, pos = [], start
    while pos < start + length:
        _, _, end = ts.rlp_item(body, pos)
        out.append(body[pos:end])
        pos = end
    return prefix, out


def _join(prefix: bytes, items: list[bytes], long_list: bool = False) -> bytes:
    payload = b"".join(items)
    if long_list and len(payload) < 56:
        header = bytes([0xF8, len(payload)])
    else:
        header = ts.list_header(len(payload))
    return prefix + header + payload


@st.composite
def specs(draw: st.DrawFn) -> TxSpec:
    type_id = draw(st.sampled_from([0, 1, 2]))
    uint = st.one_of(st.integers(0, 300), st.integers(0, 2**64), st.sampled_from([2**256 - 1, 0x80, 0x7F, 0x100]))
    al: tuple[tuple[bytes, tuple[int, ...]], ...] = ()
    if type_id:
        al = tuple(draw(st.lists(st.tuples(st.binary(min_size=20, max_size=20),
                                           st.lists(st.integers(0, 2**256 - 1), max_size=3).map(tuple)),
                                 max_size=3)))  # fmt: skip
    data = draw(st.one_of(st.binary(max_size=80), st.binary(max_size=3), st.just(b"\x00" * 60)))
    gas = draw(st.one_of(st.integers(21_000, 200_000), st.integers(0, 30_000_000)))
    return TxSpec(type=type_id, nonce=draw(uint) % 2**64, tip=draw(uint), max_fee=draw(uint), gas=gas,
                  to=draw(st.sampled_from([SINK, TOKEN, bytes(20)])), value=draw(uint), data=data, access_list=al)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    spec = draw(specs())
    raw = signed(spec, draw(st.sampled_from(PRIVATE)))
    kind = draw(st.sampled_from(["none", "flip", "insert", "delete", "truncate", "append", "leading-zero",
                                 "long-header", "wrap-byte", "drop-field", "extra-field", "field-as-list",
                                 "long-list", "al-garbage", "sig-field"]))  # fmt: skip
    prefix, items = _fields(raw)
    if kind == "flip":
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :]
    if kind == "insert":
        i = draw(st.integers(0, len(raw)))
        return raw[:i] + bytes([draw(st.integers(0, 255))]) + raw[i:]
    if kind == "delete":
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + raw[i + 1 :]
    if kind == "truncate":
        return raw[: draw(st.integers(1, len(raw) - 1))]
    if kind == "append":
        return raw + draw(st.binary(min_size=1, max_size=4))
    if kind in ("leading-zero", "long-header", "wrap-byte"):
        i = draw(st.sampled_from(_ints(spec)))
        value = rlp.decode(items[i])
        if kind == "leading-zero":
            items[i] = _item(b"\x00" + value)
        elif kind == "long-header":
            items[i] = _item(value, long=True)
        else:
            items[i] = _item(value, wrap=True)
        return _join(prefix, items)
    if kind == "drop-field":
        del items[draw(st.integers(0, len(items) - 1))]
        return _join(prefix, items)
    if kind == "extra-field":
        items.insert(draw(st.integers(0, len(items))), rlp.encode(draw(st.binary(max_size=3))))
        return _join(prefix, items)
    if kind == "field-as-list":
        i = draw(st.integers(0, len(items) - 1))
        items[i] = rlp.encode([rlp.decode(items[i])]) if not items[i][0] >= 0xC0 else rlp.encode(b"\x01")
        return _join(prefix, items)
    if kind == "long-list":
        return _join(prefix, items, long_list=True)
    if kind == "al-garbage" and spec.type:
        al_index = 7 if spec.type == 1 else 8
        garbage = draw(st.sampled_from([
            rlp.encode([[b"\x01" * 19, []]]), rlp.encode([[b"\x01" * 20, [b"\x02" * 31]]]),
            rlp.encode([[b"\x01" * 20]]), rlp.encode([[b"\x01" * 20, [], []]]), rlp.encode([b"\x01" * 20]),
            rlp.encode([[b"\x01" * 20, b"\x02" * 32]]), rlp.encode([[b"", []]]), b"\xc3\xc2\xc0\xc0",
            rlp.encode([[b"\x01" * 20, [b"\x02" * 33]]]), rlp.encode([[[b"\x01" * 20], []]]),
        ]))  # fmt: skip
        items[al_index] = garbage
        return _join(prefix, items)
    if kind == "sig-field":
        i = len(items) - draw(st.integers(1, 3))
        items[i] = rlp.encode(draw(st.sampled_from([0, 1, 2, 27, 28, 37, 35 + 2 * CHAIN_ID, 36 + 2 * CHAIN_ID,
                                                    ts.SECP256K1N - 1, ts.SECP256K1N, ts.SECP256K1N_HALF,
                                                    ts.SECP256K1N_HALF + 1, 2**256 - 1, 2**256])))  # fmt: skip
        return _join(prefix, items)
    return raw


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_transactions_agree_with_decode_transaction(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=120))
def test_garbage_agrees_with_decode_transaction(raw: bytes) -> None:
    if raw:
        check(raw)
