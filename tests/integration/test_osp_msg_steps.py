"""NEXT_MESSAGE, TX_LOAD, DEPOSIT_LOAD and DATA_LOAD one-step proofs on whole block traces, proven on anvil
through the deployed `OneStepProver` (ExecMsg wired as `phaseSteps[IDLE]` and reached for phase
TX_LOAD through that phase's slot), with the bytes of every sponge block bound by the
`PreimageOracle` (docs/fraud-proofs.md 2.1, 2.2, 3.2, 16); proofs by `tx_proofs.proof_for`
(routed to `l1.proofs.msg_proofs`).

Blocks: ETH transfers (one of them sized so that `0x01 ++ raw` is a multiple of 136 bytes: an
empty final TX_LOAD block), an ERC-20 block with deposits placed by `Delayed` messages (one of
them repeated: a no-op; data of 0, 1 (below and above 0x80), 68 and 300 bytes) and one placed
after the last message, and two blocks of one entry (the first closed by a BlockStart).
Every step of these kinds must return exactly the trace's next state; every single-field
corruption of one instance of each variant is refused; the two holes of section 7 are closed
(other bytes in a non-final block, a BlockStart / Delayed leaf passed as an L2Tx).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1 import deploy as l1_deploy
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.dispute_agent import StepContext
from l1.dispute_level2 import CODE_NOT_REGISTERED, BlockTraceAdapter, ProverCheck, Registrar, codes_for
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import IDLE, TRIE, TX_LOAD
from l1.proofs.msg_proofs import KINDS, block_root, msg_proof, msg_sections, preimages_for
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import machine_state, proof_for
from l1.proofs.tx_steps import deposit_message_hash
from l1.transactions import L1Transactor, TransactorConfig
from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_hash
from l2.spec import ChainSpec
from tests.integration.test_dispute_level2 import TEST_ARTIFACTS
from tests.integration.test_osp_exec import DEV_KEY, UNSUPPORTED_SELECTOR, _deploy, call_batch
from tests.integration.test_osp_tx_steps import _call, corruptions
from tests.unit.test_block_trace import Harness, Source, transfers

CHAIN_ID = 901
SELECTOR = keccak(b"step(bytes32,bytes)")[:4]
MAX_SIZE = 128 * 1024 + 1  # PreimageOracle.MAX_SIZE


def _error(signature: str, *args: bytes) -> bytes:
    return keccak(signature.encode())[:4] + b"".join(args)


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


def _send(w3: Web3, to: str, data: bytes, gas: int = 5_000_000) -> dict:
    """A transaction from the dev key (`to` empty: a deployment), waited for: its receipt."""
    account = Account.from_key(DEV_KEY)
    tx = {"from": account.address, **({"to": to} if to else {}), "data": data, "gas": gas, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(account.address), "maxFeePerGas": 10**10,
          "maxPriorityFeePerGas": 1}  # fmt: skip
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash))


def register(w3: Web3, oracle: str, data: bytes) -> dict:
    """`PreimageOracle.register(data)` as a transaction from the dev key: its receipt."""
    contract = w3.eth.contract(address=oracle, abi=load_artifact("PreimageOracle")["abi"])
    return _send(w3, oracle, bytes.fromhex(contract.encode_abi("register", [data])[2:]), gas=10_000_000)


def record(w3: Web3, oracle: str, key: bytes) -> tuple[bool, int, int, bytes]:
    contract = w3.eth.contract(address=oracle, abi=load_artifact("PreimageOracle")["abi"])
    known, size, first, root = contract.functions.get(key).call()
    return known, size, first, bytes(root)


@dataclass(frozen=True)
class Deployed:
    prover: str  # OneStepProver
    exec_msg: str  # its phaseSteps[IDLE]
    oracle: str  # the PreimageOracle ExecMsg reads
    delayed: str  # the DelayedInbox accumulators it reads (a stand-in: DelayedAccumulators)


def _delayed_accumulators(w3: Web3, traces: dict[str, BlockTrace]) -> str:
    """tests/contracts/DelayedAccumulators holding the accumulators of the traces' deposits (every
    deposit of the source is loaded by some DEPOSIT_LOAD of the traces), chained as DelayedInbox does."""
    deposits = {t.witness(j).index: t.witness(j) for _, t, j in _cases(traces) if t.step_kind(j) == "DEPOSIT_LOAD"}
    assert sorted(deposits) == list(range(len(deposits))) and len(deposits) == 5
    artifact = json.loads((TEST_ARTIFACTS / "DelayedAccumulators.json").read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = _send(w3, "", bytes.fromhex(factory.constructor().data_in_transaction[2:]))
    address = receipt["contractAddress"]
    contract = w3.eth.contract(address=address, abi=artifact["abi"])
    for i in sorted(deposits):
        data = contract.encode_abi("append", [deposit_message_hash(deposits[i])])
        assert _send(w3, address, bytes.fromhex(data[2:]))["status"] == 1
    return address


def _deploy_prover(w3: Web3, code_oracle: str, oracle: str, delayed: str) -> dict[str, str]:
    """`deploy_onestep` reading these oracles; without a phase-TX_LOAD router in PHASE_STEPS[3],
    ExecMsg fills that slot too (the router forwards these kinds to it unchanged)."""
    patched = 3 not in l1_deploy.PHASE_STEPS
    if patched:
        l1_deploy.PHASE_STEPS[3] = "ExecMsg"
    try:
        return l1_deploy.deploy_onestep(w3, Account.from_key(DEV_KEY), ChainSpec(chain_id=CHAIN_ID), code_oracle,
                                        {"PreimageOracle": oracle, "DelayedInbox": delayed})  # fmt: skip
    finally:
        if patched:
            del l1_deploy.PHASE_STEPS[3]


@pytest.fixture(scope="module")
def deployed(anvil: Anvil, traces: dict[str, BlockTrace]) -> Deployed:
    """The prover as `deploy_prover` builds it (CodeOracle, PreimageOracle, the step contracts),
    with every preimage the traces' steps read registered. Until the phase-TX_LOAD router
    (PHASE_STEPS[3]) is in l1/deploy.py, ExecMsg also fills that slot here, as the router would
    forward these kinds to it unchanged."""
    w3 = anvil.w3
    code_oracle, oracle = _deploy(w3, "CodeOracle"), _deploy(w3, "PreimageOracle")
    delayed = _delayed_accumulators(w3, traces)
    out = _deploy_prover(w3, code_oracle, oracle, delayed)
    preimages = {p for _, t, j in _cases(traces) for p in preimages_for(t, j)}
    for data in sorted(preimages):
        assert register(w3, oracle, data)["status"] == 1
    return Deployed(out["OneStepProver"], out["ExecMsg"], oracle, delayed)


def _direct(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    """Calldata of `ExecMsg.step(pre, proof)` (the phase contract called without the prover)."""
    return SELECTOR + encode(["bytes32", "bytes"], [trace.state(j), proof])


def _variant(trace: BlockTrace, j: int) -> str:
    m, post = trace.machine(j), trace.machine(j + 1)
    if trace.step_kind(j) == "DEPOSIT_LOAD":
        w = trace.witness(j)
        return "deposit_load/" + ("bare" if w.bare_byte else f"len{min(w.data_len, 2)}")
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
                "data_load/final/len2/first", "data_load/final/len1/first", "data_load/final/len0/first",
                "deposit_load/len0", "deposit_load/bare", "deposit_load/len1", "deposit_load/len2"}  # fmt: skip
    assert expected <= variants, variants


def test_proof_for_routes_the_kinds_here(traces: dict[str, BlockTrace]) -> None:
    """`tx_proofs.proof_for` packs these kinds by msg_proofs (kind_proofs.PROVERS), and each
    sponge run's preimage is what its blocks spell: `0x01 ++ raw` of the L2Tx, the deposit data."""
    for _, t, j in _cases(traces):
        assert proof_for(t, j) == msg_proof(t, j)
        kind = t.step_kind(j)
        if kind == "TX_LOAD":
            (pre,) = preimages_for(t, j)
            assert keccak(pre) == t.machine(j).tx.msgLeaf  # type: ignore[union-attr]
        if kind == "DATA_LOAD":
            (pre,) = preimages_for(t, j)
            assert keccak(pre) == t.machine(j).pending.expected  # type: ignore[union-attr]


