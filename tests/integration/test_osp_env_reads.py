"""BLOCKHASH and EXTCODECOPY in the one-step prover, on real py-evm traces of a Solidity contract
verified on anvil (docs/fraud-proofs.md 20).

A chain of 300 empty blocks, then a block of transactions calling tests/contracts/EnvReads.sol:
BLOCKHASH of number - 1, number - 256 (the oldest answered), number - 257, number, blocks far in the
future and near genesis; EXTCODECOPY of another contract (inside, across and past its code's end,
cold then warm), of an EOA and of a never-existing account. BLOCKHASH's proof reads slot
`n % 8191` of the EIP-2935 history contract in the pre-tx trie; the claim that it holds exactly what
py-evm's BLOCKHASH returns is checked first, at heights right after genesis and past 256, for every
n around the window. For every step: the tracer asserts Python == py-evm, `OneStepProver.step` on
anvil returns exactly the Python post-state, and every single-field corruption of the largest proof
of each variant is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth.vm.forks.prague.constants import HISTORY_STORAGE_CONTRACT_CODE
from eth_abi import decode, encode
from eth_hash.auto import keccak

from bench.workloads import Key, Workload, sign, token_artifact
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import EXEC
from l1.proofs.journal import EMPTY_CODE_HASH, FLAG_WARM, AccountEntry, account_key
from l1.proofs.mpt import EMPTY_ROOT
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import (
    BLOCKHASH_DEPTH,
    HISTORY_CODE_HASH,
    ExecState,
    Unsupported,
    blockhash_in_range,
    history_read,
    step_sections,
)
from l1.proofs.tracer import Checked, Trace, check, commit_root, trace_transaction
from l1.proofs.tx_proofs import proof_for
from l2.chain import L2Chain
from l2.messages import BlockStart, L2Tx
from l2.spec import ChainSpec, GenesisAccount
from l2.types import BlockAttributes, Head, L1Origin
from tests.integration.test_osp_exec import (
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
MASK = (1 << 160) - 1
KEYS = [Key.derive("osp-env-reads", 0)]
TEST_ARTIFACTS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts"
PREFIX = 300  # empty blocks before the traced one (BLOCKHASH's window is 256)
NUMBER = PREFIX + 1  # the traced block
CHECKED_HEIGHTS = (*range(1, 21), 255, 256, 257, 258, 299, 300, NUMBER)


def addr(name: str) -> bytes:
    return keccak(b"osp-env-reads/" + name.encode())[:20]


ENV, TOKEN, EOA, NEW, NEW2, DELEGATED = (
    addr(n) for n in ("env", "token", "eoa", "never existed", "never existed 2", "delegated")
)


def runtime(name: str) -> bytes:
    art = token_artifact() if name == "TestToken" else load_artifact(name, TEST_ARTIFACTS)
    return bytes.fromhex(art["deployedBytecode"][2:])


def fn(signature: str, types: list[str], args: list[object]) -> bytes:
    return keccak(signature.encode())[:4] + encode(types, args)


TOKEN_CODE = runtime("TestToken")
DESIGNATOR = b"\xef\x01\x00" + TOKEN  # an EIP-7702 delegation to the token: EXTCODECOPY copies these 23 bytes
FAR = (1 << 255, (1 << 256) - 1, 1 << 64)
HASHES_OF = (0, 1, NUMBER - 257, NUMBER - 256, NUMBER - 255, 200, NUMBER - 2, NUMBER - 1, NUMBER, NUMBER + 1, *FAR)


def copy(target: bytes, off: int, size: int) -> bytes:
    return fn("copy(address,uint256,uint256)", ["address", "uint256", "uint256"], [target, off, size])


# name -> (to, calldata)
# fmt: off
TXS: dict[str, tuple[bytes, bytes]] = {
    "hashes": (ENV, fn("hashes()", [], [])),
    "hashes_of": (ENV, fn("hashesOf(uint256[])", ["uint256[]"], [list(HASHES_OF)])),
    "copy_token": (ENV, copy(TOKEN, 0, 64)),
    "copy_tail": (ENV, copy(TOKEN, len(TOKEN_CODE) - 10, 40)),  # across the code's end: zero-padded
    "copy_past": (ENV, copy(TOKEN, len(TOKEN_CODE) + 5, 32)),  # wholly past the end
    "copy_far": (ENV, copy(TOKEN, 1 << 64, 32)),  # an offset of 2^64
    "copy_twice": (ENV, fn("copyTwice(address,uint256,uint256)", ["address", "uint256", "uint256"], [TOKEN, 5, 40])),
    "copy_eoa": (ENV, copy(EOA, 0, 32)),
    "copy_new": (ENV, copy(NEW, 3, 32)),  # an account that never existed
    "copy_self": (ENV, copy(ENV, 0, 100)),
    "copy_none": (ENV, copy(NEW2, 0, 0)),  # nothing copied: the access is still charged and warms
    "copy_delegated": (ENV, copy(DELEGATED, 0, 32)),
    "copy_long": (ENV, copy(TOKEN, 0, 600)),  # above INLINE: the COPY micro-steps (refused by name)
}
# fmt: on
REFUSED: dict[str, str] = {"copy_long": "COPY_PENDING"}
ORACLE_CODES = (TOKEN_CODE, runtime("EnvReads"), DESIGNATOR)


def _spec() -> ChainSpec:
    base = ChainSpec(chain_id=CHAIN_ID)
    alloc = dict(Workload("osp-env-reads", KEYS).spec(base).alloc)
    alloc[ENV] = GenesisAccount(code=runtime("EnvReads"))
    alloc[TOKEN] = GenesisAccount(code=TOKEN_CODE)
    alloc[EOA] = GenesisAccount(balance=10**18)
    alloc[DELEGATED] = GenesisAccount(code=DESIGNATOR, balance=1)
    return base.__class__(**{**base.__dict__, "alloc": tuple(sorted(alloc.items()))})


@dataclass
class Built:
    traces: dict[str, Trace]
    # per height checked: (n, py-evm's BLOCKHASH(n), the history slot read (None: out of range))
    history: dict[int, list[tuple[int, bytes, int | None]]]
    hashes: dict[int, bytes]  # block number -> hash


def _history_at(builder: object, number: int) -> list[tuple[int, bytes, int | None]]:
    """py-evm's BLOCKHASH(n) in block `number` against the twin's read, for every n around the
    window (and far ones)."""
    state = builder.state  # type: ignore[attr-defined]
    state.persist()
    db, root = state._account_db._raw_store_db, bytes(state.state_root)
    rows = []
    for n in (*range(max(0, number - BLOCKHASH_DEPTH - 3), number + 3), *FAR):
        ours = history_read(db, root, n)[0] if blockhash_in_range(number, n) else None
        rows.append((n, bytes(state.get_ancestor_hash(n)), ours))
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    spec = _spec()
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-env-reads")) / "chain", spec, map_size=1 << 30)
    try:
        history: dict[int, list[tuple[int, bytes, int | None]]] = {}
        hashes = {0: bytes(chain.head(Head.UNSAFE).hash)}
        for number in range(1, NUMBER):
            attrs = BlockAttributes(1_000 + number, L1Origin(3))
            if number in CHECKED_HEIGHTS:
                history[number] = _history_at(chain.open_block(attrs), number)
            sealed, _ = chain.build_block(attrs, [])
            hashes[number] = bytes(sealed.hash)
        builder = chain.open_block(BlockAttributes(1_000 + NUMBER, L1Origin(3)))
        assert builder.header.block_number == NUMBER
        history[NUMBER] = _history_at(builder, NUMBER)
        traces = {}
        for nonce, (name, (to, data)) in enumerate(TXS.items()):
            traces[name] = trace_transaction(builder, sign(KEYS[0], CHAIN_ID, nonce, to, 0, data, 500_000), spec)
        yield Built(traces, history, hashes)
    finally:
        chain.close()


@pytest.fixture(scope="module")
def traced(built: Built) -> dict[str, list[Checked]]:
    return {name: check(trace) for name, trace in built.traces.items()}  # Python == py-evm at every step


def test_history_slot_is_pyevm_blockhash(built: Built) -> None:
    """The claim BLOCKHASH's proof rests on: in block `number`, for every n with number - 256 <= n <
    number, slot n % 8191 of the EIP-2935 contract in the pre-tx state holds exactly py-evm's
    BLOCKHASH(n) (block 0's, the genesis hash, too: block 1 writes it); outside that window
    py-evm returns 0 and the proof reads nothing. Checked right after genesis and past 256."""
    assert keccak(HISTORY_STORAGE_CONTRACT_CODE) == HISTORY_CODE_HASH
    assert set(built.history) == set(CHECKED_HEIGHTS)
    for number, rows in built.history.items():
        in_range = 0
        for n, pyevm, ours in rows:
            if ours is None:
                assert pyevm == b"", (number, n)
                continue
            in_range += 1
            assert pyevm == built.hashes[n] and ours == int.from_bytes(pyevm, "big"), (number, n)
        assert in_range == min(number, BLOCKHASH_DEPTH), number


BLOCKHASH_KINDS = ("BLOCKHASH/hash", "BLOCKHASH/zero")
EXTCODECOPY_KINDS = ("EXTCODECOPY/load", "EXTCODECOPY/cold/code", "EXTCODECOPY/warm/code", "EXTCODECOPY/cold/past",
                     "EXTCODECOPY/cold/empty", "EXTCODECOPY/cold/none", "EXTCODECOPY/cold/delegated")  # fmt: skip


def _op(st: ExecState) -> int:
    pc = st.frame.pc
    return st.code.code[pc] if pc < len(st.code.code) else 0


def kind(c: Checked) -> str:
    """BLOCKHASH/<hash|zero>, EXTCODECOPY/<load|cold|warm|...>, or EXEC (the other opcodes)."""
    if c.proof is None:
        return "refused"
    st = c.state
    op = _op(st)
    if op == 0x40:
        n = st.stack[-1]
        return "BLOCKHASH/" + ("hash" if blockhash_in_range(st.block.number, n) else "zero")
    if op == 0x3C:
        post, _ = step_sections(st)
        if post.ms.phase == EXEC and post.committed_frame() == st.committed_frame():
            return "EXTCODECOPY/load"
        assert st.journal is not None
        entry = AccountEntry.decode(st.journal.get(account_key((st.stack[-1] & MASK).to_bytes(20, "big"))).payload)
        code = b"" if entry.code_hash == EMPTY_CODE_HASH else bytes(st.world_db[entry.code_hash])
        what = "none" if st.stack[-4] == 0 else "empty" if not code else "past" if st.stack[-3] >= len(code) else "code"
        what = "delegated" if code.startswith(b"\xef\x01\x00") else what
        return f"EXTCODECOPY/{'warm' if entry.flags & FLAG_WARM else 'cold'}/{what}"
    return "EXEC"


def _words(out: bytes) -> list[bytes]:
    return [out[i : i + 32] for i in range(0, len(out), 32)]


def test_python_follows_pyevm(built: Built, traced: dict[str, list[Checked]]) -> None:
    """Every opcode steps to py-evm's next state; the end commits to py-evm's root; the contract
    returned the hashes of the chain's blocks (0 outside the window)."""
    kinds = {kind(c) for cs in traced.values() for c in cs}
    for k in (*BLOCKHASH_KINDS, *EXTCODECOPY_KINDS):
        assert k in kinds, (k, sorted(kinds))
    for name, trace in built.traces.items():
        if name in REFUSED or any(c.proof is None for c in traced[name]):
            continue
        post, _ = step_sections(trace.states[-1])
        assert commit_root(trace, post) == trace.post_root, name
    h = built.hashes
    out = built.traces["hashes"].output
    assert _words(out) == [h[NUMBER - 1], h[NUMBER - 256], bytes(32), bytes(32), bytes(32)]
    (got,) = decode(["bytes32[]"], built.traces["hashes_of"].output)
    want = [h[n] if blockhash_in_range(NUMBER, n) else bytes(32) for n in HASHES_OF]
    assert list(got) == want and sum(w != bytes(32) for w in want) == 5
    copied = {name: decode(["bytes"], t.output)[0] for name, t in built.traces.items()
              if name.startswith("copy") and name not in REFUSED}  # fmt: skip
    env_code = runtime("EnvReads")
    assert copied == {
        "copy_token": TOKEN_CODE[:64], "copy_tail": TOKEN_CODE[-10:] + bytes(30), "copy_past": bytes(32),
        "copy_far": bytes(32), "copy_twice": TOKEN_CODE[5:45] * 2, "copy_eoa": bytes(32), "copy_new": bytes(32),
        "copy_self": env_code[:100], "copy_none": b"", "copy_delegated": DESIGNATOR + bytes(9),
    }  # fmt: skip


def test_blockhash_steps_read_nothing_out_of_range(traced: dict[str, list[Checked]]) -> None:
    """Out of the window the proof ends with the BlockCtx: no MPT proof is read."""
    for c in (c for cs in traced.values() for c in cs):
        if kind(c).startswith("BLOCKHASH/"):
            _, sections = step_sections(c.state)
            mpts = [s for s in sections if s.label == "mpt"]
            assert len(mpts) == (2 if kind(c) == "BLOCKHASH/hash" else 0)
            assert sections[-1 - len(mpts)].label == "BlockCtx"


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ORACLE_CODES)


