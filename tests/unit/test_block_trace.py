"""The level-2 trace of whole L2 blocks (docs/fraud-proofs.md 2, 11) ends on our chain's block claim.

An in-process chain (l2's BlockBuilder through `execute_derived`) is fed hand-made inbox entries;
each block's trace, started from the claim after its parent, must end exactly on
`BlockClaim(b, output_root_at(b), cursor after b)` (1.1 amended) - the check that every step's
semantics (fees, nonces, system writes, tries, header, output root, cursor) is the chain's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from bench.workloads import deploy_token_tx, sign, token_address, transfer_calldata
from l1.dispute_game import block_claim, cursor
from l1.proofs.block_machine import BlockTrace
from l1.proofs.tx_steps import StepError
from l2.chain import L2Chain
from l2.codec import encode_batch
from l2.deposits import Deposit
from l2.derivation import Cursor as DerivationCursor
from l2.derivation import InboxBatch, QueuedDeposit, RecordedOrigin, derive_entry
from l2.messages import BlockStart, Delayed, L2Tx, Message, message_root
from l2.output_root import output_root_at
from l2.replay import execute_derived
from l2.types import Head, L1Origin
from tests.conftest import CHAIN_ID
from tests.unit.test_state_transition import SINK, signed


@dataclass
class Source:
    """L1 in memory: origins, delayed messages, inbox entries."""

    deposits: list[QueuedDeposit] = field(default_factory=list)
    posted: list[InboxBatch] = field(default_factory=list)

    def origin(self, number: int) -> L1Origin:
        return L1Origin(number, (1000 + number).to_bytes(32, "big"), 7 * number + 3)

    def recorded_origin(self, number: int) -> RecordedOrigin | None:
        return RecordedOrigin(self.origin(number), 0)  # every L1 block recorded in the Inbox before entry 0

    def delayed(self, index: int) -> QueuedDeposit:
        return self.deposits[index]

    def entries(self, first_index: int, from_block: int, limit: int) -> list[InboxBatch]:
        return self.posted[first_index:][:limit]

    def deposit(self, value: int, l1_block: int, timestamp: int, *, to: bytes = SINK, gas: int = 50_000,
                data: bytes = b"") -> int:
        index = len(self.deposits)
        d = Deposit(index=index, sender=bytes([0xD0, index + 1]) * 10, to=to, value=value, gas_limit=gas, data=data)
        self.deposits.append(QueuedDeposit(d, l1_block, timestamp))
        return index

    def batch(self, messages: list[Message], delayed_read: int, l1_block: int = 10, *,
              root: bytes | None = None) -> InboxBatch:
        entry = InboxBatch(len(self.posted), False, encode_batch(messages, CHAIN_ID),
                           message_root(messages) if root is None else root, len(messages), delayed_read, l1_block,
                           l1_block.to_bytes(32, "big"))
        self.posted.append(entry)
        return entry


class Harness:
    """Applies entries to the chain as the replay does, and knows the cursor after every block."""

    def __init__(self, chain: L2Chain, source: Source) -> None:
        self.chain, self.source = chain, source
        genesis = chain.head(Head.UNSAFE)
        self.cursor = DerivationCursor(0, 0, genesis.timestamp, 0)
        self.blocks: dict[int, tuple[int, int, int]] = {}  # block -> (entry, message_end, delayed_end) or last
        self.entry_of: dict[int, int] = {}
        self.last_of_entry: dict[int, int] = {}

    def apply(self, entry: InboxBatch) -> list[int]:
        derived = derive_entry(self.cursor, entry, self.source, self.chain.spec)
        headers, _, _ = execute_derived(self.chain, derived, {})
        self.cursor = derived.cursor
        numbers = [int(h.block_number) for h in headers]
        for n, block in zip(numbers, derived.blocks, strict=True):
            self.blocks[n] = (entry.index, block.message_end, block.delayed_end)
            self.entry_of[n] = entry.index
        if numbers:
            self.last_of_entry[entry.index] = numbers[-1]
        return numbers

    def cursor_after(self, block: int, entry_limit: int) -> tuple[int, int, int]:
        """1.1 amended: mid-entry (i, message_end, delayed_end); the entry's last block
        (j, 0, delayedRead(i)) with j past the following entries that derive no block."""
        if block == 0:
            return (0, 0, 0)
        index, message_end, delayed_end = self.blocks[block]
        if self.last_of_entry[index] != block:
            return index, message_end, delayed_end
        following = index + 1
        while following < entry_limit and following not in self.last_of_entry:
            following += 1
        return following, 0, self.source.posted[index].delayed_read

    def claim(self, block: int, entry_limit: int) -> bytes:
        header = self.chain.header_by_number(block)
        return block_claim(block, output_root_at(self.chain, header), cursor(*self.cursor_after(block, entry_limit)))

    def trace(self, block: int, entry_limit: int) -> BlockTrace:
        start = self.cursor_after(block - 1, entry_limit)
        trace = BlockTrace.build(self.chain, self.source, block, entry_limit, start)
        assert trace.state(0) == self.claim(block - 1, entry_limit) if block > 1 else True
        assert trace.state(trace.steps) == self.claim(block, entry_limit), f"block {block}: wrong end claim"
        assert trace.state(trace.steps + 5) == trace.state(trace.steps)  # identity padding
        assert trace.step_kind(trace.steps) == "IDENTITY"
        assert len(set(trace.states)) == len(trace.states), "every step changes the state"
        return trace


@pytest.fixture
def harness(chain: L2Chain) -> Harness:
    return Harness(chain, Source())


def transfers(keys, n: int, *, key: int = 0, first_nonce: int = 0, value: int = 5) -> list[Message]:
    return [L2Tx(signed(keys[key], first_nonce + i, value=value + i, to=bytes([0xAB, i % 256]) * 10))
            for i in range(n)]


def test_one_transfer_block_ends_on_the_chain_claim(harness, keys):
    entry = harness.source.batch([BlockStart(1_000, 5), *transfers(keys, 1)], delayed_read=0)
    (b,) = harness.apply(entry)
    trace = harness.trace(b, 1)
    counts = trace.counts()
    assert counts["TX_LOAD"] == 1 and counts["SIG_HASH"] == 1 and counts["TX_START"] == 1
    assert counts["TRIE"] == 2 and counts["SEAL"] == 1


ETH_TRANSFER_STEPS = {"NEXT_MESSAGE": 1, "TX_LOAD": 1, "TX_DECODE": 1, "SIG_HASH": 1, "LOAD_ACCOUNT": 3, "TX_START": 1,
                      "TX_SETUP": 2, "TX_CALL": 1, "TX_END": 1, "COMMIT": 7, "TRIE": 2}  # fmt: skip


def _block_overhead(trace: BlockTrace) -> dict[str, int]:
    """Steps of a block with no transaction and no new origin (EIP-2935 write only)."""
    return {"BLOCK_START": 1, "LOAD_ACCOUNT": 1, "LOAD_SLOT": 1, "SYS_WRITE": 1, "COMMIT": 4, "NEXT_MESSAGE": 1,
            "TRIE": 2, "SEAL": 1}


@pytest.mark.parametrize("n", [2, 20, 130])
def test_transfer_blocks_end_on_the_chain_claim(harness, keys, n):
    first = harness.source.batch([BlockStart(1_000, 5)], delayed_read=0)
    harness.apply(first)  # block 1: new origin, empty
    entry = harness.source.batch([BlockStart(1_002, 5), *transfers(keys, n)], delayed_read=0)
    (b,) = harness.apply(entry)
    assert len(harness.chain.transactions(harness.chain.header_by_number(b))) == n
    trace = harness.trace(b, 2)
    counts = trace.counts()
    # per transfer exactly the 2.7 list (as built, 11); the block's own steps on top
    overhead = _block_overhead(trace)
    kinds = set(overhead) | set(ETH_TRANSFER_STEPS)
    expected = {k: overhead.get(k, 0) + n * ETH_TRANSFER_STEPS.get(k, 0) for k in kinds}
    expected["TRIE"] = 2 * n  # max(n, 1) per trie
    # the journal is per transaction: sender, recipient and coinbase are loaded again in each one
    assert expected["LOAD_ACCOUNT"] == 1 + 3 * n
    assert counts == expected


@pytest.mark.parametrize("mutation", ["receipt", "base_fee"])
def test_a_wrong_step_semantics_misses_the_claim(harness, keys, monkeypatch, mutation):
    import l1.proofs.block_steps as bs

    if mutation == "receipt":
        original = bs.receipt_value
        monkeypatch.setattr(bs, "receipt_value", lambda record, logs: original(record, logs) + b"\x00")
    else:
        original_fee = bs.next_base_fee
        monkeypatch.setattr(bs, "next_base_fee", lambda fee, used, g: original_fee(fee, used, g) + 1)
    (b,) = harness.apply(harness.source.batch([BlockStart(1_000, 5), *transfers(keys, 1)], delayed_read=0))
    with pytest.raises(AssertionError, match="wrong end claim"):
        harness.trace(b, 1)


def test_eth_transfer_step_counts_per_kind(harness, keys):
    harness.apply(harness.source.batch([BlockStart(1_000, 5)], delayed_read=0))
    (empty,) = harness.apply(harness.source.batch([BlockStart(1_001, 5)], delayed_read=0))
    (one,) = harness.apply(harness.source.batch([BlockStart(1_002, 5), *transfers(keys, 1)], delayed_read=0))
    base, with_tx = harness.trace(empty, 3).counts(), harness.trace(one, 3).counts()
    assert base == _block_overhead(harness.trace(empty, 3))
    delta = {k: with_tx.get(k, 0) - base.get(k, 0) for k in set(base) | set(with_tx)}
    delta = {k: v for k, v in delta.items() if v}
    # an empty block also takes one TRIE step per trie (max(n, 1)), so the first tx adds none
    assert delta == {k: v for k, v in ETH_TRANSFER_STEPS.items() if k != "TRIE"}


def test_first_block_new_origin_empty_block_and_determinism(harness, keys):
    (b1,) = harness.apply(harness.source.batch([BlockStart(1_000, 4)], delayed_read=0))
    one = harness.trace(b1, 1)
    assert one.counts()["SYS_WRITE"] == 4 and one.counts()["TRIE"] == 2  # 2935 + three L1Info slots
    again = BlockTrace.build(harness.chain, harness.source, b1, 1, (0, 0, 0), keep_machines=False)
    assert again.states == one.states and again.kinds == one.kinds
    assert len(set(one.states)) == len(one.states)  # every step changes the state


def test_skipped_and_undecodable_transactions(harness, keys):
    messages: list[Message] = [BlockStart(1_000, 5), *transfers(keys, 1),
                               L2Tx(signed(keys[0], 7)),  # nonce too high: skipped at TX_START
                               L2Tx(b"\x02garbage"),  # no-op at TX_DECODE
                               L2Tx(signed(keys[1], 0, max_fee=1)),  # fee cap below the base fee: skipped
                               *transfers(keys, 1, key=0, first_nonce=1)]
    (b,) = harness.apply(harness.source.batch(messages, delayed_read=0))
    assert len(harness.chain.transactions(harness.chain.header_by_number(b))) == 2
    counts = harness.trace(b, 1).counts()
    assert counts["NEXT_MESSAGE"] == 6 and counts["TX_DECODE"] == 5 and counts["TX_START"] == 4
    assert counts["TX_END"] == 2 and counts["TRIE"] == 4


def test_several_blocks_per_entry_and_entry_skips(harness, keys):
    source = harness.source
    messages: list[Message] = [*transfers(keys, 1),  # before any BlockStart: the parent's values
                               BlockStart(1_000, 6), *transfers(keys, 2, first_nonce=1),
                               BlockStart(1_001, 6),  # an empty block
                               BlockStart(1_003, 7), *transfers(keys, 1, key=1)]
    blocks = harness.apply(source.batch(messages, delayed_read=0))
    source.batch([BlockStart(1_010, 7)], delayed_read=0, root=b"\x11" * 32)  # invalid, no deposit: skipped
    harness.apply(source.posted[-1])
    source.batch([], delayed_read=0)  # empty: skipped
    harness.apply(source.posted[-1])
    last = harness.apply(source.batch([BlockStart(1_020, 8), *transfers(keys, 1, key=2)], delayed_read=0))
    assert len(blocks) == 4
    for b in blocks:
        harness.trace(b, 4)
        harness.trace(b, 3)  # another entry limit: the last block's cursor stops at it
    assert harness.cursor_after(blocks[-1], 4) == (3, 0, 0)
    assert harness.trace(blocks[-1], 4).counts()["ENTRY_SKIP"] == 2
    harness.trace(last[0], 4)
    # started from the contract's start claim of an assertion whose parent read entries [0, 1):
    # the trace opens with the two ENTRY_SKIPs, then the same block
    from_start = BlockTrace.build(harness.chain, source, last[0], 4, (1, 0, 0))
    assert from_start.kinds[:3] == ["ENTRY_SKIP", "ENTRY_SKIP", "BLOCK_START"]
    assert from_start.state(from_start.steps) == harness.claim(last[0], 4)


def test_deposits(harness, keys):
    source = harness.source
    d0 = source.deposit(10**18, 3, 990)
    d1 = source.deposit(5, 4, 991, data=bytes(range(200)))  # DATA_LOAD over two sponge blocks
    d2 = source.deposit(7, 4, 992, gas=21_000, data=b"\x01" * 40)  # below the floor: call skipped
    source.deposit(9, 4, 993, to=keys[3].address, data=b"\x05")  # one bare byte; flushed at the end
    messages: list[Message] = [BlockStart(1_000, 5), Delayed(d0), *transfers(keys, 1),
                               Delayed(d0),  # a stale one: no-op
                               Delayed(d1), Delayed(d2)]
    (b,) = harness.apply(source.batch(messages, delayed_read=4))
    receipts = harness.chain.receipts(harness.chain.header_by_number(b))
    assert len(receipts) == 5
    counts = harness.trace(b, 1).counts()
    assert counts["DEPOSIT_LOAD"] == 4 and counts["DEPOSIT_START"] == 4 and counts["DATA_LOAD"] == 1 + 2 + 1 + 1
    assert counts["TX_END"] == 5


def test_forced_and_invalid_entries_run_their_deposits(harness, keys):
    source = harness.source
    harness.apply(source.batch([BlockStart(1_000, 5), *transfers(keys, 1)], delayed_read=0))
    source.deposit(3, 6, 1_005)
    source.deposit(4, 7, 1_006)
    previous = source.posted[-1].delayed_read
    forced = InboxBatch(len(source.posted), True, b"", b"\x00" * 32, 2 - previous, 2, 20, (20).to_bytes(32, "big"))
    source.posted.append(forced)
    (b_forced,) = harness.apply(forced)
    source.deposit(8, 9, 1_010)
    invalid = source.batch([BlockStart(1_011, 9)], delayed_read=3, l1_block=30, root=b"\x22" * 32)
    (b_invalid,) = harness.apply(invalid)
    source.deposit(9, 10, 1_020)
    (b_empty_batch,) = harness.apply(source.batch([], delayed_read=4, l1_block=40))  # no message, one deposit
    for b in (b_forced, b_invalid, b_empty_batch):
        trace = harness.trace(b, 4)
        assert "TX_LOAD" not in trace.counts() and trace.counts()["DEPOSIT_LOAD"] >= 1


def test_erc20_block_joins_the_opcode_steps(harness, keys):
    """transfer, approve, transferFrom and a reverting transfer of TestToken (deployed in block 1,
    whose CREATE is not traced), mixed with an ETH transfer and a deposit calling the token."""
    source = harness.source
    token = token_address(keys[0])
    deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
    harness.apply(source.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))
    approve = bytes.fromhex("095ea7b3") + keys[2].address.rjust(32, b"\0") + (10**20).to_bytes(32, "big")
    transfer_from = (bytes.fromhex("23b872dd") + keys[1].address.rjust(32, b"\0") + keys[3].address.rjust(32, b"\0")
                     + (7).to_bytes(32, "big"))
    d = source.deposit(0, 4, 999, to=token, gas=200_000, data=transfer_calldata(keys[3].address, 1))
    messages: list[Message] = [
        BlockStart(1_002, 5),
        L2Tx(sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)),
        L2Tx(sign(keys[1], CHAIN_ID, 1, token, 0, approve, 200_000)),
        L2Tx(sign(keys[2], CHAIN_ID, 0, token, 0, transfer_from, 200_000)),
        L2Tx(sign(keys[3], CHAIN_ID, 0, token, 0, transfer_calldata(keys[2].address, 10**40), 200_000)),  # reverts
        *transfers(keys, 1, key=0, first_nonce=1),
        Delayed(d),
    ]
    (b,) = harness.apply(source.batch(messages, delayed_read=1))
    statuses = [r.state_root == b"\x01" for r in harness.chain.receipts(harness.chain.header_by_number(b))]
    assert len(statuses) == 6 and not all(statuses)
    trace = harness.trace(b, 2)
    counts = trace.counts()
    assert counts["EXEC"] > 500 and counts["LOAD_SLOT"] >= 6 and counts["TX_END"] == 6
    again = BlockTrace.build(harness.chain, source, b, 2, harness.cursor_after(b - 1, 2))
    assert again.states == trace.states and again.kinds == trace.kinds  # deterministic


def test_one_erc20_transfer_step_counts(harness, keys):
    source = harness.source
    token = token_address(keys[0])
    deploy = deploy_token_tx(keys[0], [keys[1].address, keys[2].address], CHAIN_ID)
    harness.apply(source.batch([BlockStart(1_000, 5), L2Tx(deploy)], delayed_read=0))
    (empty,) = harness.apply(source.batch([BlockStart(1_001, 5)], delayed_read=0))
    tx = sign(keys[1], CHAIN_ID, 0, token, 0, transfer_calldata(keys[3].address, 5), 200_000)
    (one,) = harness.apply(source.batch([BlockStart(1_002, 5), L2Tx(tx)], delayed_read=0))
    base, counts = harness.trace(empty, 3).counts(), harness.trace(one, 3).counts()
    delta = {k: counts.get(k, 0) - base.get(k, 0) for k in counts if counts.get(k, 0) != base.get(k, 0)}
    # as measured (docs/fraud-proofs.md 11): a 180-byte tx takes 2 TX_LOAD micro-steps, its signing
    # payload one; the token's two balance slots are loaded inside EXEC; COMMIT = 1 + 2 * 3 accounts + 2 slots
    assert delta == {"NEXT_MESSAGE": 1, "TX_LOAD": 2, "TX_DECODE": 1, "SIG_HASH": 1, "LOAD_ACCOUNT": 3,
                     "TX_START": 1, "TX_SETUP": 2, "TX_CALL": 1, "EXEC": delta["EXEC"], "LOAD_SLOT": 2,
                     "TX_END": 1, "COMMIT": 9}  # fmt: skip


def _signed_typed(key, nonce: int, *, to: bytes, value: int = 3, gas: int = 60_000, data: bytes = b"",
                  access_list: list | None = None, tx_type: int = 2) -> bytes:
    from eth_account import Account
    from eth_utils import to_checksum_address

    tx: dict = {"chainId": CHAIN_ID, "nonce": nonce, "gas": gas, "value": value, "data": data,
                "to": to_checksum_address(to)}
    if tx_type == 1:
        tx.update(type=1, gasPrice=10**10)
    else:
        tx.update(type=2, maxFeePerGas=10**10, maxPriorityFeePerGas=2)
    if access_list is not None:
        tx["accessList"] = access_list
    return bytes(Account.sign_transaction(tx, key.private).raw_transaction)


def test_transfer_variants(harness, keys):
    """Legacy and access-list transactions, long calldata (several TX_LOAD / SIG_HASH blocks), a zero
    transfer to a new account (touched, empty: not created), transfers to oneself and to the coinbase."""
    spec = harness.chain.spec
    fresh = bytes([0xEE]) * 20
    al = [{"address": "0x" + (b"\x11" * 20).hex(), "storageKeys": ["0x" + (5).to_bytes(32, "big").hex(),
                                                                    "0x" + (6).to_bytes(32, "big").hex()]},
          {"address": "0x" + (b"\x00" * 19 + b"\x01").hex(), "storageKeys": []}]  # a precompile
    messages: list[Message] = [
        BlockStart(1_000, 5),
        L2Tx(signed(keys[0], 0, legacy=True)),
        L2Tx(_signed_typed(keys[0], 1, to=SINK, data=bytes(range(256)) * 2)),
        L2Tx(_signed_typed(keys[0], 2, to=fresh, value=0)),
        L2Tx(_signed_typed(keys[1], 0, to=keys[1].address)),
        L2Tx(_signed_typed(keys[1], 1, to=bytes(spec.fee_recipient), value=10**9)),
        L2Tx(_signed_typed(keys[2], 0, to=SINK, access_list=al, tx_type=1)),
        L2Tx(_signed_typed(keys[2], 1, to=SINK, access_list=al)),
        L2Tx(_signed_typed(keys[3], 0, to=SINK, data=b"\xaa" * 700, gas=80_000)),  # a 0.8 KB leaf: TRIE_SPONGE
    ]
    (b,) = harness.apply(harness.source.batch(messages, delayed_read=0))
    assert len(harness.chain.transactions(harness.chain.header_by_number(b))) == 8
    assert not harness.chain.state_at(harness.chain.header_by_number(b)).account_exists(fresh)
    counts = harness.trace(b, 1).counts()
    assert counts["TX_END"] == 8 and counts["TX_LOAD"] > 8 and counts["SIG_HASH"] > 8
    assert counts["TRIE"] == 16 and counts["TRIE_SPONGE"] >= 6  # the two long raw txs' leaves
    # LOAD_SLOT: EIP-2935 + three L1Info slots (block 1 writes them), two keys per access-list tx;
    # TX_SETUP: `to` and coinbase per tx, then four access-list items (two addresses, two keys) twice
    assert counts["LOAD_SLOT"] == 4 + 2 * 2 and counts["TX_SETUP"] == 2 * 8 + 2 * 4


def _corruptions(witness: object) -> list[object]:
    """Every single-field corruption of a witness dataclass (bytes flipped, ints moved, lists cut)."""
    out: list[object] = []
    if not dataclasses.is_dataclass(witness):
        return out
    live = getattr(witness, "LIVE", ())  # checked against L1 state by the verifier, not by the Python step
    for f in dataclasses.fields(witness):
        if f.name in live:
            continue
        value = getattr(witness, f.name)
        bad: list[object] = []
        if isinstance(value, bytes | bytearray) and value:
            bad.append(bytes([value[0] ^ 1]) + bytes(value[1:]))
        elif isinstance(value, bool):
            bad.append(not value)
        elif isinstance(value, int):
            bad.append(value + 1)
        elif isinstance(value, list) and value:
            bad.append(value[:-1])
        elif dataclasses.is_dataclass(value):
            bad.extend(_corruptions(value))
        for b in bad:
            out.append(dataclasses.replace(witness, **{f.name: b}))  # type: ignore[type-var]
    return out


def test_every_step_replays_and_refuses_corrupted_witnesses(harness, keys):
    """Each recorded step run again from its pre-state lands on s_{j+1}; every single-field corruption
    of its witness is refused (StepError) or lands on another state (a proof the game rejects)."""
    source = harness.source
    d = source.deposit(10**18, 3, 990, data=bytes(range(150)))
    source.deposit(1, 3, 991, data=b"\x7f")
    al = [{"address": "0x" + (b"\x11" * 20).hex(), "storageKeys": ["0x" + (5).to_bytes(32, "big").hex()]}]
    messages: list[Message] = [BlockStart(1_000, 5), *transfers(keys, 2), Delayed(d),
                               L2Tx(_signed_typed(keys[2], 0, to=SINK, access_list=al)),
                               L2Tx(_signed_typed(keys[3], 0, to=SINK, data=b"\xaa" * 700, gas=80_000))]
    (b,) = harness.apply(source.batch(messages, delayed_read=2))
    trace = harness.trace(b, 1)
    assert trace.counts()["TRIE_SPONGE"] == 7  # the 0.8 KB raw tx's leaf: floor(n / 136) + 1 sponge blocks
    refused = landed_elsewhere = 0
    for j in range(trace.steps):
        assert trace.replay(j).commitment() == trace.state(j + 1), (j, trace.step_kind(j))
        for bad in _corruptions(trace.witness(j)):
            try:
                post = trace.replay(j, bad).commitment()
            except (StepError, AssertionError, KeyError, ValueError, IndexError):
                refused += 1
                continue
            assert post != trace.state(j + 1), (j, trace.step_kind(j), bad)
            landed_elsewhere += 1
    assert refused > 300 and refused + landed_elsewhere > 400