@pytest.mark.slow
def test_every_message_and_load_step_verifies_through_the_prover(traces: dict[str, BlockTrace], anvil: Anvil,
                                                                 deployed: Deployed) -> None:  # fmt: skip
    cases = _cases(traces)
    assert len(cases) > 20
    results = call_batch(anvil.url, deployed.prover, [_call(t, j, proof_for(t, j)) for _, t, j in cases])
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
                                                  deployed: Deployed) -> None:  # fmt: skip
    cases = [(v, t, j, label, bad) for v, (t, j, _) in _picked(traces).items()
             for label, bad in corruptions(msg_sections(t, j))]  # fmt: skip
    results = call_batch(anvil.url, deployed.prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    # and not one corruption is accepted with another post-state: every input is bound
    moved = [f"{v}: {label}" for (v, t, j, label, _), (ok, _) in zip(cases, results, strict=True) if ok]
    assert not moved, moved
    print("single-field corruptions refused:", len(cases))
    assert len(cases) > 300, len(cases)


@pytest.mark.slow
def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, deployed: Deployed) -> None:
    """Figures for docs/fraud-proofs.md 5 and 16: per variant the largest proof and the gas of a
    transaction calling the prover's `step` (eth_estimateGas: calldata and the 21k base included)."""
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j, size) in sorted(_picked(traces).items()):
        data = "0x" + _call(t, j, msg_proof(t, j)).hex()
        rows.append((v, size, w3.eth.estimate_gas({"to": deployed.prover, "data": data})))  # type: ignore[typeddict-item]
    print("NEXT_MESSAGE / TX_LOAD / DATA_LOAD (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows)


def _with(sections: list[Section], label: str, data: bytes) -> bytes:
    return b"".join(data if s.label == label else s.data for s in sections)


def _first(traces: dict[str, BlockTrace], variant: str) -> tuple[BlockTrace, int]:
    return next((t, j) for _, t, j in _cases(traces) if _variant(t, j) == variant)


def test_other_bytes_in_a_non_final_block_are_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                      deployed: Deployed) -> None:  # fmt: skip
    """The hole of section 7: a non-final TX_LOAD / DATA_LOAD block with other bytes (the store
    words and siblings unchanged, so the write itself is consistent) used to give another valid
    post-state; the block is now checked against the oracle's record: `BlockNotInPreimage`."""
    calls = []
    for variant in ("tx_load/first", "data_load/len2/first"):
        t, j = _first(traces, variant)
        assert t.machine(j + 1).pending is not None  # a non-final block
        sections = msg_sections(t, j)
        data = next(s.data for s in sections if s.label == "Data")
        other = data[:50] + bytes([data[50] ^ 0x5A]) + data[51:]
        calls.append(_call(t, j, _with(sections, "Data", other)))
    for ok, data in call_batch(anvil.url, deployed.prover, calls):
        assert not ok and data == _error("BlockNotInPreimage()"), data.hex()