def _proven(traced: dict[str, list[Checked]]) -> list[Checked]:
    return proven_of(traced)


def _largest(traced: dict[str, list[Checked]]) -> dict[str, Checked]:
    return largest_by(traced, kind, lambda k: k != "EXEC")


def test_refused_by_name(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """The refusals revert `Unsupported(name)` in Python and on L1; nothing else is refused."""
    refused = {name: [c for c in cs if c.proof is None] for name, cs in traced.items()}
    for name, cs in refused.items():  # copy_long: the 600-byte EXTCODECOPY, and solc's other long copies
        assert {c.unsupported for c in cs} == ({REFUSED[name]} if name in REFUSED else set()), name
    assert 0x3C in {_op(c.state) for c in refused["copy_long"]}
    cases = [cs[0] for cs in refused.values() if cs]
    proofs = []
    for c in cases:
        with pytest.raises(Unsupported) as info:
            step_sections(c.state)
        proofs.append(info.value.proof)
    results = call_batch(anvil.url, prover, _calls([(c.state, p) for c, p in zip(cases, proofs, strict=True)]))
    for c, (ok, data) in zip(cases, results, strict=True):
        assert not ok and data == UNSUPPORTED_SELECTOR + (c.unsupported or "").encode().ljust(32, b"\0")


def test_unregistered_code_names_its_hash(traced: dict[str, list[Checked]], anvil: Anvil) -> None:
    """An EXTCODECOPY of code the code oracle does not hold reverts `CodeNotRegistered(codeHash)`
    (as EXTCODESIZE: the dispute agent's Registrar registers that code and retries); an account
    without code needs no registration."""
    bare = _deploy_prover(anvil.w3, (runtime("EnvReads"),))  # the token's code not registered
    (token,) = [c for c in traced["copy_token"] if kind(c) == "EXTCODECOPY/cold/code"]
    empty = _largest(traced)["EXTCODECOPY/cold/empty"]
    (bad, good) = call_batch(
        anvil.url, bare, _calls([(token.state, token.proof or b""), (empty.state, empty.proof or b"")])
    )
    assert bad == (False, keccak(b"CodeNotRegistered(bytes32)")[:4] + keccak(TOKEN_CODE))
    assert good == (True, empty.post_hash)


def test_history_without_its_code_is_refused(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """A BLOCKHASH whose pre-tx trie has no EIP-2935 code at the history address (a world root of
    another state: here the empty trie) is refused by name, not answered 0."""
    c = _largest(traced)["BLOCKHASH/hash"]
    st = replace(c.state, ms=replace(c.state.ms, worldRoot=EMPTY_ROOT), _cache={})
    with pytest.raises(Unsupported) as info:
        step_sections(st)
    assert info.value.name == "BLOCKHASH_HISTORY"
    ((ok, data),) = call_batch(anvil.url, prover, _calls([(st, info.value.proof)]))
    assert not ok and data == UNSUPPORTED_SELECTOR + b"BLOCKHASH_HISTORY".ljust(32, b"\0")


def test_every_step_verifies_on_l1(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Every step of every trace on the deployed OneStepProver gives exactly the Python post-state."""
    proven = _proven(traced)
    results = call_batch(anvil.url, prover, _calls([(c.state, c.proof or b"") for c in proven]))
    for c, (ok, data) in zip(proven, results, strict=True):
        assert ok, (kind(c), data.hex())
        assert data == c.post_hash, kind(c)
    print("env-read steps verified:", len(proven))
    counts = {k: sum(kind(c) == k for c in proven) for k in ("BLOCKHASH/hash", "BLOCKHASH/zero")}
    assert counts == {"BLOCKHASH/hash": 7, "BLOCKHASH/zero": 11}, counts
    assert {kind(c) for c in proven} >= {*BLOCKHASH_KINDS, *EXTCODECOPY_KINDS}


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    largest = _largest(traced)
    accepted, tried = corruptions_accepted(anvil.url, prover, largest)
    assert not accepted, (len(accepted), accepted)
    print("env-read corruptions refused:", tried)
    assert set(largest) >= {*BLOCKHASH_KINDS, *EXTCODECOPY_KINDS}


def test_proof_size_and_gas(traced: dict[str, list[Checked]], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 20: per variant, the largest proof and its gas
    (eth_estimateGas of a transaction calling `step`)."""
    print("env-read proofs:", proof_rows(anvil, prover, _largest(traced)))


# -- the level-2 trace of a whole block of such transactions (block_machine.BlockTrace) ----------


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockTrace]:
    """Block 1 of a fresh chain (BLOCKHASH(0) is the genesis hash, read from the slot block 1's own
    start wrote) with BLOCKHASH and every EXTCODECOPY variant but the refused one, traced from its
    parent's claim."""
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp-env-reads-block")) / "chain", _spec(), map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        calls = [fn("hashesOf(uint256[])", ["uint256[]"], [[0, 1, 2, 1 << 255]])]
        calls += [data for name, (_, data) in TXS.items() if name.startswith("copy") and name not in REFUSED]
        txs = [L2Tx(sign(KEYS[0], CHAIN_ID, i, ENV, 0, data, 500_000)) for i, data in enumerate(calls)]
        (number,) = h.apply(h.source.batch([BlockStart(1_000, 0), *txs], delayed_read=0))
        assert number == 1
        yield h.trace(number, 1)  # asserts the trace ends on the chain's own block claim
    finally:
        chain.close()


@pytest.mark.slow
def test_block_exec_steps_verify_on_l1(block: BlockTrace, anvil: Anvil, prover: str) -> None:
    """The block's trace ends on the chain's block claim (the fixture); every EXEC-phase step
    (BLOCKHASH in and out of the window, EXTCODECOPY and its LOADs) and each transaction's TX_END
    and COMMIT walk, packed by `tx_proofs.proof_for`, prove on L1 to the trace's next state."""
    assert block.game is not None
    ops = {_op(m.exec) for m in (block.machine(j) for j in range(block.steps)) if m.exec is not None}
    assert {0x40, 0x3C} <= ops
    ctx = GameContext(block.number, block.game.entry_limit, 0)
    steps = [j for j in range(block.steps) if block.machine(j).exec is not None
             or block.step_kind(j) in ("TX_END", "COMMIT")]  # fmt: skip
    results = call_batch(anvil.url, prover, [step_calldata(ctx, block.state(j), proof_for(block, j)) for j in steps])
    for j, (ok, data) in zip(steps, results, strict=True):
        assert ok and data == block.state(j + 1), (j, block.step_kind(j), data.hex())
