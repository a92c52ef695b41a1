"""The dispute agent on anvil: level-1 claims against the contract, and whole games won on timeout.

Real parts: anvil with the real Rollup and DisputeGame (NoProver: no step can be proven yet,
so these games end by timeout at level 1), the real `Proposer` with its defending agent, the
real `VerifierService` with its challenging agent (own key, LMDB, threads), and a griefing
challenger played by the test with a key of its own. Batches are posted by hand as the batcher
would; time moves with anvil's `evm_increaseTime`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from batcher.config import ProposerConfig
from batcher.metrics import ProposerMetrics
from batcher.proposer import Proposer, make_defender
from batcher.service import make_transactor
from l1.anvil import Anvil
from l1.bindings import AssertionStatus, DelayedInboxBinding, InboxBinding, RollupBinding
from l1.deploy import Deployment, DeployParams, deploy
from l1.dispute_agent import DisputeAgent
from l1.dispute_claims import LevelOneClaims
from l1.dispute_game import (
    DisputeGameBinding,
    GameStatus,
    block_claim,
    cursor,
    dissection_positions,
    opening_inputs,
)
from l1.inbox_reader import InboxReader
from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.devkeys import DEV_ACCOUNTS
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.output_root import output_root_at
from l2.replay import Replayer
from l2.spec import devnet_spec
from tests.integration.l2_users import wait_for
from verifier.config import VerifierConfig
from verifier.service import VerifierService

OWNER = Account.from_key(DEV_ACCOUNTS[0][1])  # deployer and batcher
GRIEFER = Account.from_key(DEV_ACCOUNTS[3][1])
SECOND_PROPOSER = Account.from_key(DEV_ACCOUNTS[4][1])  # builds on the wrong assertion
USER = Account.from_key(DEV_ACCOUNTS[6][1])  # L2 transfers
VERIFIER_KEY = DEV_ACCOUNTS[7][1]
PROPOSER_KEY = DEV_ACCOUNTS[9][1]
PROPOSER = Account.from_key(PROPOSER_KEY)
BOND = 10**17
CHALLENGE = 900  # seconds: long enough for the agent to challenge without a race, skipped by evm_increaseTime
CLOCK = 120
BURN = BOND * 5_000 // 10_000


@dataclass
class Env:
    anvil: Anvil
    w3: Web3
    deployment: Deployment
    deployment_path: Path
    tmp: Path
    nonce: int = 0

    @property
    def rollup(self) -> RollupBinding:
        return RollupBinding(self.w3, self.deployment.contracts["Rollup"])

    @property
    def game(self) -> DisputeGameBinding:
        return DisputeGameBinding(self.w3, self.deployment.contracts["DisputeGame"])

    @property
    def inbox(self) -> InboxBinding:
        return InboxBinding(self.w3, self.deployment.contracts["Inbox"], OWNER)

    def transfer(self) -> bytes:
        tx = {"chainId": 901, "nonce": self.nonce, "to": "0x000000000000000000000000000000000000dEaD", "value": 7,
              "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "type": 2}
        self.nonce += 1
        return bytes(USER.sign_transaction(tx).raw_transaction)

    def creation(self) -> bytes:
        """A contract-creation transaction (init code returning one byte of code): the level-2
        tracer refuses such a block by name (docs/fraud-proofs.md 6.4)."""
        init = bytes.fromhex("600160005360016000f3")  # MSTORE8(0, 1); RETURN(0, 1)
        tx = {"chainId": 901, "nonce": self.nonce, "value": 0, "data": init, "gas": 100_000,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 1, "type": 2}
        self.nonce += 1
        return bytes(USER.sign_transaction(tx).raw_transaction)

    def post(self, messages: list[Message], delayed_read: int | None = None) -> None:
        inbox = self.inbox
        read = inbox.delayed_read() if delayed_read is None else delayed_read
        inbox.append_batch(encode_batch(messages, 901), message_root(messages), len(messages), read)
        self.mine()

    def post_invalid(self) -> None:
        """A batch whose payload does not decode: derives no block (it consumes no delayed message)."""
        inbox = self.inbox
        inbox.append_batch(b"\x07not a batch", keccak(b"x"), 1, inbox.delayed_read())
        self.mine()

    def blocks(self, count: int, with_transfers: bool = True) -> list[Message]:
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        messages: list[Message] = []
        for b in range(count):
            messages.append(BlockStart(now + b, 1))
            if with_transfers:
                messages.append(L2Tx(self.transfer()))
        return messages

    def mine(self, seconds: int = 0) -> None:
        if seconds:
            self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def proposer(self, name: str, wrong_once: bool = False) -> tuple[Proposer, L2Chain]:
        config = ProposerConfig(private_key=PROPOSER_KEY, propose_every=1, confirmations=1, resubmit_after=5,
                                test_only_wrong_root_once=wrong_once)
        chain = L2Chain.open(self.tmp / name, devnet_spec(), map_size=1 << 28)
        replayer = Replayer(chain, InboxReader(self.w3, self.deployment, confirmations=0))
        transactor = make_transactor(self.w3, config)
        proposer = Proposer(
            replayer, self.rollup, transactor, ProposerMetrics(), config.propose_every, False,
            make_defender(self.deployment, replayer, transactor), wrong_once,
        )
        return proposer, chain

    def verifier(self, name: str) -> VerifierService:
        config = VerifierConfig(
            l1_rpc=self.anvil.url, deployment=str(self.deployment_path), datadir=str(self.tmp / name),
            confirmations=0, poll_interval=0.1, rpc_port=0, metrics_port=0, dispute_key=VERIFIER_KEY,
        )
        return VerifierService(config).start()

    def replay(self, name: str) -> tuple[Replayer, L2Chain]:
        chain = L2Chain.open(self.tmp / name, devnet_spec(), map_size=1 << 28)
        replayer = Replayer(chain, InboxReader(self.w3, self.deployment, confirmations=0))
        while replayer.step():
            pass
        return replayer, chain


@pytest.fixture
def env(anvil: Anvil, tmp_path: Path) -> Iterator[Env]:
    w3 = anvil.w3
    params = DeployParams(batcher=OWNER.address, proposers=(PROPOSER.address, SECOND_PROPOSER.address),
                          challenge_period=CHALLENGE, bond=BOND, game_clock=CLOCK, burn_bps=5_000)
    deployment = deploy(w3, OWNER, devnet_spec(), params)
    path = tmp_path / "deployment.json"
    deployment.save(path)
    yield Env(anvil, w3, deployment, path, tmp_path)  # a fresh rollup: its L2 starts from genesis


def fees_paid(w3: Web3, address: str, first_block: int) -> int:
    """Every L1 fee `address` paid from `first_block` on (for balances to the wei)."""
    total = 0
    for n in range(first_block, int(w3.eth.block_number) + 1):
        for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
            if tx["from"] == address:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                total += receipt["gasUsed"] * receipt["effectiveGasPrice"]
    return total


def agent_of(service: VerifierService) -> DisputeAgent:
    assert service.verifier is not None and service.verifier.agent is not None
    return service.verifier.agent


def rollup_block(env: Env, assertion_id: int) -> int:
    return env.rollup.assertion(assertion_id).l2_block_number


# -- level 1 ----------------------------------------------------------------------------------


def test_level1_claims_match_the_contract_at_entry_boundaries(env: Env):
    """Cursors inside an entry, past entries that derive no block, and the contract's own claims."""
    w3 = env.w3
    delayed = DelayedInboxBinding(w3, env.deployment.contracts["DelayedInbox"], OWNER)
    delayed.deposit(USER.address, 100_000, b"", 5)
    now = int(w3.eth.get_block("latest")["timestamp"])
    # entry 0: block 1 = messages 0-1; block 2 = 2-4 and places delayed 0; block 3 = 5
    env.post([BlockStart(now, 1), L2Tx(env.transfer()), BlockStart(now + 1, 1), Delayed(0), L2Tx(env.transfer()),
              BlockStart(now + 2, 1)], delayed_read=1)
    env.post_invalid()  # entry 1: no block
    env.post([BlockStart(now + 3, 1), L2Tx(env.transfer()), BlockStart(now + 4, 1)], delayed_read=1)  # entry 2: 4, 5
    env.post_invalid()  # entry 3: no block
    replayer, chain = env.replay("reference")
    try:
        claims = LevelOneClaims(replayer, InboxReader(w3, env.deployment, confirmations=0))
        assert replayer.last_block_after(4) == 5
        assert claims.cursor_after(1, 4) == (0, 2, 0)
        assert claims.cursor_after(2, 4) == (0, 5, 1)
        assert claims.cursor_after(3, 4) == (2, 0, 1)  # skips entry 1
        assert claims.cursor_after(3, 1) == (1, 0, 1)  # but never past the entry limit
        assert claims.cursor_after(4, 4) == (2, 2, 1)
        assert claims.cursor_after(5, 4) == (4, 0, 1)  # skips entry 3, up to the limit

        root = lambda n: output_root_at(chain, chain.header_by_number(n))  # noqa: E731
        proposer = RollupBinding(w3, env.deployment.contracts["Rollup"], PROPOSER)
        proposer.create_assertion(0, 2, 3, root(3))
        proposer.create_assertion(1, 4, 5, root(5))
        for assertion_id, parent_block, entries in ((1, 0, 2), (2, 3, 4)):
            opening = opening_inputs(env.inbox, env.rollup, assertion_id)
            start, end = env.game.claims(assertion_id, opening)
            assert end == claims.final_claim(parent_block, entries), f"assertion {assertion_id}"
            assert end == claims.at(rollup_block(env, assertion_id) - parent_block, parent_block, start, entries)
        # assertion 2 starts where assertion 1 ends: our claim after block 3 with limit 2
        start2, end2 = env.game.claims(2, opening_inputs(env.inbox, env.rollup, 2))
        assert start2 == claims.claim_after(3, 2) == block_claim(3, root(3), cursor(2, 0, 1))
        assert end2 == block_claim(5, root(5), cursor(4, 0, 1))
        assert claims.at(2, 3, start2, 4) == end2  # position 2 of assertion 2 = block 5
        assert claims.at(7, 3, start2, 4) == end2  # past our last block: our final claim repeats
    finally:
        chain.close()