def _as_l2tx(t: BlockTrace, j: int) -> bytes:
    """NEXT_MESSAGE's proof of step j with its message (a BlockStart or Delayed) given as an L2Tx leaf."""
    sections = msg_sections(t, j)
    leaf = message_hash(t.witness(j).message)
    return b"".join(b"\x01" if s.label == "MsgKind" else leaf if s.label == "MsgBody" else s.data for s in sections)


def test_a_block_start_or_delayed_leaf_cannot_pass_as_an_l2tx(traces: dict[str, BlockTrace], anvil: Anvil,
                                                              deployed: Deployed) -> None:  # fmt: skip
    """The other hole of section 7: an L2Tx is given by its leaf only. Unregistered, the leaf is
    refused (`PreimageNotRegistered`); registered by a liar (anyone may register), its first
    byte (0x00 BlockStart, 0x02 Delayed) is not an L2Tx's: `BadMessage`."""
    cases = [_first(traces, v) for v in ("next/block_start", "next/delayed")]
    leaves = [message_hash(t.witness(j).message) for t, j in cases]
    calls = [_call(t, j, _as_l2tx(t, j)) for t, j in cases]
    for leaf, (ok, data) in zip(leaves, call_batch(anvil.url, deployed.prover, calls), strict=True):
        assert not ok and data == _error("PreimageNotRegistered(bytes32)", leaf), data.hex()
    for t, j in cases:
        assert register(anvil.w3, deployed.oracle, t.witness(j).message.encode())["status"] == 1
    for ok, data in call_batch(anvil.url, deployed.prover, calls):
        assert not ok and data == _error("BadMessage()"), data.hex()
    # the honest proofs of the same steps still land
    honest = call_batch(anvil.url, deployed.prover, [_call(t, j, proof_for(t, j)) for t, j in cases])
    for (t, j), (ok, data) in zip(cases, honest, strict=True):
        assert ok and data == t.state(j + 1)


