"""The proposer: replays the chain from L1 itself and posts its output roots as assertions.

It never asks the sequencer: the root it posts is the one its own replay of the inbox
computed (DESIGN section 5). It builds on the newest assertion that agrees with its chain
(never on a rejected one or its descendants, so after a rejection it proposes again from the
newest confirmed or matching one), confirms its assertions once their challenge period is
over (bonds come back), and moves its finalized head to the newest confirmed block.

It also runs the dispute agent (`l1.dispute_agent`) as the defender of its own assertions,
with its own key: the agent must send from the proposer's key (the games name the asserter as
defender), and one key must have one sender, or nonces collide.
"""

from __future__ import annotations

import logging
import threading

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from batcher.metrics import ProposerMetrics
from batcher.service import wait_idle
from l1.assertions import AssertionCache, Verdict, judge
from l1.bindings import Assertion, AssertionStatus, InboxBinding, L1Error, L1Reverted, RollupBinding
from l1.deploy import Deployment
from l1.dispute_agent import AgentConfig, DisputeAgent, Level2Source
from l1.dispute_claims import LevelOneClaims
from l1.dispute_game import DisputeGameBinding
from l1.dispute_level2 import level2_source
from l1.inbox_reader import InboxReader
from l1.transactions import L1Transactor
from l2.output_root import output_root_at
from l2.replay import Replayer
from l2.types import Head

log = logging.getLogger(__name__)


