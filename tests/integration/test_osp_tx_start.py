"""The transaction-start steps of the one-step prover on whole block traces, verified on anvil
(docs/fraud-proofs.md 2.2, 2.4, section 13): TX_START and DEPOSIT_START (phase TX_LOAD), TX_SETUP
and TX_CALL (phase TX_SETUP) and the LOAD_ACCOUNT / LOAD_SLOT steps before them, proven by
`osp/ExecTxStart.sol` through the deployed OneStepProver (its `phaseSteps[TX_LOAD]` and
`phaseSteps[TX_SETUP]`), with proofs packed by `tx_proofs.proof_for` (`start_proofs.PROVERS`).

Blocks: ETH transfers, an ERC-20 block (token calls, a reverting transfer, a deposit calling the
token, a deposit below its floor), transfer variants (legacy, access lists with slots and a
precompile, to oneself, to the coinbase, a zero transfer to a new account) and skipped
transactions (nonce too high, fee cap below the base fee, an unfunded sender, a gas limit above
the block's gas left, a deposit below its intrinsic gas). Every step of these kinds must return
exactly the trace's next state; every single-field corruption of the largest instance of each
variant is refused; the phase-TX_LOAD steps of ExecMsg are refused by their sub-stage's name
while the router's `msgSteps` is empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.deploy import deploy_onestep
from l1.proofs import start_proofs, steps
from l1.proofs import tx_steps as ts
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import IDLE, TX_LOAD, TX_SETUP
from l1.proofs.machine import Machine
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import machine_state, proof_for, proof_sections
from l2.chain import L2Chain
from l2.messages import BlockStart, Delayed, L2Tx, Message
from l2.spec import ChainSpec
from tests.integration.test_osp_exec import DEV_KEY, UNSUPPORTED_SELECTOR, _deploy, _deploy_prover, call_batch
from tests.integration.test_osp_tx_steps import corruptions
from tests.unit.test_block_trace import Harness, Source, _signed_typed, transfers
from tests.unit.test_state_transition import SINK, signed

CHAIN_ID = 901
KINDS = ("TX_START", "DEPOSIT_START", "TX_SETUP", "TX_CALL")
PRECOMPILE = b"\x00" * 19 + b"\x01"


def _ctx(trace: BlockTrace) -> GameContext:
    assert trace.game is not None
    return GameContext(trace.number, trace.game.entry_limit, 0)


def _call(trace: BlockTrace, j: int, proof: bytes, pre: bytes | None = None) -> bytes:
    return step_calldata(_ctx(trace), trace.state(j) if pre is None else pre, proof)


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockTrace]]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("txstart")) / "chain", spec, map_size=1 << 30)
    try:
        yield build_traces(chain, keys)
    finally:
        chain.close()


def build_traces(chain: L2Chain, keys: list[Key]) -> dict[str, BlockTrace]:
    """The blocks of the module docstring, each traced in a game ending with its own entry."""
    spec = chain.spec
    h = Harness(chain, Source())
    src = h.source
    token = token_address(keys[0])
    deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
    h.apply(src.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))  # CREATE: not traced
    (eth,) = h.apply(src.batch([BlockStart(1_002, 6), *transfers(keys, 2, first_nonce=1)], delayed_read=0))
    approve = bytes.fromhex("095ea7b3") + keys[2].address.rjust(32, b"\0") + (10**20).to_bytes(32, "big")
    d = src.deposit(0, 4, 999, to=token, gas=200_000, data=transfer_calldata(keys[3].address, 1))
    below_floor = src.deposit(7, 4, 999, gas=21_000, data=b"\x01" * 40)
    erc20: list[Message] = [
        BlockStart(1_004, 6),
        L2Tx(sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)),
        L2Tx(sign(keys[1], CHAIN_ID, 1, token, 0, approve, 200_000)),
        L2Tx(sign(keys[3], CHAIN_ID, 0, token, 0, transfer_calldata(keys[2].address, 10**40), 200_000)),
        Delayed(d),
        Delayed(below_floor),
    ]
    (erc20_block,) = h.apply(src.batch(erc20, delayed_read=2))
    al = [{"address": "0x" + (b"\x11" * 20).hex(), "storageKeys": ["0x" + (5).to_bytes(32, "big").hex(),
                                                                    "0x" + (6).to_bytes(32, "big").hex()]},
          {"address": "0x" + PRECOMPILE.hex(), "storageKeys": []},
          {"address": "0x" + token.hex(), "storageKeys": ["0x" + (0).to_bytes(32, "big").hex()]}]  # fmt: skip
    variants: list[Message] = [
        BlockStart(1_006, 7),
        L2Tx(signed(keys[0], 3, legacy=True)),
        L2Tx(_signed_typed(keys[0], 4, to=bytes([0xEE]) * 20, value=0)),  # touched and empty: not created
        L2Tx(_signed_typed(keys[1], 2, to=keys[1].address)),  # to oneself
        L2Tx(_signed_typed(keys[1], 3, to=bytes(spec.fee_recipient), value=10**9)),  # to the coinbase
        L2Tx(_signed_typed(keys[2], 0, to=SINK, access_list=al, tx_type=1)),
        # a call with value to the non-payable token: it reverts and the value goes back
        L2Tx(_signed_typed(keys[2], 1, to=token, access_list=al, gas=200_000,
                           data=transfer_calldata(keys[3].address, 2))),  # fmt: skip
    ]
    (variants_block,) = h.apply(src.batch(variants, delayed_read=2))
    below_intrinsic = src.deposit(3, 5, 1_000, gas=21_000, data=b"\x07")  # 21,016 intrinsic
    poor = Key.derive("test", 9)  # never funded
    failures: list[Message] = [
        BlockStart(1_008, 8),
        L2Tx(signed(keys[3], 9)),  # nonce too high
        L2Tx(signed(keys[3], 1, max_fee=1)),  # fee cap below the base fee
        L2Tx(signed(poor, 0)),  # balance below gas * fee cap + value
        L2Tx(signed(keys[3], 1)),  # uses 21,000 gas of the block
        L2Tx(signed(keys[3], 2, gas=spec.gas_limit)),  # above the block's gas left
        Delayed(below_intrinsic),
    ]
    (failures_block,) = h.apply(src.batch(failures, delayed_read=3))
    limit = len(src.posted)
    return {"eth": h.trace(eth, 2), "erc20": h.trace(erc20_block, 3), "variants": h.trace(variants_block, 4),
            "failures": h.trace(failures_block, limit)}  # fmt: skip


def _codes(traces: dict[str, BlockTrace]) -> tuple[bytes, ...]:
    """Every code TX_CALL enters: registered in the CodeOracle first, as an honest prover does."""
    out: dict[bytes, None] = {}
    for trace in traces.values():
        for j in range(trace.steps):
            if trace.step_kind(j) == "TX_CALL" and trace.witness(j).code:
                out[trace.witness(j).code] = None
    return tuple(out)


SENDER_CODE = b"\x60\x00\x56"  # a crafted sender's (non-delegation) code, read from the oracle
DELEGATED = b"\xef\x01\x00" + b"\x22" * 20  # an EIP-7702 designator (registered: its size is 23)
PLAIN_23 = b"\x60\x00" * 11 + b"\x00"  # 23 bytes, PUSH1 0 ... STOP: ordinary code of a delegation's size


@pytest.fixture(scope="module")
def prover(anvil: Anvil, traces: dict[str, BlockTrace]) -> str:
    return _deploy_prover(anvil.w3, (*_codes(traces), SENDER_CODE, DELEGATED, PLAIN_23))


def _ours(trace: BlockTrace, j: int) -> bool:
    """A step ExecTxStart proves: one of KINDS, or a LOAD outside EXEC in phase TX_LOAD / TX_SETUP."""
    kind, m = trace.step_kind(j), trace.machine(j)
    if kind in KINDS:
        return True
    return kind in ("LOAD_ACCOUNT", "LOAD_SLOT") and m.exec is None and m.phase in (TX_LOAD, TX_SETUP)


def _variant(trace: BlockTrace, j: int) -> str:
    kind, m, post = trace.step_kind(j), trace.machine(j), trace.machine(j + 1)
    tx = m.tx
    assert tx is not None
    stage = {(TX_LOAD, 3): "sender", (TX_LOAD, 5): "deposit_sender", (TX_SETUP, 0): "to", (TX_SETUP, 1): "coinbase",
             (TX_SETUP, 2): "access_list", (TX_SETUP, 3): "call"}[(m.phase, tx.setup)]  # fmt: skip
    if kind.startswith("LOAD"):
        return f"{kind.lower()}/{stage}"
    if kind == "TX_START":
        return "tx_start/" + ("ok" if post.phase == TX_SETUP else "skipped")
    if kind == "DEPOSIT_START":
        return "deposit_start/" + ("call" if post.phase == TX_SETUP else "skipped")
    if kind == "TX_CALL":
        return "tx_call/" + ("code" if post.exec is not None else "transfer")
    assert trace.game is not None
    if tx.setup == 2:
        address, slot = ts.access_list_items(m, trace.game)[tx.alCursor]
        item = "slot" if slot is not None else "precompile" if address in ts.PRECOMPILES else "address"
        return f"tx_setup/access_list/{item}"
    return f"tx_setup/{stage}"


def _cases(traces: dict[str, BlockTrace]) -> list[tuple[str, BlockTrace, int]]:
    return [(name, t, j) for name, t in traces.items() for j in range(t.steps) if _ours(t, j)]


VARIANTS = {
    "load_account/sender", "load_account/deposit_sender", "load_account/to", "load_account/coinbase",
    "load_account/access_list", "load_slot/access_list", "tx_start/ok", "tx_start/skipped",
    "deposit_start/call", "deposit_start/skipped", "tx_setup/to", "tx_setup/coinbase",
    "tx_setup/access_list/address", "tx_setup/access_list/precompile", "tx_setup/access_list/slot",
    "tx_call/code", "tx_call/transfer",
}  # fmt: skip


def test_traces_reach_every_variant(traces: dict[str, BlockTrace]) -> None:
    """The blocks hold every variant of the start steps, and the failure block skips its five
    transactions at TX_START (back to IDLE, journal J0) and the deposit's call at DEPOSIT_START."""
    cases = _cases(traces)
    assert {_variant(t, j) for _, t, j in cases} == VARIANTS
    failures = traces["failures"]
    starts = [j for j in range(failures.steps) if failures.step_kind(j) == "TX_START"]
    assert [failures.machine(j + 1).phase for j in starts] == [IDLE, IDLE, IDLE, TX_SETUP, IDLE]
    assert failures.counts()["TX_END"] == 2  # the funded transfer and the deposit (call skipped)


