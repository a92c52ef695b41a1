"""STATICCALL, DELEGATECALL and CALLCODE in the one-step prover, on real py-evm traces of Solidity
contracts verified on anvil (docs/fraud-proofs.md 19, extending section 12's CALL).

Genesis contracts (tests/contracts/CallKinds.sol, runtime code placed in the genesis with their
storage, and bench's TestToken): a viewer STATICCALLs an ERC-20's `balanceOf` (directly and through
a proxy: STATICCALL then DELEGATECALL in a static frame); raw staticcalls into a writer whose
SSTORE, TSTORE, LOG, value-bearing CALL and nested CALL-then-SSTORE are static-context violations
(an exceptional halt, the caller sees 0), a view function and an EOA succeed, TSTORE outside a
static frame and a precompile are refused by name; a minimal proxy DELEGATECALLs an ERC-20
`transfer` (the proxy's storage and log) and one that reverts; CALLCODE and DELEGATECALL of a
library writing the caller's slot and logging who it runs as (CALLCODE with no value, a value sent
to itself, a value above the balance, an EOA; DELEGATECALL keeping the transaction's value, and
into an EOA). For every step: the tracer asserts Python == py-evm (every opcode of every frame, and
the committed root at the end), `OneStepProver.step` on anvil returns exactly the Python
post-state, and every single-field corruption of the largest proof of each call kind and of each
frame end is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_abi import encode
from eth_hash.auto import keccak

from bench.workloads import Key, Workload, sign, token_artifact
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import EXEC, TX_END
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import ExecState, Unsupported, step, step_sections
from l1.proofs.tracer import Checked, Trace, check, commit_root, trace_transaction
from l1.proofs.tx_proofs import proof_for
from l2.chain import L2Chain
from l2.messages import BlockStart, L2Tx
from l2.spec import ChainSpec, GenesisAccount
from l2.types import BlockAttributes, L1Origin
from tests.integration.test_osp_exec import (
    CTX,
    UNSUPPORTED_SELECTOR,
    _calls,
    _deploy_prover,
    call_batch,
    corruptions_accepted,
    largest_by,
    proof_rows,
    proven_of,
)
from tests.unit.test_block_trace import Harness, Source

CHAIN_ID = 901
CALLS = {0xF1: "CALL", 0xF2: "CALLCODE", 0xF4: "DELEGATECALL", 0xFA: "STATICCALL"}
KIND_NAMES = {0: "CALL", 1: "CALLCODE", 2: "DELEGATECALL", 3: "STATICCALL"}  # Frame.kind
IMPL_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC  # EIP-1967
KEYS = [Key.derive("osp-call-kinds", i) for i in range(2)]
HOLDER, OTHER = KEYS[0].address, KEYS[1].address
HELD = 10**6
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"


def addr(name: str) -> bytes:
    return keccak(b"osp-call-kinds/" + name.encode())[:20]


TOKEN, PROXY, VIEWER, WRITER, WRITER2, LIB, CALLER = (
    addr(n) for n in ("token", "proxy", "viewer", "writer", "writer2", "lib", "caller")
)
RICH_EOA = addr("rich eoa")
NEW_EOA = addr("never existed")


def runtime(name: str) -> bytes:
    art = token_artifact() if name == "TestToken" else load_artifact(name, TEST_ARTIFACTS)
    return bytes.fromhex(art["deployedBytecode"][2:])


def fn(signature: str, types: list[str], args: list[object]) -> bytes:
    return keccak(signature.encode())[:4] + encode(types, args)


def balance_slot(holder: bytes) -> int:
    """TestToken's `balanceOf[holder]` (slot 3 of its layout)."""
    return int.from_bytes(keccak(holder.rjust(32, b"\0") + (3).to_bytes(32, "big")), "big")


def static(target: bytes, data: bytes) -> bytes:
    return fn("tryStatic(address,bytes)", ["address", "bytes"], [target, data])


def write(v: int) -> bytes:
    return fn("write(uint256)", ["uint256"], [v])


