"""TX_DECODE and SIG_HASH on L1 (docs/fraud-proofs.md 2.2, section 17), verified on anvil through the
deployed OneStepProver (phase TX_LOAD: ExecTxStart's router -> `osp/ExecTxDecode.sol`, which hands
SIG_HASH to `osp/ExecSigHash.sol`), with proofs packed by `tx_proofs.proof_for` (`decode_proofs`).

Blocks: ETH transfers, ERC-20 calls (calldata with zero and non-zero bytes, a reverting one),
legacy / EIP-2930 / EIP-1559 transactions, access lists with keys, a long calldata (several
SIG_HASH blocks), and transactions that fail each stateless rule (bad signature, another
signer's, wrong chain id, high s, non-canonical RLP, leading zeros, intrinsic gas, the EIP-7623
floor, a gas limit above the block's, tip above the fee cap, legacy without EIP-155, type 3,
garbage). Every TX_DECODE and SIG_HASH step must return exactly the trace's next state; every
single-field corruption of the largest proof of each variant is refused; hypothesis' mutated raw
transactions (tests/unit/test_tx_decode_rules.py) step on L1 to exactly the Python twin's state
or revert with its refusal's name; and a whole game whose lie follows a TX_DECODE / SIG_HASH step
is won by the honest verifier with a proof of that step (slow).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from hypothesis import HealthCheck, given, settings
from web3 import Web3

from bench.dispute import run_scenario
from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs import decode_proofs
from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import IDLE, TX_LOAD
from l1.proofs.machine import ST_SIGHASH, Machine
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.tx_proofs import proof_for, proof_sections
from l2.chain import L2Chain
from l2.messages import BlockStart, L2Tx, Message
from l2.spec import ChainSpec
from tests.e2e.test_dispute_onestep import _assert_challenger_won
from tests.integration.test_osp_exec import UNSUPPORTED_SELECTOR, _deploy_prover, call_batch
from tests.integration.test_osp_tx_steps import corruptions
from tests.unit.test_block_trace import Harness, Source, _signed_typed, transfers
from tests.unit.test_state_transition import SINK, signed
from tests.unit.test_tx_decode_rules import GAME, PRIVATE, TxSpec, _with_sig, machine_of, mutated
from tests.unit.test_tx_decode_rules import signed as signed_spec

CHAIN_ID = 901
KINDS = ("TX_DECODE", "SIG_HASH")
CTX = GameContext(1, 1, 0)


def _ctx(trace: BlockTrace) -> GameContext:
    assert trace.game is not None
    return GameContext(trace.number, trace.game.entry_limit, 0)


def _call(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    return step_calldata(_ctx(trace), trace.state(j), proof)


def _leading_zero_nonce(key: Key) -> bytes:
    """A signed EIP-1559 transfer whose nonce field is re-encoded with a leading zero byte."""
    raw = signed(key, 7)
    fields = rlp.decode(raw[1:])
    fields[1] = b"\x00\x07"
    return b"\x02" + rlp.encode(fields)


def _long_header(key: Key) -> bytes:
    """A signed transfer whose value field has a non-canonical long-form string header."""
    raw = signed(key, 8)
    body = raw[1:]
    start, length, _ = ts.rlp_item(body, 0)
    items, pos = [], start
    while pos < start + length:
        _, _, end = ts.rlp_item(body, pos)
        items.append(body[pos:end])
        pos = end
    items[6] = b"\xb8\x01" + b"\x05"  # value 5 as a long-form string: not canonical
    payload = b"".join(items)
    return b"\x02" + ts.list_header(len(payload)) + payload


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockTrace]]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("txdecode")) / "chain", spec, map_size=1 << 30)
    try:
        yield build_traces(chain, keys)
    finally:
        chain.close()


def build_traces(chain: L2Chain, keys: list[Key]) -> dict[str, BlockTrace]:
    """The blocks of the module docstring (every BlockStart keeps the genesis origin)."""
    h = Harness(chain, Source())
    src = h.source
    token = token_address(keys[0])
    h.apply(src.batch([BlockStart(1_000, 0), L2Tx(deploy_token_tx(keys[0], [keys[1].address], CHAIN_ID))],
                      delayed_read=0))  # fmt: skip
    (eth,) = h.apply(src.batch([BlockStart(1_002, 0), *transfers(keys, 2, first_nonce=1)], delayed_read=0))
    erc20: list[Message] = [
        BlockStart(1_004, 0),
        L2Tx(sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)),
        L2Tx(sign(keys[3], CHAIN_ID, 0, token, 0, transfer_calldata(keys[2].address, 10**40), 200_000)),  # reverts
    ]
    (erc20_block,) = h.apply(src.batch(erc20, delayed_read=0))
    al = [{"address": "0x" + (b"\x11" * 20).hex(), "storageKeys": ["0x" + (5).to_bytes(32, "big").hex(),
                                                                    "0x" + (6).to_bytes(32, "big").hex()]},
          {"address": "0x" + token.hex(), "storageKeys": ["0x" + (0).to_bytes(32, "big").hex()]}]  # fmt: skip
    long_data = bytes([0, 1, 2, 0, 0, 0xFF]) * 120  # 720 bytes: six SIG_HASH blocks
    variants: list[Message] = [
        BlockStart(1_006, 0),
        L2Tx(signed(keys[0], 3, legacy=True)),
        L2Tx(signed(keys[0], 4, legacy=True, to=SINK, gas=60_000, data=b"\x00\x00\x01\x02" * 9)),
        L2Tx(_signed_typed(keys[2], 0, to=SINK, access_list=al, tx_type=1)),
        L2Tx(_signed_typed(keys[2], 1, to=SINK, access_list=al, gas=100_000, data=b"\x00\xab" * 30)),
        L2Tx(_signed_typed(keys[1], 1, to=SINK, gas=100_000, data=long_data)),
    ]
    (variants_block,) = h.apply(src.batch(variants, delayed_read=0))
    spec0 = TxSpec()
    failures: list[Message] = [
        BlockStart(1_008, 0),
        L2Tx(_with_sig(spec0, r=12345)),  # bad signature: no key recovers
        L2Tx(_with_sig(TxSpec(type=0), r=12345)),  # the same, legacy
        L2Tx(signed_spec(TxSpec(nonce=3), PRIVATE[1])),  # another (unfunded) signer: skipped at TX_START
        L2Tx(signed(keys[3], 1, chain_id=902)),  # wrong chain id
        L2Tx(_with_sig(spec0, s=0)),  # s = 0
        L2Tx(_with_sig(spec0, s=ts.SECP256K1N_HALF + 1)),  # high s
        L2Tx(_leading_zero_nonce(keys[3])),
        L2Tx(_long_header(keys[3])),
        L2Tx(signed(keys[3], 1, gas=20_999)),  # below the intrinsic gas
        L2Tx(signed(keys[3], 1, gas=21_000 + 16 * 9, data=b"\x01" * 10)),  # below the EIP-7623 floor
        L2Tx(signed(keys[3], 1, gas=chain.spec.gas_limit + 1)),  # above the block gas limit
        L2Tx(signed(keys[3], 1, max_fee=10, tip=11)),  # tip above the fee cap
        L2Tx(_with_sig(TxSpec(type=0), y=27)),  # legacy without EIP-155
        L2Tx(b"\x03" + signed(keys[3], 1)[1:]),  # type 3
        L2Tx(b"\x02garbage"),
        L2Tx(signed(keys[3], 1, gas=30_000, data=b"\x00\x01")),  # a valid one after them
    ]
    (failures_block,) = h.apply(src.batch(failures, delayed_read=0))
    limit = len(src.posted)
    return {"eth": h.trace(eth, 2), "erc20": h.trace(erc20_block, 3), "variants": h.trace(variants_block, 4),
            "failures": h.trace(failures_block, limit)}  # fmt: skip


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ())


def _steps(traces: dict[str, BlockTrace]) -> list[tuple[BlockTrace, int]]:
    return [(t, j) for t in traces.values() for j in range(t.steps) if t.step_kind(j) in KINDS]


def _variant(trace: BlockTrace, j: int) -> str:
    m, post = trace.machine(j), trace.machine(j + 1)
    assert m.tx is not None
    kind = "decode" if trace.step_kind(j) == "TX_DECODE" else "sighash"
    typ = {0: "legacy", 1: "eip2930", 2: "eip1559"}.get(m.tx.type if kind == "sighash" else -1, "")
    if post.phase == IDLE:
        return f"{kind}/noop" + ("" if kind == "decode" else "/" + typ)
    if kind == "decode":
        assert post.tx is not None
        return "decode/" + {0: "legacy", 1: "eip2930", 2: "eip1559"}[post.tx.type] + ("/al" if post.tx.alLen else "")
    assert isinstance(m.pending, ts.PendingSponge)
    return f"sighash/{typ}/" + ("final" if m.pending.remaining < ts.BLOCK else "block")


def test_traces_reach_every_variant_and_failure(traces: dict[str, BlockTrace]) -> None:
    """The failing transactions end where the rules put them: TX_DECODE or SIG_HASH no-ops, one skip."""
    seen = {_variant(t, j) for t, j in _steps(traces)}
    assert seen >= {"decode/eip1559", "decode/eip1559/al", "decode/eip2930/al", "decode/legacy", "decode/noop",
                    "sighash/eip1559/block", "sighash/eip1559/final", "sighash/legacy/final",
                    "sighash/eip2930/final", "sighash/noop/eip1559", "sighash/noop/legacy"}, seen  # fmt: skip
    f = traces["failures"]
    decode_noops = sum(1 for j in range(f.steps) if f.step_kind(j) == "TX_DECODE" and f.machine(j + 1).phase == IDLE)
    sig_noops = sum(1 for j in range(f.steps) if f.step_kind(j) == "SIG_HASH" and f.machine(j + 1).phase == IDLE)
    # TX_DECODE: chain id, s = 0, high s, leading zero, long header, gas above the block's, tip, v 27,
    # type 3, garbage; SIG_HASH: bad signatures (typed, legacy), intrinsic gas, floor
    assert (decode_noops, sig_noops) == (10, 4)
    assert f.counts()["TX_START"] == 2 and f.counts()["TX_END"] == 1  # the other signer is skipped
    v = traces["variants"]
    assert max(v.machine(j).pending.absorbed for j in range(v.steps) if v.step_kind(j) == "SIG_HASH") >= 5 * 136


def test_every_decode_and_sighash_step_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil,
                                                       prover: str) -> None:  # fmt: skip
    steps = _steps(traces)
    results = call_batch(anvil.url, prover, [_call(t, j, proof_for(t, j)) for t, j in steps])
    bad = [(t.number, j, t.step_kind(j), ok, data.hex()[:80]) for (t, j), (ok, data) in zip(steps, results, strict=True)
           if not ok or data != t.state(j + 1)]  # fmt: skip
    assert not bad, bad
    assert len(steps) >= 45, len(steps)


def _largest_per_variant(traces: dict[str, BlockTrace]) -> dict[str, tuple[BlockTrace, int]]:
    out: dict[str, tuple[BlockTrace, int, int]] = {}
    for t, j in _steps(traces):
        v, size = _variant(t, j), len(proof_for(t, j))
        if v not in out or size > out[v][2]:
            out[v] = (t, j, size)
    return {v: (t, j) for v, (t, j, _) in out.items()}


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    picked = _largest_per_variant(traces)
    cases = [(v, t, j, label, bad) for v, (t, j) in picked.items() for label, bad in corruptions(proof_sections(t, j))]
    results = call_batch(anvil.url, prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    posts = {t.state(k) for t in traces.values() for k in range(t.steps + 1)}
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data in posts]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(cases) > 500, len(cases)


def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 17: per variant, the largest proof and the gas of a
    transaction calling OneStepProver.step (eth_estimateGas: calldata and the 21k base in)."""
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j) in sorted(_largest_per_variant(traces).items()):
        proof = proof_for(t, j)
        rows.append((v, len(proof), w3.eth.estimate_gas({"to": prover, "data": "0x" + _call(t, j, proof).hex()})))
    # the bound: an access-list payload of 4,094 bytes (TX_DECODE reads it all), made-up machine
    fits = signed_spec(TxSpec(gas=1_000_000, access_list=tuple((bytes([i + 1]) * 20, ()) for i in range(178))))
    m = machine_of(fits)
    proof = b"".join(sec.data for sec in decode_proofs.decode_sections(m, GAME))
    call = step_calldata(CTX, m.commitment(), proof)
    rows.append(("decode/al-4094", len(proof), w3.eth.estimate_gas({"to": prover, "data": "0x" + call.hex()})))
    print("decode steps (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows


# -- made-up machines: the raw bytes alone -----------------------------------------------------------


def _direct_steps(raw: bytes) -> tuple[list[bytes], list[bytes | str]]:
    """Calldata of TX_DECODE and each SIG_HASH step of `raw` in a made-up machine, and what each
    must give: the twin's post-state hash, or the name it refuses by."""
    m: Machine = machine_of(raw)
    calls: list[bytes] = []
    want: list[bytes | str] = []
    while m.phase == TX_LOAD and m.tx is not None and m.tx.setup in (1, ST_SIGHASH):
        sections = (decode_proofs.decode_sections(m, GAME) if m.tx.setup == 1 else
                    decode_proofs.sig_hash_sections(m, GAME))  # fmt: skip
        calls.append(step_calldata(CTX, m.commitment(), b"".join(s.data for s in sections)))
        try:
            if m.tx.setup == 1:
                m = ts.tx_decode(m, ts.DecodeWitness(), GAME)
            else:
                m = ts.sig_hash(m, ts.SigHashWitness(), GAME)
        except ts.Unsupported as exc:
            want.append(exc.name)
            break
        want.append(m.commitment())
    return calls, want


def _check_direct(url: str, prover: str, raws: list[bytes]) -> int:
    calls: list[bytes] = []
    want: list[bytes | str] = []
    for raw in raws:
        c, w = _direct_steps(raw)
        calls += c
        want += w
    results = call_batch(url, prover, calls)
    for (ok, data), expected in zip(results, want, strict=True):
        if isinstance(expected, str):
            assert not ok and data == UNSUPPORTED_SELECTOR + expected.encode().ljust(32, b"\0"), (expected, data.hex())
        else:
            assert ok and data == expected, data.hex()
    return len(calls)


def test_refusals_by_name_and_edge_sizes(anvil: Anvil, prover: str) -> None:
    """CREATE, SET_CODE_TX and ACCESS_LIST_TOO_LARGE revert by name; an access list just under the
    bound, a transaction of maxTxSize + 1 bytes and an empty one are proven."""
    fits = tuple((bytes([i + 1]) * 20, ()) for i in range(178))  # 4,094-byte access-list payload
    big = tuple((bytes([i + 1]) * 20, ()) for i in range(179))
    raws = [signed_spec(replace(TxSpec(), to=b"")), b"\x04" + signed_spec(TxSpec())[1:],
            signed_spec(TxSpec(gas=1_000_000, access_list=big)), signed_spec(TxSpec(gas=1_000_000, access_list=fits)),
            b"\x02" + bytes(GAME.max_tx_size), b"",
            signed_spec(TxSpec(type=0, data=bytes(300), gas=100_000))]  # fmt: skip
    assert _check_direct(anvil.url, prover, raws) >= 10


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(raw=mutated())
def test_mutated_transactions_step_like_the_twin(raw: bytes, anvil: Anvil, prover: str) -> None:
    """Hypothesis' mutations of signed transactions: TX_DECODE (and SIG_HASH when it passes) on L1
    accept and refuse exactly as the Python rule does, with the same recorded fields (post-state)."""
    _check_direct(anvil.url, prover, [raw])


def test_router_wiring(anvil: Anvil, prover: str) -> None:
    """Phase TX_LOAD's ExecTxStart forwards TX_DECODE / SIG_HASH to ExecTxDecode, which holds the
    chain constants and hands SIG_HASH to ExecSigHash."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    start = w3.eth.contract(address=osp.functions.phaseSteps(TX_LOAD).call(), abi=load_artifact("ExecTxStart")["abi"])
    decode = w3.eth.contract(address=start.functions.decodeSteps().call(), abi=load_artifact("ExecTxDecode")["abi"])
    assert (decode.functions.chainId().call(), decode.functions.blockGasLimit().call(),
            decode.functions.maxTxSize().call()) == (CHAIN_ID, GAME.gas_limit, GAME.max_tx_size)  # fmt: skip
    sig = w3.eth.contract(address=decode.functions.sigHash().call(), abi=load_artifact("ExecSigHash")["abi"])
    assert sig.functions.chainId().call() == CHAIN_ID


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["TX_DECODE", "SIG_HASH"])
def test_wrong_root_is_bisected_to_a_decode_step_and_proven(tmp_path: Path, kind: str) -> None:
    """The end-to-end game of tests/e2e/test_dispute_onestep.py (`bench.dispute.run_scenario`: the
    TEST-ONLY liar defends a wrong root) with the lie right after a TX_DECODE / SIG_HASH step: the
    honest verifier plays it down to that step, proves it on L1 and wins."""
    run = run_scenario(tmp_path, honest_side="challenger", log=lambda s: None, lie_at=kind)
    assert run.opcode == kind
    _assert_challenger_won(run)
