"""The dispute agent's level-2 source: block traces of our own chain as the agent's `Level2Trace`.

Shared by the verifier's agent and the proposer's defender (both roles may import `l1`).

`ProofsLevel2Source` builds the block trace of `l1.proofs.block_machine` (`BlockTrace.build(chain,
reader, block, entry_limit, start)`, `start` the cursor of our level-1 claim before the block) and
adapts it to the agent's `Level2Trace`: states by `state(j)`, proofs by
`l1.proofs.tx_proofs.proof_for`, checked by an `eth_call` of the deployed OneStepProver; a step kind
the prover refuses by name is `Unprovable(kind)`. A block the tracer cannot trace yet
(`Unsupported(name)`) gives None and the agent alerts ("level-2 trace not built").

`Registrar` fills the L1 oracles a proof reads live before the proof is checked or sent
(docs/fraud-proofs.md 16): the PreimageOracle records of the step's L2Tx message or deposit data
(NEXT_MESSAGE, TX_LOAD, DEPOSIT_LOAD, DATA_LOAD) and the CodeOracle records of the code every
frame of the step's pre- and post-state runs (TX_CALL and CALL read the callee's record). It
reads each oracle first and registers only what is missing, one L1 transaction per record,
waited for; a check that still reverts `CodeNotRegistered(codeHash)` (EXTCODESIZE reads a code no
frame runs) gets that code registered from the trace's state db and is tried once more.
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from eth_hash.auto import keccak
from web3 import Web3

from l1.artifacts import ARTIFACT_DIR, load_artifact
from l1.deploy import Deployment
from l1.dispute_agent import StepContext, Unprovable
from l1.dispute_claims import LevelOneClaims
from l1.inbox_reader import InboxReader
from l1.proofs.block_machine import BlockTrace
from l1.proofs.msg_proofs import preimages_for
from l1.proofs.prover import GameContext, step_calldata
from l1.proofs.tx_proofs import Unsupported, proof_for
from l2.replay import Replayer

log = logging.getLogger(__name__)


def codes_for(block_trace: Any, j: int) -> list[bytes]:
    """The code of every frame of the pre- and post-state of step `j` (the running frame and its
    suspended callers), each once: what CodeOracle must know for TX_CALL / CALL to read it live."""
    out: list[bytes] = []
    for k in (j, j + 1):
        if k > block_trace.steps:
            continue
        state = block_trace.machine(k).exec
        for st in [state, *getattr(state, "parents", ())] if state is not None else []:
            code = bytes(st.code.code)
            if code and code not in out:
                out.append(code)
    return out


class Registrar:
    """Registers what a step's proof reads from the L1 oracles, before the proof is checked:
    `PreimageOracle.register` for `msg_proofs.preimages_for(trace, j)`, `CodeOracle.register` for
    `codes_for(trace, j)`; each oracle is read first (`get`) so a record is sent once."""

    def __init__(self, w3: Web3, transactor: Any, preimage_oracle: str | None, code_oracle: str | None) -> None:
        self.transactor = transactor
        self.preimages = (w3.eth.contract(address=Web3.to_checksum_address(preimage_oracle),
                                          abi=load_artifact("PreimageOracle")["abi"])
                          if preimage_oracle else None)  # fmt: skip
        self.codes = (w3.eth.contract(address=Web3.to_checksum_address(code_oracle),
                                      abi=load_artifact("CodeOracle")["abi"])
                      if code_oracle else None)  # fmt: skip
        self.sent = 0  # registrations sent (a test reads it)

    def prepare(self, block_trace: Any, j: int) -> None:
        """Register every record step `j`'s proof reads and the oracles lack (idempotent)."""
        wanted = []
        if self.preimages is not None and j < block_trace.steps:
            wanted += [(self.preimages, data) for data in preimages_for(block_trace, j)]
        if self.codes is not None and j < block_trace.steps:
            wanted += [(self.codes, code) for code in codes_for(block_trace, j)]
        for oracle, data in wanted:
            if oracle.functions.get(keccak(data)).call()[0]:
                continue
            log.info("registering a %d-byte preimage 0x%s in %s", len(data), keccak(data).hex(), oracle.address)
            self.transactor.send(oracle.address, bytes.fromhex(oracle.encode_abi("register", [data])[2:]),
                                 abi=oracle.abi)  # fmt: skip
            self.sent += 1

    def register_missing_code(self, block_trace: Any, revert: bytes) -> bool:
        """After a check reverted `CodeNotRegistered(codeHash)` (EXTCODESIZE, or a callee the frames
        do not show): register that code, read from the trace's state db; True if it was sent."""
        if self.codes is None or revert[:4] != CODE_NOT_REGISTERED or len(revert) < 36:
            return False
        code_hash = revert[4:36]
        try:
            code = bytes(block_trace.db[code_hash])
        except (KeyError, TypeError, AttributeError):
            return False
        if keccak(code) != code_hash or self.codes.functions.get(code_hash).call()[0]:
            return False
        log.info("registering a %d-byte code 0x%s in %s", len(code), code_hash.hex(), self.codes.address)
        self.transactor.send(self.codes.address, bytes.fromhex(self.codes.encode_abi("register", [code])[2:]),
                             abi=self.codes.abi)  # fmt: skip
        self.sent += 1
        return True


