"""`rollup devnet`: anvil as L1, the contracts deployed once, then every role as its own process.

Order: anvil (its state kept in DATADIR/l1, so a second start resumes the same L1 chain),
`rollup deploy` unless DATADIR/deployment.json exists, the sequencer, then the batcher, the
proposer and a verifier. Each child's output is streamed with its role as prefix; Ctrl-C or
SIGTERM stops them all (newest first, L1 last), and a child that dies stops the devnet.
Design and defaults: docs/devnet.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from l1.artifacts import contracts_fingerprint
from l2.devkeys import DEV_ACCOUNTS
from l2.errors import ConfigError, RollupError
from ops.processes import ChildFailed, Supervisor

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FOUNDRY_MODULES = PROJECT_ROOT / "tools" / "node" / "node_modules" / "@foundry-rs"
L1_CHAIN_ID = 900  # l1.anvil.DEFAULT_L1_CHAIN_ID, not imported: it would load web3 into the supervisor
L2_CHAIN_ID = 901
HOST = "127.0.0.1"
# One L1 key per role: two processes sending from one key take each other's nonces
# (l1.transactions.L1NonceConflict). Accounts 0..6 stay free for users and tutorials.
VERIFIER_ACCOUNT = 7  # the verifier's dispute agent (challenge bonds, moves)
BATCHER_ACCOUNT = 8
PROPOSER_ACCOUNT = 9
READY_TIMEOUT = 180.0  # seconds; five Pythons importing web3 and py-evm at once on 2 cores
STOP_GRACE = 20.0


@dataclass(frozen=True)
class DevnetConfig:
    """Everything `rollup devnet` can be told; a port of 0 is not allowed (the roles must find each other)."""

    datadir: str = "./data/devnet"
    l1_port: int = 8545
    l1_block_time: int = 1  # seconds; L1 confirmations only mean something if L1 makes blocks
    l1_state_interval: int = 10  # seconds between anvil's state dumps (and one at exit)
    rpc_port: int = 9545  # sequencer JSON-RPC
    grpc_port: int = 9555  # sequencer gRPC
    verifier_rpc_port: int = 9546
    metrics_port: int = 7300  # sequencer
    batcher_metrics_port: int = 7301
    proposer_metrics_port: int = 7302
    verifier_metrics_port: int = 7303
    log_level: str = "INFO"
    # Deployment settings, used on the first start only (the contracts keep them).
    challenge_period: int = 120  # seconds; l1.deploy.DeployParams' default
    withdrawal_delay: int = 60  # seconds
    game_clock: int = 120  # seconds per side in a dispute game

    def __post_init__(self) -> None:
        ports = self.ports()
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise ConfigError(f"--{name.replace('_', '-')} {port} is not a TCP port")
        seen: dict[int, str] = {}
        for name, port in ports.items():
            if port in seen:
                raise ConfigError(f"--{name.replace('_', '-')} and --{seen[port].replace('_', '-')} are both {port}")
            seen[port] = name
        if not 1 <= self.l1_block_time <= 60:
            raise ConfigError("--l1-block-time must be between 1 and 60 seconds")
        if self.l1_state_interval < 1:
            raise ConfigError("--l1-state-interval must be >= 1 second")
        if self.challenge_period < 0 or self.withdrawal_delay < 0:
            raise ConfigError("--challenge-period and --withdrawal-delay must not be negative")
        if self.game_clock <= 0:
            raise ConfigError("--game-clock must be positive")

    def ports(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name.endswith("_port")}

    @property
    def l1_url(self) -> str:
        return f"http://{HOST}:{self.l1_port}"


FLAG_HELP = {
    "datadir": "data directory of L1 and every role",
    "l1_port": "anvil (L1) JSON-RPC port",
    "l1_block_time": "seconds between L1 blocks",
    "l1_state_interval": "seconds between anvil's state dumps to the datadir",
    "rpc_port": "sequencer JSON-RPC port",
    "grpc_port": "sequencer gRPC port",
    "verifier_rpc_port": "verifier JSON-RPC port",
    "metrics_port": "sequencer metrics port",
    "batcher_metrics_port": "batcher metrics port",
    "proposer_metrics_port": "proposer metrics port",
    "verifier_metrics_port": "verifier metrics port",
    "challenge_period": "seconds before an assertion can be confirmed (first start only)",
    "withdrawal_delay": "seconds between proving a withdrawal and paying it out (first start only)",
    "game_clock": "dispute game chess clock per side, seconds (first start only)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(DevnetConfig):
        if f.name in FLAG_HELP:
            kind = type(f.default)
            parser.add_argument(
                f"--{f.name.replace('_', '-')}", dest=f.name, type=kind, default=f.default,
                help=f"{FLAG_HELP[f.name]} (default {f.default})",
            )
    parser.epilog = "Any other setting of a role: ROLLUP_<ROLE>_<KEY> environment variables (see docs/devnet.md)."


def run(args: argparse.Namespace) -> int:
    try:
        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(DevnetConfig) if hasattr(args, f.name)}
        config = DevnetConfig(**values)
        busy = [f"{name.replace('_', '-')} {port}" for name, port in config.ports().items() if not _port_free(port)]
        if busy:
            raise ConfigError(
                f"port in use: {', '.join(busy)} (another devnet running? choose others with the --*-port flags)"
            )
        return Devnet(config).run()
    except ConfigError as exc:
        print(f"rollup devnet: {exc}", file=sys.stderr)
        return 2


class Devnet:
    """One run of the devnet: start everything, watch, stop everything."""

    def __init__(self, config: DevnetConfig, supervisor: Supervisor | None = None) -> None:
        self.config = config
        self.datadir = Path(config.datadir).resolve()
        self.deployment_path = self.datadir / "deployment.json"
        self.sup = supervisor or Supervisor()
        self.stop = threading.Event()
        self._signals = 0

    # -- the run ------------------------------------------------------------------

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run()
        finally:
            killed = self.sup.stop_all(STOP_GRACE)
            if killed:
                why = "second signal" if self._signals > 1 else f"did not stop within {STOP_GRACE:.0f} s"
                self.sup.say(f"devnet: killed {', '.join(killed)} ({why})")
            self.sup.say("devnet: stopped")
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # No printing here: the main thread may hold the output lock this handler interrupted.
        self._signals += 1
        self.stop.set()
        if self._signals > 1:
            self.sup.force()

    def _run(self) -> int:
        try:
            resumed = self._prepare_datadir()
            self.sup.say(f"devnet: {'resuming the chain in' if resumed else 'new chain in'} {self.datadir}")
            if not self._start_l1():
                return 0
            deployment = self._deployment()
            if deployment is None:
                return 0
            if not self._start_roles(deployment):
                return 0
        except ChildFailed as exc:
            self.sup.say(f"devnet: {exc}; stopping")
            return 1
        except RollupError as exc:
            self.sup.say(f"devnet: {exc}")
            return 1
        except (OSError, ValueError, KeyError) as exc:  # L1 gone mid-start, or a malformed deployment file
            self.sup.say(f"devnet: {type(exc).__name__}: {exc}; stopping")
            return 1
        self.sup.say(self.banner(deployment))
        died = self.sup.watch(self.stop)
        if died is not None:
            self.sup.say(
                f"devnet: {died.role} exited unexpectedly with code {died.exited()} (its last output is above); "
                "stopping the devnet"
            )
            return 1
        self.sup.say("devnet: stopping (Ctrl-C again to kill at once)")
        return 0

    def _prepare_datadir(self) -> bool:
        """Create the datadir; True if it holds a chain to resume. Refuses half-made ones."""
        (self.datadir / "l1").mkdir(parents=True, exist_ok=True)
        state = self.datadir / "l1" / "state.json"
        roles = [r for r in ("sequencer", "proposer", "verifier") if (self.datadir / r).exists()]
        if not self.deployment_path.exists():
            if roles:
                raise ConfigError(
                    f"{self.datadir} holds data of {', '.join(roles)} but no deployment.json: "
                    "remove the folder to start a new devnet"
                )
            return False
        if not state.exists():
            raise ConfigError(
                f"{self.deployment_path} exists but the L1 state {state} does not (was it deleted?): "
                "remove the folder to start a new devnet"
            )
        return True

    # -- L1 -------------------------------------------------------------------------

    def _start_l1(self) -> bool:
        c = self.config
        state = self.datadir / "l1" / "state.json"
        argv = [
            anvil_binary(), "--host", HOST, "--port", str(c.l1_port), "--chain-id", str(L1_CHAIN_ID),
            "--block-time", str(c.l1_block_time), "--state", str(state), "--state-interval", str(c.l1_state_interval),
        ]
        log = self.datadir / "l1" / "anvil.log"
        anvil = self.sup.start("l1", argv, stdout_file=log)
        self.sup.write("l1", f"anvil on {c.l1_url}, block time {c.l1_block_time} s, log {log}")
        return self.sup.wait_ready([anvil], READY_TIMEOUT, self.stop, {"l1": self._l1_ready})

    def _l1_ready(self) -> bool:
        try:
            return int(rpc(self.config.l1_url, "eth_chainId", []), 16) == L1_CHAIN_ID
        except (OSError, ValueError, KeyError):
            return False

    def _deployment(self) -> dict[str, Any] | None:
        """The deployment file: made by `rollup deploy` on the first start, checked against L1 after."""
        if not self.deployment_path.exists():
            partial = self.deployment_path.with_suffix(".json.partial")
            argv = [
                *rollup_command("deploy", self.config.log_level), "--l1-rpc", self.config.l1_url,
                "--out", str(partial),
                "--batcher", DEV_ACCOUNTS[BATCHER_ACCOUNT][0], "--proposer", DEV_ACCOUNTS[PROPOSER_ACCOUNT][0],
                "--challenge-period", str(self.config.challenge_period),
                "--withdrawal-delay", str(self.config.withdrawal_delay),
                "--game-clock", str(self.config.game_clock),
            ]
            self.sup.run_once("deploy", argv, child_env())
            partial.replace(self.deployment_path)  # only a finished deployment is ever resumed
            if self.stop.is_set():
                return None
        deployment = json.loads(self.deployment_path.read_text())
        check_fingerprint(deployment, self.deployment_path)
        rollup = deployment["contracts"]["Rollup"]
        if rpc(self.config.l1_url, "eth_getCode", [rollup, "latest"]) in ("0x", "0x0", None):
            raise ConfigError(
                f"L1 has no Rollup contract at {rollup} although {self.deployment_path} names it "
                f"(the L1 state was lost?): remove {self.datadir} to start a new devnet"
            )
        return dict(deployment)

    # -- roles ----------------------------------------------------------------------

    def _start_roles(self, deployment: dict[str, Any]) -> bool:
        c, d = self.config, self.datadir
        dep = str(self.deployment_path)
        l1 = ["--l1-rpc", c.l1_url, "--deployment", dep]
        batcher_key = dev_key(deployment["batcher"], "ROLLUP_BATCHER_PRIVATE_KEY")
        proposer_key = dev_key(deployment["proposers"][0], "ROLLUP_PROPOSER_PRIVATE_KEY")
        seq_argv = [
            *rollup_command("sequencer", c.log_level), "--datadir", str(d / "sequencer"),
            "--rpc-port", str(c.rpc_port), "--grpc-port", str(c.grpc_port), "--metrics-port", str(c.metrics_port),
        ]
        seq_argv += l1
        sequencer = self.sup.start("sequencer", seq_argv, child_env(), ready_prefix="sequencer ready")
        if not self.sup.wait_ready([sequencer], READY_TIMEOUT, self.stop):
            return False
        batcher = self.sup.start(
            "batcher",
            [*rollup_command("batcher", c.log_level), *l1, "--sequencer-grpc", f"{HOST}:{c.grpc_port}",
             "--metrics-port", str(c.batcher_metrics_port)],
            child_env(ROLLUP_BATCHER_PRIVATE_KEY=batcher_key), ready_prefix="batcher ready",
        )
        proposer = self.sup.start(
            "proposer",
            [*rollup_command("proposer", c.log_level), *l1, "--datadir", str(d / "proposer"),
             "--metrics-port", str(c.proposer_metrics_port)],
            child_env(ROLLUP_PROPOSER_PRIVATE_KEY=proposer_key), ready_prefix="proposer ready",
        )
        verifier = self.sup.start(
            "verifier",
            [*rollup_command("verifier", c.log_level), *l1, "--datadir", str(d / "verifier"),
             "--rpc-port", str(c.verifier_rpc_port), "--metrics-port", str(c.verifier_metrics_port)],
            child_env(ROLLUP_VERIFIER_DISPUTE_KEY=DEV_ACCOUNTS[VERIFIER_ACCOUNT][1]), ready_prefix="verifier ready",
        )
        return self.sup.wait_ready([batcher, proposer, verifier], READY_TIMEOUT, self.stop)

    def banner(self, deployment: dict[str, Any]) -> str:
        c = self.config
        contracts = "  ".join(f"{name} {address}" for name, address in deployment["contracts"].items())
        roles = {
            deployment["owner"].lower(): "deployed and owns the L1 contracts",
            deployment["batcher"].lower(): "the batcher's L1 key: leave it to the batcher",
            deployment["proposers"][0].lower(): "the proposer's L1 key: leave it to the proposer",
            DEV_ACCOUNTS[VERIFIER_ACCOUNT][0].lower(): "the verifier's dispute key: leave it to the verifier",
        }
        lines = [
            f"devnet ready: L2 chain id {L2_CHAIN_ID}, L1 chain id {L1_CHAIN_ID}, data in {self.datadir}",
            f"  L1 (anvil) JSON-RPC   {c.l1_url}  (block time {c.l1_block_time} s)",
            f"  sequencer JSON-RPC    http://{HOST}:{c.rpc_port}",
            f"  sequencer gRPC        {HOST}:{c.grpc_port}",
            f"  verifier JSON-RPC     http://{HOST}:{c.verifier_rpc_port}",
            f"  metrics               sequencer http://{HOST}:{c.metrics_port}/metrics, "
            f"batcher :{c.batcher_metrics_port}, proposer :{c.proposer_metrics_port}, "
            f"verifier :{c.verifier_metrics_port}",
            f"  L1 contracts          {contracts}",
            f"  deployment            {self.deployment_path}",
            "  prefunded dev accounts, 10000 ETH each on L1 and L2 (public keys: never use them elsewhere):",
        ]
        for i, (address, key) in enumerate(DEV_ACCOUNTS):
            note = roles.get(address.lower(), "")
            lines.append(f"    ({i}) {address}  {key}" + (f"  <- {note}" if note else ""))
        lines.append("  Ctrl-C stops everything; the next start resumes this chain.")
        return "\n".join(lines)


# -- helpers ---------------------------------------------------------------------------


def check_fingerprint(deployment: dict[str, Any], path: Path) -> None:
    """Refuse to resume a chain whose contracts were built from other sources than this checkout's."""
    made_with, current = deployment.get("contracts_fingerprint", ""), contracts_fingerprint()
    if made_with != current:
        raise ConfigError(
            f"{path} was deployed with other L1 contracts than this checkout builds "
            f"(fingerprint {made_with or 'none: an older version'} vs {current}); their storage layouts and "
            f"interfaces may differ: remove {path.parent} to start a new devnet"
        )


