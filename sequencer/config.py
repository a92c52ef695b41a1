"""Sequencer configuration: defaults, then a TOML file, then ROLLUP_SEQUENCER_* variables, then flags.

Every key, its type and default live in `SequencerConfig`; docs/sequencer.md lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from l2.config import load_config as l2_load_config
from l2.errors import ConfigError

ENV_PREFIX = "ROLLUP_SEQUENCER_"


@dataclass(frozen=True)
class SequencerConfig:
    """All settings of `rollup sequencer`; a port of 0 binds a free port (tests)."""

    datadir: str = "./data/sequencer"
    genesis: str = ""  # empty: the built-in devnet genesis
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 9545
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 9555
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 7300
    block_time: float = 1.0  # seconds between blocks (>= 0.1); a full block seals early
    mempool_per_sender: int = 64
    mempool_global: int = 10_000
    min_tip_wei: int = 0  # the pool refuses lower priority fees
    suggested_tip_wei: int = 1_000_000  # eth_maxPriorityFeePerGas
    rpc_max_batch: int = 1_000  # requests in one JSON-RPC batch
    rpc_max_body_bytes: int = 8 << 20
    logs_max_blocks: int = 10_000  # widest eth_getLogs block range
    gas_cap: int = 50_000_000  # gas limit of eth_call / eth_estimateGas
    recovery_workers: int = 1  # processes decoding transactions and recovering senders (0: in process)
    l1_rpc: str = ""  # L1 JSON-RPC URL; empty: standalone (L1 origin 0, no deposits, never batched)
    deployment: str = ""  # deployment file of `rollup deploy` (needed with l1_rpc)
    l1_confirmations: int = 1  # L1 blocks the L1 origin and the safe head trail the L1 head by
    l1_poll_interval: float = 1.0  # seconds between reads of L1
    # TESTS ONLY: never include deposits, to exercise force inclusion against a censoring
    # sequencer. Off by default; the service logs a loud warning when it is on.
    test_only_ignore_deposits: bool = False

    def __post_init__(self) -> None:
        if not 0.1 <= self.block_time <= 3600:
            raise ConfigError(f"block_time {self.block_time} must be between 0.1 and 3600 seconds")
        for name in ("rpc_port", "grpc_port", "metrics_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ConfigError(f"{name} {port} is not a TCP port")
        for name in ("mempool_per_sender", "mempool_global", "rpc_max_batch", "rpc_max_body_bytes", "logs_max_blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.l1_rpc and not self.deployment:
            raise ConfigError("l1_rpc needs deployment (the file written by `rollup deploy`)")
        if self.l1_confirmations < 0 or self.l1_poll_interval <= 0:
            raise ConfigError("l1_confirmations must be >= 0 and l1_poll_interval > 0")
        if not 0 <= self.recovery_workers <= 64:
            raise ConfigError(f"recovery_workers {self.recovery_workers} must be between 0 and 64")
        if self.min_tip_wei < 0 or self.suggested_tip_wei < 0 or self.gas_cap < 21_000:
            raise ConfigError("min_tip_wei and suggested_tip_wei must be >= 0, gas_cap >= 21000")


KEYS = {f.name: f for f in fields(SequencerConfig)}


def load_config(
    path: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SequencerConfig:
    """Merge the layers (l2.config); any unknown key or bad value is a ConfigError naming where it came from."""
    return l2_load_config(SequencerConfig, "sequencer", path, env, overrides)


def replace(config: SequencerConfig, **changes: Any) -> SequencerConfig:
    return dataclasses.replace(config, **changes)
