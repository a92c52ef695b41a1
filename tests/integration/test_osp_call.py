"""CALL (0xF1) and the end of inner frames (FRAME_RETURN) in the one-step prover, on real py-evm
traces verified on anvil (docs/fraud-proofs.md 2.3, section 12).

Genesis contracts (raw bytecode) call: an EOA with value (a new account and an existing one, cold
then warm, with and without value), a contract with value that RETURNs data the caller copies and
uses (and one more level down: a middle contract calling it and returning its result), a
contract that STOPs after an SSTORE, one that writes a slot and a log and REVERTs (snapshot
restored, value transfer undone, the revert data read back with RETURNDATACOPY), callees that
halt exceptionally (out of gas in a loop, INVALID after an SSTORE), a CALL with a value above the
balance, and a precompile call (refused by name). For every step: the tracer asserts the Python
step equals py-evm's next state (every opcode of every frame), `OneStepProver.step` on anvil
returns exactly the Python post-state, and every single-field corruption of the largest CALL
proof of each kind and of each FRAME_RETURN kind is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from bench.workloads import Key, Workload, sign
from l1.anvil import Anvil
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import EXEC, TX_END
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Unsupported, step, step_sections
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
    asm,
    call_batch,
    corruptions_accepted,
    largest_by,
    p,
    proof_rows,
    proven_of,
)
from tests.unit.test_block_trace import Harness, Source

CHAIN_ID = 901
CALL, GAS = 0xF1, 0x5A


def addr(name: str) -> bytes:
    return keccak(b"osp-call/" + name.encode())[:20]


NEW_EOA = keccak(b"osp-call/never existed")[:20]
RICH_EOA = addr("rich eoa")  # an existing EOA (genesis balance)


def call(to: bytes, value: int = 0, in_off: int = 0, in_size: int = 0, out_off: int = 0, out_size: int = 0,
         gas: int | None = None) -> bytes:  # fmt: skip
    """CALL(gas, to, value, in_off, in_size, out_off, out_size); `gas` None: all there is (GAS)."""
    head = asm(p(out_size, 2), p(out_off, 2), p(in_size, 2), p(in_off, 2), p(value, 4), to)
    return head + (asm(GAS) if gas is None else asm(p(gas, 3))) + asm(CALL)


# callees
RETURNER = asm(p(0), 0x35, p(2), 0x02, p(0), 0x52, 0x34, p(32), 0x52, p(64), p(0), 0xF3)  # [2·cd0, value]
STOPPER = asm(p(9), p(1), 0x55, 0x00)  # SSTORE(1, 9), STOP
REVERTER = asm(p(5), p(1), 0x55, p(0xBEEF, 2), p(0), 0x52, p(32), p(0), 0xA0, p(36), p(30), 0xFD)  # slot, log, revert
LOOPER = asm(0x5B, p(0), 0x56)  # JUMPDEST, JUMP 0: runs out of gas
INVALID_AFTER_SSTORE = asm(p(7), p(2), 0x55, 0xFE)
FALL_OFF = asm(p(1), 0x50)  # runs past its code: an implicit STOP
POOR_CALLER = call(NEW_EOA, 1, gas=0) + asm(0x00)  # with 3,000 gas: the new-account gas halts; 2,000: the cold load
MIDDLE = asm(p(0x21), p(0), 0x52) + call(addr("returner"), 1, 0, 32, 0, 64) + asm(0x50, p(64), p(0), 0xF3)

# fmt: off
CALLERS: dict[str, bytes] = {
    # (a) value to EOAs: a new account (cold, 25,000), an existing one (cold then warm), zero value
    "eoa": call(NEW_EOA, 5) + asm(0x50) + call(RICH_EOA, 7) + asm(0x50) + call(RICH_EOA, 0) + asm(0x50)
    + call(addr("no account"), 0) + asm(0x3D, 0x50, 0x00),
    # (b) value into a contract returning 64 bytes, 32 copied and used; RETURNDATACOPY of the rest
    "returner": asm(p(0x1234, 2), p(0), 0x52) + call(addr("returner"), 3, 0, 32, 64, 32)
    + asm(p(64), 0x51, p(1), 0x01, p(0), 0x52, 0x3D, p(32), p(32), p(96), 0x3E, p(160), p(0), 0xF3),
    # two levels: caller -> middle -> returner, the middle RETURNs the returner's output
    "nested": call(addr("middle"), 2, 0, 0, 0, 64) + asm(0x50, p(64), p(0), 0xF3),
    "stopper": call(addr("fall off")) + asm(0x50) + call(addr("stopper"), 0, 0, 0, 0, 32)
    + asm(0x3D, p(0), 0x52, p(32), p(0), 0xF3),
    # (c) a reverting callee: slot, log and value undone, its revert data read back
    "reverter": call(addr("reverter"), 4, 0, 0, 0, 16) + asm(0x3D, p(0), p(0), 0x3E, addr("reverter"), 0x31)
    + asm(p(64), 0x52, 0x47, p(96), 0x52, p(128), p(0), 0xF3),
    # (d) callees halting exceptionally: out of gas in a loop, INVALID after an SSTORE
    "halts": call(addr("looper"), 0, 0, 0, 0, 32, gas=120) + call(addr("invalid"), 0, 0, 0, 0, 0, gas=30_000)
    + call(addr("poor caller"), gas=3_000) + call(addr("poor caller"), gas=2_000)
    + asm(0x01, 0x01, 0x01, 0x3D, 0x01, p(0), 0x52, p(32), p(0), 0xF3),
    # (e) a value above the balance: no frame, 0 pushed, the callee gas back
    "poor": call(addr("returner"), 10**6) + asm(0x3D, 0x5A, p(0), 0x52, p(32), p(0), 0xF3),
    # refused by name
    "precompile": call((2).to_bytes(20, "big"), 0, 0, 0, 0, 32) + asm(0x00),
    "delegated": call(addr("delegated")) + asm(0x00),
    "big_return": call(addr("big returner"), 0, 0, 0, 0, 600) + asm(0x00),
}
# fmt: on
REFUSED = {"precompile": "PRECOMPILE_CALL", "delegated": "DELEGATED_CALL", "big_return": "COPY_PENDING"}
CALLEES = {"returner": RETURNER, "stopper": STOPPER, "reverter": REVERTER, "looper": LOOPER,
           "invalid": INVALID_AFTER_SSTORE, "middle": MIDDLE, "fall off": FALL_OFF,
           "poor caller": POOR_CALLER, "big returner": asm(p(600, 2), p(0), 0xF3),
           "delegated": b"\xef\x01\x00" + RICH_EOA}  # fmt: skip
ORACLE_CODES = tuple(CALLEES.values())  # the callees' code records come from the code oracle


KEYS = [Key.derive("osp-call", i) for i in range(2)]


def _spec() -> ChainSpec:
    """The callers (1,000 wei each) and callees in the genesis, a funded EOA, the test keys."""
    base = ChainSpec(chain_id=CHAIN_ID)
    alloc = dict(Workload("osp-call", KEYS).spec(base).alloc)
    for name, code in CALLERS.items():
        alloc[addr("caller/" + name)] = GenesisAccount(code=code, balance=1_000)
    for name, code in CALLEES.items():
        alloc[addr(name)] = GenesisAccount(code=code, storage=((1, 0x77),) if name == "reverter" else ())
    alloc[RICH_EOA] = GenesisAccount(balance=10**18)
    return base.__class__(**{**base.__dict__, "alloc": tuple(sorted(alloc.items()))})


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trace]]:
    keys = KEYS
    spec = _spec()
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-call")) / "chain", spec, map_size=1 << 30)
    try:
        builder = chain.open_block(BlockAttributes(1_000, L1Origin(3)))
        out = {}
        for nonce, name in enumerate(CALLERS):
            raw = sign(keys[0], CHAIN_ID, nonce, addr("caller/" + name), 0, b"", 500_000)
            out[name] = trace_transaction(builder, raw, spec)
        yield out
    finally:
        chain.close()


@pytest.fixture(scope="module")
def traced(traces: dict[str, Trace]) -> dict[str, list[Checked]]:
    return {name: check(trace) for name, trace in traces.items()}  # Python == py-evm at every step


def kind(c: Checked) -> str:
    """CALL/<eoa|frame|fail|halt|load>, FRAME_RETURN/<how>, or EXEC."""
    st = c.state
    pc = st.frame.pc
    op = st.code.code[pc] if pc < len(st.code.code) else 0
    if c.proof is None:
        return "refused"
    post, _ = step_sections(st)
    if op == CALL:
        if post.ms.phase == EXEC and post.committed_frame() == st.committed_frame():
            return "CALL/load"
        if post.frame.depth > st.frame.depth:
            return "CALL/frame-value" if st.stack[-3] else "CALL/frame"
        if post.ms.phase == TX_END or len(post.parents) < len(st.parents):
            return "CALL/halt"
        if post.stack[-1] == 0:
            return "CALL/fail"
        return "CALL/eoa-value" if st.stack[-3] else "CALL/eoa"
    if st.frame.depth > 0 and post.frame.depth < st.frame.depth:
        how = {0xF3: "return", 0xFD: "revert", 0x00: "stop"}.get(op, "halt") if pc < len(st.code.code) else "end"
        if how in ("return", "revert") and post.stack[-1] != (how == "return"):
            how = "halt"  # RETURN / REVERT out of gas
        return "FRAME_RETURN/" + how
    return "EXEC"


def test_python_follows_pyevm_through_calls(traces: dict[str, Trace], traced: dict[str, list[Checked]]) -> None:
    """Every opcode of every frame steps to py-evm's next state; the end commits to py-evm's root."""
    kinds = {kind(c) for cs in traced.values() for c in cs}
    for k in ("CALL/load", "CALL/eoa-value", "CALL/eoa", "CALL/frame-value", "CALL/frame", "CALL/fail", "CALL/halt",
              "FRAME_RETURN/return", "FRAME_RETURN/revert", "FRAME_RETURN/stop", "FRAME_RETURN/end",
              "FRAME_RETURN/halt"):  # fmt: skip
        assert k in kinds, (k, kinds)
    for name, trace in traces.items():
        if name in REFUSED:
            continue
        post, _ = step_sections(trace.states[-1])
        assert post.ms.phase == TX_END and commit_root(trace, post) == trace.post_root, name
    depths = {c.state.frame.depth for c in traced["nested"]}
    assert depths == {0, 1, 2}
    assert traces["returner"].output[:32] == (0x2468 + 1).to_bytes(32, "big")  # the callee's result, used
    out = traces["reverter"].output  # the revert data, the callee's balance (transfer undone), the caller's
    assert out[:2] == b"\xbe\xef" and out[64:128] == (0).to_bytes(32, "big") + (1_000).to_bytes(32, "big")
    assert traces["nested"].output == (0x42).to_bytes(32, "big") + (1).to_bytes(32, "big")
    assert traces["poor"].success and traces["halts"].output == bytes(32)  # every halting callee pushed 0
    # the poor caller's two halts: its CALL's LOAD_ACCOUNT is undone with the callee's snapshot, then redone
    loads = [c for c in traced["halts"] if c.proof is not None and kind(c) == "CALL/load"
             and c.state.stack[-2] == int.from_bytes(NEW_EOA, "big")]  # fmt: skip
    assert len(loads) == 2


def test_depth_limit_fails_the_call(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """At depth 1024 (unreachable under the 63/64 rule, checked by rule: py-evm's STACK_DEPTH_LIMIT)
    the CALL fails without a frame: 0 pushed, the callee gas back, the target warm, nothing moved."""
    largest = _largest(traced)
    for k in ("CALL/eoa-value", "CALL/frame-value", "CALL/frame"):
        pre = largest[k].state
        deep = replace(pre, frame=replace(pre.frame, depth=1024), _cache={})
        post, proof = step(deep)
        normal, _ = step(pre)
        assert post.stack[-1] == 0 and post.frame.depth == 1024 and post.frame.pc == pre.frame.pc + 1
        assert post.committed_frame().rdLen == 0 and post.journal is not None and normal.journal is not None
        assert pre.journal is not None and post.journal.count == pre.journal.count
        ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, deep.hash(), proof)])
        assert ok and data == post.hash(), k


def test_call_into_unregistered_code_is_refused(traced: dict[str, list[Checked]], anvil: Anvil) -> None:
    """The callee's code record is read live from the code oracle: unregistered code reverts
    `CodeNotRegistered(codeHash)` (the honest side registers it first, D4); an EOA target needs none."""
    bare = _deploy_prover(anvil.w3, ())
    largest = _largest(traced)
    cases = [largest[k] for k in ("CALL/frame", "CALL/frame-value", "CALL/eoa-value")]
    results = call_batch(anvil.url, bare, _calls([(c.state, c.proof or b"") for c in cases]))
    selector = keccak(b"CodeNotRegistered(bytes32)")[:4]
    assert [data[:4] == selector and not ok for ok, data in results] == [True, True, False]
    assert results[2] == (True, largest["CALL/eoa-value"].post_hash)


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_by_name(name: str, traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """A precompile target, an EIP-7702-delegated target and an output copy above 544 bytes revert
    `Unsupported(name)` in Python and on L1 (no other step of these traces is refused)."""
    refused = [c for c in traced[name] if c.proof is None]
    assert [c.unsupported for c in refused] == [REFUSED[name]]
    with pytest.raises(Unsupported) as info:
        step_sections(refused[0].state)
    ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, refused[0].state.hash(), info.value.proof)])
    assert not ok and data == UNSUPPORTED_SELECTOR + REFUSED[name].encode().ljust(32, b"\0")


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ORACLE_CODES)


def _proven(traced: dict[str, list[Checked]]) -> list[Checked]:
    return proven_of(traced)


@pytest.mark.slow
def test_every_step_verifies_on_l1(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    proven = _proven(traced)
    results = call_batch(anvil.url, prover, _calls([(c.state, c.proof or b"") for c in proven]))
    for c, (ok, data) in zip(proven, results, strict=True):
        assert ok, (kind(c), data.hex())
        assert data == c.post_hash, kind(c)


def _largest(traced: dict[str, list[Checked]]) -> dict[str, Checked]:
    return largest_by(traced, kind, lambda k: k.startswith(("CALL", "FRAME_RETURN")))


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    largest = _largest(traced)
    accepted, tried = corruptions_accepted(anvil.url, prover, largest)
    assert not accepted, (len(accepted), accepted)
    assert tried > 1_000


@pytest.mark.slow
def test_proof_size_and_gas(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 12: per CALL / FRAME_RETURN kind, the largest proof and its
    gas (eth_estimateGas of a transaction calling `step`)."""
    print("CALL / FRAME_RETURN proofs:", proof_rows(anvil, prover, _largest(traced)))


# -- the level-2 trace of a whole block of such transactions (block_machine.BlockTrace) ----------


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockTrace]:
    """One block calling every caller but the precompile one, traced from its parent's claim."""
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-call-block")) / "chain", _spec(), map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        names = [n for n in CALLERS if n not in REFUSED]
        txs = [L2Tx(sign(KEYS[0], CHAIN_ID, i, addr("caller/" + n), 0, b"", 500_000)) for i, n in enumerate(names)]
        (number,) = h.apply(h.source.batch([BlockStart(1_000, 5), *txs], delayed_read=0))
        yield h.trace(number, 1)  # asserts the trace ends on the chain's own block claim
    finally:
        chain.close()


