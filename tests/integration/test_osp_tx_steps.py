"""The tx-level steps of the one-step prover on whole block traces, verified on anvil
(docs/fraud-proofs.md 2 intro, 2.5, 11): IDENTITY and COMMIT (`osp/ExecTx.sol`) and TX_END
(`osp/ExecTxEnd.sol`, reached through the prover's `phaseSteps`), with proofs packed by
`l1.proofs.tx_proofs.proof_for` from `BlockTrace`.

Blocks: ETH transfers (after an empty first block with a new origin, whose SYS commit walk has
slots), an ERC-20 block (transfer, approve, transferFrom, a reverting transfer, an ETH transfer,
a deposit calling the token: commit walks with slot writes and deletes), and four blocks of one
entry (mid-entry final claims). For every COMMIT and TX_END step and the identity step the
verifier must return exactly the trace's next state; every single-field corruption of the largest
instance of each COMMIT and TX_END variant and of an identity proof is refused; the other kinds
revert `Unsupported`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs.block_machine import BlockTrace
from l1.proofs.commitments import COMMIT, EXEC, TX_END
from l1.proofs.journal import SlotEntry
from l1.proofs.machine import CLAIM
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Section
from l1.proofs.tx_proofs import Unsupported, proof_for, proof_sections, tx_end_proof, tx_end_sections_of
from l2.chain import L2Chain
from l2.messages import BlockStart, Delayed, L2Tx, Message
from l2.spec import ChainSpec
from tests.integration.test_osp_exec import DEV_KEY, UNSUPPORTED_SELECTOR, _deploy_prover, call_batch
from tests.unit.test_block_trace import Harness, Source, transfers

CHAIN_ID = 901


def _ctx(trace: BlockTrace) -> GameContext:
    assert trace.game is not None
    return GameContext(trace.number, trace.game.entry_limit, 0)


def _call(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    return step_calldata(_ctx(trace), trace.state(j), proof)


def erc20_block(src: Source, keys: list[Key], token: bytes) -> list[Message]:
    """The ERC-20 block of these tests (after the token's deployment and 3 transfers of keys[0]):
    transfer, approve, transferFrom, a reverting transfer, a zero transfer, a whole-balance
    transfer, an ETH transfer, a deposit calling the token and one below its floor (the batch
    reads delayed messages 0 and 1)."""
    approve = bytes.fromhex("095ea7b3") + keys[2].address.rjust(32, b"\0") + (10**20).to_bytes(32, "big")
    transfer_from = (bytes.fromhex("23b872dd") + keys[1].address.rjust(32, b"\0")
                     + keys[3].address.rjust(32, b"\0") + (7).to_bytes(32, "big"))  # fmt: skip
    d = src.deposit(0, 4, 999, to=token, gas=200_000, data=transfer_calldata(keys[3].address, 1))
    skipped = src.deposit(7, 4, 999, gas=21_000, data=b"\x01" * 40)  # below its floor: no call, no coinbase
    return [
        BlockStart(1_004, 6),
        L2Tx(sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)),
        L2Tx(sign(keys[1], CHAIN_ID, 1, token, 0, approve, 200_000)),
        L2Tx(sign(keys[2], CHAIN_ID, 0, token, 0, transfer_from, 200_000)),
        L2Tx(sign(keys[3], CHAIN_ID, 0, token, 0, transfer_calldata(keys[2].address, 10**40), 200_000)),
        # a zero transfer: both balance slots loaded and rewritten unchanged (no trie write)
        L2Tx(sign(keys[1], CHAIN_ID, 2, token, 0, transfer_calldata(keys[3].address, 0), 200_000)),
        # keys[2]'s whole balance: its slot is deleted
        L2Tx(sign(keys[2], CHAIN_ID, 1, token, 0, transfer_calldata(keys[1].address, 10**30), 200_000)),
        *transfers(keys, 1, key=0, first_nonce=4),
        Delayed(d),
        Delayed(skipped),
    ]


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockTrace]]:
    keys = [Key.derive("test", i) for i in range(4)]
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("txsteps")) / "chain", spec, map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        src = h.source
        token = token_address(keys[0])
        deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
        h.apply(src.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))  # CREATE: not traced
        # a new origin: the SYS commit walk writes the L1Info slots too
        (eth,) = h.apply(src.batch([BlockStart(1_002, 6), *transfers(keys, 3, first_nonce=1)], delayed_read=0))
        messages = erc20_block(src, keys, token)
        (erc20,) = h.apply(src.batch(messages, delayed_read=2))
        several = h.apply(src.batch([BlockStart(1_006, 7), *transfers(keys, 1, key=3, first_nonce=1),
                                     BlockStart(1_007, 7)], delayed_read=2))  # fmt: skip
        # each block in the game of an assertion ending with its entry (its end claim at the limit),
        # the last entry's two blocks with the whole inbox (the first one ends mid-entry)
        limit = len(src.posted)
        out = {"eth": h.trace(eth, 2), "erc20": h.trace(erc20, 3),
               "mid_entry": h.trace(several[0], limit), "entry_end": h.trace(several[1], limit)}  # fmt: skip
        # with more entries, the ETH block's end claim is followed by an entry that derives blocks:
        # the verifier needs that entry (3.1) to tell ENTRY_SKIP from identity
        out["before_entry"] = h.trace(eth, limit)
        yield out
    finally:
        chain.close()


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ())


def _commit_steps(trace: BlockTrace) -> list[int]:
    return [j for j in range(trace.steps) if trace.step_kind(j) == "COMMIT"]


def _identity_positions(trace: BlockTrace) -> list[int]:
    return [trace.steps, trace.steps + 3]


def test_traces_reach_the_commit_variants(traces: dict[str, BlockTrace]) -> None:
    """The blocks hold every COMMIT variant: start, account visit, slot write / delete / no-op,
    account close with and without a write, the last step (phase IDLE)."""
    erc20 = traces["erc20"]
    commits = _commit_steps(erc20)
    assert len(commits) >= 6 * 7 + 4
    variants = {_variant(erc20, j) for j in commits}
    expected = {"start", "account", "slot/write", "slot/delete", "close/write", "close/none", "slot/none"}
    assert expected <= variants, variants
    assert any(erc20.machine(j + 1).phase != COMMIT for j in commits)  # walks end (IDLE)


def _variant(trace: BlockTrace, j: int) -> str:
    m, w = trace.machine(j), trace.witness(j)
    c = m.pending.cursor  # type: ignore[union-attr]
    if c.stage == 0:
        return "start"
    write = "write" if w.proof else "none"
    if c.close:
        return f"close/{write}"
    if w.leaf.leaf.kind == 1:
        return "account"
    if w.proof and SlotEntry.decode(w.leaf.leaf.payload).current == 0:
        return "slot/delete"
    return f"slot/{write}"


@pytest.mark.slow
def test_every_commit_and_identity_step_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil,
                                                      prover: str) -> None:  # fmt: skip
    cases: list[tuple[str, BlockTrace, int]] = []
    for name in ("eth", "erc20", "mid_entry", "entry_end"):
        trace = traces[name]
        cases += [(name, trace, j) for j in _commit_steps(trace) + _identity_positions(trace)]
    calls = [_call(trace, j, proof_for(trace, j)) for _, trace, j in cases]
    results = call_batch(anvil.url, prover, calls)
    for (name, trace, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (name, j, trace.step_kind(j), data.hex())
        assert data == trace.state(j + 1), (name, j, trace.step_kind(j))
    # the identity steps return the final claim itself, the commit steps move
    assert sum(1 for _, trace, j in cases if j >= trace.steps) == 8
    assert traces["mid_entry"].machine(traces["mid_entry"].steps).cursor.msgIndex != 0


@pytest.mark.slow
def test_exec_steps_of_a_block_verify_through_proof_for(traces: dict[str, BlockTrace], anvil: Anvil,
                                                       prover: str) -> None:  # fmt: skip
    """proof_for's EXEC route (steps.py's proofs, LOADs of opcodes included) on the ERC-20 block."""
    trace = traces["erc20"]
    js = [j for j in range(trace.steps) if trace.machine(j).exec is not None]
    assert len(js) > 1_000
    results = call_batch(anvil.url, prover, [_call(trace, j, proof_for(trace, j)) for j in js])
    for j, (ok, data) in zip(js, results, strict=True):
        assert ok and data == trace.state(j + 1), (j, trace.step_kind(j), data.hex())


def test_unsupported_kinds_revert_with_their_name(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    """One step of every kind without a Solidity twin: Python and the verifier refuse it by the
    same name (the claim steps and the identity before an entry: test_osp_block_start)."""
    trace = traces["erc20"]
    seen: dict[str, tuple[BlockTrace, int]] = {}
    for j in range(trace.steps):
        kind = trace.step_kind(j)
        proven = ("COMMIT", "EXEC", "LOAD_SLOT", "TX_END", "TRIE", "TRIE_SPONGE", "SEAL",  # TRIE..: test_osp_trie_steps
                  "TX_START", "DEPOSIT_START", "TX_SETUP", "TX_CALL",  # test_osp_tx_start
                  "NEXT_MESSAGE", "TX_LOAD", "DEPOSIT_LOAD", "DATA_LOAD",  # test_osp_msg_steps
                  "BLOCK_START", "ENTRY_SKIP", "SYS_WRITE", "LOAD_ACCOUNT",  # test_osp_block_start
                  "TX_DECODE", "SIG_HASH")  # test_osp_tx_decode
        if kind not in seen and kind not in proven and trace.machine(j).exec is None:
            seen[kind] = (trace, j)
    assert not seen, seen  # every kind of this block is proven now; any other must be refused by name
    names, calls = [], []
    for kind, (t, j) in seen.items():
        with pytest.raises(Unsupported) as info:
            proof_for(t, j)
        names.append((kind, info.value.name))
        calls.append(_call(t, j, info.value.proof))
    for (kind, name), (ok, data) in zip(names, call_batch(anvil.url, prover, calls), strict=True):
        assert not ok and data == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0"), (kind, name, data.hex())


# -- corruptions ----------------------------------------------------------------------------

LEAF_FIELDS = (("index", 0, 4), ("kind", 4, 1), ("key", 5, 64), ("nextKey", 69, 64), ("nextIndex", 133, 4))
PENDING_FIELDS = (("op", 0, 1), ("stage", 1, 1), ("leafIndex", 2, 4), ("accountIndex", 6, 4), ("storageRoot", 10, 32),
                  ("close", 42, 1))  # fmt: skip


def _fields(section: Section) -> list[tuple[str, int, int]]:
    """The fields of a proof section: a packed layout's, the journal leaf proof's and the pending's
    by name, else one per 32-byte word (MPT nodes: length word, offsets, node bytes, padding)."""
    if section.layout is not None:
        return [(name, off, size) for (name, off), (_, size, _) in
                zip(section.layout.offsets().items(), section.layout.LAYOUT, strict=True)]  # fmt: skip
    n = len(section.data)
    if section.label == "Pending":
        return list(PENDING_FIELDS)
    if section.label == "LeafProof":
        payload = n - 137 - 16 * 32
        siblings = [(f"sibling{i}", 137 + payload + 32 * i, 32) for i in range(16)]
        return [*LEAF_FIELDS, ("payload", 137, payload), *siblings]
    if section.label in ("Mpt", "Sibling"):
        out = [("length", 0, 4)]
        return out + [(f"word{i}", 4 + 32 * i, min(32, n - 4 - 32 * i)) for i in range((n - 4 + 31) // 32)]
    return [(f"word{i}", 32 * i, min(32, n - 32 * i)) for i in range((n + 31) // 32)]


def corruptions(sections: list[Section]) -> list[tuple[str, bytes]]:
    """Every single-field corruption of an honest proof (test_osp_exec's enumerator over labelled
    sections): the last byte of each field flipped, and the proof cut short by one byte."""
    honest = b"".join(s.data for s in sections)
    out = [("truncated", honest[:-1])]
    base = 0
    for section in sections:
        for name, off, size in _fields(section):
            if size <= 0:
                continue
            at = base + off + size - 1
            out.append((f"{section.label}.{name}", honest[:at] + bytes([honest[at] ^ 1]) + honest[at + 1 :]))
        base += len(section.data)
    return out


def _largest_per_variant(traces: dict[str, BlockTrace]) -> dict[str, tuple[BlockTrace, int]]:
    out: dict[str, tuple[BlockTrace, int, int]] = {}
    for trace in traces.values():
        for j in _commit_steps(trace):
            v = "commit/" + _variant(trace, j) + ("/last" if trace.machine(j + 1).phase != COMMIT else "")
            size = len(proof_for(trace, j))
            if v not in out or size > out[v][2]:
                out[v] = (trace, j, size)
    return {v: (t, j) for v, (t, j, _) in out.items()}


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    picked = _largest_per_variant(traces)
    picked["identity/entry_limit"] = (traces["erc20"], traces["erc20"].steps)
    picked["identity/mid_entry"] = (traces["mid_entry"], traces["mid_entry"].steps)
    cases: list[tuple[str, BlockTrace, int, str, bytes]] = []
    for variant, (trace, j) in picked.items():
        for label, bad in corruptions(proof_sections(trace, j)):
            cases.append((variant, trace, j, label, bad))
    results = call_batch(anvil.url, prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(picked) >= 8 and len(cases) > 300, (sorted(picked), len(cases))


@pytest.mark.slow
def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 5: per COMMIT variant and for IDENTITY, the largest proof
    and the gas of a transaction calling `step` (eth_estimateGas: calldata and the 21k base in)."""
    w3: Web3 = anvil.w3
    picked = _largest_per_variant(traces)
    picked["identity"] = (traces["erc20"], traces["erc20"].steps)
    rows = []
    for variant, (trace, j) in sorted(picked.items()):
        proof = proof_for(trace, j)
        gas = w3.eth.estimate_gas({"to": prover, "data": "0x" + _call(trace, j, proof).hex()})
        rows.append((variant, len(proof), gas))
    print("tx-level steps (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows)
    assert trace.machine(trace.steps).phase == CLAIM


# -- TX_END (osp/ExecTxEnd.sol, the deployed OneStepProver's phaseSteps[TX_END]) -----------------


def _tx_end_call(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    """`OneStepProver.step(ctx, pre, proof)`: the prover hands a TX_END step on to ExecTxEnd."""
    return _call(trace, j, proof)


def test_prover_wires_tx_end_to_its_deployed_contract(anvil: Anvil, prover: str) -> None:
    """The deployment's prover holds ExecTxEnd (with the chain's coinbase) in the TX_END slot and
    nothing in the slots of the phases it proves itself or cannot prove yet."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    slots = [osp.functions.phaseSteps(i).call() for i in range(osp.functions.PHASES().call())]
    tx_end = w3.eth.contract(address=slots[TX_END], abi=load_artifact("ExecTxEnd")["abi"])
    assert tx_end.functions.coinbase().call() == to_checksum_address(ChainSpec(chain_id=CHAIN_ID).fee_recipient)
    # EXEC and COMMIT are the prover's own; slot 0 (ExecBlockStart) needs the Inbox this deployment lacks
    assert not any(int(slots[i], 16) for i in (0, EXEC, COMMIT)), slots


def _tx_ends(traces: dict[str, BlockTrace]) -> list[tuple[str, BlockTrace, int]]:
    out = []
    for name in ("eth", "erc20", "mid_entry", "entry_end"):
        trace = traces[name]
        out += [(name, trace, j) for j in range(trace.steps) if trace.step_kind(j) == "TX_END"]
    return out


def _tx_end_variant(trace: BlockTrace, j: int) -> str:
    m = trace.machine(j)
    assert m.tx is not None
    if m.tx.kind == 1:
        return "deposit/" + ("call" if m.frame is not None else "skipped")
    return "user/" + ("code" if m.frame is not None else "transfer") + ("/ok" if m.tx.status & 1 else "/failed")


@pytest.mark.slow
def test_every_tx_end_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Every TX_END variant, proven through the deployed OneStepProver with `proof_for` (what the
    dispute agent sends), returns exactly the Python next state."""
    cases = _tx_ends(traces)
    assert {_tx_end_variant(t, j) for _, t, j in cases} == {"deposit/call", "deposit/skipped", "user/code/ok",
                                                            "user/code/failed", "user/transfer/ok"}  # fmt: skip
    assert all(proof_for(t, j) == tx_end_proof(t, j) for _, t, j in cases)
    results = call_batch(anvil.url, prover, [_tx_end_call(t, j, proof_for(t, j)) for _, t, j in cases])
    for (name, trace, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (name, j, data.hex())
        assert data == trace.state(j + 1), (name, j)


@pytest.mark.slow
def test_every_single_field_corruption_of_tx_end_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                            prover: str) -> None:  # fmt: skip
    picked: dict[str, tuple[BlockTrace, int]] = {}
    for _, t, j in _tx_ends(traces):
        picked.setdefault(_tx_end_variant(t, j), (t, j))
    cases = [(v, t, j, label, bad) for v, (t, j) in picked.items()
             for label, bad in corruptions(tx_end_sections_of(t, j))]  # fmt: skip
    results = call_batch(anvil.url, prover, [_tx_end_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(cases) > 500
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j) in sorted(picked.items()):
        proof = tx_end_proof(t, j)
        rows.append((v, len(proof), w3.eth.estimate_gas({"to": prover,
                                                         "data": "0x" + _tx_end_call(t, j, proof).hex()})))
    print("TX_END (variant, proof bytes, gas):", rows)


def test_prover_constructor_refuses_miswired_step_contracts(anvil: Anvil, prover: str) -> None:
    """The constructor refuses an ExecWorld reading another code oracle, a phase contract in a slot
    the prover proves itself (EXEC, COMMIT) and a slot without code; the deployment's wiring passes."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    spec = ChainSpec(chain_id=CHAIN_ID)
    world, tx_steps = osp.functions.world().call(), osp.functions.txSteps().call()
    oracle = osp.functions.codeOracle().call()
    slots = [osp.functions.phaseSteps(i).call() for i in range(osp.functions.PHASES().call())]
    artifact = load_artifact("OneStepProver")
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    sender = Account.from_key(DEV_KEY).address

    def attempt(oracle_: str, phase_steps: list[str]) -> None:
        args = (spec.chain_id, spec.gas_limit, to_checksum_address(spec.fee_recipient), oracle_, world, tx_steps)
        factory.constructor(*args, osp.functions.calls().call(), phase_steps).estimate_gas({"from": sender})

    attempt(oracle, slots)  # the deployment's own wiring
    bad = [
        (tx_steps, slots),  # ExecWorld reads another oracle
        (oracle, [*slots[:EXEC], slots[TX_END], *slots[EXEC + 1 :]]),
        (oracle, [*slots[:COMMIT], slots[TX_END], *slots[COMMIT + 1 :]]),
        (oracle, [*slots[:8], sender, slots[9]]),  # an account without code
    ]
    for oracle_, phase_steps in bad:
        with pytest.raises(ContractLogicError) as info:
            attempt(oracle_, phase_steps)
        assert "MisWired" in str(info.value) or keccak(b"MisWired(bytes32)")[:4].hex() in str(info.value.data)