@pytest.mark.slow
def test_every_start_step_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Every TX_START, DEPOSIT_START, TX_SETUP, TX_CALL and every LOAD before them, proven through
    the deployed OneStepProver with `proof_for`, returns exactly the Python next state."""
    cases = _cases(traces)
    assert len(cases) > 100
    results = call_batch(anvil.url, prover, [_call(t, j, proof_for(t, j)) for _, t, j in cases])
    for (name, trace, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (name, j, trace.step_kind(j), data.hex())
        assert data == trace.state(j + 1), (name, j, trace.step_kind(j))


def test_loads_route_by_phase(traces: dict[str, BlockTrace]) -> None:
    """LOADs are packed by their phase (load_proofs): an opcode's LOAD keeps steps.py's proof, a
    TX_LOAD / TX_SETUP one gets start_proofs' (MachineState, TxCtx, ..., load flag 1)."""
    trace = traces["erc20"]
    loads = [j for j in range(trace.steps) if trace.step_kind(j) in ("LOAD_ACCOUNT", "LOAD_SLOT")]
    exec_loads = [j for j in loads if trace.machine(j).exec is not None]
    ours = [j for j in loads if _ours(trace, j)]
    assert exec_loads and ours
    for j in exec_loads:
        assert proof_sections(trace, j) == steps.step_sections(trace.machine(j).exec)[1]
    for j in ours:
        sections = proof_sections(trace, j)
        assert sections == start_proofs.load_sections(trace, j)
        assert [s.label for s in sections[:2]] == ["MachineState", "TxCtx"]
        assert next(s.data for s in sections if s.label == "Load") == b"\x01"