def transfer(to: bytes, amount: int) -> bytes:
    return fn("transfer(address,uint256)", ["address", "uint256"], [to, amount])


# name -> (to, value, calldata)
# fmt: off
TXS: dict[str, tuple[bytes, int, bytes]] = {
    "static_view": (VIEWER, 0, fn("look(address,address)", ["address", "address"], [TOKEN, HOLDER])),
    "static_proxy": (VIEWER, 0, fn("look(address,address)", ["address", "address"], [PROXY, HOLDER])),
    "static_sstore": (VIEWER, 0, static(WRITER, write(7))),
    "static_log": (VIEWER, 0, static(WRITER, fn("poke(uint256)", ["uint256"], [7]))),
    "static_value": (VIEWER, 0, static(WRITER, fn("send(address)", ["address"], [RICH_EOA]))),
    "static_nested": (VIEWER, 0, static(WRITER, fn("nested(address,uint256)", ["address", "uint256"], [WRITER2, 7]))),
    "static_read": (VIEWER, 0, static(WRITER, fn("read()", [], []))),
    "static_eoa": (VIEWER, 0, static(RICH_EOA, b"")),
    "delegate_transfer": (PROXY, 0, transfer(OTHER, 5)),
    "delegate_revert": (PROXY, 0, transfer(OTHER, 10**30)),
    "delegate_lib": (CALLER, 11, fn("delegate(address,uint256)", ["address", "uint256"], [LIB, 3])),
    "delegate_eoa": (CALLER, 0, fn("delegate(address,uint256)", ["address", "uint256"], [RICH_EOA, 3])),
    "callcode_zero": (CALLER, 0, fn("codeCall(address,uint256,uint256)", ["address", "uint256", "uint256"],
                                    [LIB, 0, 4])),
    "callcode_value": (CALLER, 0, fn("codeCall(address,uint256,uint256)", ["address", "uint256", "uint256"],
                                     [LIB, 5, 4])),
    "callcode_poor": (CALLER, 0, fn("codeCall(address,uint256,uint256)", ["address", "uint256", "uint256"],
                                    [LIB, 10**30, 4])),
    "callcode_eoa": (CALLER, 0, fn("codeCall(address,uint256,uint256)", ["address", "uint256", "uint256"],
                                   [NEW_EOA, 1, 0])),
    "static_tstore": (VIEWER, 0, static(WRITER, fn("stash(uint256)", ["uint256"], [1]))),  # halts (EIP-1153)
    # refused by name
    "tstore": (WRITER, 0, fn("stash(uint256)", ["uint256"], [1])),
    "static_precompile": (VIEWER, 0, static((2).to_bytes(20, "big"), b"abc")),
}
# fmt: on
REFUSED = {"tstore": "TSTORE", "static_precompile": "PRECOMPILE_CALL"}
ORACLE_CODES = tuple(runtime(n) for n in ("TestToken", "CallKindsProxy", "CallKindsWriter", "CallKindsLib"))


def _spec() -> ChainSpec:
    base = ChainSpec(chain_id=CHAIN_ID)
    alloc = dict(Workload("osp-call-kinds", KEYS).spec(base).alloc)
    held = ((balance_slot(HOLDER), HELD), (2, HELD))
    alloc[TOKEN] = GenesisAccount(code=runtime("TestToken"), storage=held)
    alloc[PROXY] = GenesisAccount(code=runtime("CallKindsProxy"), storage=((IMPL_SLOT, int.from_bytes(TOKEN, "big")),
                                                                          *held))  # fmt: skip
    alloc[VIEWER] = GenesisAccount(code=runtime("CallKindsViewer"))
    alloc[WRITER] = GenesisAccount(code=runtime("CallKindsWriter"), balance=1_000)
    alloc[WRITER2] = GenesisAccount(code=runtime("CallKindsWriter"))
    alloc[LIB] = GenesisAccount(code=runtime("CallKindsLib"))
    alloc[CALLER] = GenesisAccount(code=runtime("CallKindsCaller"), balance=1_000)
    alloc[RICH_EOA] = GenesisAccount(balance=10**18)
    return base.__class__(**{**base.__dict__, "alloc": tuple(sorted(alloc.items()))})


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trace]]:
    spec = _spec()
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-call-kinds")) / "chain", spec, map_size=1 << 30)
    try:
        builder = chain.open_block(BlockAttributes(1_000, L1Origin(3)))
        out = {}
        for nonce, (name, (to, value, data)) in enumerate(TXS.items()):
            out[name] = trace_transaction(builder, sign(KEYS[0], CHAIN_ID, nonce, to, value, data, 500_000), spec)
        yield out
    finally:
        chain.close()


