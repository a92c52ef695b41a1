"""Settings of `rollup batcher` and `rollup proposer` (l2.config merges file, env and flags).

The signing key is read from the config like everything else, but is never printed; in
production pass it through ROLLUP_BATCHER_PRIVATE_KEY / ROLLUP_PROPOSER_PRIVATE_KEY.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2.errors import ConfigError


def _check_common(config: BatcherConfig | ProposerConfig) -> None:
    key = config.private_key.removeprefix("0x")
    if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
        raise ConfigError("private_key must be 32 bytes of hex")
    if not config.l1_rpc.startswith(("http://", "https://")):
        raise ConfigError(f"l1_rpc {config.l1_rpc!r} must be an http(s) URL")
    if not 0 <= config.metrics_port <= 65535:
        raise ConfigError(f"metrics_port {config.metrics_port} is not a TCP port")
    if config.confirmations < 0 or config.poll_interval <= 0 or config.resubmit_after <= 0:
        raise ConfigError("confirmations must be >= 0, poll_interval and resubmit_after > 0")
    if config.max_fee_gwei <= 0 or config.min_balance_eth < 0:
        raise ConfigError("max_fee_gwei must be > 0 and min_balance_eth >= 0")


@dataclass(frozen=True)
class BatcherConfig:
    """All settings of `rollup batcher`."""

    l1_rpc: str = "http://127.0.0.1:8545"
    deployment: str = "./data/devnet/deployment.json"
    sequencer_grpc: str = "127.0.0.1:9555"
    private_key: str = ""
    max_batch_bytes: int = 0  # 0: the codec's MAX_PAYLOAD_BYTES
    max_batch_age: float = 6.0  # seconds: post a non-full batch once its oldest block is this old
    confirmations: int = 1  # L1 blocks on top of a batch before it counts as posted
    poll_interval: float = 0.5
    resubmit_after: float = 24.0  # seconds before a stuck L1 transaction is re-sent with a fee bump
    max_fee_gwei: float = 500.0  # never pay more per gas than this
    min_balance_eth: float = 1.0  # below: the low-balance alarm
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 7301

    def __post_init__(self) -> None:
        _check_common(self)
        if self.max_batch_bytes < 0 or self.max_batch_age <= 0:
            raise ConfigError("max_batch_bytes must be >= 0 and max_batch_age > 0")


@dataclass(frozen=True)
class ProposerConfig:
    """All settings of `rollup proposer`."""

    l1_rpc: str = "http://127.0.0.1:8545"
    deployment: str = "./data/devnet/deployment.json"
    datadir: str = "./data/devnet/proposer"
    genesis: str = ""  # empty: the built-in devnet genesis
    private_key: str = ""
    propose_every: int = 10  # L2 blocks between assertions
    confirmations: int = 1
    poll_interval: float = 1.0
    resubmit_after: float = 24.0
    max_fee_gwei: float = 500.0
    min_balance_eth: float = 2.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 7302
    test_only_post_wrong_root: bool = False  # for dispute tests only: post a corrupted output root
    test_only_wrong_root_once: bool = False  # for dispute tests only: corrupt the next assertion's root only
    defend: bool = True  # run the dispute agent as defender of our assertions (when a DisputeGame is deployed)

    def __post_init__(self) -> None:
        _check_common(self)
        if self.propose_every < 1:
            raise ConfigError("propose_every must be >= 1")