class BlockTraceAdapter:
    """A `l1.proofs.block_machine.BlockTrace` as the agent's `Level2Trace`.

    Proofs come from `l1.proofs.tx_proofs.proof_for` (every step kind the deployed prover proves,
    docs/fraud-proofs.md Status); a kind it refuses by name is `Unprovable(kind)`. With a `check`
    (an `eth_call` of the deployed prover, `ProverCheck`), a proof the prover refuses or answers
    with another post-state than our `state(j + 1)` is `Unprovable` too, before anything is sent;
    with a `registrar`, the oracle records the proof reads are registered first.
    """

    def __init__(self, block_trace: Any, ctx: StepContext | None = None, check: ProverCheck | None = None,
                 registrar: Registrar | None = None) -> None:  # fmt: skip
        self.block_trace = block_trace
        self.ctx = ctx
        self.check = check
        self.registrar = registrar

    @property
    def steps(self) -> int:
        return int(self.block_trace.steps)

    def state(self, j: int) -> bytes:
        return bytes(self.block_trace.state(min(j, self.steps)))  # past T: the final claim (identity)

    def kind(self, j: int) -> str:
        return str(self.block_trace.step_kind(j))

    def raw_proof(self, j: int) -> bytes:
        """The proof bytes of step j -> j + 1 (`l1.proofs.tx_proofs.proof_for`), or `Unprovable(kind)`."""
        try:
            return proof_for(self.block_trace, j)
        except Unsupported as exc:
            raise Unprovable(exc.name) from exc

    def proof(self, j: int) -> bytes:
        proof = self.raw_proof(j)
        if self.registrar is not None:
            try:
                self.registrar.prepare(self.block_trace, j)
            except Exception as exc:  # L1 trouble: the check below (or proveStep) refuses; next round retries
                log.error("could not register the records step %d reads: %s: %s", j, type(exc).__name__, exc)
        if self.check is not None and self.ctx is not None:
            try:
                ok, result = self.check.step(self.ctx, self.state(j), proof)
                if not ok and self.registrar is not None and self.registrar.register_missing_code(
                        self.block_trace, self.check.last_revert):  # a code read outside the frames
                    ok, result = self.check.step(self.ctx, self.state(j), proof)
            except Exception as exc:  # L1 unreachable: send the proof anyway; proveStep decides
                log.error("could not check the proof of step %d with the prover: %s: %s", j, type(exc).__name__, exc)
                return proof
            if not ok:
                raise Unprovable(result.decode(errors="replace") or self.kind(j))
            if result != self.state(j + 1):
                log.error("the prover's post-state of step %d (%s) is not our state %d", j, self.kind(j), j + 1)
                raise Unprovable(f"{self.kind(j)}_POST")
        return proof


UNSUPPORTED_SELECTOR = Web3.keccak(text="Unsupported(bytes32)")[:4]


@cache
def _error_names() -> dict[bytes, str]:
    """Selector -> name of every custom error of the L1 contracts (from their artifacts)."""
    out: dict[bytes, str] = {}
    for path in sorted(ARTIFACT_DIR.glob("*.json")):
        for item in json.loads(path.read_text()).get("abi", []):
            if item.get("type") == "error":
                signature = f"{item['name']}({','.join(i['type'] for i in item.get('inputs', []))})"
                out.setdefault(Web3.keccak(text=signature)[:4], item["name"])
    return out


