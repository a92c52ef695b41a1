"""EIP-1153 on our L2: TSTORE inside a STATICCALL halts exceptionally, as in py-evm's Cancun table
(the one-step prover relies on it: OpTable flags TSTORE state-changing)."""

from __future__ import annotations

from dataclasses import replace

from l2.chain import L2Chain
from l2.spec import GenesisAccount
from l2.transactions import decode_transaction
from tests.conftest import attrs
from tests.unit.test_state_transition import signed

WRITER = bytes.fromhex("00000000000000000000000000000000000c0de2")
WRITER_CODE = bytes.fromhex("6001" "6000" "5d" "00")  # TSTORE(0, 1) STOP


def _caller(op: int) -> bytes:
    """Calls WRITER with `op` (0xF1 CALL with value 0, 0xFA STATICCALL) and stores the success flag in slot 0."""
    value = bytes.fromhex("6000") if op == 0xF1 else b""
    return bytes.fromhex("6000600060006000") + value + b"\x73" + WRITER + bytes([0x5A, op]) + bytes.fromhex("60005500")


STATIC_CALLER = bytes.fromhex("00000000000000000000000000000000000c0de3")
PLAIN_CALLER = bytes.fromhex("00000000000000000000000000000000000c0de4")


def test_tstore_in_a_static_frame_fails_and_in_a_plain_call_succeeds(tmp_path, spec, keys):
    spec = replace(spec, alloc=(*spec.alloc, (WRITER, GenesisAccount(code=WRITER_CODE)),
                                (STATIC_CALLER, GenesisAccount(code=_caller(0xFA))),
                                (PLAIN_CALLER, GenesisAccount(code=_caller(0xF1)))))  # fmt: skip
    chain = L2Chain.open(tmp_path / "chain", spec, map_size=1 << 30)
    try:
        txs = [decode_transaction(signed(keys[0], n, to=to, value=0, gas=200_000), spec)
               for n, to in enumerate((STATIC_CALLER, PLAIN_CALLER))]  # fmt: skip
        sealed, skipped = chain.build_block(attrs(1), txs)
        assert skipped == []
        assert all(r.state_root == b"\x01" for r in chain.receipts(sealed.header))  # the callers themselves succeed
        state = chain.state_at(sealed.header)
        assert state.get_storage(STATIC_CALLER, 0) == 0  # the STATICCALL returned 0: TSTORE halted
        assert state.get_storage(PLAIN_CALLER, 0) == 1
    finally:
        chain.close()
