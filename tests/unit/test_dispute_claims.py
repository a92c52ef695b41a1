"""The dispute game's pure arithmetic in Python (l1/dispute_game.py): byte layouts and dissections.

The same functions are compared with the contract on anvil in
tests/integration/test_dispute_game.py; here the layouts are spelled out byte by byte as in
docs/fraud-proofs.md 1.1 and 4.1, and the dissection arithmetic is checked on every range.
"""

from __future__ import annotations

import math

import pytest
from eth_hash.auto import keccak

from l1.accumulators import inbox_accumulator
from l1.bindings import Assertion, AssertionStatus
from l1.dispute_game import (
    MAX_STEPS,
    Dissection,
    EntryPreimage,
    K,
    assertion_claim,
    block_claim,
    choose_segment,
    cursor,
    dissection_hash,
    dissection_positions,
    segment_bounds,
    segment_count,
)


def test_cursor_layout_is_tag_u64_u32_u64():
    preimage = bytes.fromhex("4d" + "0000000000000007" + "00000002" + "00000000000000ff")
    assert len(preimage) == 21
    assert cursor(7, 2, 255) == keccak(preimage)
    top = bytes.fromhex("4d" + "ff" * 8 + "ff" * 4 + "ff" * 8)
    assert cursor(2**64 - 1, 2**32 - 1, 2**64 - 1) == keccak(top)
    with pytest.raises(OverflowError):
        cursor(2**64, 0, 0)


def test_block_claim_layout_is_tag_u64_root_cursor():
    root, c = b"\x11" * 32, cursor(1, 0, 0)
    preimage = b"\x42" + (9).to_bytes(8, "big") + root + c
    assert len(preimage) == 73
    assert block_claim(9, root, c) == keccak(preimage)
    assert block_claim(9, root, c) != block_claim(10, root, c) != block_claim(9, root, cursor(1, 0, 1))
    with pytest.raises(ValueError):
        block_claim(9, root[:31], c)


def test_assertion_claim_uses_the_assertion_entries_and_message_zero():
    a = Assertion(3, 1, 5, 40, 1000, "0x" + "00" * 20, AssertionStatus.PENDING, b"\x22" * 32, b"\x33" * 32)
    assert assertion_claim(a, 4) == block_claim(40, b"\x22" * 32, cursor(5, 0, 4))


def test_dissection_hash_layout():
    start, end, points = b"\x01" * 32, b"\x02" * 32, [b"\x03" * 32, b"\x04" * 32]
    poster = "0x" + "ab" * 20
    preimage = b"\x02" + (5).to_bytes(8, "big") + (8).to_bytes(8, "big") + start + b"".join(points) + end
    assert dissection_hash(2, 5, 8, start, points, end, poster) == keccak(preimage + b"\xab" * 20)


@pytest.mark.parametrize("lo", [0, 7, 2**40])
def test_dissections_cover_every_range_in_k_nearly_equal_segments(lo):
    for length in [*range(1, 300), 4095, 4096, 4097, 65_537, MAX_STEPS]:
        hi = lo + length
        positions = dissection_positions(lo, hi)
        n = segment_count(lo, hi)
        assert n == min(K, length) and len(positions) == n - 1
        bounds = [segment_bounds(lo, hi, m) for m in range(n)]
        assert [b[0] for b in bounds] == [lo, *positions] and [b[1] for b in bounds] == [*positions, hi]
        sizes = [b - a for a, b in bounds]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1 and max(sizes) == math.ceil(length / n)
    with pytest.raises(ValueError):
        segment_bounds(lo, lo + 3, 3)
    with pytest.raises(ValueError):
        dissection_positions(lo, lo)


def test_short_ranges_post_every_position():
    assert dissection_positions(0, 1) == []
    assert dissection_positions(10, 13) == [11, 12]
    assert dissection_positions(0, 16) == list(range(1, 16))
    assert dissection_positions(0, 40) == [2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 30, 32, 35, 37]


def test_rounds_to_one_step_match_the_spec_count():
    """Repeatedly taking the longest segment reaches length 1 in ceil(log16 L) dissections."""
    for length in [1, 2, 16, 17, 40, 256, 257, 3600, 2**24, 2**32, MAX_STEPS]:
        lo, hi, rounds = 0, length, 0
        while hi - lo > 1:
            lo, hi = max((segment_bounds(lo, hi, m) for m in range(segment_count(lo, hi))), key=lambda b: b[1] - b[0])
            rounds += 1
        assert rounds == next(r for r in range(64) if K**r >= length)  # ceil(log16 length)


def test_dissection_segments_and_hash():
    points = tuple(bytes([i]) * 32 for i in range(1, 3))
    d = Dissection(0, "0x" + "01" * 20, 1, 4, 7, b"\xaa" * 32, points, b"\xbb" * 32, 1)
    assert d.positions == [5, 6]
    assert d.segment(0) == (4, 5, b"\xaa" * 32, points[0])
    assert d.segment(2) == (6, 7, points[1], b"\xbb" * 32)
    assert d.hash() == dissection_hash(1, 4, 7, b"\xaa" * 32, points, b"\xbb" * 32, "0x" + "01" * 20)


def test_entry_preimage_hashes_to_the_inbox_accumulator():
    e = EntryPreimage(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 4, b"\x05" * 32)
    assert e.accumulator() == inbox_accumulator(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 4, b"\x05" * 32)
    assert e.as_abi() == (b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, 4, b"\x05" * 32)


def test_choose_segment_takes_the_first_point_that_differs_from_our_trace():
    ours = {p: bytes([p]) * 32 for p in range(0, 41)}
    theirs_points = tuple(ours[p] for p in dissection_positions(0, 40))
    d = Dissection(0, "0x" + "01" * 20, 1, 0, 40, ours[0], theirs_points, b"\xee" * 32, 1)
    assert choose_segment(d, ours.__getitem__) == 15  # only their end differs
    wrong = (*theirs_points[:6], b"\xdd" * 32, *theirs_points[7:])  # their point at position 17
    d = Dissection(0, "0x" + "01" * 20, 1, 0, 40, ours[0], wrong, b"\xee" * 32, 1)
    assert choose_segment(d, ours.__getitem__) == 6 and d.segment(6)[:2] == (15, 17)
    agreed = Dissection(0, "0x" + "01" * 20, 1, 0, 40, ours[0], theirs_points, ours[40], 1)
    with pytest.raises(ValueError):
        choose_segment(agreed, ours.__getitem__)
