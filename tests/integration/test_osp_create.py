"""CREATE (0xF0), CREATE2 (0xF5) and the code deposit at the end of an initcode frame in the
one-step prover, on real py-evm traces verified on anvil (docs/fraud-proofs.md section 21).

Genesis factories (raw bytecode) copy an initcode out of their own code and create with it:
a child whose constructor writes its CALLVALUE to a slot, logs and deploys a 10-byte runtime
(then called in the same transaction: the deposited code hash is what the CALL loads), with and
without a value, by CREATE and CREATE2; a second CREATE2 to the same address (collision: 0, the
child gas burnt); CREATE2 onto a pre-funded address; a constructor that REVERTs (its revert data
read back), one that halts, one that deploys code starting 0xEF, one returning 24,577 bytes, one
that runs out of gas for the deposit, one that STOPs (no code), an empty initcode, a constructor
that itself CREATEs (two levels), unaligned memory offsets, a value above the balance, a CREATE in
a static frame (halts); initcode and deployed code above 544 bytes (hashed by the memory sponge's
micro-steps, 21.1); a 49,153-byte initcode (hashed, then the creator halts, EIP-3860). And
tests/contracts/CloneFactory.sol: EIP-1167 clones by CREATE and CREATE2, then a clone used. For
every step: the tracer asserts the Python step equals py-evm's next state (every opcode of every
frame), `OneStepProver.step` on anvil returns exactly the Python post-state, and every single-field
corruption of the largest proof of each CREATE / sponge / deposit variant is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_hash.auto import keccak

from bench.workloads import Key, Workload, sign
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import EXEC, TX_END
from l1.proofs.journal import AccountEntry, account_key
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import (
    PURPOSE_CREATE,
    PURPOSE_CREATE_DONE,
    PURPOSE_DEPOSIT_DONE,
    ExecState,
    Unsupported,
    create_address,
    step,
    step_sections,
)
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
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"
CREATE, CREATE2, CALL, STATICCALL, GAS = 0xF0, 0xF5, 0xF1, 0xFA, 0x5A


def addr(name: str) -> bytes:
    return keccak(b"osp-create/" + name.encode())[:20]


def copy_code(dest: int, src: int, n: int) -> bytes:
    """CODECOPY of `n` bytes in chunks of 512 (a copy above 544 bytes is refused, COPY_PENDING):
    10 bytes of code per chunk whatever the values."""
    return b"".join(asm(p(min(512, n - k), 2), p(src + k, 2), p(dest + k, 2), 0x39) for k in range(0, n, 512))


def deploys(runtime: bytes, prologue: bytes = b"", at: int = 0) -> bytes:
    """Initcode: `prologue`, then CODECOPY the runtime appended after it to memory `at` and RETURN it."""
    n = len(runtime)
    body_len = len(prologue) + len(copy_code(0, 0, n)) + 7  # the copies and the 7 bytes of the RETURN
    return prologue + copy_code(at, body_len, n) + asm(p(n, 2), p(at, 2), 0xF3) + runtime


RUNTIME = asm(p(42), p(0), 0x52, p(32), p(0), 0xF3)  # returns 42
# constructor: SSTORE(0, CALLVALUE), LOG1(topic 7) of nothing, then deploy RUNTIME
INIT_OK = deploys(RUNTIME, asm(0x34, p(0), 0x55, p(7), p(0), p(0), 0xA1))
INIT_REVERT = asm(p(5), p(1), 0x55, p(0xDEAD, 2), p(0), 0x52, p(2), p(30), 0xFD)  # slot, then REVERT 0xdead
INIT_HALT = asm(p(5), p(1), 0x55, 0xFE)  # slot, then INVALID
INIT_EF = asm(p(0xEF), p(0), 0x53, p(1), p(0), 0xF3)  # RETURN 0xef
INIT_TOO_BIG = asm(p(24_577, 2), p(0), 0xF3)  # RETURN 24,577 zero bytes
INIT_DEPOSIT_OOG = asm(p(500, 2), p(0), 0xF3)  # RETURN 500 bytes: 100,000 gas, above what a 80,000-gas call leaves
INIT_STOP = asm(p(1), p(2), 0x55, 0x00)  # a slot, no code
INIT_NESTED = asm(p(0), p(0), p(0), CREATE, p(3), 0x55) + deploys(RUNTIME)  # CREATE(empty) at depth 2, then deploy
INIT_BIG_CODE = asm(p(600, 2), p(0), 0xF3)  # a 600-byte deposit of zeros (hashed by the memory sponge)
BIG_RUNTIME = RUNTIME + bytes(690)  # 700 bytes: returns 42
INIT_BIG = deploys(BIG_RUNTIME, asm(0x34, p(0), 0x55))  # a 737-byte initcode deploying 700 bytes: both sponges
INIT_UNALIGNED = deploys(RUNTIME, asm(0x34, p(0), 0x55), at=45)  # the runtime RETURNed from memory 45
INIT_FALL_OFF = asm(p(1), p(2), 0x55)  # runs past its end: no code
INITCODES = (INIT_OK, INIT_REVERT, INIT_HALT, INIT_EF, INIT_TOO_BIG, INIT_DEPOSIT_OOG, INIT_STOP, INIT_NESTED,
             INIT_BIG_CODE, INIT_UNALIGNED, INIT_FALL_OFF, INIT_BIG)  # fmt: skip


def factory(creates: list[tuple[bytes, int, int, int]], tail: bytes = b"", at: int = 0) -> bytes:
    """Code running each `(initcode, opcode, value, salt)`: CODECOPY the initcode (appended after the
    code) to memory `at`, CREATE / CREATE2 with it, SSTORE the result at slot `i`, RETURNDATASIZE at
    slot `16 + i`; then `tail` (default STOP). Offsets are PUSH2 so the main part's length is fixed."""

    def main(offsets: list[int]) -> bytes:
        out = b""
        for i, ((code, op, value, salt), off) in enumerate(zip(creates, offsets, strict=True)):
            n = len(code)
            out += copy_code(at, off, n)
            if op == CREATE2:
                out += asm(p(salt, 32))
            out += asm(p(n, 2), p(at, 2), p(value, 4), op, p(i), 0x55, 0x3D, p(16 + i), 0x55)
        return out + (tail or asm(0x00))

    size = len(main([0] * len(creates)))
    offsets, at = [], size
    for code, _, _, _ in creates:
        offsets.append(at)
        at += len(code)
    return main(offsets) + b"".join(c for c, _, _, _ in creates)


