"""The verifier's dispute agent: its key, its L1 sender, and the agent wired to the verifier's replay.

The agent itself (`l1.dispute_agent`) is shared with the proposer; this module only builds it
from the verifier's settings. The key is the verifier's own (never the batcher's or the
proposer's: two processes sending from one key would collide on nonces).

The level-2 source (block traces, proofs, oracle registration) is `l1.dispute_level2`, shared
with the proposer's defender.
"""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from web3 import Web3

from l1.bindings import InboxBinding, RollupBinding
from l1.deploy import Deployment
from l1.dispute_agent import AgentConfig, DisputeAgent
from l1.dispute_claims import LevelOneClaims
from l1.dispute_game import DisputeGameBinding
from l1.dispute_level2 import level2_source
from l1.inbox_reader import InboxReader
from l1.transactions import L1Transactor, TransactorConfig
from l2.errors import ConfigError
from l2.replay import Replayer
from verifier.config import VerifierConfig


def load_key(value: str) -> str:
    """`dispute_key` is 32 bytes of hex, or the path of a file holding them."""
    text = value.strip()
    candidate = text.removeprefix("0x")
    if len(candidate) != 64 or any(c not in "0123456789abcdefABCDEF" for c in candidate):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError("dispute_key must be 32 bytes of hex or the path of a file holding them")
        candidate = path.read_text().strip().removeprefix("0x")
        if len(candidate) != 64 or any(c not in "0123456789abcdefABCDEF" for c in candidate):
            raise ConfigError(f"dispute key file {path} does not hold 32 bytes of hex")
    return "0x" + candidate


def make_agent(w3: Web3, deployment: Deployment, replayer: Replayer, config: VerifierConfig) -> DisputeAgent:
    address = deployment.contracts.get("DisputeGame")
    if not address:
        raise ConfigError("dispute_key is set but the deployment has no DisputeGame")
    account = Account.from_key(load_key(config.dispute_key))
    transactor = L1Transactor(
        w3,
        account,
        TransactorConfig(
            confirmations=max(config.confirmations, 1),
            resubmit_after=config.dispute_resubmit_after,
            poll_interval=min(config.poll_interval, 1.0),
            max_fee_per_gas=int(config.dispute_max_fee_gwei * 10**9),
            min_balance=0,
        ),
    )
    claims = LevelOneClaims(replayer, InboxReader(w3, deployment, confirmations=0))
    return DisputeAgent(
        replayer,
        claims,
        RollupBinding(w3, deployment.contracts["Rollup"]),
        InboxBinding(w3, deployment.contracts["Inbox"]),
        DisputeGameBinding(w3, address),
        transactor,
        deployment.l1_start_block_number,
        AgentConfig(challenge=True, safety_margin=config.dispute_safety_margin),
        level2_source(w3, deployment, replayer, claims, transactor),
    )