@pytest.fixture(scope="module")
def traced(traces: dict[str, Trace]) -> dict[str, list[Checked]]:
    return {name: check(trace) for name, trace in traces.items()}  # Python == py-evm at every step


def _op(st: ExecState) -> int:
    pc = st.frame.pc
    return st.code.code[pc] if pc < len(st.code.code) else 0


def kind(c: Checked) -> str:
    """<CALL kind>/<load|frame|eoa|fail|halt>, FRAME_RETURN/<frame kind>/<how>, STATIC_VIOLATION/<op>,
    or EXEC (plain opcodes and CALL, which test_osp_call covers)."""
    st = c.state
    if c.proof is None:
        return "refused"
    op = _op(st)
    post, _ = step_sections(st)
    if op in (0xF2, 0xF4, 0xFA):
        name = CALLS[op]
        if post.ms.phase == EXEC and post.committed_frame() == st.committed_frame():
            return name + "/load"
        if post.frame.depth > st.frame.depth:
            return name + "/frame"
        if post.ms.phase == TX_END or len(post.parents) < len(st.parents):
            return name + "/halt"
        return name + ("/fail" if post.stack[-1] == 0 else "/eoa")
    if st.frame.depth > 0 and post.frame.depth < st.frame.depth:
        if st.frame.static and op in (0x55, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xF1):
            return "STATIC_VIOLATION/" + {0x55: "SSTORE", 0xF1: "CALL"}.get(op, "LOG")
        how = {0xF3: "return", 0xFD: "revert", 0x00: "stop"}.get(op, "halt") if st.frame.pc < len(st.code.code) \
            else "end"  # fmt: skip
        if how in ("return", "revert") and post.stack[-1] != (how == "return"):
            how = "halt"
        return f"FRAME_RETURN/{KIND_NAMES[st.frame.kind]}/{how}"
    return "EXEC"


def _word(out: bytes, i: int) -> int:
    return int.from_bytes(out[32 * i : 32 * i + 32], "big")


def test_python_follows_pyevm_through_call_kinds(traces: dict[str, Trace], traced: dict[str, list[Checked]]) -> None:
    """Every opcode of every frame steps to py-evm's next state; the end commits to py-evm's root;
    the transactions did what their contracts say."""
    kinds = {kind(c) for cs in traced.values() for c in cs}
    for k in ("STATICCALL/load", "STATICCALL/frame", "STATICCALL/eoa", "DELEGATECALL/load", "DELEGATECALL/frame",
              "DELEGATECALL/eoa", "CALLCODE/load", "CALLCODE/frame", "CALLCODE/fail", "CALLCODE/eoa",
              "FRAME_RETURN/STATICCALL/return", "FRAME_RETURN/DELEGATECALL/return",
              "FRAME_RETURN/DELEGATECALL/revert", "FRAME_RETURN/CALLCODE/return", "FRAME_RETURN/STATICCALL/revert",
              "STATIC_VIOLATION/SSTORE", "STATIC_VIOLATION/LOG", "STATIC_VIOLATION/CALL"):  # fmt: skip
        assert k in kinds, (k, sorted(kinds))
    for name, trace in traces.items():
        if name in REFUSED:
            continue
        post, _ = step_sections(trace.states[-1])
        assert post.ms.phase == TX_END and commit_root(trace, post) == trace.post_root, name
    out = {name: t.output for name, t in traces.items()}
    assert _word(out["static_view"], 0) == HELD and _word(out["static_proxy"], 0) == HELD
    for name in ("static_sstore", "static_log", "static_value", "static_nested"):
        assert traces[name].success and _word(out[name], 0) == 0, name  # the violation halted the callee
    assert _word(out["static_read"], 0) == 1 and _word(out["static_eoa"], 0) == 1
    assert traces["delegate_transfer"].success and _word(out["delegate_transfer"], 0) == 1
    assert not traces["delegate_revert"].success
    assert out["delegate_revert"][:4] == keccak(b"InsufficientBalance(uint256,uint256)")[:4]
    # DELEGATECALL: ok, and the library saw the caller's balance (the transaction's 11 wei arrived)
    assert [_word(out["delegate_lib"], i) for i in (0, 1)] == [1, 1_011]
    selector_word = 0x6057361D << 224  # an EOA returns nothing: the input `store(3)` is still in memory at 0
    assert [_word(out["delegate_eoa"], i) for i in (0, 1)] == [1, selector_word]
    # CALLCODE: the value is sent to the caller itself (its balance stays 1,011)
    assert [_word(out["callcode_zero"], i) for i in (0, 1)] == [1, 1_011]
    assert [_word(out["callcode_value"], i) for i in (0, 1)] == [1, 1_011]
    assert _word(out["callcode_poor"], 0) == 0 and _word(out["callcode_eoa"], 0) == 1