# -- whole games -------------------------------------------------------------------------------


@pytest.mark.slow
def test_verifier_challenges_a_wrong_root_the_liar_times_out_and_the_next_honest_assertion_confirms(env: Env):
    w3, game, rollup = env.w3, env.game, env.rollup
    env.post(env.blocks(3))
    proposer, pchain = env.proposer("proposer", wrong_once=True)
    try:
        proposer.tick()
        wrong = rollup.assertion(1)
        assert wrong.status is AssertionStatus.PENDING and wrong.asserter == PROPOSER.address
        env.post(env.blocks(2))  # another proposer builds on the wrong assertion
        RollupBinding(w3, rollup.address, SECOND_PROPOSER).create_assertion(1, 2, 5, keccak(b"child root"))
        assert rollup.assertion(2).parent_id == 1

        verifier_address = Account.from_key(VERIFIER_KEY).address
        start_balance = w3.eth.get_balance(verifier_address)
        first_block = int(w3.eth.block_number) + 1
        service = env.verifier("verifier")
        try:
            wait_for(lambda: game.game_count() == 1, "the verifier to challenge")
            g = game.game(0)
            assert (g.assertion_id, g.challenger, g.defender) == (1, verifier_address, PROPOSER.address)
            opening = game.dissections(0)[0]
            assert len(opening.points) == 2 and (opening.lo, opening.hi) == (0, 3)
            # The opening's points are our claims: the liar's own replay (the proposer's chain) agrees.
            claims = proposer.agent.claims  # type: ignore[union-attr]
            assert list(opening.points) == [claims.at(p, 0, opening.start, 1) for p in dissection_positions(0, 3)]

            proposer.tick()  # the liar's agent sees the game but will not defend a root it knows is wrong
            assert game.game(0).to_move == PROPOSER.address
            assert game.dissections(0) == [opening]
            assert game.game_count() == 1  # the child of the wrong assertion is not challenged itself
            assert service.metrics.disputes_open._value.get() == 1
            exposition = service.metrics.exposition().decode()
            assert 'rollup_verifier_dispute_clock_remaining_seconds{game="0"} 1' in exposition  # ~120 s left
            assert "rollup_verifier_dispute_challenges_total 1.0" in exposition

            env.mine(CLOCK + 1)
            wait_for(lambda: game.game(0).status is not GameStatus.OPEN, "the verifier's timeout")
            assert game.game(0).status is GameStatus.CHALLENGER_WON
            assert rollup.assertion(1).status is AssertionStatus.REJECTED
            # Its child is rejected too, and its bond goes (minus the burn) to the game's winner.
            wait_for(lambda: rollup.assertion(2).status is AssertionStatus.REJECTED, "the descendant's rejection")
            wait_for(lambda: agent_of(service).stats.withdrawn_wei == 3 * BOND - 2 * BURN, "the verifier to withdraw")
            assert game.credit(verifier_address) == 0
            stats = agent_of(service).stats
            assert (stats.challenges, stats.timeouts, stats.won, stats.lost) == (1, 1, 1, 0)
            assert stats.descendants_rejected == 1
            assert game.burnt() == 2 * BURN
            wait_for(lambda: service.metrics.disputes_open._value.get() == 0, "the gauge to drop")
            assert "dispute_clock_remaining_seconds{" not in service.metrics.exposition().decode()
        finally:
            service.stop()
        # To the wei: the challenger paid its bond and fees, got its bond back + (1 - burn) x the
        # assertion's bond, and (1 - burn) x the descendant's.
        fees = fees_paid(w3, verifier_address, first_block)
        assert w3.eth.get_balance(verifier_address) == start_balance - fees + 2 * (BOND - BURN)
        assert w3.eth.get_balance(game.address) == game.bonds_held() + game.credits_owed() + game.burnt()

        # The proposer proposes again from the last good parent; that one confirms.
        # (It did so during the game already: its next assertion builds on genesis, not on the wrong one.)
        env.post(env.blocks(1))
        proposer.tick()
        ours = [rollup.assertion(i) for i in range(2, rollup.assertion_count())]
        honest = next(a for a in ours if a.asserter == PROPOSER.address)
        assert honest.parent_id == 0 and honest.inbox_entries == 2
        assert all(a.parent_id not in (1, 2) for a in ours if a.asserter == PROPOSER.address)
        env.mine(CHALLENGE + 1)
        proposer.tick()
        assert rollup.assertion(honest.id).status is AssertionStatus.CONFIRMED
        assert rollup.latest_confirmed() == ours[-1].id  # and the honest one built on it
    finally:
        pchain.close()