def call_created(slot: int) -> bytes:
    """CALL the address stored at `slot` (the created child), RETURN its 32-byte output."""
    return asm(p(32), p(0), p(0), p(0), p(0), p(slot), 0x54, GAS, CALL, 0x50, p(32), p(0), 0xF3)


SALT = 0x5A17
# fmt: off
FACTORIES: dict[str, tuple[list[tuple[bytes, int, int, int]], bytes]] = {
    # a child by CREATE with a value, then by CREATE2, then called
    "create": ([(INIT_OK, CREATE, 7, 0), (INIT_OK, CREATE2, 0, SALT)], call_created(1)),
    # the same CREATE2 twice: the second collides (0, its gas burnt)
    "collision": ([(INIT_OK, CREATE2, 3, SALT), (INIT_OK, CREATE2, 0, SALT)], b""),
    # constructors that fail: revert data, a halt, 0xEF code, code above 24,576 bytes, no gas for the deposit
    # (a failed deposit or a halt burns the child's gas: one per transaction)
    "revert": ([(INIT_REVERT, CREATE, 5, 0)], asm(0x3D, p(0), p(0), 0x3E, p(32), p(0), 0xF3)),
    "ef": ([(INIT_EF, CREATE, 0, 0)], b""),
    "too_big": ([(INIT_TOO_BIG, CREATE2, 0, 2)], b""),
    "halt": ([(INIT_HALT, CREATE2, 0, 1)], b""),
    # called with 80,000 gas (by "oog"): the deposit's 200 per byte is more than the child has left
    "deposit_oog": ([(INIT_DEPOSIT_OOG, CREATE, 1, 0)], b""),
    # no code deposited: a constructor that STOPs, an empty initcode; two levels of creation
    "nocode": ([(INIT_STOP, CREATE, 0, 0), (b"", CREATE2, 2, 3), (b"", CREATE, 0, 0), (INIT_NESTED, CREATE, 0, 0),
                (INIT_FALL_OFF, CREATE2, 0, 4)], b""),
    # CREATE2 onto an address that already holds a balance (a counterfactual wallet): no collision
    "prefunded": ([(INIT_OK, CREATE2, 1, SALT)], b""),
    # a value above the balance: 0 without a frame
    "poor": ([(INIT_OK, CREATE, 10**6, 0)], b""),
    # above the inline bound: initcode and deposited code hashed by memory-sponge micro-steps
    "big": ([(INIT_BIG, CREATE2, 0, SALT), (INIT_BIG, CREATE, 3, 0), (INIT_BIG_CODE, CREATE, 0, 0)],
            call_created(0)),
}
# fmt: on
# an initcode read from memory 13 (unaligned) whose runtime is RETURNed from memory 45
UNALIGNED = factory([(INIT_UNALIGNED, CREATE2, 9, SALT), (INIT_UNALIGNED, CREATE, 0, 0)], call_created(0), at=13)
RAW_FACTORIES = {
    "unaligned": UNALIGNED,
    # 49,153 bytes of initcode (EIP-3860 limit + 1): hashed, then py-evm halts the creator after the address
    "huge_initcode": asm(p(49_153, 3), p(0), p(0), CREATE, p(0), 0x55, 0x00),
    # 600 zero bytes of initcode (a STOP) straight from memory
    "zero_initcode": asm(p(600, 2), p(0), p(0), CREATE, p(0), 0x55, 0x00),
}
OOG_CALLER = asm(p(0), p(0), p(0), p(0), p(0), addr("factory/deposit_oog"), p(80_000, 3), CALL, p(0), 0x52,
                 p(32), p(0), 0xF3)  # fmt: skip