def anvil_binary() -> str:
    """The native anvil of tools/node, not its npm wrapper: the wrapper exits on SIGTERM before
    anvil has written its state, and a killed wrapper would leave anvil running."""
    for native in sorted(FOUNDRY_MODULES.glob("anvil-*/bin/anvil")):
        if os.access(native, os.X_OK):
            return str(native)
    from l1.anvil import anvil_path

    return anvil_path()


def rollup_command(role: str, log_level: str) -> list[str]:
    return [sys.executable, "-m", "rollup", role, "--log-level", log_level]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_PRIVATE_KEY") or k in extra}
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the prefixed stream as they are written
    env.update(extra)
    return env


def dev_key(address: str, env_var: str) -> str:
    """The dev key of `address`, or the key given in `env_var` for a deployment made with other keys."""
    for dev_address, key in DEV_ACCOUNTS:
        if dev_address.lower() == address.lower():
            return key
    given = os.environ.get(env_var)
    if not given:
        raise ConfigError(f"{address} is not a dev account: set {env_var} to its key")
    return given


def rpc(url: str, method: str, params: list[Any], timeout: float = 5.0) -> Any:
    """One JSON-RPC call with the standard library (the supervisor does not load web3)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.URLError as exc:
        raise OSError(f"{url}: {exc.reason}") from None
    if "error" in answer:
        raise ValueError(f"{method}: {answer['error']}")
    return answer["result"]


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True
