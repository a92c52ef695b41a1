"""The formulas of docs/l1-contracts.md against their test vectors (docs/vectors/accumulators.json).

Each value is recomputed twice: by l1.accumulators / l2.output_root, and here by plain
byte concatenation, so a change of either implementation or of the vectors fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_hash.auto import keccak
from eth_utils import to_bytes

from l1.accumulators import ZERO32, DelayedMessage, delayed_accumulator, inbox_accumulator
from l2.output_root import output_root

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "accumulators.json").read_text())


def b(value: str) -> bytes:
    return to_bytes(hexstr=value)


def word(value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return value.rjust(32, b"\x00")
    return value.to_bytes(32, "big")


def test_delayed_message_hashes_and_accumulators():
    acc = ZERO32
    for v in VECTORS["delayedMessages"]:
        msg = DelayedMessage(
            v["index"],
            b(v["sender"]),
            b(v["to"]),
            int(v["value"]),
            v["gasLimit"],
            v["l1BlockNumber"],
            v["l1Timestamp"],
            b(v["data"]),
        )
        by_hand = keccak(
            b"".join(
                word(x)
                for x in (
                    msg.index,
                    msg.sender,
                    msg.to,
                    msg.value,
                    msg.gas_limit,
                    msg.l1_block_number,
                    msg.l1_timestamp,
                    keccak(msg.data),
                )
            )
        )
        assert msg.message_hash() == by_hand == b(v["messageHash"])
        acc_by_hand = keccak(acc + by_hand)
        acc = delayed_accumulator(acc, by_hand)
        assert acc == acc_by_hand == b(v["accumulator"])


def test_inbox_accumulators_including_a_forced_entry():
    delayed = [b(v["accumulator"]) for v in VECTORS["delayedMessages"]]
    acc = ZERO32
    kinds = []
    for v in VECTORS["inboxEntries"]:
        payload = b(v["payload"])
        delayed_acc = ZERO32 if v["delayedRead"] == 0 else delayed[v["delayedRead"] - 1]
        assert delayed_acc == b(v["delayedAccumulator"]) and keccak(payload) == b(v["payloadHash"])
        if v["kind"] == "forced":
            assert payload == b"" and b(v["messageRoot"]) == ZERO32
        by_hand = keccak(acc + keccak(payload) + b(v["messageRoot"]) + word(v["messageCount"]) + delayed_acc)
        acc = inbox_accumulator(acc, keccak(payload), b(v["messageRoot"]), v["messageCount"], delayed_acc)
        assert acc == by_hand == b(v["accumulator"])
        kinds.append(v["kind"])
    assert "forced" in kinds and "batch" in kinds


def test_output_root_vector():
    v = VECTORS["outputRoot"]
    parts = b(v["stateRoot"]), b(v["messagePasserStorageRoot"]), b(v["blockHash"])
    assert output_root(*parts) == keccak(ZERO32 + b"".join(parts)) == b(v["outputRoot"])
    with pytest.raises(ValueError, match="state root must be 32 bytes"):
        output_root(b"\x01", parts[1], parts[2])


def test_the_doc_shows_the_formulas_the_vectors_check():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "l1-contracts.md").read_text()
    for formula in (
        "keccak256(abi.encodePacked(acc[i-1], keccak256(payload), messageRoot, messageCount, "
        "delayedAcc[delayedRead-1]))",
        "keccak256(abi.encodePacked(delayedAcc[j-1], messageHash))",
        "keccak256(abi.encode(index, sender, to, value, gasLimit, l1BlockNumber, l1Timestamp, keccak256(data)))",
        "keccak256(bytes32(0) ++ stateRoot ++ messagePasserStorageRoot ++ blockHash)",
    ):
        assert formula in doc
    assert "docs/vectors/accumulators.json" in doc