STATIC_CALLER = asm(p(0), p(0), p(0), p(0), addr("factory/create"), GAS, STATICCALL, p(0), 0x52, p(32), p(0), 0xF3)

PREFUNDED = create_address(addr("factory/prefunded"), 0, SALT, INIT_OK)


def runtime(name: str) -> bytes:
    return bytes.fromhex(load_artifact(name, TEST_ARTIFACTS)["deployedBytecode"][2:])


def fn(signature: str, types: list[str], args: list[object]) -> bytes:
    return keccak(signature.encode())[:4] + encode(types, args)


# tests/contracts/CloneFactory.sol: EIP-1167 clones of a counter (OpenZeppelin Clones' assembly), CREATE / CREATE2
CLONES, IMPL = addr("clone factory"), addr("clone counter")
CLONE_RUNTIME = bytes.fromhex("363d3d373d3d3d363d73") + IMPL + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
CLONE_INIT = bytes.fromhex("3d602d80600a3d3981f3") + CLONE_RUNTIME
CLONE = create_address(CLONES, 0)  # the factory's first CREATE (its genesis nonce is 0)
# transactions with calldata: name -> (to, data); the others call addr(name) with none
CALLDATA = {
    "clone": (CLONES, fn("clone(address)", ["address"], [IMPL])),
    "clone2": (CLONES, fn("cloneDeterministic(address,bytes32)", ["address", "bytes32"], [IMPL, b"s" * 32])),
    "clone2-again": (CLONES, fn("cloneDeterministic(address,bytes32)", ["address", "bytes32"], [IMPL, b"s" * 32])),
    "use-clone": (CLONE, fn("increment()", [], [])),
}
KEYS = [Key.derive("osp-create", i) for i in range(2)]
CALLERS = [*(f"factory/{n}" for n in [*FACTORIES, *RAW_FACTORIES] if n != "deposit_oog"), "static", "oog",
           *CALLDATA]  # fmt: skip