@pytest.mark.slow
def test_griefing_challenger_loses_its_bond_to_the_defending_proposer(env: Env):
    w3, game, rollup = env.w3, env.game, env.rollup
    env.post(env.blocks(40, with_transfers=False))  # 40 blocks: every first segment is >= 2 blocks long
    proposer, pchain = env.proposer("proposer")
    try:
        proposer.tick()
        honest = rollup.assertion(1)
        assert honest.l2_block_number == 40
        # The griefer opens a game with made-up points.
        griefer = DisputeGameBinding(w3, game.address, GRIEFER)
        griefer_start = w3.eth.get_balance(GRIEFER.address)
        first_block = int(w3.eth.block_number) + 1
        bogus = [keccak(b"bogus%d" % i) for i in range(15)]
        receipt = griefer.challenge(1, opening_inputs(env.inbox, rollup, 1), bogus, keccak(b"bogus end"))
        game_id = griefer.created_id(receipt)

        proposer.tick()  # the defender answers on the first segment with its real claims
        answer = game.dissections(game_id)[-1]
        assert answer.poster == PROPOSER.address and (answer.lo, answer.hi) == (0, 2)
        # Independently: block 1 ends at message 1 (the BlockStart of block 2), block 2 at message 2.
        _, chain = env.replay("reference")
        try:
            root = lambda n: output_root_at(chain, chain.header_by_number(n))  # noqa: E731
            assert answer.points == (block_claim(1, root(1), cursor(0, 1, 0)),)
            assert answer.end == block_claim(2, root(2), cursor(0, 2, 0))
        finally:
            chain.close()
        assert game.game(game_id).to_move == GRIEFER.address

        env.mine(CLOCK + 1)  # the griefer stops
        proposer.tick()
        assert game.game(game_id).status is GameStatus.DEFENDER_WON
        assert rollup.assertion(1).status is AssertionStatus.PENDING
        stats = proposer.agent.stats  # type: ignore[union-attr]
        assert (stats.moves, stats.timeouts, stats.won, stats.withdrawn_wei) == (1, 1, 1, BOND - BURN)
        assert stats.withdrawn_wei + game.burnt() == BOND  # the griefer's bond: half to us, half burnt
        assert game.credit(PROPOSER.address) == 0
        assert w3.eth.get_balance(GRIEFER.address) == griefer_start - BOND - fees_paid(w3, GRIEFER.address, first_block)

        env.mine(CHALLENGE)
        proposer.tick()
        assert rollup.assertion(1).status is AssertionStatus.CONFIRMED
    finally:
        pchain.close()


