"""The block-end steps of the one-step prover on whole block traces, verified on anvil
(docs/fraud-proofs.md 2.1, 2.6, 15): TRIE, TRIE_SPONGE and SEAL (`osp/ExecTrie.sol` and its
`ExecSeal`, the deployed OneStepProver's `phaseSteps[TRIE]`), with proofs packed by
`l1.proofs.tx_proofs.proof_for` (which routes them to `trie_proofs`).

Blocks: an empty block (one TRIE step per trie with no key), ETH transfers, the ERC-20 block of
test_osp_tx_steps (typed receipts with logs, a deposit receipt 0x7E), a block whose leaves are
above INLINE (a 768-byte calldata tx, a legacy 1,200-byte one and a receipt with a 300-byte log:
TRIE_SPONGE micro-steps over a tx and over a receipt), and a block of 130 transfers (keys cross
rlp(127) / rlp(128): the key order 1..127, 0, 128, 129). For every such step the verifier must
return exactly the trace's next state (SEAL: the chain's own block claim); every single-field
corruption of the largest proof of each variant is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from trie import HexaryTrie
from web3 import Web3

from bench.workloads import Key, Workload, deploy_token_tx, sign, token_address
from l1.anvil import Anvil
from l1.artifacts import load_artifact
from l1.proofs import block_steps as bs
from l1.proofs import stacktrie
from l1.proofs.block_machine import BlockTrace
from l1.proofs.buf import MEM_DEPTH, Buf
from l1.proofs.commitments import SEAL, TRIE, BlockCtx, Cursor, EntryCtx, TxRecord
from l1.proofs.machine import CLAIM, PURPOSE_TRIE_LEAF_DONE, TXREC_DEPTH, Acc, Game, Machine
from l1.proofs.mpt import account_path, account_rlp, path_proof
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.steps import Section
from l1.proofs.trie_proofs import (
    PROVERS,
    seal_sections,
    trie_proof,
    trie_proof_sections,
    trie_sections,
    value_parts,
)
from l1.proofs.tx_proofs import proof_for, tx_end_proof
from l2.chain import L2Chain
from l2.messages import BlockStart, L2Tx, Message
from l2.predeploys import MESSAGE_PASSER_ADDRESS
from l2.spec import ChainSpec, GenesisAccount
from tests.integration.test_osp_exec import UNSUPPORTED_SELECTOR, _deploy_prover, call_batch
from tests.integration.test_osp_tx_steps import erc20_block
from tests.unit.test_block_trace import Harness, Source, transfers
from tests.unit.test_state_transition import signed

CHAIN_ID = 901
KINDS = ("TRIE", "TRIE_SPONGE", "SEAL")
LOGGER = bytes([0x10, 0x66]) * 10
LOGGER_CODE = bytes.fromhex("61012c6000a000")  # LOG0 of 300 zero bytes of memory, STOP


def _spec(keys: list[Key]) -> ChainSpec:
    spec = Workload("test", keys).spec(ChainSpec(chain_id=CHAIN_ID))
    return replace(spec, alloc=tuple(sorted((*spec.alloc, (LOGGER, GenesisAccount(code=LOGGER_CODE))))))


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockTrace]]:
    keys = [Key.derive("test", i) for i in range(6)]
    chain = L2Chain.open(Path(tmp_path_factory.mktemp("triesteps")) / "chain", _spec(keys), map_size=1 << 30)
    try:
        h = Harness(chain, Source())
        src = h.source
        token = token_address(keys[0])
        deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
        h.apply(src.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))  # CREATE: not traced
        (empty,) = h.apply(src.batch([BlockStart(1_001, 5)], delayed_read=0))
        (eth,) = h.apply(src.batch([BlockStart(1_002, 6), *transfers(keys, 3, first_nonce=1)], delayed_read=0))
        messages = erc20_block(src, keys, token)
        (erc20,) = h.apply(src.batch(messages, delayed_read=2))
        big: list[Message] = [
            BlockStart(1_006, 6),
            L2Tx(sign(keys[4], CHAIN_ID, 0, bytes([0xCD]) * 20, 1, bytes(range(256)) * 3, 100_000)),
            L2Tx(signed(keys[4], 1, to=bytes([0xCE]) * 20, gas=100_000, data=b"\x07" * 1200, legacy=True)),
            L2Tx(sign(keys[4], CHAIN_ID, 2, LOGGER, 0, b"", 100_000)),
        ]
        (large,) = h.apply(src.batch(big, delayed_read=2))
        many = [L2Tx(signed(keys[5], i, value=1 + i, to=bytes([0xAB, i % 256]) * 10, legacy=i % 3 == 0))
                for i in range(130)]  # fmt: skip
        (wide,) = h.apply(src.batch([BlockStart(1_008, 7), *many], delayed_read=2))
        yield {"empty": h.trace(empty, 2), "eth": h.trace(eth, 3), "erc20": h.trace(erc20, 4),
               "large": h.trace(large, 5), "many": h.trace(wide, 6)}  # fmt: skip
    finally:
        chain.close()


@pytest.fixture(scope="module")
def prover(anvil: Anvil) -> str:
    return _deploy_prover(anvil.w3, ())


def _call(trace: BlockTrace, j: int, proof: bytes) -> bytes:
    assert trace.game is not None
    return step_calldata(GameContext(trace.number, trace.game.entry_limit, 0), trace.state(j), proof)


def _steps(traces: dict[str, BlockTrace]) -> list[tuple[str, BlockTrace, int]]:
    return [(name, t, j) for name, t in traces.items() for j in range(t.steps) if t.step_kind(j) in KINDS]


def _variant(trace: BlockTrace, j: int) -> str:
    """kind / which trie / how the value is taken (empty trie, inline, sponge start or middle or
    final block, hashed leaf) and, for a receipt, its type."""
    kind, m = trace.step_kind(j), trace.machine(j)
    if kind == "SEAL":
        return "SEAL"
    acc = m.acc
    assert acc is not None and acc.trie is not None
    which = "tx" if acc.trie.which == stacktrie.TX else "receipt"
    if not acc.tx_count:
        return f"{kind}/{which}/empty"
    record = trace.witness(j).record
    typed = "" if which == "tx" else f"/type{record.type}"
    if kind == "TRIE":
        return f"TRIE/{which}/{'hashed' if m.pending is not None else 'inline'}{typed}"
    post = trace.machine(j + 1).pending
    stage = "start" if m.pending is None else "final" if post.purpose == PURPOSE_TRIE_LEAF_DONE else "block"
    return f"TRIE_SPONGE/{which}/{stage}{typed}"


def test_traces_reach_every_trie_variant(traces: dict[str, BlockTrace]) -> None:
    """The blocks hold empty tries, inline tx and receipt leaves (legacy, EIP-1559, deposit),
    leaves above INLINE hashed by a sponge (a tx and a receipt) and a block whose 130 keys cross
    the one-byte / two-byte boundary; every SEAL ends on a block claim."""
    variants = {_variant(t, j) for _, t, j in _steps(traces)}
    expected = {
        "SEAL", "TRIE/tx/empty", "TRIE/receipt/empty", "TRIE/tx/inline", "TRIE/receipt/inline/type0",
        "TRIE/receipt/inline/type2", "TRIE/receipt/inline/type126", "TRIE/tx/hashed", "TRIE/receipt/hashed/type2",
        "TRIE_SPONGE/tx/start", "TRIE_SPONGE/tx/block", "TRIE_SPONGE/tx/final", "TRIE_SPONGE/receipt/start/type2",
        "TRIE_SPONGE/receipt/block/type2", "TRIE_SPONGE/receipt/final/type2",
    }  # fmt: skip
    assert expected <= variants, sorted(variants)
    many = traces["many"]
    assert many.counts()["TRIE"] == 2 * 130 and many.machine(many.steps - 1).acc.tx_count == 130  # type: ignore[union-attr]
    tx_keys = [stacktrie.key_index(many.machine(j).acc.trie.pos, 130)  # type: ignore[union-attr]
               for _, _, j in _steps({"many": many}) if _variant(many, j) == "TRIE/tx/inline"]  # fmt: skip
    assert tx_keys == [*range(1, 128), 0, 128, 129]  # byte order: rlp(1..127) < rlp(0) = 0x80 < rlp(128) = 0x8180
    # SEAL is a step of phase TRIE: no state of any trace is in phase 9
    assert all(t.machine(j).phase != SEAL for t in traces.values() for j in range(t.steps + 1))
    # the receipt sponge's leaf: above INLINE only because of the 300-byte log
    large = traces["large"]
    receipt_sponges = [
        j for _, t, j in _steps({"large": large}) if _variant(t, j).startswith("TRIE_SPONGE/receipt/start")
    ]
    assert len(receipt_sponges) == 1
    head, _, size = value_parts(large.machine(receipt_sponges[0]), large.witness(receipt_sponges[0]))
    assert len(head) + size > stacktrie.INLINE and size > 300
    for _, t, j in _steps(traces):
        if t.step_kind(j) == "SEAL":
            assert t.machine(j + 1).phase == CLAIM and t.state(j + 1) == t.state(t.steps)


def test_prover_wires_exec_trie_with_the_chain_constants(anvil: Anvil, prover: str) -> None:
    """phaseSteps[TRIE] is ExecTrie; its ExecSeal holds the spec's coinbase, gas limit and the
    MessagePasser; phase 9 (SEAL) has no contract: no trace reaches it."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    trie = w3.eth.contract(address=osp.functions.phaseSteps(TRIE).call(), abi=load_artifact("ExecTrie")["abi"])
    seal = w3.eth.contract(address=trie.functions.seal().call(), abi=load_artifact("ExecSeal")["abi"])
    spec = ChainSpec(chain_id=CHAIN_ID)
    assert seal.functions.coinbase().call() == to_checksum_address(spec.fee_recipient)
    assert seal.functions.gasLimit().call() == spec.gas_limit
    assert seal.functions.messagePasser().call() == to_checksum_address(MESSAGE_PASSER_ADDRESS)
    assert int(osp.functions.phaseSteps(TRIE + 1).call(), 16) == 0