def tx_for(name: str, nonce: int) -> bytes:
    to, data = CALLDATA.get(name, (addr(name), b""))
    return sign(KEYS[0], CHAIN_ID, nonce, to, 0, data, 3_000_000)


# the initcode frames', the called child's and the called factories' code records
ORACLE_CODES = (*INITCODES, RUNTIME, BIG_RUNTIME, bytes(600), CLONE_INIT, CLONE_RUNTIME, runtime("CloneCounter"),
                *(factory(*FACTORIES[n]) for n in ("create", "deposit_oog")))  # fmt: skip


def _spec() -> ChainSpec:
    """The factories (1,000 wei each), the static caller, a funded EOA, the test keys."""
    base = ChainSpec(chain_id=CHAIN_ID)
    alloc = dict(Workload("osp-create", KEYS).spec(base).alloc)
    for name, (creates, tail) in FACTORIES.items():
        alloc[addr("factory/" + name)] = GenesisAccount(code=factory(creates, tail), balance=1_000)
    for name, code in RAW_FACTORIES.items():
        alloc[addr("factory/" + name)] = GenesisAccount(code=code, balance=1_000)
    alloc[PREFUNDED] = GenesisAccount(balance=1_234)
    alloc[addr("static")] = GenesisAccount(code=STATIC_CALLER)
    alloc[addr("oog")] = GenesisAccount(code=OOG_CALLER)
    alloc[CLONES] = GenesisAccount(code=runtime("CloneFactory"))
    alloc[IMPL] = GenesisAccount(code=runtime("CloneCounter"))
    return base.__class__(**{**base.__dict__, "alloc": tuple(sorted(alloc.items()))})


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trace]]:
    spec = _spec()
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-create")) / "chain", spec, map_size=1 << 30)
    try:
        builder = chain.open_block(BlockAttributes(1_000, L1Origin(3)))
        out = {}
        for nonce, name in enumerate(CALLERS):
            out[name] = trace_transaction(builder, tx_for(name, nonce), spec)
        yield out
    finally:
        chain.close()


@pytest.fixture(scope="module")
def traced(traces: dict[str, Trace]) -> dict[str, list[Checked]]:
    return {name: check(trace) for name, trace in traces.items()}  # Python == py-evm at every step


def kind(c: Checked) -> str:
    """CREATE[2]/<load|frame|empty|collision|fail|halt>, DEPOSIT/<ok|none|ef|size|gas>,
    CREATE_RETURN/<revert|halt>, or EXEC."""
    st = c.state
    pc = st.frame.pc
    op = st.code.code[pc] if pc < len(st.code.code) else 0
    if c.proof is None:
        return "refused"
    post, _ = step_sections(st)
    if post.sponge is not None and post.sponge != st.sponge and post.committed_frame() == st.committed_frame():
        purpose = post.sponge.purpose  # the memory sponge (21.1): opened, a block, the final tail
        what = "create" if purpose in (PURPOSE_CREATE, PURPOSE_CREATE_DONE) else "deposit"
        if st.sponge is None:
            return f"SPONGE/open-{what}"
        return f"SPONGE/final-{what}" if purpose in (PURPOSE_CREATE_DONE, PURPOSE_DEPOSIT_DONE) else "SPONGE/block"
    big = "-digest" if st.sponge is not None else ""  # the opcode runs with a finished sponge's digest
    if op in (CREATE, CREATE2):
        name = ("CREATE" if op == CREATE else "CREATE2") + big
        if post.ms.phase == EXEC and post.committed_frame() == st.committed_frame():
            return name + "/load"
        if post.frame.depth > st.frame.depth:
            return name + ("/frame-value" if st.stack[-1] else "/frame")
        if post.ms.phase == TX_END or len(post.parents) < len(st.parents):
            return name + "/halt"
        if post.stack[-1] == 0:
            assert st.journal is not None and post.journal is not None
            return name + ("/collision" if post.journal.root != st.journal.root else "/fail")
        return name + "/empty"
    if st.frame.kind >= 4 and post.frame.depth < st.frame.depth:
        how = {0xF3: "return", 0xFD: "revert", 0x00: "stop"}.get(op, "halt") if pc < len(st.code.code) else "end"
        if how in ("return", "stop", "end"):
            if post.stack[-1] == 0:
                size = st.stack[-2] if how == "return" else 0
                first = st.memory.read(st.stack[-1], 1) if size else b""
                return "DEPOSIT/" + ("size" if size > 24_576 else "ef" if first == b"\xef" else "gas")
            return "DEPOSIT/" + ("ok" + big if how == "return" and st.stack[-2] else "none")
        return "CREATE_RETURN/" + how
    return "EXEC"