def test_prover_wires_the_start_phases(anvil: Anvil, prover: str) -> None:
    """TX_LOAD and TX_SETUP hold one ExecTxStart with the chain's coinbase, gas limit and the
    prover's code oracle; its msgSteps is ExecMsg's address or empty."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    slots = [osp.functions.phaseSteps(i).call() for i in range(osp.functions.PHASES().call())]
    assert slots[TX_LOAD] == slots[TX_SETUP] and int(slots[TX_LOAD], 16)
    start = w3.eth.contract(address=slots[TX_LOAD], abi=load_artifact("ExecTxStart")["abi"])
    spec = ChainSpec(chain_id=CHAIN_ID)
    assert start.functions.coinbase().call().lower() == "0x" + bytes(spec.fee_recipient).hex()
    assert start.functions.blockGasLimit().call() == spec.gas_limit
    assert start.functions.codeOracle().call() == osp.functions.codeOracle().call()
    assert start.functions.msgSteps().call() in (slots[2], "0x" + "00" * 20)


def test_deploy_onestep_gives_the_router_execmsg(anvil: Anvil) -> None:
    """With ExecMsg deployed (its PreimageOracle given), the router forwards to it: `msgSteps` is
    ExecMsg, deployed before ExecTxStart, and ExecMsg also fills phase IDLE."""
    w3: Web3 = anvil.w3
    oracle, preimages = _deploy(w3, "CodeOracle"), _deploy(w3, "PreimageOracle")
    out = deploy_onestep(w3, Account.from_key(DEV_KEY), ChainSpec(chain_id=CHAIN_ID), oracle,
                         {"PreimageOracle": preimages})  # fmt: skip
    start = w3.eth.contract(address=out["ExecTxStart"], abi=load_artifact("ExecTxStart")["abi"])
    assert start.functions.msgSteps().call() == out["ExecMsg"]
    osp = w3.eth.contract(address=out["OneStepProver"], abi=load_artifact("OneStepProver")["abi"])
    assert [osp.functions.phaseSteps(i).call() for i in (2, 3, 4)] == [out["ExecMsg"], *[out["ExecTxStart"]] * 2]


def _refused_name(data: bytes) -> str:
    assert data[:4] == UNSUPPORTED_SELECTOR, data.hex()
    return data[4:36].rstrip(b"\0").decode()


def test_router_refuses_the_message_steps_by_name(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    """With `msgSteps` empty (no ExecMsg in this deployment), the router refuses DEPOSIT_LOAD and
    TX_LOAD / DATA_LOAD by name from `MachineState ++ TxCtx`, and a proof
    holding only the MachineState by the phase's name (the prover's generic refusal)."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    start = w3.eth.contract(address=osp.functions.phaseSteps(TX_LOAD).call(), abi=load_artifact("ExecTxStart")["abi"])
    if int(start.functions.msgSteps().call(), 16):
        pytest.skip("ExecMsg is wired: its own tests cover these steps")
    trace = traces["erc20"]
    seen: dict[str, int] = {}
    for j in range(trace.steps):
        seen.setdefault(trace.step_kind(j), j)
    calls, want = [], []
    for kind in ("DEPOSIT_LOAD", "TX_LOAD", "DATA_LOAD"):  # TX_DECODE, SIG_HASH: ExecTxDecode (test_osp_tx_decode)
        m = trace.machine(seen[kind])
        proof = machine_state(m).preimage() + (m.tx.preimage() if m.tx is not None else b"")
        calls.append(_call(trace, seen[kind], proof))
        want.append(kind)
        calls.append(_call(trace, seen[kind], machine_state(m).preimage()))
        want.append("DEPOSIT_LOAD" if m.tx is None else "TX_LOAD")
    results = call_batch(anvil.url, prover, calls)
    assert [(ok, _refused_name(data)) for ok, data in results] == [(False, name) for name in want]