def test_unregistered_preimages_are_refused_by_key(traces: dict[str, BlockTrace], anvil: Anvil,
                                                   deployed: Deployed) -> None:  # fmt: skip
    """An ExecMsg over an empty oracle: an L2Tx's NEXT_MESSAGE, every TX_LOAD / DATA_LOAD with data
    and a DEPOSIT_LOAD (its data's record) revert `PreimageNotRegistered(key)` (the honest agent
    registers first, section 16)."""
    bare = _deploy(anvil.w3, "ExecMsg", _deploy(anvil.w3, "PreimageOracle"), deployed.delayed)
    cases, keys = [], []
    for variant in ("next/l2tx", "tx_load/first", "data_load/len2/first", "deposit_load/len2"):
        t, j = _first(traces, variant)
        (pre,) = preimages_for(t, j)
        cases.append(_direct(t, j, msg_proof(t, j)))
        keys.append(keccak(pre))
    for key, (ok, data) in zip(keys, call_batch(anvil.url, bare, cases), strict=True):
        assert not ok and data == _error("PreimageNotRegistered(bytes32)", key), data.hex()


def test_other_steps_are_refused_by_name(traces: dict[str, BlockTrace], anvil: Anvil, deployed: Deployed) -> None:
    """ExecMsg refuses the kinds of phase TX_LOAD it does not prove by name (TX_DECODE, SIG_HASH,
    TX_START, DEPOSIT_START by TxCtx sub-stage, the router's convention `MachineState ++ TxCtx`),
    a proof of the machine state alone by the phase ("TX_LOAD"), any other phase as "PHASE", and
    an ExecMsg deployed without a DelayedInbox refuses DEPOSIT_LOAD ("DEPOSIT_LOAD")."""
    trace = traces["erc20"]
    first: dict[str, int] = {}
    for j in range(trace.steps):
        first.setdefault(trace.step_kind(j), j)
    calls, names = [], []
    for kind, name, with_tx in (("TX_DECODE", "TX_LOAD", False),
                                ("TX_DECODE", "TX_DECODE", True), ("SIG_HASH", "SIG_HASH", True),
                                ("TX_START", "TX_START", True), ("DEPOSIT_START", "DEPOSIT_START", True),
                                ("SYS_WRITE", "PHASE", False), ("COMMIT", "PHASE", False)):  # fmt: skip
        m = trace.machine(first[kind])
        proof = machine_state(m).preimage()
        if with_tx:
            assert m.tx is not None
            proof += m.tx.preimage()
        calls.append(_direct(trace, first[kind], proof))
        names.append((kind, name))
    results = call_batch(anvil.url, deployed.exec_msg, calls)
    no_inbox = _deploy(anvil.w3, "ExecMsg", deployed.oracle, "0x" + "00" * 20)
    t, j = _first(traces, "deposit_load/len2")
    results += call_batch(anvil.url, no_inbox, [_direct(t, j, msg_proof(t, j))])
    names.append(("DEPOSIT_LOAD", "DEPOSIT_LOAD"))
    for (kind, name), (ok, data) in zip(names, results, strict=True):
        assert not ok and data == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0"), (kind, data.hex())