def test_python_follows_pyevm_through_creates(traces: dict[str, Trace], traced: dict[str, list[Checked]]) -> None:
    """Every opcode of every frame (initcode frames included) steps to py-evm's next state; the end
    commits to py-evm's root; the children are where py-evm put them, with the code it deposited."""
    kinds = {kind(c) for cs in traced.values() for c in cs}
    for k in ("CREATE/load", "CREATE/frame-value", "CREATE/frame", "CREATE/empty", "CREATE/fail",
              "CREATE2/load", "CREATE2/frame", "CREATE2/frame-value", "CREATE2/empty", "CREATE2/collision",
              "DEPOSIT/ok", "DEPOSIT/none", "DEPOSIT/ef", "DEPOSIT/size", "DEPOSIT/gas",
              "CREATE_RETURN/revert", "CREATE_RETURN/halt", "SPONGE/open-create", "SPONGE/open-deposit",
              "SPONGE/block", "SPONGE/final-create", "SPONGE/final-deposit", "CREATE-digest/load",
              "CREATE2-digest/frame", "CREATE-digest/frame-value", "DEPOSIT/ok-digest"):  # fmt: skip
        assert k in kinds, (k, sorted(kinds))
    for name, trace in traces.items():
        post, _ = step_sections(trace.states[-1])
        assert post.ms.phase == TX_END and commit_root(trace, post) == trace.post_root, name
    assert not any(c.proof is None for cs in traced.values() for c in cs)  # nothing refused by name
    assert not traces["factory/huge_initcode"].success and traces["factory/huge_initcode"].gas_left == 0
    fac = addr("factory/create")
    first = create_address(fac, 0)  # the genesis factory's nonce is 0
    assert traces["factory/create"].output == (42).to_bytes(32, "big")  # the created child, called
    assert traces["factory/unaligned"].output == (42).to_bytes(32, "big")
    assert traces["factory/big"].output == (42).to_bytes(32, "big")  # the 700-byte code deposited by the sponge
    big = create_address(addr("factory/big"), 0, SALT, INIT_BIG)
    world = traces["factory/big"].states[-1].journal
    assert world is not None
    assert AccountEntry.decode(world.get(account_key(big)).payload).code_hash == keccak(BIG_RUNTIME)
    second = create_address(fac, 0, SALT, INIT_OK)
    world = traces["factory/create"].states[-1].journal
    assert world is not None
    for a, value in ((first, 7), (second, 0)):
        entry = AccountEntry.decode(world.get(account_key(a)).payload)
        assert (entry.nonce, entry.balance, entry.code_hash) == (1, value, keccak(RUNTIME)), a.hex()
    world = traces["factory/prefunded"].states[-1].journal
    assert world is not None
    entry = AccountEntry.decode(world.get(account_key(PREFUNDED)).payload)
    assert (entry.nonce, entry.balance, entry.code_hash, entry.orig_balance) == (1, 1_235, keccak(RUNTIME), 1_234)
    # OpenZeppelin clones: by CREATE at the nonce address, by CREATE2, the second CREATE2 collides (0),
    # and the clone runs (DELEGATECALL into the counter, in its own storage)
    assert traces["clone"].output == b"\0" * 12 + CLONE
    clone2 = create_address(CLONES, 1, int.from_bytes(b"s" * 32, "big"), CLONE_INIT)
    assert traces["clone2"].output == b"\0" * 12 + clone2 and traces["clone2-again"].output == bytes(32)
    assert traces["use-clone"].success and traces["use-clone"].output == (1).to_bytes(32, "big")
    world = traces["clone2"].states[-1].journal
    assert world is not None
    assert AccountEntry.decode(world.get(account_key(clone2)).payload).code_hash == keccak(CLONE_RUNTIME)
    depths = {c.state.frame.depth for c in traced["factory/nocode"]}
    assert depths == {0, 1}  # the nested empty CREATE runs no frame
    assert not traces["static"].output.strip(b"\0")  # the factory halted in the static frame: 0


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ORACLE_CODES)


