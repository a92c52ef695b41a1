"""The EVM one-step prover on real py-evm traces, verified on anvil (docs/fraud-proofs.md 2.3, 6.3).

ERC-20 transfer, approve, transferFrom and a reverting transfer, plus small contracts in the
genesis that reach the other supported opcodes, the end of the code, an explicit STOP and
each kind of exceptional halt. For every step the slice proves, the tracer has already
checked the Python step against py-evm's next state; here the Solidity verifier must
return exactly the Python post-state, every single-field corruption of one proof per step
kind must be refused, and every unsupported step must revert `Unsupported(name)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.message import Message
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address, transfer_calldata
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.deploy import deploy_onestep
from l1.proofs.buf import MEM_DEPTH, Buf
from l1.proofs.commitments import EXEC, TX_END, BlockAcc, BlockCtx, Code, Frame, MachineState, TxCtx
from l1.proofs.optable import OPS
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Chain, ExecState, Unsupported, step_sections
from l1.proofs.tracer import Checked, Trace, check, commit_root, trace_transaction
from l2.chain import L2Chain
from l2.deposits import Deposit, DepositTransaction
from l2.spec import ChainSpec, GenesisAccount
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, L1Origin

CHAIN_ID = 901
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
UNSUPPORTED_SELECTOR = keccak(b"Unsupported(bytes32)")[:4]
CTX = GameContext(1, 1, 0)


def asm(*parts: int | str | bytes) -> bytes:
    """Tiny assembler: ints are opcodes, `("PUSH", v)`-free: a bytes item is a PUSH of its length."""
    out = b""
    for part in parts:
        if isinstance(part, bytes):
            out += bytes([0x5F + len(part)]) + part
        elif isinstance(part, str):
            out += bytes.fromhex(part)
        else:
            out += bytes([part])
    return out


def p(v: int, n: int = 1) -> bytes:
    return v.to_bytes(n, "big")


# Everything the ERC-20 does not reach: arithmetic, environment, memory, hashing, jumps, DUP/SWAP 9-16.
_ARITH = b"".join(asm(p(7), p(0xFF, 32), op, 0x50) for op in range(0x01, 0x08))
_ARITH += asm(p(5), p(7), p(0xFF, 32), 0x08, 0x50, p(5), p(7), p(0xFF, 32), 0x09, 0x50, p(3, 2), p(3), 0x0A, 0x50)
_ARITH += asm(p(0x80), p(0), 0x0B, 0x50, p(1), p(0xF0, 32), 0x13, 0x50, p(1), p(2), 0x17, p(3), 0x18, 0x50)
_ARITH += asm(p(0xF0, 32), p(31), 0x1A, 0x50, p(0xF0, 32), p(4), 0x1D, 0x50, p(9), 0x19, 0x15, 0x50)
_ENV = asm(0x30, 0x32, 0x38, 0x3A, 0x3D, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x48, p(0), 0x49, 0x4A, 0x58, 0x5A)
_ENV += asm(*([0x50] * 16))
_MEM = asm(p(0xAB), p(35), 0x53, p(0x1234, 32), p(70), 0x52, p(60), 0x51, 0x50, 0x59, 0x50)
_MEM += asm(p(64), p(3), 0x20, 0x50, p(0), p(0), 0x20, 0x50, p(544, 2), p(1), 0x20, 0x50)
_MEM += asm(p(1), 0x35, 0x50, p(100), 0x35, 0x50, p(0xFF, 32), 0x35, 0x50, 0x36, 0x50)
_COPY = asm(p(40), p(3), p(200), 0x37, p(10), p(100), p(300, 2), 0x37, p(64), p(5), p(400, 2), 0x39)
_COPY += asm(p(544, 2), p(0x300, 2), p(1000, 2), 0x39, p(9), p(0xFFFF, 2), p(7), 0x39)
_COPY += asm(p(100), p(200), p(210), 0x5E, p(33), p(1), p(0), 0x5E, p(0), p(0), p(0xFF, 32), 0x5E)
_COPY += asm(p(0), p(0), p(0), 0x3E)
_STACK = asm(*[p(i) for i in range(17)], *range(0x88, 0x90), *range(0x96, 0xA0), *([0x50] * 25))
_PUSHES = b"".join(asm(bytes(range(1, n + 1)), 0x50) for n in (3, 5, 8, 13, 20, 31))
KITCHEN = _ARITH + _ENV + _MEM + _COPY + _STACK + _PUSHES + asm(p(0), p(3), 0x57, 0x5B)  # ... falls off the end
KITCHEN += asm(p(0))  # a last PUSH: the trace ends past the code (implicit STOP)

# World state: BALANCE / EXTCODEHASH / EXTCODESIZE (sizes from the code oracle) of a present
# (warm), an absent-existing and a never-existing
# account (LOAD_ACCOUNT first), SELFBALANCE, SLOAD / SSTORE on a slot with a genesis value and an
# empty one (LOAD_SLOT first, cold then warm, set, reset, clear with refund), LOG0..LOG4 with 0, 1
# (a one-byte RLP string), 33 and 544 bytes of data; `world` reverts at the end (the journal, logs,
# bloom and refund snapshot restored), `world_stop` keeps it all.
NEVER = keccak(b"never existed")[:20]
_WORLD = asm(0x47, 0x50, 0x33, 0x31, 0x50, NEVER, 0x31, 0x50, NEVER, 0x3F, 0x50, 0x30, 0x3F, 0x50)
_WORLD += asm(keccak(b"osp-contract/stop")[:20], 0x3F, keccak(b"osp-contract/stop")[:20], 0x31, 0x50, 0x50)
_WORLD += asm(0x33, 0x3B, 0x50, 0x30, 0x3B, 0x50, keccak(b"osp-contract/jumpi")[:20], 0x3B, 0x50)  # EXTCODESIZE
_WORLD += asm(p(1), 0x54, 0x50, p(1), 0x54, p(2), 0x54, 0x50, 0x50)
_WORLD += asm(p(9), p(2), 0x55, p(0), p(2), 0x55, p(3), p(1), 0x55, p(0), p(1), 0x55, p(7), p(1), 0x55)
_WORLD += asm(p(0x1234, 32), p(0), 0x52, p(0), p(0), 0xA0, p(0x55), p(1), p(31), 0xA1)
_WORLD += asm(p(0xAA, 32), p(0xBB, 2), p(33), p(3), 0xA2, p(1), p(2), p(3), p(4), p(544, 2), p(0), 0xA4)
_WORLD += asm(p(5), p(6), p(7), p(32), p(0), 0xA3)

CONTRACTS: dict[str, bytes] = {
    "world": _WORLD + asm(p(0), p(0), 0xFD),
    "world_stop": _WORLD + asm(0x00),
    "log_long": asm(p(545, 2), p(0), 0xA0),
    "sstore_stipend": asm(p(1), p(1), 0x55),  # run with ~1,000 gas: LOAD_SLOT, then the 2300 guard halts
    "sload_oog": asm(p(1), 0x54),  # the same gas: LOAD_SLOT, then a cold SLOAD (2100) halts
    "kitchen": KITCHEN,
    "stop": asm(p(1), p(2), 0x01, 0x00),
    "bad_jump": asm(p(3), 0x56, 0x00),
    "undefined": asm(p(1), 0x0C),
    "underflow": asm(p(1), 0x01),
    "oog_memory": asm(p(1), p(0xFFFFFF, 3), 0x52),
    "bad_jumpi": asm(p(1), p(0), 0x57),
    "returndatacopy_oob": asm(p(1), p(0), p(0), 0x3E),
    "push_past_end": bytes.fromhex("6101"),  # PUSH2 with one byte left: zero-padded, then past the end
    "jump_into_push": asm(p(4), 0x56, p(0x5B)),  # the 0x5b at 4 is PUSH data, not a JUMPDEST
    "overflow": asm(*([0x5F] * 1025)),
    "copy_long": asm(p(545, 2), p(0), p(0), 0x37),
    "jumpi": asm(p(1), p(6), 0x57, 0xFE, 0x5B, p(0), p(0), 0xFD),
    **{f"unsupported_{op.name}": asm(*([0x5F] * op.need), op.code) for op in OPS.values() if not op.supported},
    "return_big": asm(p(0x42), p(0), 0x52, p(64), p(0), 0xF3),
}


def contract_address(name: str) -> bytes:
    return keccak(b"osp-contract/" + name.encode())[:20]


def _kind(c: Checked) -> str:
    st = c.state
    pc = st.frame.pc
    op = st.code.code[pc] if pc < len(st.code.code) else -1
    name = "END_OF_CODE" if op < 0 else f"{op:#04x}"
    if c.proof is not None:
        post, _ = step_sections(st)
        if post.ms.phase == TX_END and not post.tx.status & 1 and op not in (0xFD,):
            name += "/halt"
        elif (
            post.ms.phase == EXEC
            and post.frame.pc == pc
            and (post.machine_state().journalCount > st.machine_state().journalCount)
        ):
            name = "LOAD/" + name  # LOAD_ACCOUNT / LOAD_SLOT before the opcode
    return name


TX_GAS = {"oog_memory": 60_000, "sstore_stipend": 22_700, "sload_oog": 22_700}  # else 300,000


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trace]]:
    """Every traced transaction by name: the four ERC-20 ones, one per contract, the deposit."""
    keys = [Key.derive("osp", i) for i in range(4)]
    base = ChainSpec(chain_id=CHAIN_ID)
    alloc = dict(Workload("osp", keys).spec(base).alloc)
    for name, code in CONTRACTS.items():
        storage = ((1, 0x77),) if name.startswith("world") else ()
        alloc[contract_address(name)] = GenesisAccount(code=code, balance=3 if name == "world" else 0,
                                                       storage=storage)  # fmt: skip
    spec = base.__class__(**{**base.__dict__, "alloc": tuple(sorted(alloc.items()))})
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("osp")) / "chain", spec, map_size=1 << 30)
    try:
        builder = chain.open_block(BlockAttributes(1_000, L1Origin(3)))
        builder.add(decode_transaction(deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID), spec))
        chain.commit(builder, builder.seal())
        token = token_address(keys[0])
        approve = bytes.fromhex("095ea7b3") + keys[2].address.rjust(32, b"\0") + (10**20).to_bytes(32, "big")
        transfer_from = (
            bytes.fromhex("23b872dd") + keys[1].address.rjust(32, b"\0") + keys[3].address.rjust(32, b"\0")
        ) + (7).to_bytes(32, "big")
        txs = [
            sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000),
            sign(keys[1], CHAIN_ID, 1, token, 0, approve, 200_000),
            sign(keys[2], CHAIN_ID, 0, token, 0, transfer_from, 200_000),
            sign(keys[3], CHAIN_ID, 0, token, 0, transfer_calldata(keys[2].address, 10**40), 200_000),
        ]
        nonce = 1
        for name in CONTRACTS:
            gas = TX_GAS.get(name, 300_000)
            data = bytes(range(1, 41))
            txs.append(sign(keys[2], CHAIN_ID, nonce, contract_address(name), 0, data, gas))
            nonce += 1
        deposit = Deposit(0, keccak(b"l1 sender")[:20], contract_address("kitchen"), 5, 400_000, bytes(range(9)))
        txs.append(DepositTransaction(deposit))  # type: ignore[arg-type]  # kind 1, gas price 0
        builder = chain.open_block(BlockAttributes(1_012, L1Origin(4, keccak(b"origin"), 7)))
        names = ["transfer", "approve", "transferFrom", "transfer_reverting", *CONTRACTS, "deposit"]
        out = {name: trace_transaction(builder, raw, spec) for name, raw in zip(names, txs, strict=True)}
        yield out  # the chain stays open: LOAD proofs read the pre-tx tries from it
    finally:
        chain.close()


@pytest.fixture(scope="module")
def traced(traces: dict[str, Trace]) -> list[Checked]:
    out: list[Checked] = []
    for trace in traces.values():
        assert trace.states, "every traced transaction runs code"
        out.extend(check(trace))  # asserts Python == py-evm at every supported step, journal included
    return out


ORACLE_CODES = ("world", "world_stop", "jumpi")  # the codes EXTCODESIZE reads (EOAs need none)


def _deploy(w3: Web3, name: str, *args: object) -> str:
    account = Account.from_key(DEV_KEY)
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address), "chainId": w3.eth.chain_id}
    )
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    )
    assert receipt["status"] == 1
    return receipt["contractAddress"]


def _deploy_prover(w3: Web3, codes: tuple[bytes, ...]) -> str:
    """A CodeOracle with `codes` registered, and a OneStepProver (with its step contracts) reading it."""
    account = Account.from_key(DEV_KEY)
    spec = ChainSpec(chain_id=CHAIN_ID)
    oracle = w3.eth.contract(address=_deploy(w3, "CodeOracle"), abi=load_artifact("CodeOracle")["abi"])
    for code in codes:
        tx = oracle.functions.register(code).build_transaction(
            {
                "from": account.address,
                "nonce": w3.eth.get_transaction_count(account.address),
                "chainId": w3.eth.chain_id,
                "gas": 5_000_000,
            }  # fmt: skip
        )
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        )
        assert receipt["status"] == 1
    # the step contracts, then the prover, as `rollup deploy` does (docs/fraud-proofs.md 6.1)
    return deploy_onestep(w3, account, spec, oracle.address)["OneStepProver"]


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, tuple(CONTRACTS[name] for name in ORACLE_CODES))


def call_batch(url: str, to: str, calls: list[bytes], chunk: int = 250) -> list[tuple[bool, bytes]]:
    """eth_call each calldata in JSON-RPC batches: (succeeded, return or revert data)."""
    out: list[tuple[bool, bytes]] = []
    parts: list[list[bytes]] = [[]]
    for c in calls:  # at most `chunk` calls and ~1 MB of calldata per request
        if len(parts[-1]) >= chunk or sum(map(len, parts[-1])) + len(c) > 500_000:
            parts.append([])
        parts[-1].append(c)
    for part in parts:
        if not part:
            continue
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_call",
             "params": [{"to": to, "data": "0x" + c.hex(), "gas": hex(30_000_000)}, "latest"]}
            for i, c in enumerate(part)
        ]  # fmt: skip
        replies = sorted(requests.post(url, json=payload, timeout=120).json(), key=lambda r: r["id"])
        for reply in replies:
            if "result" in reply:
                out.append((True, bytes.fromhex(reply["result"][2:])))
            else:
                data = reply["error"].get("data") or "0x"
                out.append((False, bytes.fromhex(data[2:]) if isinstance(data, str) else b""))
    return out


def _calls(items: list[tuple[ExecState, bytes]]) -> list[bytes]:
    return [step_calldata(CTX, st.hash(), proof) for st, proof in items]


# -- shared by the opcode test files (test_osp_call, test_osp_call_kinds, test_osp_env_reads) ----


def proven_of(traced: dict[str, list[Checked]]) -> list[Checked]:
    """Every step of the traced transactions that has a proof (not refused by name)."""
    return [c for cs in traced.values() for c in cs if c.proof is not None]


def largest_by(traced: dict[str, list[Checked]], kind: Callable[[Checked], str],
               keep: Callable[[str], bool]) -> dict[str, Checked]:
    """The largest proof of each kind `keep` accepts: the one whose corruptions are tried."""
    out: dict[str, Checked] = {}
    for c in proven_of(traced):
        k = kind(c)
        if keep(k) and (k not in out or len(c.proof or b"") > len(out[k].proof or b"")):
            out[k] = c
    return out


def corruptions_accepted(url: str, prover: str, largest: dict[str, Checked]) -> tuple[list[str], int]:
    """Every single-field corruption of each proof, stepped on L1: the ones L1 accepts with the
    honest post-state (must be none), and how many were tried."""
    cases = [(k, c, label, bad) for k, c in largest.items() for label, bad in _corruptions(c.state)]
    results = call_batch(url, prover, _calls([(c.state, bad) for _, c, _, bad in cases]))
    accepted = [f"{k}: {label}" for (k, c, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == c.post_hash]  # fmt: skip
    return accepted, len(cases)


def proof_rows(anvil: Anvil, prover: str, largest: dict[str, Checked]) -> list[tuple[str, int, int]]:
    """(kind, proof bytes, gas of a transaction calling `step`) per kind, for the docs' figures;
    every one within the bounds of docs/fraud-proofs.md 5."""
    rows = []
    for k, c in sorted(largest.items()):
        data = step_calldata(CTX, c.state.hash(), c.proof or b"")
        rows.append((k, len(c.proof or b""), anvil.w3.eth.estimate_gas({"to": prover, "data": "0x" + data.hex()})))
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows
    return rows


def test_python_agrees_with_pyevm_and_covers_the_slice(traced: list[Checked]) -> None:
    proven = [c for c in traced if c.proof is not None]
    refused = {c.unsupported for c in traced if c.proof is None}
    assert refused == {op.name for op in OPS.values() if not op.supported} | {"COPY_PENDING", "LOGDATA_PENDING"}
    kinds = {_kind(c) for c in proven}
    ops = {int(k[:4], 16) for k in kinds if k.startswith("0x")}
    expected = {op.code for op in OPS.values() if op.supported} - set(range(0x60, 0x80))
    expected -= {0xF1, 0xF2, 0xF4, 0xFA}  # the calls and callee frames: test_osp_call.py, test_osp_call_kinds.py
    expected -= {0x40, 0x3C}  # BLOCKHASH (a chain of > 256 blocks), EXTCODECOPY: test_osp_env_reads.py
    expected -= {0xF0, 0xF5}  # CREATE, CREATE2 and the code deposit: test_osp_create.py
    missing = expected - ops
    assert not missing, sorted(hex(m) for m in missing)
    assert len({k for k in kinds if k.startswith(("0x6", "0x7"))}) >= 10  # PUSHn across word ends
    world = ("LOAD/0x54", "LOAD/0x31", "LOAD/0x3f", "LOAD/0x3b", "0x3b", "0xa0", "0xa1", "0xa2", "0xa3", "0xa4", "0x54")
    for kind in (*world, "0x55", "0x31", "0x3f", "0x47"):
        assert kind in kinds, kind  # world-state steps: the LOADs and the opcodes on loaded keys
    ends = ("END_OF_CODE", "0x00", "0xf3", "0xfd")
    halts = ("0x56/halt", "0x0c/halt", "0x01/halt", "0x52/halt", "0x57/halt", "0x3e/halt", "0x5f/halt", "0x54/halt",
             "0x55/halt")  # fmt: skip
    for kind in ends + halts:
        assert kind in kinds, kind


@pytest.mark.slow
def test_every_proven_step_verifies_on_l1(traced: list[Checked], anvil: Anvil, prover: str) -> None:
    proven = [c for c in traced if c.proof is not None]
    results = call_batch(anvil.url, prover, _calls([(c.state, c.proof) for c in proven]))
    for c, (ok, data) in zip(proven, results, strict=True):
        assert ok, (_kind(c), data.hex())
        assert data == c.post_hash, _kind(c)


def test_unsupported_steps_revert_with_their_name(traced: list[Checked], anvil: Anvil, prover: str) -> None:
    refused = [c for c in traced if c.proof is None]
    proofs = []
    for c in refused:
        with pytest.raises(Unsupported) as info:
            step_sections(c.state)
        proofs.append((c.state, info.value.proof))
    for c, (ok, data) in zip(refused, call_batch(anvil.url, prover, _calls(proofs)), strict=True):
        assert not ok
        assert data == UNSUPPORTED_SELECTOR + c.unsupported.encode().ljust(32, b"\0")


def _corruptions(st: ExecState) -> list[tuple[str, bytes]]:
    """Every single-field corruption of the honest proof of `st`: one bit of each packed field
    of each preimage, of each 32-byte word (stack items, siblings, code and memory words), and
    the proof cut short by one byte."""
    _, sections = step_sections(st)
    honest = b"".join(s.data for s in sections)
    out = [("truncated", honest[:-1])]
    base = 0
    for section in sections:
        if section.layout is not None:
            fields = [(name, off, size) for (name, off), (_, size, _) in
                      zip(section.layout.offsets().items(), section.layout.LAYOUT, strict=True)]  # fmt: skip
        else:
            fields = [(f"word{i}", 32 * i, 32) for i in range(len(section.data) // 32)]
        for name, off, size in fields:
            at = base + off + size - 1
            bad = honest[:at] + bytes([honest[at] ^ 1]) + honest[at + 1 :]
            out.append((f"{section.label}.{name}", bad))
        base += len(section.data)
    return out


@pytest.mark.slow
def test_every_single_field_corruption_is_rejected(traced: list[Checked], anvil: Anvil, prover: str) -> None:
    first = _largest_per_kind(traced)  # per step kind, the instance with the largest proof
    cases: list[tuple[str, Checked, str, bytes]] = []
    for kind, c in first.items():
        for label, bad in _corruptions(c.state):
            cases.append((kind, c, label, bad))
    results = call_batch(anvil.url, prover, _calls([(c.state, bad) for _, c, _, bad in cases]))
    accepted = [
        f"{kind}: {label}"
        for (kind, c, label, _), (ok, data) in zip(cases, results, strict=True)
        if ok and data == c.post_hash
    ]
    assert not accepted, (len(accepted), accepted)
    assert len(first) >= 100 and len(cases) > 5_000


def _largest_per_kind(traced: list[Checked]) -> dict[str, Checked]:
    out: dict[str, Checked] = {}
    for c in traced:
        if c.proof is not None:
            kind = _kind(c)
            if kind not in out or len(c.proof) > len(out[kind].proof or b""):
                out[kind] = c
    return out


@pytest.mark.slow
def test_largest_proof_and_gas(traced: list[Checked], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 6: the largest proof and the most expensive step kind
    (eth_estimateGas of a transaction calling `step`: calldata and the 21k base included)."""
    w3: Web3 = anvil.w3
    gas = []
    for kind, c in _largest_per_kind(traced).items():
        data = step_calldata(CTX, c.state.hash(), c.proof or b"")
        gas.append((w3.eth.estimate_gas({"to": prover, "data": "0x" + data.hex()}), len(c.proof or b""), kind))
    gas.sort(reverse=True)
    largest = max(gas, key=lambda g: g[1])
    print(f"largest proof {largest[1]} bytes ({largest[2]}); most gas {gas[0][0]} ({gas[0][2]}); all {gas}")
    assert largest[1] <= 10_240 and gas[0][0] <= 2_000_000