def revert_name(raw: bytes) -> str:
    """What a prover revert says: the name of an `Unsupported(name)`, else the custom error's
    name (`PreimageNotRegistered`, `ValidityWindowOpen`, ...), else "REVERTED"."""
    if raw[:4] == UNSUPPORTED_SELECTOR:
        return raw[4:36].rstrip(b"\0").decode(errors="replace")
    return _error_names().get(raw[:4], "REVERTED")
CODE_NOT_REGISTERED = Web3.keccak(text="CodeNotRegistered(bytes32)")[:4]


class ProverCheck:
    """`IOneStepProver.step` by `eth_call` on the deployed prover: (True, post) or (False, name)."""

    def __init__(self, w3: Web3, prover: str) -> None:
        self.w3 = w3
        self.prover = Web3.to_checksum_address(prover)
        self.last_revert = b""  # the raw revert data of the last refused call

    def step(self, ctx: StepContext, pre: bytes, proof: bytes) -> tuple[bool, bytes]:
        data = step_calldata(GameContext(ctx.l2_block, ctx.entry_limit, ctx.created_at), pre, proof)
        reply = self.w3.provider.make_request(
            "eth_call", [{"to": self.prover, "data": "0x" + data.hex(), "gas": hex(30_000_000)}, "latest"]
        )  # type: ignore[arg-type]
        if "result" in reply:
            return True, bytes.fromhex(str(reply["result"])[2:])
        raw = reply.get("error", {}).get("data") or "0x"
        raw = bytes.fromhex(raw[2:]) if isinstance(raw, str) else b""
        self.last_revert = raw
        return False, revert_name(raw).encode()


def start_cursor(claims: LevelOneClaims, block: int, entry_limit: int) -> tuple[int, int, int]:
    """The cursor of the agreed claim before L2 block `block`: after block - 1 (genesis: all zero)."""
    if block <= 1:
        return (0, 0, 0)
    return claims.cursor_after(block - 1, entry_limit)


class ProofsLevel2Source:
    """Level-2 traces of our own chain from `l1.proofs.block_machine`; the start of block
    b's trace is the cursor of our level-1 claim after b - 1 (`LevelOneClaims.cursor_after`)."""

    def __init__(self, replayer: Replayer, reader: InboxReader, claims: LevelOneClaims | None = None,
                 check: ProverCheck | None = None, registrar: Registrar | None = None) -> None:
        self.replayer = replayer
        self.reader = reader
        self.claims = claims if claims is not None else LevelOneClaims(replayer, reader)
        self.check = check
        self.registrar = registrar

    def build(self, ctx: StepContext) -> Any:
        """The raw `BlockTrace` of `ctx.l2_block` (raises what the tracer raises)."""
        start = start_cursor(self.claims, ctx.l2_block, ctx.entry_limit)
        return BlockTrace.build(self.replayer.chain, self.reader, ctx.l2_block, ctx.entry_limit, start,
                                keep_machines=True)  # fmt: skip

    def trace(self, ctx: StepContext) -> BlockTraceAdapter | None:
        try:
            built = self.build(ctx)
        except Exception as exc:  # an unfinished tracer (Unsupported(name)): the agent alerts, never makes states up
            log.error("level-2 trace of L2 block %d failed: %s: %s", ctx.l2_block, type(exc).__name__, exc)
            return None
        return BlockTraceAdapter(built, ctx, self.check, self.registrar)


def level2_source(w3: Web3, deployment: Deployment, replayer: Replayer, claims: LevelOneClaims,
                  transactor: Any) -> ProofsLevel2Source:
    """The level-2 source of an agent sending with `transactor`: traces of `replayer`'s chain, proofs
    checked against the deployment's OneStepProver, oracle records registered from its key."""
    prover = deployment.contracts.get("OneStepProver")
    registrar = Registrar(w3, transactor, deployment.contracts.get("PreimageOracle"),
                          deployment.contracts.get("CodeOracle"))  # fmt: skip
    return ProofsLevel2Source(replayer, InboxReader(w3, deployment, confirmations=0), claims,
                              ProverCheck(w3, prover) if prover else None, registrar)  # fmt: skip
