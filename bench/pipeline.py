"""The whole rollup in one process, on a fresh anvil: what the dispute bench and the end-to-end
dispute tests start before they play a game.

Sequencer (with its JSON-RPC and gRPC), batcher (on its own thread and L1 key) and verifier
(with a dispute key or none) run for real against a real deployment; `send` pushes a workload
through the sequencer's JSON-RPC and waits until the verifier has derived it from L1. What a
caller adds (a proposer, a liar, a griefer) goes into `roles` / `chains` and is closed with the
rest, in reverse order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from batcher.batcher import Batcher
from batcher.config import ProposerConfig
from batcher.feed import BlockFeed
from batcher.metrics import BatcherMetrics
from batcher.service import make_transactor
from bench.threads import Role, receipt_or_none, wait_for
from bench.workloads import Workload
from l1.anvil import Anvil
from l1.bindings import RollupBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.dispute_game import DisputeGameBinding
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.devkeys import DEV_ACCOUNTS
from l2.spec import ChainSpec, devnet_spec
from l2.types import Head
from sequencer.config import SequencerConfig
from sequencer.embedded import EmbeddedSequencer
from verifier.config import VerifierConfig
from verifier.service import VerifierService

# One L1 key per role, as production runs them.
DEPLOYER, VERIFIER, BATCHER, PROPOSER, GRIEFER = (DEV_ACCOUNTS[i][1] for i in (0, 7, 8, 9, 6))


@dataclass
class Sent:
    """A workload in the chain: its transfers' hashes, their L2 blocks, the last one."""

    hashes: list[bytes]
    blocks: list[int]
    last: int


@dataclass
class Pipeline:
    workdir: Path
    spec: ChainSpec
    anvil: Anvil
    w3: Web3
    deployment: Deployment
    deployment_file: Path
    rollup: RollupBinding
    game: DisputeGameBinding
    sequencer: EmbeddedSequencer
    verifier: VerifierService
    roles: list[Role] = field(default_factory=list)
    chains: list[L2Chain] = field(default_factory=list)
    stack: list[Any] = field(default_factory=list)

    def send(self, workload: Workload) -> Sent:
        """Deploy the workload's contracts, send its transactions, wait until the verifier derived them."""
        rpc = Web3(Web3.HTTPProvider(self.sequencer.rpc_url))
        for raw in workload.setup:
            rpc.eth.send_raw_transaction(raw)
        if workload.setup:
            wait_for(lambda: receipt_or_none(rpc, Web3.keccak(workload.setup[-1])), 300, "the setup transactions")
        # Sequencing paused while they arrive, so they fill blocks from the pool together and the
        # blocks are the same on every run: sent one by one on a busy machine, they straddled
        # block ticks at random, and a dispute scenario's plan depends on its blocks' sizes.
        producer = self.sequencer.sequencer.producer
        producer.paused = True
        try:
            hashes = [bytes(rpc.eth.send_raw_transaction(raw)) for raw in workload.txs]
        finally:
            producer.paused = False
        wait_for(lambda: receipt_or_none(rpc, hashes[-1]), 600, "the last transaction to be sequenced")
        receipts = [receipt_or_none(rpc, h) for h in hashes]
        assert all(r is not None and r["status"] == 1 for r in receipts)
        blocks = sorted({int(r["blockNumber"]) for r in receipts if r is not None})
        chain = self.verifier.chain
        assert chain is not None
        wait_for(lambda: chain.head(Head.SAFE).block_number >= blocks[-1], 600, "the verifier to derive them")
        return Sent(hashes, blocks, blocks[-1])

    def close(self) -> None:
        _shut(self.roles, self.stack, self.chains, self.anvil)


def _shut(roles: list[Role], stack: list[Any], chains: list[L2Chain], anvil: Anvil) -> None:
    """Stop the roles, then the servers newest first, close the chains, stop anvil."""
    for role in roles:
        role.close()
    for item in reversed(stack):
        if isinstance(item, VerifierService | BlockFeed):
            item.stop()
        else:
            item.__exit__(None, None, None)
    for chain in chains:
        chain.close()
    anvil.stop()


@contextmanager
def pipeline(
    workdir: Path, workload: Workload, params: DeployParams, verifier_key: str | None,
    proposers: tuple[str, ...] = (PROPOSER,), handoff: Any = None,
) -> Iterator[Pipeline]:
    """Anvil, the deployment (the batcher key of this module, `proposers` allowed to assert, the
    real OneStepProver), sequencer, batcher and verifier (disputing with `verifier_key`, or not at
    all; `handoff` as VerifierService takes it), all stopped on exit."""
    spec = workload.spec(devnet_spec())
    genesis = workdir / "genesis.json"
    genesis.write_text(json.dumps(spec.to_json()))
    anvil = Anvil(block_time=1).start()
    roles: list[Role] = []
    chains: list[L2Chain] = []
    stack: list[Any] = []
    try:
        w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 120}))
        params = replace(params, batcher=Account.from_key(BATCHER).address,
                         proposers=tuple(Account.from_key(k).address for k in proposers))  # fmt: skip
        deployment = deploy(w3, Account.from_key(DEPLOYER), spec, params)
        deployment_file = workdir / "deployment.json"
        deployment.save(deployment_file)
        sequencer = EmbeddedSequencer(SequencerConfig(
            datadir=str(workdir / "sequencer"), genesis=str(genesis), rpc_port=0, grpc_port=0, metrics_port=0,
            block_time=0.5, l1_rpc=anvil.url, deployment=str(deployment_file), l1_poll_interval=0.3,
        )).__enter__()  # fmt: skip
        stack.append(sequencer)
        feed = BlockFeed(sequencer.grpc_target)
        stack.append(feed)
        batcher = Batcher(
            w3, InboxReader(w3, deployment, confirmations=0),
            make_transactor(w3, ProposerConfig(private_key=BATCHER, confirmations=1, resubmit_after=10)),
            feed, BatcherMetrics(), spec.chain_id, max_batch_age=2.0,
        )  # fmt: skip
        feed.start(1)
        roles.append(Role("batcher", lambda stop: batcher.run(stop, 0.2)))
        verifier = VerifierService(VerifierConfig(
            l1_rpc=anvil.url, deployment=str(deployment_file), datadir=str(workdir / "verifier"),
            genesis=str(genesis), rpc_port=0, metrics_port=0, poll_interval=0.3, dispute_key=verifier_key,
        ), handoff).start()  # fmt: skip
        stack.append(verifier)
        yield Pipeline(
            workdir, spec, anvil, w3, deployment, deployment_file, RollupBinding(w3, deployment.contracts["Rollup"]),
            DisputeGameBinding(w3, deployment.contracts["DisputeGame"]), sequencer, verifier, roles, chains, stack,
        )
    finally:
        _shut(roles, stack, chains, anvil)