@pytest.mark.slow
def test_every_trie_sponge_and_seal_step_verifies_on_l1(traces: dict[str, BlockTrace], anvil: Anvil,
                                                       prover: str) -> None:  # fmt: skip
    """Every TRIE, TRIE_SPONGE and SEAL step of the five blocks, proven through the deployed
    OneStepProver with `proof_for` (what the dispute agent sends): exactly the Python next state."""
    cases = _steps(traces)
    assert len(cases) > 2 * 130 + 30
    results = call_batch(anvil.url, prover, [_call(t, j, trie_proof(t, j)) for _, t, j in cases])
    for (name, t, j), (ok, data) in zip(cases, results, strict=True):
        assert ok, (name, j, t.step_kind(j), data.hex())
        assert data == t.state(j + 1), (name, j, t.step_kind(j))


def test_proof_for_routes_the_block_end_steps_to_trie_proofs(traces: dict[str, BlockTrace]) -> None:
    """The dispute agent's `proof_for` packs these kinds with `trie_proofs` (kind_proofs.PROVERS)."""
    assert all(PROVERS[kind] is trie_proof_sections for kind in KINDS)
    for _, t, j in _steps({"large": traces["large"], "erc20": traces["erc20"]}):
        assert proof_for(t, j) == trie_proof(t, j), (j, t.step_kind(j))