@pytest.mark.slow
def test_verifier_killed_mid_game_resumes_and_wins(env: Env, caplog: pytest.LogCaptureFixture):
    game, rollup = env.game, env.rollup
    env.post(env.blocks(2))
    proposer, pchain = env.proposer("proposer", wrong_once=True)
    try:
        proposer.tick()
    finally:
        pchain.close()
    verifier_address = Account.from_key(VERIFIER_KEY).address
    service = env.verifier("verifier")
    try:
        wait_for(lambda: game.game_count() == 1, "the verifier to challenge")
    finally:
        service.stop()  # killed mid-game: the liar is to move
    env.mine(CLOCK + 1)
    assert rollup.assertion(1).status is AssertionStatus.PENDING  # still inside its challenge period
    with caplog.at_level(logging.INFO, logger="l1.dispute_agent"):
        service = env.verifier("verifier")  # same datadir
    try:
        assert "resuming games [0]" in caplog.text  # from its LMDB, before any L1 scan
        wait_for(lambda: game.game(0).status is not GameStatus.OPEN, "the resumed verifier's timeout")
        assert game.game(0).status is GameStatus.CHALLENGER_WON
        assert game.game_count() == 1  # it did not challenge the same assertion twice
        assert rollup.assertion(1).status is AssertionStatus.REJECTED
        wait_for(lambda: agent_of(service).stats.withdrawn_wei == 2 * BOND - BURN, "the withdrawal")
        assert game.credit(verifier_address) == 0
    finally:
        service.stop()