def test_code_record_matches_python(anvil: Anvil) -> None:
    """CodeOracle.register computes the Python CodeRecord; gas on the token and a 24 KiB code."""
    w3 = anvil.w3
    account = Account.from_key(DEV_KEY)
    artifact = load_artifact("CodeOracle")

    def send(tx: dict) -> dict:
        tx = {**tx, "from": account.address, "nonce": w3.eth.get_transaction_count(account.address),
              "chainId": w3.eth.chain_id}  # fmt: skip
        if "gas" not in tx:
            tx["gas"] = w3.eth.estimate_gas(tx)
        if "maxFeePerGas" not in tx:
            tx.update(maxFeePerGas=10**10, maxPriorityFeePerGas=1)
        return w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        )

    created = send({"data": artifact["bytecode"], "gas": 3_000_000})
    oracle = w3.eth.contract(address=created["contractAddress"], abi=artifact["abi"])
    token_code = bytes.fromhex(load_artifact("TestToken", Path("bench/contracts/artifacts"))["deployedBytecode"][2:])
    big = (bytes(range(256)) * 96)[:24_576]
    gas_used = {}
    for label, code in (("token", token_code), ("24KiB", big), ("kitchen", KITCHEN)):
        receipt = send({"to": oracle.address, "data": oracle.encode_abi("register", [code]), "gas": 20_000_000})
        assert receipt["status"] == 1
        gas_used[label] = receipt["gasUsed"]
        rec = Code(code).record
        known, size, code_root, jump_root = oracle.functions.get(rec.codeHash).call()
        assert (known, size, code_root, jump_root) == (True, len(code), rec.codeRoot, rec.jumpRoot)
        assert oracle.functions.recordHash(rec.codeHash).call() == rec.hash()
        again = send({"to": oracle.address, "data": oracle.encode_abi("register", [code]), "gas": 20_000_000})
        assert again["status"] == 1 and not again["logs"]  # idempotent: nothing recomputed or stored
        assert again["gasUsed"] < gas_used[label]
    empty = Code(b"").record
    assert tuple(oracle.functions.get(empty.codeHash).call()) == (True, 0, empty.codeRoot, empty.jumpRoot)
    print("CodeOracle.register gas:", gas_used)
    assert gas_used["24KiB"] < 5_000_000