# -- corruptions ----------------------------------------------------------------------------


def _fields(section: Section) -> list[tuple[str, int, int]]:
    """A packed layout's fields by name; a u32-length-prefixed part (trie state, MPT proof): the
    length, then each 32-byte word; anything else: each 32-byte word."""
    n = len(section.data)
    if section.layout is not None:
        return [(name, off, size) for (name, off), (_, size, _) in
                zip(section.layout.offsets().items(), section.layout.LAYOUT, strict=True)]  # fmt: skip
    if section.label in ("TrieState", "Mpt"):
        return [("length", 0, 4)] + [(f"word{i}", 4 + 32 * i, min(32, n - 4 - 32 * i))
                                     for i in range((n - 4 + 31) // 32)]  # fmt: skip
    return [(f"word{i}", 32 * i, min(32, n - 32 * i)) for i in range((n + 31) // 32)]


def corruptions(sections: list[Section]) -> list[tuple[str, bytes]]:
    """Every single-field corruption: the last byte of each field flipped, one byte cut, one added."""
    honest = b"".join(s.data for s in sections)
    out = [("truncated", honest[:-1]), ("extended", honest + b"\x00")]
    base = 0
    for section in sections:
        for name, off, size in _fields(section):
            at = base + off + size - 1
            out.append((f"{section.label}.{name}", honest[:at] + bytes([honest[at] ^ 1]) + honest[at + 1 :]))
        base += len(section.data)
    return out


def _largest_per_variant(traces: dict[str, BlockTrace]) -> dict[str, tuple[BlockTrace, int, int]]:
    out: dict[str, tuple[BlockTrace, int, int]] = {}
    for _, t, j in _steps(traces):
        v, size = _variant(t, j), len(trie_proof(t, j))
        if v not in out or size > out[v][2]:
            out[v] = (t, j, size)
    return out


@pytest.mark.slow
def test_every_single_field_corruption_is_refused(traces: dict[str, BlockTrace], anvil: Anvil,
                                                  prover: str) -> None:  # fmt: skip
    picked = _largest_per_variant(traces)
    cases = [(v, t, j, label, bad) for v, (t, j, _) in picked.items()
             for label, bad in corruptions(trie_proof_sections(t, j))]  # fmt: skip
    results = call_batch(anvil.url, prover, [_call(t, j, bad) for _, t, j, _, bad in cases])
    accepted = [f"{v}: {label}" for (v, t, j, label, _), (ok, data) in zip(cases, results, strict=True)
                if ok and data == t.state(j + 1)]  # fmt: skip
    assert not accepted, (len(accepted), accepted)
    assert len(picked) >= 15 and len(cases) > 900, (sorted(picked), len(cases))


def test_a_step_of_another_phase_is_refused_by_name(traces: dict[str, BlockTrace], anvil: Anvil,
                                                    prover: str) -> None:  # fmt: skip
    """ExecTrie and ExecSeal called directly with a machine state of another phase, and ExecSeal
    with an unfinished trie: `Unsupported("PHASE")` / `Unsupported("SEAL")`."""
    w3: Web3 = anvil.w3
    osp = w3.eth.contract(address=prover, abi=load_artifact("OneStepProver")["abi"])
    trie = w3.eth.contract(address=osp.functions.phaseSteps(TRIE).call(), abi=load_artifact("ExecTrie")["abi"])
    seal_address = trie.functions.seal().call()
    t = traces["eth"]
    tx_end = next(j for j in range(t.steps) if t.step_kind(j) == "TX_END")
    first_trie = next(j for j in range(t.steps) if t.step_kind(j) == "TRIE")
    sig = bytes.fromhex(trie.encode_abi("step", [b"\0" * 32, b""])[2:10])
    calls = [
        (trie.address, t.state(tx_end), tx_end_proof(t, tx_end), "PHASE"),
        (seal_address, t.state(tx_end), tx_end_proof(t, tx_end), "PHASE"),
        (seal_address, t.state(first_trie), trie_proof(t, first_trie), "SEAL"),
    ]
    for to, pre, proof, name in calls:
        data = sig + Web3().codec.encode(["bytes32", "bytes"], [pre, proof])
        ((ok, out),) = call_batch(anvil.url, to, [data])
        assert not ok and out == UNSUPPORTED_SELECTOR + name.encode().ljust(32, b"\0"), (name, out.hex())


@pytest.mark.slow
def test_largest_proof_and_gas(traces: dict[str, BlockTrace], anvil: Anvil, prover: str) -> None:
    """Figures for docs/fraud-proofs.md 5 / 15: per variant the largest proof and the gas of a
    transaction calling the prover's `step` (eth_estimateGas: calldata and the 21k base in);
    issue 8's bound: <= 10 KB and <= 2M gas per proof."""
    w3: Web3 = anvil.w3
    rows = []
    for v, (t, j, size) in sorted(_largest_per_variant(traces).items()):
        gas = w3.eth.estimate_gas({"to": prover, "data": "0x" + _call(t, j, trie_proof(t, j)).hex()})
        rows.append((v, size, gas))
    print("block-end steps (variant, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows


# -- the largest trie state ----------------------------------------------------------------------


def _largest_state() -> stacktrie.TrieState:
    """The tx-trie state before key 61,440 of a 2^16-tx block, the largest StackTrie state (2,398
    bytes, 9.2), built by hashed-leaf steps."""
    count, state = stacktrie.MAX_COUNT, stacktrie.TrieState()
    for pos in range(61_440):
        state = stacktrie.step_hashed_leaf(state, count, keccak(pos.to_bytes(4, "big")))
    return state


@pytest.mark.slow
def test_largest_trie_state_fits_the_bounds(anvil: Anvil, prover: str) -> None:
    """TRIE with a 544-byte inline value and the first TRIE_SPONGE of a 2,000-byte value, both from
    the largest trie state of a 2^16-tx block (a synthetic machine state: records and store hold
    just this key's value): the verifier returns the twin's post-state within issue 8's bounds."""
    state = _largest_state()
    assert len(state.encode()) == 2_398
    count, index = stacktrie.MAX_COUNT, stacktrie.key_index(state.pos, stacktrie.MAX_COUNT)
    rows = []
    for size, kind in ((stacktrie.INLINE, "TRIE"), (2_000, "TRIE_SPONGE")):
        raw = bytes((7 * i + 1) % 256 for i in range(size))
        record = TxRecord(type=2, status=1, cumulativeGas=21_000, rawOff=4_096, rawLen=size, logsOff=4_096 + size)
        acc = Acc(gas_used=21_000, tx_count=count, records=Buf(TXREC_DEPTH, {index: record.hash()}),
                  store=Buf(MEM_DEPTH).write(4_096, raw), buf_len=4_096 + size, trie=state)  # fmt: skip
        m = Machine(phase=TRIE, number=5, cursor=Cursor(3, 0, 1), entry=EntryCtx(), block=BlockCtx(number=5),
                    world_root=keccak(b"world"), acc=acc)  # fmt: skip
        w = bs.TrieWitness(record)
        post = (bs.trie if kind == "TRIE" else bs.trie_sponge)(m, w)
        proof = b"".join(s.data for s in trie_sections(m, w))
        calldata = step_calldata(GameContext(5, 4, 0), m.commitment(), proof)
        ((ok, data),) = call_batch(anvil.url, prover, [calldata])
        assert ok and data == post.commitment(), data.hex()
        rows.append((kind, len(proof), anvil.w3.eth.estimate_gas({"to": prover, "data": "0x" + calldata.hex()})))
    print("largest trie state (kind, proof bytes, gas):", rows)
    assert all(size <= 10_240 and gas <= 2_000_000 for _, size, gas in rows), rows


def _deep_world(depth: int) -> tuple[bytes, bytes, list[bytes]]:
    """A world trie where the MessagePasser's account sits below `depth` full branch nodes (15
    other accounts share each prefix of its key): (root, its storage root, its proof)."""
    trie = HexaryTrie({})
    key = account_path(MESSAGE_PASSER_ADDRESS)
    nibbles = [n for b in key for n in (b >> 4, b & 15)]
    for d in range(depth):
        for n in range(16):
            if n != nibbles[d]:
                other = [*nibbles[:d], n, *[(7 * i + n) % 16 for i in range(63 - d)]]
                packed = bytes(other[i] << 4 | other[i + 1] for i in range(0, 64, 2))
                trie[packed] = account_rlp(d, n + 1)
    storage = keccak(b"passer storage")
    trie[key] = account_rlp(0, 0, storage)
    return trie.root_hash, storage, path_proof(trie, key)


@pytest.mark.slow
def test_seal_over_a_deep_world_trie_fits_the_bounds(anvil: Anvil, prover: str) -> None:
    """SEAL whose MessagePasser proof runs through 9 full branch nodes (a world of ~16^9 accounts;
    a synthetic machine state): the verifier returns the twin's block claim within the bounds."""
    root, storage, proof = _deep_world(9)
    assert len(proof) == 10 and all(len(node) == 532 for node in proof[:9])
    spec = ChainSpec(chain_id=CHAIN_ID)
    game = Game(5, 4, spec.chain_id, spec.gas_limit, bytes(spec.fee_recipient), spec.eip1559_elasticity,
                spec.eip1559_denominator, spec.max_tx_size)  # fmt: skip
    done = stacktrie.TrieState(stacktrie.DONE, 0, keccak(b"txs"), keccak(b"receipts"))
    block = BlockCtx(number=5, timestamp=1_234, parentHash=keccak(b"parent"), baseFee=7 * 10**8)
    bloom = bytes(range(256))
    m = Machine(phase=TRIE, number=5, cursor=Cursor(3, 0, 1), entry=EntryCtx(), block=block, world_root=root,
                acc=Acc(gas_used=123_456, tx_count=2, bloom=bloom, trie=done))  # fmt: skip
    w = bs.SealWitness(storage, proof)
    post = bs.seal(m, w, game)
    seal_proof = b"".join(s.data for s in seal_sections(m, w))
    calldata = step_calldata(GameContext(5, 4, 0), m.commitment(), seal_proof)
    ((ok, data),) = call_batch(anvil.url, prover, [calldata])
    assert ok and data == post.commitment(), data.hex()
    size = len(seal_proof)
    gas = anvil.w3.eth.estimate_gas({"to": prover, "data": "0x" + calldata.hex()})
    print("SEAL over a 9-branch MessagePasser path (proof bytes, gas):", size, gas)
    assert size <= 10_240 and gas <= 2_000_000