# -- the oracle -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle(anvil: Anvil) -> str:
    return _deploy(anvil.w3, "PreimageOracle")


def test_oracle_records_size_first_byte_and_block_root(anvil: Anvil, oracle: str) -> None:
    """`register` computes the record the Python twin does (`msg_proofs.block_root`) for sizes
    around the 136-byte block boundary; the empty preimage is known without registration."""
    w3 = anvil.w3
    contract = w3.eth.contract(address=oracle, abi=load_artifact("PreimageOracle")["abi"])
    for size in (1, 2, 135, 136, 137, 272, 273, 1_000, 4_353):
        data = bytes((7 * i + size) % 256 for i in range(size))
        assert record(w3, oracle, keccak(data)) == (False, 0, 0, bytes(32))
        receipt = register(w3, oracle, data)
        assert receipt["status"] == 1 and len(receipt["logs"]) == 1
        assert record(w3, oracle, keccak(data)) == (True, size, data[0], block_root(data)), size
        assert bytes(contract.functions.blockRoot(data).call()) == block_root(data)
    assert record(w3, oracle, keccak(b"")) == (True, 0, 0, bytes(32))


def test_oracle_register_is_idempotent(anvil: Anvil, oracle: str) -> None:
    """A second registration of the same preimage changes nothing and logs nothing."""
    w3 = anvil.w3
    data = b"\x01" + bytes(range(256)) * 2
    first = register(w3, oracle, data)
    before = record(w3, oracle, keccak(data))
    again = register(w3, oracle, data)
    assert first["status"] == again["status"] == 1
    assert len(first["logs"]) == 1 and len(again["logs"]) == 0
    assert record(w3, oracle, keccak(data)) == before
    assert again["gasUsed"] < first["gasUsed"] - 40_000  # no storage written


def test_oracle_size_limit(anvil: Anvil, oracle: str) -> None:
    """MAX_SIZE (an L2Tx message of a 128 KiB transaction) registers; one byte more reverts
    `PreimageTooLarge(size)`."""
    w3 = anvil.w3
    contract = w3.eth.contract(address=oracle, abi=load_artifact("PreimageOracle")["abi"])
    assert contract.functions.MAX_SIZE().call() == MAX_SIZE
    largest = b"\x01" + bytes(i % 251 for i in range(MAX_SIZE - 1))
    receipt = register(w3, oracle, largest)
    assert receipt["status"] == 1
    assert record(w3, oracle, keccak(largest))[:2] == (True, MAX_SIZE)
    print("PreimageOracle.register gas, 128 KiB + 1:", receipt["gasUsed"])
    too_large = largest + b"\x00"
    call = {"to": oracle, "gas": hex(30_000_000), "data": contract.encode_abi("register", [too_large])}
    reply = w3.provider.make_request("eth_call", [call, "latest"])  # type: ignore[arg-type]
    revert = bytes.fromhex(str(reply["error"]["data"])[2:])
    assert revert == _error("PreimageTooLarge(uint256)", (MAX_SIZE + 1).to_bytes(32, "big"))