class _PyEvmState:
    """What py-evm's Prague computation reads of a state for stack-only opcodes."""

    coinbase = b"\0" * 20

    def mark_address_warm(self, address: bytes) -> None:
        pass


def _synthetic(code: bytes, stack: tuple[int, ...], gas: int) -> ExecState:
    spec = ChainSpec(chain_id=CHAIN_ID)
    rec = Code(code)
    return ExecState(
        ms=MachineState(phase=EXEC),
        frame=Frame(code=rec.record.hash(), gas=gas),
        tx=TxCtx(),
        block=BlockCtx(),
        acc=BlockAcc(),
        code=rec,
        stack=stack,
        memory=Buf(MEM_DEPTH),
        store=Buf(MEM_DEPTH),
        chain=Chain(spec.chain_id, spec.gas_limit, bytes(spec.fee_recipient)),
    )


ALU_OPS = [*range(0x01, 0x0C), *range(0x10, 0x1E)]
WORDS = st.one_of(
    st.integers(0, 2**256 - 1),
    st.integers(0, 300),
    st.sampled_from([0, 1, 2, 31, 32, 255, 256, 2**255 - 1, 2**255, 2**256 - 1, 2**256 - 2]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(ALU_OPS), a=WORDS, b=WORDS, c=WORDS)
def test_alu_matches_pyevm_and_solidity(op: int, a: int, b: int, c: int, anvil: Anvil, prover: str) -> None:
    """Random operands: the Python step's result and gas equal py-evm's, Solidity's post equals Python's."""
    msg = Message(gas=100_000, to=b"\1" * 20, sender=b"\2" * 20, value=0, data=b"", code=bytes([op]))
    computation = PragueComputation(_PyEvmState(), msg, None)  # type: ignore[arg-type]
    for v in (c, b, a):
        computation.stack_push_int(v)
    computation.opcodes[op](computation=computation)
    expected, gas_left = computation.stack_pop1_int(), computation.get_gas_remaining()

    st_ = _synthetic(bytes([op]), (c, b, a), 100_000)
    post, proof = step_sections(st_)[0], b"".join(s.data for s in step_sections(st_)[1])
    assert post.stack[-1] == expected and post.frame.gas == gas_left
    ((ok, data),) = call_batch(anvil.url, prover, _calls([(st_, proof)]))
    assert ok and data == post.hash()


def test_other_phases_are_not_proven_as_exec_steps(anvil: Anvil, prover: str) -> None:
    """`steps.py` proves EXEC only and refuses any other phase by name; on L1 such a state goes to
    its phase contract (tested in its own file), which refuses a proof that is only a MachineState,
    and phase SEAL, which no trace reaches, reverts by name."""
    base = _synthetic(b"\x01", (1, 2), 100)
    for phase, name in ((1, "SYS"), (2, "IDLE"), (3, "TX_LOAD"), (4, "TX_SETUP"), (9, "SEAL")):
        st_ = replace(base, ms=replace(base.ms, phase=phase), _cache={})
        with pytest.raises(Unsupported) as info:
            step_sections(st_)
        assert info.value.name == name
        ((ok, data),) = call_batch(anvil.url, prover, _calls([(st_, info.value.proof)]))
        assert not ok, name
        if phase == 9:
            assert data == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0")


# -- world state: the journal against py-evm, and the COMMIT walk --------------------------------

WORLD_STATE_HARNESS = Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "WorldStateHarness.json"


def _end(trace: Trace) -> ExecState:
    """The state after the trace's last step (the top frame ended: TX_END)."""
    post, _ = step_sections(trace.states[-1])
    assert post.ms.phase == TX_END
    return post


def test_journal_follows_pyevm_and_commits_to_its_post_state(traces: dict[str, Trace]) -> None:
    """`check` (the `traced` fixture) already compared every state's journal root with the one
    rebuilt from py-evm's values; here: the journal at the end, settled as TX_END would and folded
    into the pre-state by the COMMIT walk, is py-evm's post-state root, for the ERC-20 transactions,
    the world-state contracts (kept and reverted), the halting ones and the deposit; a journal
    with one value off is not."""
    names = ["transfer", "approve", "transferFrom", "transfer_reverting", "world", "world_stop", "sstore_stipend",
             "sload_oog", "deposit"]  # fmt: skip
    for name in names:
        trace = traces[name]
        post = _end(trace)
        assert commit_root(trace, post) == trace.post_root, name
        entry = trace.states[0].snap_journal
        assert entry is not None and post.journal is not None
        if name in ("transfer_reverting", "world", "sstore_stipend", "sload_oog"):  # frame failed: snapshot back
            assert not post.tx.status & 1 and post.journal.root == entry.root and post.tx.logCount == 0
        else:
            assert post.tx.status & 1 and post.journal.count >= entry.count + (name != "deposit"), name
    transfer = _end(traces["transfer"])
    assert transfer.journal is not None and transfer.tx.logCount == 1 and transfer.tx.refund == 0
    assert transfer.journal.count == 1 + 3 + 2  # sentinel, sender / token / coinbase, two balances
    assert _end(traces["world_stop"]).tx.logCount == 5
    # one slot value off: another root
    broken = replace(traces["transfer"], post_root=traces["transfer"].post_root)
    journal = transfer.journal.copy()
    leaf = next(leaf for leaf in journal if leaf.kind == 2)
    journal.update(leaf.key, leaf.payload[:84] + (int.from_bytes(leaf.payload[84:116], "big") + 1).to_bytes(32, "big")
                   + leaf.payload[116:])  # fmt: skip
    assert commit_root(broken, replace(transfer, journal=journal, _cache={})) != broken.post_root


def test_erc20_journal_commits_in_solidity(traces: dict[str, Trace], anvil: Anvil) -> None:
    """The same COMMIT walk over the ERC-20 transfer's settled journal, one WorldState.commitStep
    call per step on anvil, ends on py-evm's post-state root; the COMMIT pending hash agrees."""
    import json

    from l1.proofs.tracer import _Overlay, settle
    from l1.proofs.world_state import commit_steps

    w3 = anvil.w3
    artifact = json.loads(WORLD_STATE_HARNESS.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    harness = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    for name in ("transfer", "transferFrom"):
        trace = traces[name]
        post = _end(trace)
        assert post.journal is not None and trace.tx is not None
        journal = settle(post.journal, trace.tx, post.frame.gas, post.tx.refund, trace.coinbase, trace.base_fee)
        steps = commit_steps(_Overlay(trace.db), trace.pre_root, journal)
        for s in steps:
            root, cursor, _ = harness.functions.commitStep(
                (s.world_root, journal.root, journal.count), s.cursor.as_abi(), s.leaf.encode(), s.proof, s.sibling
            ).call()
            assert bytes(root) == s.next_world_root and tuple(cursor) == s.next_cursor.as_abi()
            assert harness.functions.pendingHash(s.cursor.as_abi()).call() == s.cursor.pending_hash()
        assert steps[-1].next_world_root == trace.post_root


def test_extcodesize_of_unregistered_code_is_refused(traced: list[Checked], anvil: Anvil) -> None:
    """EXTCODESIZE reads the code oracle live: with the code not registered the step reverts
    `CodeNotRegistered(codeHash)` (the honest side registers it first); an EOA needs nothing."""
    bare = _deploy_prover(anvil.w3, ())
    sizes = [c for c in traced if c.proof is not None and _kind(c) == "0x3b"]
    assert len(sizes) >= 6  # caller (an EOA), self, another contract; in `world` and `world_stop`
    results = call_batch(anvil.url, bare, _calls([(c.state, c.proof or b"") for c in sizes]))
    selector = keccak(b"CodeNotRegistered(bytes32)")[:4]
    for c, (ok, data) in zip(sizes, results, strict=True):
        if c.state.stack[-1] == int.from_bytes(c.state.tx.sender, "big"):
            assert ok and data == c.post_hash
        else:
            assert not ok and data[:4] == selector