def _callee_frames(cs: list[Checked]) -> set[tuple[int, int, bytes, bytes, int]]:
    return {(c.state.frame.kind, c.state.frame.static, c.state.frame.address, c.state.frame.caller,
             c.state.frame.value) for c in cs if c.state.frame.depth > 0}  # fmt: skip


def test_callee_frames_carry_the_call_kind(traced: dict[str, list[Checked]]) -> None:
    """The callee's Frame (1.4): kind, static flag, storage address, caller and value per call kind."""
    sender = KEYS[0].address
    assert _callee_frames(traced["static_view"]) == {(3, 1, TOKEN, VIEWER, 0)}
    assert _callee_frames(traced["static_proxy"]) == {(3, 1, PROXY, VIEWER, 0), (2, 1, PROXY, VIEWER, 0)}
    assert _callee_frames(traced["static_nested"]) == {(3, 1, WRITER, VIEWER, 0), (0, 1, WRITER2, WRITER, 0)}
    assert _callee_frames(traced["delegate_transfer"]) == {(2, 0, PROXY, sender, 0)}
    assert _callee_frames(traced["delegate_lib"]) == {(2, 0, CALLER, sender, 11)}
    assert _callee_frames(traced["callcode_value"]) == {(1, 0, CALLER, CALLER, 5)}
    lib = [c for c in traced["delegate_lib"] if c.state.frame.depth == 1]
    assert lib[0].state.code.code == bytes(runtime("CallKindsLib"))  # the library's code, the caller's storage


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ORACLE_CODES)


def test_depth_limit_and_out_of_gas(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Synthetic variants of each call kind's real frame-entering state (the real traces reach
    neither): at depth 1024 the call fails without a frame (0 pushed, the callee gas back, return
    data empty, the code source warm); with 2,000 gas left the cold account load halts the frame
    (the caller resumes with 0, or the top frame ends). Both twins agree on L1."""
    largest = _largest(traced)
    cases = []
    for name in ("STATICCALL", "DELEGATECALL", "CALLCODE"):
        pre = largest[name + "/frame"].state
        deep = replace(pre, frame=replace(pre.frame, depth=1024), _cache={})
        post, proof = step(deep)
        assert post.stack[-1] == 0 and post.frame.depth == 1024 and post.frame.pc == pre.frame.pc + 1
        assert post.committed_frame().rdLen == 0 and post.frame.gas > pre.frame.gas - 2_600 - 9_000
        assert post.journal is not None and pre.journal is not None and post.journal.count == pre.journal.count
        cases.append((deep, proof, post.hash()))
        poor = replace(pre, frame=replace(pre.frame, gas=2_000), _cache={})
        post, proof = step(poor)
        assert post.frame.depth == pre.frame.depth - 1 or post.ms.phase == TX_END
        assert post.ms.phase == TX_END or post.stack[-1] == 0
        cases.append((poor, proof, post.hash()))
    results = call_batch(anvil.url, prover, _calls([(st, proof) for st, proof, _ in cases]))
    assert results == [(True, h) for _, _, h in cases]


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_by_name(name: str, traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """TSTORE (outside a static frame, where it halts like SSTORE) and a STATICCALL to a precompile
    revert `Unsupported(name)` in Python and on L1; no other step of these traces is refused."""
    refused = [c for c in traced[name] if c.proof is None]
    assert [c.unsupported for c in refused] == [REFUSED[name]]
    with pytest.raises(Unsupported) as info:
        step_sections(refused[0].state)
    ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, refused[0].state.hash(), info.value.proof)])
    assert not ok and data == UNSUPPORTED_SELECTOR + REFUSED[name].encode().ljust(32, b"\0")


def _proven(traced: dict[str, list[Checked]]) -> list[Checked]:
    return proven_of(traced)


def _largest(traced: dict[str, list[Checked]]) -> dict[str, Checked]:
    return largest_by(traced, kind, lambda k: k != "EXEC")


@pytest.mark.slow
def test_every_step_verifies_on_l1(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Every step of every trace (the call kinds, their frames' opcodes and ends) on the deployed
    OneStepProver gives exactly the Python post-state."""
    proven = _proven(traced)
    results = call_batch(anvil.url, prover, _calls([(c.state, c.proof or b"") for c in proven]))
    for c, (ok, data) in zip(proven, results, strict=True):
        assert ok, (kind(c), data.hex())
        assert data == c.post_hash, kind(c)
    assert len(proven) > 2_000


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    largest = _largest(traced)
    accepted, tried = corruptions_accepted(anvil.url, prover, largest)
    assert not accepted, (len(accepted), accepted)
    assert tried > 1_500


@pytest.mark.slow
def test_proof_size_and_gas(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 19: per call kind and frame end, the largest proof and its
    gas (eth_estimateGas of a transaction calling `step`)."""
    print("call-kind proofs:", proof_rows(anvil, prover, _largest(traced)))


# -- the level-2 trace of a whole block of such transactions (block_machine.BlockTrace) ----------


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockTrace]:
    """One block of every transaction but the refused ones, traced from its parent's claim."""
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-call-kinds-block")) / "chain", _spec(), map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        names = [n for n in TXS if n not in REFUSED]
        txs = [L2Tx(sign(KEYS[0], CHAIN_ID, i, TXS[n][0], TXS[n][1], TXS[n][2], 500_000)) for i, n in enumerate(names)]
        (number,) = h.apply(h.source.batch([BlockStart(1_000, 0), *txs], delayed_read=0))  # the parent's origin
        yield h.trace(number, 1)  # asserts the trace ends on the chain's own block claim
    finally:
        chain.close()


@pytest.mark.slow
def test_block_exec_steps_verify_on_l1(block: BlockTrace, anvil: Anvil, prover: str) -> None:
    """The block's trace ends on the chain's block claim (the fixture); every EXEC-phase step
    (opcodes of every frame of every call kind, their LOADs, calls and frame ends), and each
    transaction's TX_END and COMMIT walk, packed by `tx_proofs.proof_for`, prove on L1 to the
    trace's next state."""
    assert block.game is not None
    kinds = {block.machine(j).exec.frame.kind for j in range(block.steps) if block.machine(j).exec is not None}
    assert kinds == {0, 1, 2, 3}
    ctx = GameContext(block.number, block.game.entry_limit, 0)
    steps = [j for j in range(block.steps) if block.machine(j).exec is not None
             or block.step_kind(j) in ("TX_END", "COMMIT")]  # fmt: skip
    results = call_batch(anvil.url, prover, [step_calldata(ctx, block.state(j), proof_for(block, j)) for j in steps])
    for j, (ok, data) in zip(steps, results, strict=True):
        assert ok and data == block.state(j + 1), (j, block.step_kind(j), data.hex())