# -- failure branches of crafted pre-states ------------------------------------------------------


def _crafted_start(traces: dict[str, BlockTrace]) -> list[tuple[str, Machine, ts.TxStartWitness]]:
    """TX_START pre-states of an honest transfer with one input moved so that a stateful rule
    fails: the block's gas nearly used up, a tip above the fee cap, the sender's nonce ahead,
    a sender with a (non-delegation) code."""
    trace = traces["eth"]
    j = next(j for j in range(trace.steps) if trace.step_kind(j) == "TX_START")
    m, w = trace.machine(j), trace.witness(j)
    assert m.acc is not None and m.tx is not None and trace.game is not None
    out = [("block_gas", m.replace(acc=replace(m.acc, gas_used=trace.game.gas_limit - 20_000)), w),
           ("tip_above_cap", m.replace(tx=replace(m.tx, tip=m.tx.maxFee + 1)), w)]  # fmt: skip
    j2 = m.journal.copy()
    sender = ts.account(j2, m.tx.sender)
    ts.set_account(j2, replace(sender, nonce=sender.nonce + 1))
    out.append(("nonce", m.replace(journal=j2), w))
    j3 = m.journal.copy()
    ts.set_account(j3, replace(sender, code_hash=Web3.keccak(SENDER_CODE)))
    out.append(("sender_code", m.replace(journal=j3), ts.TxStartWitness(SENDER_CODE)))
    j4 = m.journal.copy()
    ts.set_account(j4, replace(sender, code_hash=Web3.keccak(DELEGATED)))
    out.append(("delegated_sender", m.replace(journal=j4), ts.TxStartWitness(DELEGATED)))
    return out


