"""Settings of `rollup verifier` (l2.config merges defaults, the [verifier] table, env and flags).

A verifier needs no key and no sequencer: an L1 endpoint and the deployment file are all it
trusts. A port of 0 binds a free port (tests). With `dispute_key` (its own L1 key, or a file
holding it) it also runs the dispute agent: it challenges wrong assertions with a bond.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2.errors import ConfigError


@dataclass(frozen=True)
class VerifierConfig:
    """All settings of `rollup verifier`; docs/verifier.md lists them."""

    l1_rpc: str = "http://127.0.0.1:8545"
    deployment: str = "./data/devnet/deployment.json"
    datadir: str = "./data/devnet/verifier"
    genesis: str = ""  # empty: the built-in devnet genesis
    confirmations: int = 1  # L1 blocks on top of an inbox entry before it is replayed
    poll_interval: float = 1.0  # seconds between L1 polls once caught up
    entries_per_step: int = 8  # inbox entries applied between two checks of stop/reorg/assertions
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 9546
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 7303
    rpc_max_batch: int = 1_000  # requests in one JSON-RPC batch
    rpc_max_body_bytes: int = 8 << 20
    logs_max_blocks: int = 10_000  # widest eth_getLogs block range
    gas_cap: int = 50_000_000  # gas limit of eth_call / eth_estimateGas
    dispute_key: str = ""  # empty: no dispute agent; else a hex private key or a file holding one
    dispute_safety_margin: int = 30  # seconds: our game clock below this is logged as an alert
    dispute_resubmit_after: float = 24.0  # seconds before a stuck dispute transaction is re-sent
    dispute_max_fee_gwei: float = 500.0  # fee cap per gas of dispute transactions

    def __post_init__(self) -> None:
        if not self.l1_rpc.startswith(("http://", "https://")):
            raise ConfigError(f"l1_rpc {self.l1_rpc!r} must be an http(s) URL")
        for name in ("rpc_port", "metrics_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is not a TCP port")
        if self.confirmations < 0:
            raise ConfigError("confirmations must be >= 0")
        if self.poll_interval <= 0:
            raise ConfigError("poll_interval must be > 0")
        for name in ("entries_per_step", "rpc_max_batch", "rpc_max_body_bytes", "logs_max_blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.gas_cap < 21_000:
            raise ConfigError("gas_cap must be >= 21000")
        if self.dispute_safety_margin < 0 or self.dispute_resubmit_after <= 0 or self.dispute_max_fee_gwei <= 0:
            raise ConfigError("dispute_safety_margin must be >= 0, dispute_resubmit_after and dispute_max_fee_gwei > 0")
        if not self.datadir:
            raise ConfigError("datadir must not be empty")