def test_block_trace_runs_through_calls(block: BlockTrace) -> None:
    counts = block.counts()
    assert counts["EXEC"] > 200 and counts["TX_END"] == len(CALLERS) - len(REFUSED)
    depths = {block.machine(j).exec.frame.depth for j in range(block.steps) if block.machine(j).exec is not None}
    assert depths == {0, 1, 2}


@pytest.mark.slow
def test_block_exec_steps_verify_on_l1(block: BlockTrace, anvil: Anvil, prover: str) -> None:
    """Every EXEC-phase step of the block (opcodes of every frame, their LOADs, CALLs and frame
    ends), and each transaction's TX_END and COMMIT walk after them, packed by
    `tx_proofs.proof_for`, prove on L1 to the trace's next state."""
    assert block.game is not None
    ctx = GameContext(block.number, block.game.entry_limit, 0)
    steps = [j for j in range(block.steps) if block.machine(j).exec is not None
             or block.step_kind(j) in ("TX_END", "COMMIT")]  # fmt: skip
    results = call_batch(anvil.url, prover, [step_calldata(ctx, block.state(j), proof_for(block, j)) for j in steps])
    for j, (ok, data) in zip(steps, results, strict=True):
        assert ok and data == block.state(j + 1), (j, block.step_kind(j), data.hex())