@pytest.mark.slow
def test_crafted_tx_start_failures_verify_on_l1(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Each crafted pre-state steps on L1 to the Python post-state: skipped (IDLE) for a failed
    rule, TX_SETUP for a 7702-delegated sender (EIP-3607 allows it); a wrong code preimage and a
    code given for an EOA are refused."""
    trace = traces["eth"]
    calls, posts = [], []
    for _, m, w in _crafted_start(traces):
        post = ts.tx_start(m, w, trace.game)
        posts.append(post)
        calls.append(_call(trace, 0, b"".join(s.data for s in start_proofs.tx_start_of(m, w)), m.commitment()))
    results = call_batch(anvil.url, prover, calls)
    names = [name for name, _, _ in _crafted_start(traces)]
    assert [p.phase for p in posts] == [IDLE, IDLE, IDLE, IDLE, TX_SETUP], names
    for name, post, (ok, data) in zip(names, posts, results, strict=True):
        assert ok and data == post.commitment(), (name, data.hex())
    # a code given for an EOA, a preimage of another hash, a 23-byte code left to the oracle, an
    # unregistered code: refused
    crafted = {name: (m, w) for name, m, w in _crafted_start(traces)}
    honest = trace.machine(next(j for j in range(trace.steps) if trace.step_kind(j) == "TX_START"))
    j5 = honest.journal.copy()
    ts.set_account(j5, replace(ts.account(j5, honest.tx.sender), code_hash=Web3.keccak(b"\x60\x01\x56")))
    bad = [(honest, b"\x00"), (crafted["sender_code"][0], b"\x60\x00\x57"), (crafted["delegated_sender"][0], b""),
           (honest.replace(journal=j5), b"")]  # fmt: skip
    calls = []
    for m, code in bad:
        sections = start_proofs.tx_start_of(m, ts.TxStartWitness())
        proof = b"".join(s.data for s in sections[:-1]) + len(code).to_bytes(4, "big") + code
        calls.append(_call(trace, 0, proof, m.commitment()))
    results = call_batch(anvil.url, prover, calls)
    assert all(not ok for ok, _ in results)
    assert [data[:4] for _, data in results] == [Web3.keccak(text=e)[:4] for e in
                                                 ("BadCode()", "BadCode()", "BadCode()", "CodeNotRegistered(bytes32)")]


def test_crafted_tx_call_refusals(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """TX_CALL refuses by name a call to an EIP-7702 delegation (its first code word proven against
    the oracle's code root) and to a precompile; a 23-byte code that is no delegation runs (EXEC);
    an unregistered code reverts CodeNotRegistered."""
    trace = traces["eth"]
    j = next(j for j in range(trace.steps) if trace.step_kind(j) == "TX_CALL")
    m = trace.machine(j)
    assert m.tx is not None

    def with_code(code: bytes) -> Machine:
        journal = m.journal.copy()
        to = ts.account(journal, m.tx.to)  # type: ignore[union-attr]
        ts.set_account(journal, replace(to, code_hash=Web3.keccak(code)))
        return m.replace(journal=journal)

    cases = [(with_code(DELEGATED), DELEGATED), (with_code(PLAIN_23), PLAIN_23), (with_code(b"\x00" * 5), b"\x00" * 5)]
    calls = []
    for pre, code in cases:
        sections = start_proofs.tx_call_of(pre, ts.CallWitness(code))
        calls.append(_call(trace, 0, b"".join(s.data for s in sections), pre.commitment()))
    precompile = m.replace(tx=replace(m.tx, to=PRECOMPILE))
    calls.append(_call(trace, 0, machine_state(precompile).preimage() + precompile.tx.preimage(),  # type: ignore[union-attr]
                       precompile.commitment()))  # fmt: skip
    results = call_batch(anvil.url, prover, calls)
    assert not results[0][0] and _refused_name(results[0][1]) == "DELEGATED_CALL"
    assert results[1][0] and results[1][1] == ts.tx_call(cases[1][0], ts.CallWitness(PLAIN_23), trace.game).commitment()
    assert not results[2][0] and results[2][1][:4] == Web3.keccak(text="CodeNotRegistered(bytes32)")[:4]
    assert not results[3][0] and _refused_name(results[3][1]) == "PRECOMPILE_CALL"


# -- corruptions and figures ---------------------------------------------------------------------


def _largest_per_variant(traces: dict[str, BlockTrace]) -> dict[str, tuple[BlockTrace, int]]:
    out: dict[str, tuple[BlockTrace, int, int]] = {}
    for _, t, j in _cases(traces):
        v, size = _variant(t, j), len(proof_for(t, j))
        if v not in out or size > out[v][2]:
            out[v] = (t, j, size)
    return {v: (t, j) for v, (t, j, _) in out.items()}


def _sections(trace: BlockTrace, j: int) -> list[Section]:
    return proof_sections(trace, j)


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    picked = _largest_per_variant(traces)
    assert set(picked) == VARIANTS
    cases = [(v, t, j, label, bad) for v, (t, j) in picked.items() for label, bad in corruptions(_sections(t, j))]
    results = call_batch(anvil.url, prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(cases) > 1_000, len(cases)


@pytest.mark.slow
def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 13: per variant, the largest proof and the gas of a
    transaction calling OneStepProver.step (eth_estimateGas: calldata and the 21k base in)."""
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j) in sorted(_largest_per_variant(traces).items()):
        proof = proof_for(t, j)
        rows.append((v, len(proof), w3.eth.estimate_gas({"to": prover, "data": "0x" + _call(t, j, proof).hex()})))
    print("start steps (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows
