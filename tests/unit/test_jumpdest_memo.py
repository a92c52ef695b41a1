"""`l2.execution.L2Computation`: JUMPDEST analysis shared per code gives py-evm's answers exactly."""

from __future__ import annotations

import random
from dataclasses import replace

from eth.vm.code_stream import CodeStream

from bench.workloads import token_artifact
from l2 import execution
from l2.chain import L2Chain
from l2.spec import GenesisAccount
from l2.transactions import decode_transaction
from tests.conftest import attrs
from tests.unit.test_state_transition import signed

JUMPER = bytes.fromhex("00000000000000000000000000000000000c0de1")
# PUSH1 0 CALLDATALOAD JUMP | PUSH1 0x5b | JUMPDEST | PUSH1 1 PUSH1 0 SSTORE STOP
# Position 5 is a 0x5b byte inside PUSH1's data (not a jump destination); position 6 is one.
JUMPER_CODE = bytes.fromhex("60003556" "605b" "5b" "6001600055" "00")


def test_shared_memo_answers_like_a_fresh_code_stream_in_any_query_order():
    code = bytes.fromhex(token_artifact()["deployedBytecode"][2:])
    positions = list(range(len(code) + 40))
    fresh = CodeStream(code)
    expected = [fresh.is_valid_opcode(p) for p in positions]
    assert any(expected) and not all(expected)
    shared = CodeStream(code)
    rng = random.Random(7)
    for _ in range(3):  # warm the memo in one order, read it back in others
        order = positions[:]
        rng.shuffle(order)
        reader = CodeStream(code)
        reader.valid_positions, reader.invalid_positions = shared.valid_positions, shared.invalid_positions
        assert {p: reader.is_valid_opcode(p) for p in order} == dict(zip(positions, expected, strict=True))


def test_frames_of_the_same_code_share_one_memo_and_jumps_into_push_data_still_fail(tmp_path, spec, keys):
    spec = replace(spec, alloc=(*spec.alloc, (JUMPER, GenesisAccount(code=JUMPER_CODE))))
    chain = L2Chain.open(tmp_path / "chain", spec, map_size=1 << 30)
    try:
        execution._JUMPDEST_MEMO.clear()
        dests = [6, 5, 6, 5, 6]  # alternate valid and push-data destinations with the memo warm
        txs = [
            decode_transaction(signed(keys[0], n, to=JUMPER, value=0, gas=100_000, data=d.to_bytes(32, "big")), spec)
            for n, d in enumerate(dests)
        ]
        sealed, skipped = chain.build_block(attrs(1), txs)
        assert skipped == []
        statuses = [r.state_root == b"\x01" for r in chain.receipts(sealed.header)]
        assert statuses == [d == 6 for d in dests]
        valid, invalid = execution._JUMPDEST_MEMO[JUMPER_CODE]
        assert 6 in valid and 5 in invalid
    finally:
        chain.close()


def test_memo_is_bounded_and_answers_stay_right_when_it_starts_over(tmp_path, spec, keys, monkeypatch):
    monkeypatch.setattr(execution, "JUMPDEST_MEMO_CODES", 2)
    contracts = [(bytes([0xC0, i]) + bytes(18), JUMPER_CODE + bytes([i])) for i in range(3)]  # 3 distinct codes
    spec = replace(spec, alloc=(*spec.alloc, *((a, GenesisAccount(code=c)) for a, c in contracts)))
    chain = L2Chain.open(tmp_path / "chain", spec, map_size=1 << 30)
    try:
        execution._JUMPDEST_MEMO.clear()
        calls = [(a, d) for _ in range(2) for a, _ in contracts for d in (6, 5)]
        txs = [
            decode_transaction(signed(keys[0], n, to=a, value=0, gas=100_000, data=d.to_bytes(32, "big")), spec)
            for n, (a, d) in enumerate(calls)
        ]
        sealed, skipped = chain.build_block(attrs(1), txs)
        assert skipped == []
        assert [r.state_root == b"\x01" for r in chain.receipts(sealed.header)] == [d == 6 for _, d in calls]
        assert 1 <= len(execution._JUMPDEST_MEMO) <= 2
    finally:
        chain.close()