def _largest(traced: dict[str, list[Checked]]) -> dict[str, Checked]:
    return largest_by(traced, kind, lambda k: k.startswith(("CREATE", "DEPOSIT", "SPONGE")))


def test_every_step_verifies_on_l1(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    proven = proven_of({n: cs for n, cs in traced.items()})
    results = call_batch(anvil.url, prover, _calls([(c.state, c.proof or b"") for c in proven]))
    for c, (ok, data) in zip(proven, results, strict=True):
        assert ok, (kind(c), data.hex())
        assert data == c.post_hash, kind(c)
    assert sum(kind(c) != "EXEC" for c in proven) >= 25


def test_depth_limit_fails_the_create(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """At depth 1024 the CREATE fails without a frame (py-evm's STACK_DEPTH_LIMIT check): 0 pushed,
    no nonce change, no LOAD; proven on L1 (synthetic: no real trace reaches that depth). With less
    gas than its own cost (32000 + initcode words + memory) it halts the frame."""
    largest = _largest(traced)
    for k in ("CREATE/frame-value", "CREATE2/frame", "CREATE/frame"):
        pre = largest[k].state
        poor = replace(pre, frame=replace(pre.frame, gas=32_000), _cache={})
        post, proof = step(poor)
        assert post.ms.phase == TX_END or post.frame.depth < pre.frame.depth, k  # the frame halted
        ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, poor.hash(), proof)])
        assert ok and data == post.hash(), k
    for k in ("CREATE/frame-value", "CREATE2/frame"):
        pre = largest[k].state
        deep = replace(pre, frame=replace(pre.frame, depth=1024), _cache={})
        post, proof = step(deep)
        assert post.stack[-1] == 0 and post.frame.depth == 1024 and post.frame.pc == pre.frame.pc + 1
        assert post.journal is not None and pre.journal is not None and post.journal.root == pre.journal.root
        ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, deep.hash(), proof)])
        assert ok and data == post.hash(), k


def _with_account(st: ExecState, address: bytes, **changes: Any) -> ExecState:
    """`st` with one journal account entry changed (a synthetic but consistent pre-state)."""
    assert st.journal is not None
    journal = st.journal.copy()
    entry = AccountEntry.decode(journal.get(account_key(address)).payload)
    journal.update(entry.key, replace(entry, **changes).encode())
    return replace(st, journal=journal, _cache={})


