"""`rollup deploy`: deploy DelayedInbox, Inbox, Rollup and the DisputeGame to L1, write the deployment file.

The deployment file is what every other role reads to find L1: contract addresses, the
L1 block to start deriving from, the L1 chain id, and the L2 chain it belongs to (spec hash
and genesis output root), so a node pointed at the wrong chain fails at start.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from eth_utils import is_address, to_checksum_address
from web3 import Web3
from web3.types import TxReceipt

from l1.artifacts import contracts_fingerprint, load_artifact
from l1.bindings import DEFAULT_TX_TIMEOUT, L1Error, RollupBinding
from l2.devkeys import DEV_ACCOUNTS
from l2.errors import ConfigError, RollupError
from l2.output_root import genesis_output_root
from l2.predeploys import L1_INFO_ADDRESS, MESSAGE_PASSER_ADDRESS
from l2.spec import ChainSpec, load_genesis

DEFAULT_OUT = "deployment.json"
DEFAULT_INVALIDATION_WINDOW = 20  # seconds (devnet; docs/fraud-proofs.md D9)
CONTRACT_NAMES = ("DelayedInbox", "Inbox", "Rollup")


@dataclass(frozen=True)
class DeployParams:
    """Deployment-time settings of the L1 contracts (devnet defaults)."""

    batcher: str | None = None  # default: the deployer
    proposers: tuple[str, ...] = ()  # default: the deployer
    permissionless: bool = False
    challenge_period: int = 120  # seconds; production ~7 days
    bond: int = 10**18  # wei
    force_inclusion_delay: int = 600  # seconds; production ~1 day
    max_deposit_gas_limit: int = 15_000_000
    withdrawal_delay: int = 60  # seconds from proveWithdrawal to finalizeWithdrawal; production ~days
    # The dispute game (docs/fraud-proofs.md 4). Off only for tests that drive Rollup's game hooks
    # from an account of their own.
    dispute_game: bool = True
    game_clock: int = 120  # seconds per side's chess clock; production ~3.5 days
    burn_bps: int = 5_000  # share of a losing bond burnt
    # Seconds after an assertion's creation before a one-step proof may read an unflagged batch as
    # valid (docs/fraud-proofs.md D9, 3.3); production ~1 hour, well below the game clock
    invalidation_window: int = DEFAULT_INVALIDATION_WINDOW
    # IOneStepProver address; default: deploy one of `prover_kind` with the chain's constants
    prover: str | None = None
    # "onestep": the EVM OneStepProver (sound: it refuses by name every step it cannot prove yet);
    # "none": NoProver, which refuses every step (games are then decided by clocks alone)
    prover_kind: str = "onestep"


@dataclass(frozen=True)
class Deployment:
    """The contents of a deployment file."""

    l1_chain_id: int
    l1_start_block_number: int
    l1_start_block_hash: str
    contracts: dict[str, str]
    l2_chain_id: int
    spec_hash: str
    genesis_output_root: str
    owner: str
    batcher: str
    proposers: list[str] = field(default_factory=list)
    permissionless: bool = False
    challenge_period: int = 0
    bond: int = 0
    force_inclusion_delay: int = 0
    max_deposit_gas_limit: int = 0
    withdrawal_delay: int = 0
    game_clock: int = 0  # 0: no dispute game deployed
    burn_bps: int = 0
    contracts_fingerprint: str = ""  # l1.artifacts.contracts_fingerprint() of the deploying code

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: Any) -> Deployment:
        if not isinstance(data, dict):
            raise ConfigError("deployment must be a JSON object")
        try:
            deployment = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"malformed deployment: {exc}") from exc
        missing = [name for name in CONTRACT_NAMES if not is_address(deployment.contracts.get(name, ""))]
        if missing:
            raise ConfigError(f"deployment lacks a valid address for {', '.join(missing)}")
        return deployment

    def connect(self, url: str, timeout: float = 10.0) -> Web3:
        """A web3 client for the L1 at `url`, refused (ConfigError) if its chain id is not ours."""
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        try:
            chain_id = w3.eth.chain_id
        except Exception as exc:
            raise ConfigError(f"cannot reach L1 at {url}: {exc}") from None
        if chain_id != self.l1_chain_id:
            raise ConfigError(f"L1 at {url} has chain id {chain_id}, the deployment is for {self.l1_chain_id}")
        return w3

    def chain_spec(self, genesis: str = "") -> ChainSpec:
        """The L2 spec from `genesis` (default: the built-in devnet), refused unless it is the deployed one."""
        spec = load_genesis(genesis)
        if "0x" + spec.spec_hash().hex() != self.spec_hash:
            raise ConfigError(
                f"the genesis ({genesis or 'built-in devnet'}) has spec hash 0x{spec.spec_hash().hex()}, "
                f"the deployment is for {self.spec_hash}"
            )
        return spec

    @classmethod
    def load(cls, path: Path | str) -> Deployment:
        """Read a deployment file; any problem is a ConfigError naming the file."""
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read deployment file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"deployment file {path} is not JSON: {exc}") from exc
        try:
            return cls.from_json(data)
        except ConfigError as exc:
            raise ConfigError(f"deployment file {path}: {exc}") from exc


def _deploy_one(w3: Web3, signer: LocalAccount, name: str, *args: Any) -> TxReceipt:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).build_transaction(
        {
            "from": signer.address,
            "nonce": w3.eth.get_transaction_count(signer.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=DEFAULT_TX_TIMEOUT)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise L1Error(f"deploying {name} failed (tx 0x{bytes(tx_hash).hex()})")
    return receipt


def create_address(deployer: str, nonce: int) -> str:
    """The address a CREATE from `deployer` at `nonce` makes: keccak(rlp([deployer, nonce]))[12:]."""
    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(deployer[2:]), nonce]))[12:])


PROVER_KINDS = ("onestep", "none")
# The IPhaseStep contract of each MachineState phase OneStepProver hands whole steps to
# (`phaseSteps[phase]`, docs/fraud-proofs.md 6.1): phase -> artifact. A new phase contract is wired
# by adding it here (and, if it reads chain constants, to `_step_args`); the others stay as they are.
# One contract may serve several phases (deployed once, e.g. ExecMsg for IDLE and TX_LOAD).
# Slot 0 is not a phase: it is the block-claim steps (an IOneStepProver; empty: ExecTx's IDENTITY).
# Deployed in this order: ExecMsg before ExecTxStart, which forwards the message steps to it.
PHASE_STEPS: dict[int, str] = {
    0: "ExecBlockStart",  # block claims: IDENTITY, ENTRY_SKIP, BLOCK_START (fraud-proofs 14)
    1: "ExecSys",  # SYS: SYS_WRITE and its LOADs (14)
    2: "ExecMsg",  # IDLE: NEXT_MESSAGE; the TX_LOAD router's `msgSteps` (16)
    3: "ExecTxStart",  # TX_LOAD: TX_START, DEPOSIT_START, their LOADs; the rest to ExecMsg (13)
    4: "ExecTxStart",  # TX_SETUP: TX_SETUP, TX_CALL and their LOADs (13)
    6: "ExecTxEnd",  # TX_END (2.7)
    8: "ExecTrie",  # TRIE: TRIE, TRIE_SPONGE and SEAL (its ExecSeal); phase 9 is never reached (15)
}
PHASES = 10  # OneStepProver.PHASES: one slot per phase value 0..9


def _step_args(
    name: str, spec: ChainSpec, code_oracle: str, inputs: Mapping[str, str], invalidation_window: int
) -> tuple[Any, ...] | None:
    """Constructor arguments of step contract `name`: the chain constants and L1 contracts it reads.
    None when it reads an L1 contract `inputs` lacks (a prover deployed without an Inbox, as unit
    tests do): it is then not deployed and its slots stay empty (the verifier refuses those steps)."""
    zero = "0x" + "00" * 20
    coinbase = to_checksum_address(spec.fee_recipient)
    if name == "ExecWorld":
        return (code_oracle,)
    if name == "ExecMsg":  # no DelayedInbox: DEPOSIT_LOAD is refused by name
        return (inputs["PreimageOracle"], inputs.get("DelayedInbox", zero)) if "PreimageOracle" in inputs else None
    if name == "ExecTxEnd":
        return (coinbase,)
    if name == "ExecBlockStart":
        if "Inbox" not in inputs or "DelayedInbox" not in inputs:
            return None
        return (inputs["Inbox"], inputs["DelayedInbox"], invalidation_window, spec.gas_limit,
                spec.eip1559_elasticity, spec.eip1559_denominator, to_checksum_address(L1_INFO_ADDRESS),
                inputs.get("PreimageOracle", zero))  # fmt: skip
    if name == "ExecSys":
        return (to_checksum_address(L1_INFO_ADDRESS),)
    if name == "ExecTxStart":  # msgSteps / decodeSteps: ExecMsg / ExecTxDecode when deployed before, else none
        return (inputs.get("ExecMsg", zero), inputs.get("ExecTxDecode", zero), code_oracle, coinbase, spec.gas_limit)
    if name == "ExecSigHash":  # SIG_HASH (fraud-proofs 17): the legacy signing payload's chain id
        return (spec.chain_id,)
    if name == "ExecTxDecode":  # TX_DECODE's chain constants; SIG_HASH forwarded to ExecSigHash
        return (inputs.get("ExecSigHash", zero), spec.chain_id, spec.gas_limit, spec.max_tx_size)
    if name == "ExecTrie":  # the SEAL header's coinbase and gas limit, the MessagePasser of the output root
        return (coinbase, spec.gas_limit, to_checksum_address(MESSAGE_PASSER_ADDRESS))
    return ()


def deploy_onestep(
    w3: Web3, signer: LocalAccount, spec: ChainSpec, code_oracle: str, inputs: Mapping[str, str] | None = None,
    invalidation_window: int = DEFAULT_INVALIDATION_WINDOW,
) -> dict[str, str]:
    """Deploy the step contracts (ExecWorld, ExecTx, ExecCall, then each of `PHASE_STEPS`), then
    `OneStepProver(chainId, gasLimit, coinbase, codeOracle, world, txSteps, calls, phaseSteps)` reading
    `code_oracle`; returns every address by artifact name. `inputs` names the L1 contracts a step
    may read live ("Inbox", "DelayedInbox"). The step contracts are separate transactions because
    together they exceed the 48 KiB initcode limit of one (EIP-3860)."""
    inputs = inputs or {}
    out: dict[str, str] = {}
    # ExecSigHash and ExecTxDecode (reached through ExecTxStart's router, fraud-proofs 17) before ExecTxStart
    for name in dict.fromkeys(("ExecWorld", "ExecTx", "ExecSigHash", "ExecTxDecode", *PHASE_STEPS.values())):
        args = _step_args(name, spec, code_oracle, {**inputs, **out}, invalidation_window)  # may read an earlier one
        if args is None:
            continue
        receipt = _deploy_one(w3, signer, name, *args)
        out[name] = to_checksum_address(receipt["contractAddress"])
    phase_steps = ["0x" + "00" * 20] * PHASES
    for phase, name in PHASE_STEPS.items():
        if name in out:
            phase_steps[phase] = out[name]
    out["ExecCall"] = to_checksum_address(_deploy_one(w3, signer, "ExecCall", code_oracle)["contractAddress"])
    args = (spec.chain_id, spec.gas_limit, to_checksum_address(spec.fee_recipient), code_oracle)
    receipt = _deploy_one(w3, signer, "OneStepProver", *args, out["ExecWorld"], out["ExecTx"], out["ExecCall"],
                          phase_steps)  # fmt: skip
    out["OneStepProver"] = to_checksum_address(receipt["contractAddress"])
    return out


def deploy_prover(
    w3: Web3, signer: LocalAccount, spec: ChainSpec, kind: str = "onestep", inputs: Mapping[str, str] | None = None,
    invalidation_window: int = DEFAULT_INVALIDATION_WINDOW,
) -> dict[str, str]:
    """Deploy a one-step prover; returns {"OneStepProver": address} plus, for `onestep`, the
    address of every contract it reads ("CodeOracle", "ExecWorld", "ExecTx", "ExecTxEnd", ...).
    `onestep`: the CodeOracle (what EXTCODESIZE reads, D4), then `deploy_onestep`: the step
    contracts and `OneStepProver` with the chain constants a step reads baked in at deployment
    (docs/fraud-proofs.md 1.1, 6.1; the coinbase is the spec's fee recipient, the block's
    beneficiary) and the L1 contracts of `inputs`; `none`: `NoProver`. OneStepProver is a sound
    default: a step it cannot prove yet reverts `Unsupported(name)`, never a made-up post-state."""
    if kind == "none":
        return {"OneStepProver": to_checksum_address(_deploy_one(w3, signer, "NoProver")["contractAddress"])}
    if kind != "onestep":
        raise ConfigError(f"unknown prover kind {kind!r} (one of {', '.join(PROVER_KINDS)})")
    oracle = to_checksum_address(_deploy_one(w3, signer, "CodeOracle")["contractAddress"])
    preimages = to_checksum_address(_deploy_one(w3, signer, "PreimageOracle")["contractAddress"])  # section 16
    inputs = {**(inputs or {}), "PreimageOracle": preimages}
    onestep = deploy_onestep(w3, signer, spec, oracle, inputs, invalidation_window)
    return {"CodeOracle": oracle, "PreimageOracle": preimages, **onestep}


def deploy(w3: Web3, signer: LocalAccount, spec: ChainSpec, params: DeployParams = DeployParams()) -> Deployment:
    """Deploy the contracts in order, each after the previous one's receipt.

    DelayedInbox pays withdrawals against Rollup's assertions and Rollup comes after it (it
    needs the Inbox, which needs DelayedInbox): DelayedInbox is given Rollup's address in
    advance, the CREATE address of the deployer's nonce two transactions later. Then the
    one-step prover (`deploy_prover`, unless `params.prover` names one), the DisputeGame (it
    reads Rollup's bond and inbox at construction) and `Rollup.setDisputeGame`.
    """
    owner = signer.address
    batcher = to_checksum_address(params.batcher or owner)
    proposers = [to_checksum_address(p) for p in (params.proposers or (owner,))]
    root = genesis_output_root(spec)
    rollup_address = create_address(owner, w3.eth.get_transaction_count(owner, "pending") + 2)
    delayed = _deploy_one(
        w3, signer, "DelayedInbox", params.max_deposit_gas_limit, rollup_address, params.withdrawal_delay
    )
    inbox = _deploy_one(
        w3, signer, "Inbox", owner, batcher, delayed["contractAddress"], params.force_inclusion_delay, spec.chain_id
    )
    rollup = _deploy_one(
        w3,
        signer,
        "Rollup",
        owner,
        inbox["contractAddress"],
        root,
        params.challenge_period,
        params.bond,
        proposers,
        params.permissionless,
    )
    if rollup["contractAddress"] != rollup_address:
        raise L1Error(
            f"Rollup landed at {rollup['contractAddress']}, not {rollup_address} as DelayedInbox was told "
            f"(did another transaction from {owner} get in between?): deploy again"
        )
    contracts = {
        "DelayedInbox": delayed["contractAddress"],
        "Inbox": inbox["contractAddress"],
        "Rollup": rollup["contractAddress"],
    }
    if params.dispute_game:
        prover = params.prover
        if prover is None:
            inputs = {"Inbox": inbox["contractAddress"], "DelayedInbox": delayed["contractAddress"]}
            provers = deploy_prover(w3, signer, spec, params.prover_kind, inputs, params.invalidation_window)
            prover = provers["OneStepProver"]
            contracts.update({k: v for k, v in provers.items() if k != "OneStepProver"})
        game = _deploy_one(
            w3,
            signer,
            "DisputeGame",
            rollup["contractAddress"],
            to_checksum_address(prover),
            params.game_clock,
            params.burn_bps,
        )
        RollupBinding(w3, rollup["contractAddress"], signer).set_dispute_game(game["contractAddress"])
        contracts["OneStepProver"] = to_checksum_address(prover)
        contracts["DisputeGame"] = game["contractAddress"]
    return Deployment(
        l1_chain_id=w3.eth.chain_id,
        l1_start_block_number=delayed["blockNumber"],
        l1_start_block_hash="0x" + bytes(delayed["blockHash"]).hex(),
        contracts=contracts,
        l2_chain_id=spec.chain_id,
        spec_hash="0x" + spec.spec_hash().hex(),
        genesis_output_root="0x" + root.hex(),
        owner=owner,
        batcher=batcher,
        proposers=proposers,
        permissionless=params.permissionless,
        challenge_period=params.challenge_period,
        bond=params.bond,
        force_inclusion_delay=params.force_inclusion_delay,
        max_deposit_gas_limit=params.max_deposit_gas_limit,
        withdrawal_delay=params.withdrawal_delay,
        game_clock=params.game_clock if params.dispute_game else 0,
        burn_bps=params.burn_bps if params.dispute_game else 0,
        contracts_fingerprint=contracts_fingerprint(),
    )


# -- command line ----------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = DeployParams()
    parser.add_argument("--l1-rpc", default="http://127.0.0.1:8545", help="L1 JSON-RPC URL (default %(default)s)")
    parser.add_argument(
        "--private-key", default=DEV_ACCOUNTS[0][1], help="deployer and owner key (default: dev account 0)"
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="deployment file to write (default %(default)s)")
    parser.add_argument("--genesis", default=None, help="L2 genesis file (default: the devnet genesis)")
    parser.add_argument("--batcher", default=None, help="batcher address (default: the deployer)")
    parser.add_argument(
        "--proposer", action="append", default=[], help="allowed proposer, repeatable (default: the deployer)"
    )
    parser.add_argument("--permissionless", action="store_true", help="let anyone propose assertions")
    parser.add_argument(
        "--challenge-period", type=int, default=defaults.challenge_period, help="seconds (default %(default)s)"
    )
    parser.add_argument("--bond", type=int, default=defaults.bond, help="assertion bond in wei (default %(default)s)")
    parser.add_argument(
        "--force-inclusion-delay",
        type=int,
        default=defaults.force_inclusion_delay,
        help="seconds before anyone may force in a deposit (default %(default)s)",
    )
    parser.add_argument(
        "--max-deposit-gas-limit",
        type=int,
        default=defaults.max_deposit_gas_limit,
        help="largest L2 gas limit a deposit may ask for (default %(default)s)",
    )
    parser.add_argument(
        "--withdrawal-delay",
        type=int,
        default=defaults.withdrawal_delay,
        help="seconds between proving a withdrawal and paying it out (default %(default)s)",
    )
    parser.add_argument(
        "--game-clock", type=int, default=defaults.game_clock, help="dispute clock per side, s (default %(default)s)"
    )
    parser.add_argument(
        "--burn-bps",
        type=int,
        default=defaults.burn_bps,
        help="share of a losing dispute bond burnt, in basis points (default %(default)s)",
    )
    parser.add_argument(
        "--invalidation-window",
        type=int,
        default=defaults.invalidation_window,
        help="seconds after an assertion before a one-step proof reads an unflagged batch as valid; "
        "below --game-clock (default %(default)s)",
    )
    parser.add_argument(
        "--prover", default=None, help="one-step prover address (default: deploy one of --prover-kind)"
    )
    parser.add_argument(
        "--prover-kind",
        choices=PROVER_KINDS,
        default=defaults.prover_kind,
        help="prover to deploy without --prover: the EVM OneStepProver, or NoProver refusing every step "
        "(default %(default)s)",
    )


def _params(args: argparse.Namespace) -> DeployParams:
    for flag, value in [("--batcher", args.batcher), *(("--proposer", p) for p in args.proposer)]:
        if value is not None and not is_address(value):
            raise ConfigError(f"{flag}: {value!r} is not an address")
    for name in ("challenge_period", "bond", "force_inclusion_delay", "max_deposit_gas_limit", "withdrawal_delay"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name.replace('_', '-')} must not be negative")
    if args.bond == 0:
        raise ConfigError("--bond must be positive")
    if not 0 < args.game_clock < 2**64:
        raise ConfigError("--game-clock must be positive")
    if not 0 <= args.burn_bps <= 10_000:
        raise ConfigError("--burn-bps must be between 0 and 10000")
    if not 0 < args.invalidation_window < args.game_clock:
        raise ConfigError("--invalidation-window must be positive and below --game-clock (the honest side flags first)")
    if args.prover is not None and not is_address(args.prover):
        raise ConfigError(f"--prover: {args.prover!r} is not an address")
    return DeployParams(
        batcher=args.batcher,
        proposers=tuple(args.proposer),
        permissionless=args.permissionless,
        challenge_period=args.challenge_period,
        bond=args.bond,
        force_inclusion_delay=args.force_inclusion_delay,
        max_deposit_gas_limit=args.max_deposit_gas_limit,
        withdrawal_delay=args.withdrawal_delay,
        game_clock=args.game_clock,
        burn_bps=args.burn_bps,
        invalidation_window=args.invalidation_window,
        prover=args.prover,
        prover_kind=args.prover_kind,
    )


def run(args: argparse.Namespace) -> int:
    try:
        params = _params(args)
        try:
            signer = Account.from_key(args.private_key)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--private-key is not a valid secp256k1 private key ({exc})") from None
        spec = load_genesis(args.genesis)
        out = Path(args.out)
        if not out.parent.is_dir():
            raise ConfigError(f"--out: folder {out.parent} does not exist")
        w3 = Web3(Web3.HTTPProvider(args.l1_rpc, request_kwargs={"timeout": 30}))
        if not w3.is_connected():
            raise L1Error(f"cannot reach the L1 node at {args.l1_rpc}")
        if w3.eth.get_balance(signer.address) == 0:
            raise L1Error(f"deployer {signer.address} has no ETH on L1")
        deployment = deploy(w3, signer, spec, params)
        deployment.save(out)
    except RollupError as exc:
        print(f"rollup deploy: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # L1 node went away mid-way, or answered nonsense
        print(f"rollup deploy: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name, address in deployment.contracts.items():
        print(f"{name:<13} {address}")
    print(f"start block   {deployment.l1_start_block_number} {deployment.l1_start_block_hash}")
    print(f"wrote {out}")
    return 0