class Proposer:
    def __init__(
        self,
        replayer: Replayer,
        rollup: RollupBinding,
        transactor: L1Transactor,
        metrics: ProposerMetrics,
        propose_every: int,
        test_only_post_wrong_root: bool = False,
        agent: DisputeAgent | None = None,
        test_only_wrong_root_once: bool = False,
    ) -> None:
        self.replayer = replayer
        self.chain = replayer.chain
        self.rollup = rollup
        self.transactor = transactor
        self.metrics = metrics
        self.propose_every = propose_every
        self.wrong_root = test_only_post_wrong_root
        self.wrong_root_once = test_only_wrong_root_once  # cleared once one wrong root is posted
        self.agent = agent
        self.address = to_checksum_address(transactor.address)
        self._assertions = AssertionCache(rollup)

    # -- L1 view -----------------------------------------------------------------------

    def assertions(self) -> list[Assertion]:
        """All assertions, newest last (confirmed/rejected ones read once)."""
        return self._assertions.all()

    def parent(self, assertions: list[Assertion]) -> Assertion | None:
        """The newest assertion our chain agrees with (None while we have not replayed enough)."""
        rejected: set[int] = set()
        for a in assertions:  # parents come before children: a rejected ancestor taints the subtree
            if a.status is AssertionStatus.REJECTED or (a.id != 0 and a.parent_id in rejected):
                rejected.add(a.id)
        for a in reversed(assertions):
            if a.id in rejected:
                continue
            verdict = judge(a, self.replayer).verdict
            if verdict is Verdict.MATCH:
                return a
        return None

    # -- loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, poll_interval: float = 1.0) -> None:
        wait_idle(self.transactor)
        while not stop.is_set():
            try:
                self.tick()
            except L1Error as exc:
                self.metrics.failed.inc()
                log.error("proposer: %s", exc)
            except Exception:
                log.exception("proposer tick failed; retrying")
            self.metrics.update_transactor(self.transactor)
            stop.wait(poll_interval)

    def tick(self) -> None:
        self.replayer.check_reorg()
        while self.replayer.step(limit=32):
            pass
        head = self.chain.head(Head.UNSAFE)
        self.metrics.safe_head.set(head.block_number)
        assertions = self.assertions()
        self._confirm_due(assertions)
        self._propose(assertions)
        if self.agent is not None:
            self.agent.tick()  # defend our assertions; after proposing so a new one is known
            self.metrics.sync_dispute(self.agent.stats)

    def _propose(self, assertions: list[Assertion]) -> None:
        parent = self.parent(assertions)
        if parent is None:
            return
        entries = self.replayer.entries
        block = self.replayer.last_block_after(entries)
        assert block is not None
        if entries <= parent.inbox_entries or block < parent.l2_block_number + self.propose_every:
            return
        if any(
            a.parent_id == parent.id and a.inbox_entries == entries and a.status is not AssertionStatus.REJECTED
            and a.asserter == self.address
            for a in assertions
        ):
            return  # ours already (maybe a wrong-root test assertion): do not post it twice
        root = output_root_at(self.chain, self.chain.header_by_number(block))
        if self.wrong_root or self.wrong_root_once:
            root = keccak(b"test-only wrong root" + root)
            log.warning("TEST-ONLY: posting a WRONG output root for block %d", block)
        bond = self.rollup.bond()
        data = self.rollup.contract.encode_abi("createAssertion", args=[parent.id, entries, block, root])
        receipt = self.transactor.send(self.rollup.address, bytes.fromhex(data[2:]), value=bond)
        new_id = self.rollup.created_id(receipt.raw)
        self.wrong_root_once = False
        self.metrics.proposed.inc()
        self.metrics.last_proposed.set(block)
        log.info("assertion %d: parent %d, %d inbox entries, L2 block %d, root 0x%s",
                 new_id, parent.id, entries, block, root.hex())

    def _confirm_due(self, assertions: list[Assertion]) -> None:
        latest = self.rollup.latest_confirmed()
        now = int(self.rollup.w3.eth.get_block("latest")["timestamp"])
        period = self.rollup.challenge_period()
        locked = 0
        by_id = {a.id: a for a in assertions}
        for a in assertions:
            if a.status is AssertionStatus.PENDING and a.asserter == self.address:
                if self._release_if_stranded(a, by_id, latest, now >= a.created_at + period):
                    continue
                locked += self.rollup.bond()
            if a.status is AssertionStatus.PENDING and a.parent_id == latest and now >= a.created_at + period:
                if judge(a, self.replayer).verdict is not Verdict.MATCH:
                    continue  # never help a root we disagree with; the verifier challenges it
                try:
                    data = self.rollup.contract.encode_abi("confirmAssertion", args=[a.id])
                    self.transactor.send(self.rollup.address, bytes.fromhex(data[2:]))
                except L1Reverted as exc:
                    log.info("assertion %d not confirmable yet: %s", a.id, exc.error)
                    continue
                self.metrics.confirmed.inc()
                log.info("confirmed assertion %d (L2 block %d)", a.id, a.l2_block_number)
                latest = a.id
                self.chain.set_head(Head.FINALIZED, self.chain.header_by_number(a.l2_block_number).hash)
        self.metrics.bonds_locked.set(locked)

    def _release_if_stranded(self, a: Assertion, by_id: dict[int, Assertion], latest: int, period_over: bool) -> bool:
        """Our pending assertion whose parent the confirmed chain left by another child can never
        confirm: once unchallengeable, take its bond back (`Rollup.releaseStranded`)."""
        parent = by_id.get(a.parent_id)
        if parent is None or not period_over:
            return False
        stranded = parent.status is AssertionStatus.RELEASED or (
            parent.status is AssertionStatus.CONFIRMED and parent.id != latest)
        if not stranded:
            return False
        try:
            data = self.rollup.contract.encode_abi("releaseStranded", args=[a.id])
            self.transactor.send(self.rollup.address, bytes.fromhex(data[2:]))
        except L1Reverted as exc:
            log.info("assertion %d not releasable yet: %s", a.id, exc.error)
            return False
        log.info("released the bond of stranded assertion %d (parent %d, latest confirmed %d)", a.id, parent.id, latest)
        return True


def make_defender(
    deployment: Deployment, replayer: Replayer, transactor: L1Transactor, level2: Level2Source | None = None
) -> DisputeAgent | None:
    """The dispute agent defending the proposer's assertions (None when no DisputeGame is deployed).

    It plays both levels: level 2 from `level2`, by default the traces of the proposer's own chain
    (`l1.dispute_level2`, proofs checked with the deployed prover, oracle records registered from
    the proposer's key), so a lone proposer wins a griefer's game by a one-step proof."""
    address = deployment.contracts.get("DisputeGame")
    if not address:
        return None
    w3 = transactor.w3
    claims = LevelOneClaims(replayer, InboxReader(w3, deployment, confirmations=0))
    return DisputeAgent(
        replayer,
        claims,
        RollupBinding(w3, deployment.contracts["Rollup"]),
        InboxBinding(w3, deployment.contracts["Inbox"]),
        DisputeGameBinding(w3, address),
        transactor,
        deployment.l1_start_block_number,
        AgentConfig(challenge=False),
        level2 if level2 is not None else level2_source(w3, deployment, replayer, claims, transactor),
    )