def test_synthetic_nonce_limit_and_create2_over_storage(traced: dict[str, list[Checked]], anvil: Anvil,
                                                        prover: str) -> None:  # fmt: skip
    """A creator whose nonce is 2^64-1 fails the CREATE (0 pushed, no frame, nothing loaded: py-evm's
    nonce_too_high); a CREATE2 onto an account with storage (no nonce, no code: py-evm deletes
    that storage, which the journal cannot express) reverts `Unsupported("CREATE2_STORAGE")`."""
    largest = _largest(traced)
    pre = largest["CREATE/frame-value"].state
    maxed = _with_account(pre, pre.frame.address, nonce=(1 << 64) - 1)
    post, proof = step(maxed)
    assert post.stack[-1] == 0 and post.frame.depth == pre.frame.depth and post.frame.pc == pre.frame.pc + 1
    assert post.journal is not None and maxed.journal is not None and post.journal.root == maxed.journal.root
    ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, maxed.hash(), proof)])
    assert ok and data == post.hash()
    pre = largest["CREATE2/frame"].state
    target, _ = step(pre)
    stored = _with_account(pre, target.frame.address, orig_storage_root=keccak(b"some storage"))
    with pytest.raises(Unsupported) as info:
        step(stored)
    assert info.value.name == "CREATE2_STORAGE"
    ((ok, data),) = call_batch(anvil.url, prover, [step_calldata(CTX, stored.hash(), info.value.proof)])
    assert not ok and data == UNSUPPORTED_SELECTOR + b"CREATE2_STORAGE".ljust(32, b"\0")


def test_initcode_must_be_registered(traced: dict[str, list[Checked]], anvil: Anvil) -> None:
    """The initcode frame's code record is read live from the code oracle by keccak(initcode):
    unregistered, the CREATE reverts `CodeNotRegistered(codeHash)`; an empty initcode needs none."""
    bare = _deploy_prover(anvil.w3, ())
    largest = _largest(traced)
    cases = [largest[k] for k in ("CREATE/frame", "CREATE2/frame", "CREATE/empty")]
    results = call_batch(anvil.url, bare, _calls([(c.state, c.proof or b"") for c in cases]))
    selector = keccak(b"CodeNotRegistered(bytes32)")[:4]
    assert [data[:4] == selector and not ok for ok, data in results] == [True, True, False]
    assert results[2] == (True, largest["CREATE/empty"].post_hash)


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    largest = _largest(traced)
    accepted, tried = corruptions_accepted(anvil.url, prover, largest)
    assert not accepted, (len(accepted), accepted)
    assert tried > 1_000


@pytest.mark.slow
def test_proof_size_and_gas(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 21: per CREATE / deposit variant, the largest proof and its gas."""
    print("CREATE / deposit proofs:", proof_rows(anvil, prover, _largest(traced)))


# -- the level-2 trace of a whole block of such transactions (block_machine.BlockTrace) ----------


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockTrace]:
    """One block calling every factory but the refused ones, traced from its parent's claim."""
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-create-block")) / "chain", _spec(), map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        txs = [L2Tx(tx_for(n, i)) for i, n in enumerate(CALLERS)]
        (number,) = h.apply(h.source.batch([BlockStart(1_000, 5), *txs], delayed_read=0))
        yield h.trace(number, 1)  # asserts the trace ends on the chain's own block claim
    finally:
        chain.close()


def test_block_trace_runs_through_creates(block: BlockTrace) -> None:
    counts = block.counts()
    assert counts["TX_END"] == len(CALLERS)
    kinds = {block.machine(j).exec.frame.kind for j in range(block.steps) if block.machine(j).exec is not None}
    assert {4, 5} <= kinds


@pytest.mark.slow
def test_block_exec_steps_verify_on_l1(block: BlockTrace, anvil: Anvil, prover: str) -> None:
    """Every EXEC-phase step of the block (opcodes of every frame, their LOADs, CREATEs, deposits),
    and each transaction's TX_END and COMMIT walk after them, prove on L1 to the trace's next state."""
    assert block.game is not None
    ctx = GameContext(block.number, block.game.entry_limit, 0)
    steps = [j for j in range(block.steps) if block.machine(j).exec is not None
             or block.step_kind(j) in ("TX_END", "COMMIT")]  # fmt: skip
    results = call_batch(anvil.url, prover, [step_calldata(ctx, block.state(j), proof_for(block, j)) for j in steps])
    for j, (ok, data) in zip(steps, results, strict=True):
        assert ok and data == block.state(j + 1), (j, block.step_kind(j), data.hex())
