"""NEXT_MESSAGE, TX_LOAD and DATA_LOAD one-step proofs on whole block traces, verified on anvil
against the standalone step contract `osp/ExecMsg.sol` (docs/fraud-proofs.md 2.1, 2.2, 3.2),
proofs packed by `verifier.proofs.msg_proofs`.

Blocks: ETH transfers (one of them sized so that `0x01 ++ raw` is a multiple of 136 bytes: an
empty final TX_LOAD block), an ERC-20 block with deposits placed by `Delayed` messages (one of
them repeated: a no-op; data of 0, 1 (below and above 0x80), 68 and 300 bytes) and one placed
after the last message, and two blocks of one entry (the
first closed by a BlockStart).
Every step of these kinds must return exactly the trace's next state; every
single-field corruption of one instance of each variant is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import encode
from eth_hash.auto import keccak
from web3 import Web3

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1.anvil import Anvil
from l2.chain import L2Chain
from l2.messages import BlockStart, Delayed, L2Tx, Message
from l2.spec import ChainSpec
from tests.integration.test_osp_exec import UNSUPPORTED_SELECTOR, _deploy, call_batch
from tests.integration.test_osp_tx_steps import corruptions
from tests.unit.test_block_trace import Harness, Source, transfers
from verifier.proofs.block_machine import BlockTrace
from verifier.proofs.commitments import IDLE, TRIE, TX_LOAD
from verifier.proofs.msg_proofs import KINDS, msg_proof, msg_sections
from verifier.proofs.tx_proofs import machine_state

CHAIN_ID = 901
SELECTOR = keccak(b"step(bytes32,bytes)")[:4]


def _aligned_transfer(key: Key, nonce: int) -> bytes:
    """An ETH transfer with calldata whose `0x01 ++ raw` is a whole number of 136-byte blocks."""
    for n in range(300):
        raw = sign(key, CHAIN_ID, nonce, b"\xab" * 20, 1, b"\x01" * n, 100_000)
        if (1 + len(raw)) % 136 == 0:
            return raw
    raise AssertionError("no calldata length aligns the message")


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockTrace]]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("msgsteps")) / "chain", spec, map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        src = h.source
        token = token_address(keys[0])
        deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
        h.apply(src.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))
        (eth,) = h.apply(src.batch([BlockStart(1_002, 6), *transfers(keys, 3, first_nonce=1),
                                    L2Tx(_aligned_transfer(keys[0], 4))], delayed_read=0))  # fmt: skip
        d = src.deposit(0, 4, 999, to=token, gas=200_000, data=transfer_calldata(keys[3].address, 1))
        # data of three sponge blocks (with zero bytes), and one byte below / above 0x80
        long = src.deposit(1, 4, 999, gas=100_000, data=bytes(range(100)) * 3)
        low, high = (src.deposit(2, 4, 999, gas=50_000, data=b) for b in (b"\x05", b"\x85"))
        after = src.deposit(3, 4, 999, gas=50_000)  # placed after the last message
        messages: list[Message] = [
            BlockStart(1_004, 6),
            L2Tx(sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)),
            Delayed(d),
            Delayed(d),  # already placed: a no-op
            *transfers(keys, 1, key=2, first_nonce=0),
            Delayed(long),
            Delayed(low),
            Delayed(high),
        ]
        assert after == high + 1 == 4
        (erc20,) = h.apply(src.batch(messages, delayed_read=5))
        several = h.apply(src.batch([BlockStart(1_006, 7), *transfers(keys, 1, key=3, first_nonce=0),
                                     BlockStart(1_007, 7)], delayed_read=5))  # fmt: skip
        limit = len(src.posted)
        yield {"eth": h.trace(eth, 2), "erc20": h.trace(erc20, 3), "mid_entry": h.trace(several[0], limit),
               "entry_end": h.trace(several[1], limit)}  # fmt: skip
    finally:
        chain.close()


@pytest.fixture(scope="module")
def contract(anvil: Anvil) -> str:
    return _deploy(anvil.w3, "ExecMsg")


def _call(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    return SELECTOR + encode(["bytes32", "bytes"], [trace.state(j), proof])


def _variant(trace: BlockTrace, j: int) -> str:
    m, post = trace.machine(j), trace.machine(j + 1)
    if trace.step_kind(j) == "DATA_LOAD":
        assert m.tx is not None
        final = "" if post.pending is not None else "/final"
        absorbed = m.pending.sponge.absorbed  # type: ignore[union-attr]
        return f"data_load{final}/len{min(m.tx.dataLen, 2)}/" + ("first" if absorbed == 0 else "next")
    if trace.step_kind(j) == "TX_LOAD":
        assert m.pending is not None
        first = "first" if m.pending.absorbed == 0 else "next"  # type: ignore[union-attr]
        if post.pending is not None:
            return f"tx_load/{first}"
        return f"tx_load/{first}/final" + ("/empty" if len(trace.witness(j).data) == 0 else "")
    assert m.phase == IDLE and m.entry is not None
    with_message = m.entry.kind == 0 and m.cursor.msgIndex < m.entry.messageCount
    msg = trace.witness(j).message
    if post.phase == TRIE:
        return "next/block_start" if with_message else "next/close"
    if post.phase == TX_LOAD:
        if not with_message:
            return "next/delayed_after"
        return "next/l2tx" if post.tx is not None else "next/delayed"
    return "next/delayed_noop/" + type(msg).__name__


def _cases(traces: dict[str, BlockTrace]) -> list[tuple[str, BlockTrace, int]]:
    out = []
    for name, trace in traces.items():
        out += [(name, trace, j) for j in range(trace.steps) if trace.step_kind(j) in KINDS]
    return out


def test_traces_reach_every_variant(traces: dict[str, BlockTrace]) -> None:
    variants = {_variant(t, j) for _, t, j in _cases(traces)}
    expected = {"next/block_start", "next/close", "next/l2tx", "next/delayed", "next/delayed_after",
                "next/delayed_noop/Delayed", "tx_load/first", "tx_load/first/final", "tx_load/next/final",
                "tx_load/next/final/empty", "data_load/len2/first", "data_load/final/len2/next",
                "data_load/final/len2/first", "data_load/final/len1/first", "data_load/final/len0/first"}  # fmt: skip
    assert expected <= variants, variants


@pytest.mark.slow
def test_every_message_and_load_step_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil,
                                                    contract: str) -> None:  # fmt: skip
    cases = _cases(traces)
    assert len(cases) > 20
    results = call_batch(anvil.url, contract, [_call(t, j, msg_proof(t, j)) for _, t, j in cases])
    for (name, trace, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (name, j, trace.step_kind(j), data.hex())
        assert data == trace.state(j + 1), (name, j, _variant(trace, j))


def _picked(traces: dict[str, BlockTrace]) -> dict[str, tuple[BlockTrace, int, int]]:
    """Per variant, its instance with the largest proof (trace, step, proof bytes)."""
    out: dict[str, tuple[BlockTrace, int, int]] = {}
    for _, t, j in _cases(traces):
        v, size = _variant(t, j), len(msg_proof(t, j))
        if v not in out or size > out[v][2]:
            out[v] = (t, j, size)
    return out


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  contract: str) -> None:  # fmt: skip
    cases = [(v, t, j, label, bad) for v, (t, j, _) in _picked(traces).items()
             for label, bad in corruptions(msg_sections(t, j))]  # fmt: skip
    results = call_batch(anvil.url, contract, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    print("single-field corruptions refused:", len(cases))
    assert len(cases) > 300, len(cases)


@pytest.mark.slow
def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, contract: str) -> None:
    """Figures for docs/fraud-proofs.md 5: per variant the largest proof and the gas of a
    transaction calling `step` (eth_estimateGas: calldata and the 21k base included)."""
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j, size) in sorted(_picked(traces).items()):
        rows.append((v, size, w3.eth.estimate_gas({"to": contract, "data": "0x" + _call(t, j, msg_proof(t, j)).hex()})))
    print("NEXT_MESSAGE / TX_LOAD (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows)


def test_other_steps_are_refused_by_name(traces: dict[str, BlockTrace], anvil: Anvil, contract: str) -> None:
    """The other kinds of phase TX_LOAD (DEPOSIT_LOAD, TX_DECODE ...) revert Unsupported("TX_LOAD")
    with the machine state alone (what tx_proofs sends for an unsupported kind) and TX_DECODE
    also with its TxCtx; another phase reverts Unsupported("PHASE")."""
    trace = traces["erc20"]
    first = {}
    for j in range(trace.steps):
        first.setdefault(trace.step_kind(j), j)
    calls, names = [], []
    for kind, name in (("DEPOSIT_LOAD", "TX_LOAD"), ("TX_DECODE", "TX_LOAD"), ("SIG_HASH", "TX_LOAD"),
                       ("DEPOSIT_START", "TX_LOAD"),
                       ("SYS_WRITE", "PHASE"), ("COMMIT", "PHASE")):  # fmt: skip
        m = trace.machine(first[kind])
        calls.append(_call(trace, first[kind], machine_state(m).preimage()))
        names.append((kind, name))
        if kind == "TX_DECODE":
            assert m.tx is not None
            calls.append(_call(trace, first[kind], machine_state(m).preimage() + m.tx.preimage()))
            names.append((kind + "+TxCtx", name))
    for (kind, name), (ok, data) in zip(names, call_batch(anvil.url, contract, calls), strict=True):
        assert not ok and data == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0"), (kind, data.hex())
