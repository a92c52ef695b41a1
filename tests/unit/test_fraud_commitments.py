"""The commitments of docs/fraud-proofs.md section 1: Python and Solidity hash every node alike.

Solidity runs in process on eth-tester (py-evm); the vectors file is what the generator
writes, so a change to a layout shows up as a diff of docs/vectors/fraud-proofs.json.
"""

from __future__ import annotations

import json
import random

import pytest
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3

from l1.artifacts import load_artifact
from l1.proofs.buf import CODE_DEPTH, MEM_DEPTH, Buf, range_root, zero
from l1.proofs.commitments import (
    NODE_TYPES,
    VECTORS_PATH,
    Code,
    Frame,
    MachineState,
    TxCtx,
    jump_bitmap,
    sample,
    vectors,
)
from l1.proofs.optable import SOL_PATH, render_solidity


@pytest.fixture(scope="module")
def contracts():
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    owner = Account.from_key(tester.backend.account_keys[0].to_bytes())
    out = {}
    for name in ("CommitmentsView", "CodeOracle"):
        artifact = load_artifact(name)
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": owner.address}))
        out[name] = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    return out


def test_vectors_file_is_current() -> None:
    assert json.loads(VECTORS_PATH.read_text()) == json.loads(json.dumps(vectors()))


def test_generated_optable_is_current() -> None:
    assert SOL_PATH.read_text() == render_solidity()


def test_layout_sizes_match_the_spec() -> None:
    sizes = {cls.__name__: cls.size() for cls in NODE_TYPES}
    assert sizes["Frame"] == 428 and sizes["TxCtx"] == 344 and sizes["BlockCtx"] == 153
    assert sizes["EntryCtx"] == 45 and sizes["MachineState"] == 293 and sizes["CodeRecord"] == 100
    assert Frame.offsets()["snapBloom"] == 390 and Frame.offsets()["memRoot"] == 186
    assert TxCtx.offsets()["status"] == 342 and MachineState.offsets()["frame"] == 229


@pytest.mark.parametrize("cls", NODE_TYPES, ids=lambda c: c.__name__)
def test_codec_round_trips_and_every_field_changes_the_hash(cls) -> None:
    node = sample(cls, 7)
    assert cls.decode(node.preimage()) == node
    assert node.encode()[0] == node.TAG
    for name, _, _ in cls.LAYOUT:
        if name == "op":
            continue
        value = getattr(node, name)
        other = bytes([value[0] ^ 1]) + value[1:] if isinstance(value, bytes) else value ^ 1
        assert node.replace(**{name: other}).hash() != node.hash(), name


def test_solidity_hashes_every_node_like_python(contracts) -> None:
    view = contracts["CommitmentsView"]
    data = vectors()
    for node in data["nodes"]:
        got = view.functions.nodeHash(node["tag"], bytes.fromhex(node["preimage"][2:])).call()
        assert "0x" + got.hex() == node["hash"], node["type"]
    for case in data["stack"]:
        assert "0x" + view.functions.stackHash([int(v) for v in case["items"]]).call().hex() == case["hash"]
    for case in data["buf"]:
        got = view.functions.bufRoot(case["depth"], bytes.fromhex(case["data"][2:])).call()
        assert "0x" + got.hex() == case["root"]
    rng = data["bufRange"]
    words = [bytes.fromhex(w[2:]) for w in rng["words"]]
    siblings = b"".join(bytes.fromhex(s[2:]) for s in rng["siblings"])
    got = view.functions.bufRangeRoot(rng["depth"], rng["first"], words, siblings).call()
    assert "0x" + got.hex() == rng["root"]


def test_node_hash_refuses_a_wrong_size(contracts) -> None:
    view = contracts["CommitmentsView"]
    with pytest.raises(Exception, match="revert|BadSize|0x"):
        view.functions.nodeHash(0x46, b"\x00" * 427).call()


def test_code_oracle_analysis_matches_python(contracts) -> None:
    oracle = contracts["CodeOracle"]
    rnd = random.Random(8)
    codes = [b"", b"\x5b", bytes.fromhex("605b5b"), bytes.fromhex("7f") + b"\x5b" * 32 + b"\x5b"]
    codes += [bytes(rnd.choice([0x5B, 0x60, 0x7F, 0x61, 0x00, 0x01]) for _ in range(n)) for n in (31, 64, 300)]
    for code in codes:
        assert oracle.functions.jumpdests(code).call() == jump_bitmap(code)
    view = contracts["CommitmentsView"]
    for code in codes[1:]:
        assert view.functions.bufRoot(CODE_DEPTH, code).call() == Code(code).record.codeRoot
    assert Code(b"").record.codeRoot == zero(CODE_DEPTH)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=400),
    at=st.integers(0, 2000),
    first=st.integers(0, 80),
    count=st.integers(1, 18),
)
def test_buf_proofs_and_writes(data: bytes, at: int, first: int, count: int) -> None:
    buf = Buf.of_bytes(MEM_DEPTH, b"\x07" * 50 + data)
    words = [buf.word(i) for i in range(first, first + count)]
    assert range_root(MEM_DEPTH, first, words, buf.siblings(first, count)) == buf.root
    written = buf.write(at, data)
    image = bytearray((b"\x07" * 50 + data).ljust(at + len(data) + 64, b"\x00"))
    image[at : at + len(data)] = data
    assert written.root == Buf.of_bytes(MEM_DEPTH, bytes(image)).root
    assert written.read(at, len(data)) == data
    # the write's new root follows from the old proof's siblings (what MSTORE does)
    lo, hi = at // 32, (at + len(data) - 1) // 32
    new_words = [written.word(i) for i in range(lo, hi + 1)]
    assert range_root(MEM_DEPTH, lo, new_words, buf.siblings(lo, hi - lo + 1)) == written.root