def test_oracle_register_gas(anvil: Anvil, oracle: str) -> None:
    """Gas of `register` as a transaction (calldata and the 21k base included), printed for the docs:
    the EIP-7623 calldata floor (40 gas per non-zero byte) dominates, the block tree is cheap."""
    rows = []
    for size in (110, 200, 1_000, 10_000):
        data = b"\x01" + bytes((3 * i + 1) % 256 for i in range(size - 1))
        receipt = register(anvil.w3, oracle, data)
        assert receipt["status"] == 1
        rows.append((size, receipt["gasUsed"]))
    print("PreimageOracle.register gas (bytes, gas):", rows)
    assert all(gas <= 75_000 + 42 * size for size, gas in rows), rows  # 21k + two new slots + calldata


# -- the dispute agent's registration ---------------------------------------------------------


def test_agent_registers_what_a_step_reads_before_proving(traces: dict[str, BlockTrace], anvil: Anvil) -> None:
    """`l1.dispute_level2.BlockTraceAdapter.proof` with a `Registrar`, over a fresh deployment with
    empty oracles: each step's preimage is registered (once: the steps of one transaction or one
    deposit share a record), then the prover's check passes and the proof is proof_for's;
    asked again, nothing is sent. A TX_CALL into the token registers the token's code in the
    CodeOracle (what TX_CALL reads live); a `CodeNotRegistered(hash)` revert registers that code."""
    w3 = anvil.w3
    code_oracle, oracle = _deploy(w3, "CodeOracle"), _deploy(w3, "PreimageOracle")
    prover = _deploy_prover(w3, code_oracle, oracle, _delayed_accumulators(w3, traces))["OneStepProver"]
    transactor = L1Transactor(w3, Account.from_key(DEV_ACCOUNTS[5][1]),
                              TransactorConfig(confirmations=1, poll_interval=0.05, min_balance=0))  # fmt: skip
    registrar = Registrar(w3, transactor, oracle, code_oracle)
    check = ProverCheck(w3, prover)
    variants = ("next/l2tx", "tx_load/first", "tx_load/next/final", "deposit_load/len2", "data_load/len2/first",
                "data_load/final/len2/next")  # fmt: skip
    picked = [_first(traces, v) for v in variants]
    expected = {keccak(p) for t, j in picked for p in preimages_for(t, j)}
    assert len(expected) < sum(len(preimages_for(t, j)) for t, j in picked)  # some records serve two steps
    for t, j in picked:
        adapter = BlockTraceAdapter(t, StepContext(t.number, t.game.entry_limit, 0), check, registrar)  # type: ignore[union-attr]
        assert adapter.proof(j) == proof_for(t, j)  # else Unprovable: the check refused it
    assert registrar.sent == len(expected)
    assert all(record(w3, oracle, key)[0] for key in expected)
    for t, j in picked:
        registrar.prepare(t, j)
    assert registrar.sent == len(expected)
    erc20 = traces["erc20"]
    call = next(j for j in range(erc20.steps) if erc20.step_kind(j) == "TX_CALL" and erc20.machine(j + 1).exec)
    (code,) = codes_for(erc20, call)
    codes = w3.eth.contract(address=code_oracle, abi=load_artifact("CodeOracle")["abi"])
    assert not codes.functions.get(keccak(code)).call()[0]
    registrar.prepare(erc20, call)
    assert codes.functions.get(keccak(code)).call()[0] and registrar.sent == len(expected) + 1
    # a code read outside the frames (EXTCODESIZE): registered after the check's CodeNotRegistered
    # revert, from the trace's state db; nothing for another revert, an unknown hash, or twice
    fresh = _deploy(w3, "CodeOracle")
    other = Registrar(w3, transactor, None, fresh)
    revert = CODE_NOT_REGISTERED + keccak(code)
    assert not other.register_missing_code(erc20, _error("BadMessage()") + keccak(code))
    assert not other.register_missing_code(erc20, CODE_NOT_REGISTERED + keccak(b"no such code"))
    assert other.register_missing_code(erc20, revert) and other.sent == 1
    assert not other.register_missing_code(erc20, revert) and other.sent == 1
    fresh_codes = w3.eth.contract(address=fresh, abi=load_artifact("CodeOracle")["abi"])
    assert fresh_codes.functions.get(keccak(code)).call()[0]