@pytest.mark.slow
def test_a_one_block_segment_is_played_at_level_2_or_reported(env: Env, caplog: pytest.LogCaptureFixture):
    """At a one-block segment the proposer's own defender plays level 2 from its chain; a block its
    tracer cannot trace (a contract creation) is an alert, and nothing made up is posted."""
    w3, game, rollup = env.w3, env.game, env.rollup
    messages = env.blocks(3)
    messages.insert(1, L2Tx(env.creation()))  # in block 1, the block of the first one-block segment
    env.post(messages)
    proposer, pchain = env.proposer("proposer")
    try:
        proposer.tick()
        griefer = DisputeGameBinding(w3, game.address, GRIEFER)
        bogus = [keccak(b"bogus1"), keccak(b"bogus2")]
        game_id = griefer.created_id(griefer.challenge(1, opening_inputs(env.inbox, rollup, 1), bogus, keccak(b"e")))
        with caplog.at_level(logging.ERROR, logger="l1.dispute_agent"):
            proposer.tick()
            proposer.tick()
        stats = proposer.agent.stats  # type: ignore[union-attr]
        assert stats.level2_needed == 1 and stats.moves == 0  # counted once per game, however many rounds
        assert "level-2 trace not built" in caplog.text and "one-block segment [0, 1]" in caplog.text
        assert "level-2 trace of L2 block 1 failed" in caplog.text  # the tracer refused the creation by name
        assert len(game.dissections(game_id)) == 1  # only the griefer's opening
        assert game.game(game_id).to_move == PROPOSER.address
        assert stats.clocks[game_id] > 0  # the clock is gauged while it runs
    finally:
        pchain.close()


@pytest.mark.slow
def test_defender_forgets_a_game_an_l1_reorg_dropped_and_plays_the_one_that_took_its_id(env: Env):
    """L1 loses the block that created a game (here a devnet revert, deeper than any wait): the
    same game id now names another game. The agent must not play the old one's record."""
    w3, game, rollup = env.w3, env.game, env.rollup
    env.post(env.blocks(40, with_transfers=False))
    proposer, pchain = env.proposer("proposer")
    try:
        proposer.tick()
        agent = proposer.agent
        assert agent is not None
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        griefer = DisputeGameBinding(w3, game.address, GRIEFER)
        first = [keccak(b"first%d" % i) for i in range(15)]
        griefer.challenge(1, opening_inputs(env.inbox, rollup, 1), first, keccak(b"first end"))
        proposer.tick()
        assert 0 in agent.known and agent.stats.moves == 1
        old_hash = agent.known[0].created_hash

        w3.provider.make_request("evm_revert", [snapshot])  # the game and our answer are gone
        env.mine(5)
        second = [keccak(b"second%d" % i) for i in range(15)]
        receipt = griefer.challenge(1, opening_inputs(env.inbox, rollup, 1), second, keccak(b"second end"))
        assert griefer.created_id(receipt) == 0  # the id is taken again, by another game
        errors = agent.stats.errors
        proposer.tick()  # sees the replaced block: forgets game 0 and rewinds its scan
        assert agent.stats.reorged == 1
        proposer.tick()  # finds the new game 0 and answers it
        assert agent.known[0].created_hash not in (b"", old_hash)
        answer = game.dissections(0)[-1]
        assert answer.poster == PROPOSER.address and (answer.lo, answer.hi) == (0, 2)
        assert agent.stats.errors == errors  # nothing was sent into the old game's record

        env.mine(CLOCK + 1)
        proposer.tick()
        assert game.game(0).status is GameStatus.DEFENDER_WON
    finally:
        pchain.close()
