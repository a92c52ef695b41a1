"""The mempool's admission, replacement, caps, eviction and ordering rules."""

from __future__ import annotations

import pytest
from eth_account import Account

from l2.errors import InvalidTransaction
from l2.spec import devnet_spec
from l2.transactions import decode_transaction
from sequencer.mempool import Mempool, PoolRejection

SPEC = devnet_spec()
BASE_FEE = 10**9
KEYS = [bytes([i + 1]) * 32 for i in range(8)]
ADDRS = [bytes.fromhex(Account.from_key(k).address[2:]) for k in KEYS]


def tx(key: int, nonce: int, tip: int = 10**6, cap: int = 2 * 10**9, value: int = 1, gas: int = 21_000):
    raw = Account.sign_transaction(
        {"type": 2, "chainId": SPEC.chain_id, "nonce": nonce, "to": "0x" + "11" * 20, "value": value,
         "gas": gas, "maxFeePerGas": cap, "maxPriorityFeePerGas": tip},
        KEYS[key],
    ).raw_transaction
    return decode_transaction(bytes(raw), SPEC)


class Accounts:
    def __init__(self) -> None:
        self.nonce = dict.fromkeys(ADDRS, 0)
        self.balance = dict.fromkeys(ADDRS, 10**20)

    def __call__(self, sender: bytes) -> tuple[int, int]:
        return self.nonce.get(sender, 0), self.balance.get(sender, 0)


@pytest.fixture
def accounts():
    return Accounts()


def pool(accounts, **kw) -> Mempool:
    return Mempool(accounts, BASE_FEE, **kw)


def test_pending_and_queued_states_follow_the_nonce_gap(accounts):
    p = pool(accounts)
    p.add(tx(0, 0))
    p.add(tx(0, 2))  # gap at 1: queued
    assert p.counts() == (1, 1)
    assert p.next_nonce(ADDRS[0]) == 1
    p.add(tx(0, 1))  # fills the gap: both become pending
    assert p.counts() == (3, 0)
    assert p.next_nonce(ADDRS[0]) == 3
    assert [e.nonce for e in p.select(BASE_FEE)] == [0, 1, 2]


def test_nonce_too_low_is_rejected_with_its_rule(accounts):
    accounts.nonce[ADDRS[0]] = 5
    with pytest.raises(InvalidTransaction) as err:
        pool(accounts).add(tx(0, 4))
    assert err.value.rule == "nonce_too_low"
    assert "nonce too low" in err.value.message


def test_balance_must_cover_gas_times_fee_cap_plus_value(accounts):
    accounts.balance[ADDRS[0]] = 21_000 * 2 * 10**9 + 5
    p = pool(accounts)
    p.add(tx(0, 0, value=5))
    with pytest.raises(InvalidTransaction) as err:
        p.add(tx(0, 1, value=6))
    assert err.value.rule == "insufficient_funds"
    assert err.value.message.startswith("insufficient funds for gas * price + value")


def test_fee_cap_below_base_fee_is_rejected(accounts):
    with pytest.raises(InvalidTransaction) as err:
        pool(accounts).add(tx(0, 0, tip=1, cap=BASE_FEE - 1))
    assert err.value.rule == "fee_cap"


def test_duplicate_is_already_known(accounts):
    p = pool(accounts)
    t = tx(0, 0)
    p.add(t)
    with pytest.raises(PoolRejection) as err:
        p.add(t)
    assert (err.value.rule, err.value.message) == ("already_known", "already known")


def test_replacement_needs_ten_percent_on_both_fee_cap_and_tip(accounts):
    p = pool(accounts)
    first = tx(0, 0, tip=10**6, cap=2 * 10**9)
    p.add(first)
    for tip, cap in ((11 * 10**5, 2 * 10**9), (10**6, 22 * 10**8), (109 * 10**4, 22 * 10**8)):
        with pytest.raises(PoolRejection) as err:
            p.add(tx(0, 0, tip=tip, cap=cap))
        assert err.value.message == "replacement transaction underpriced"
    better = tx(0, 0, tip=11 * 10**5, cap=22 * 10**8)
    p.add(better)
    assert p.get(first.hash) is None
    assert p.get(better.hash) is not None
    assert len(p) == 1


def test_per_sender_cap(accounts):
    p = pool(accounts, per_sender=3)
    for n in range(3):
        p.add(tx(0, n))
    with pytest.raises(PoolRejection) as err:
        p.add(tx(0, 3))
    assert err.value.rule == "sender_cap"
    p.add(tx(1, 0))  # other senders unaffected


def test_global_cap_evicts_the_cheapest_or_refuses_a_cheaper_one(accounts):
    p = pool(accounts, global_cap=3)
    cheap = tx(0, 0, tip=1)
    p.add(cheap)
    p.add(tx(1, 0, tip=100))
    p.add(tx(2, 0, tip=100))
    with pytest.raises(PoolRejection) as err:
        p.add(tx(3, 0, tip=1))  # not better than the cheapest
    assert err.value.rule == "pool_full"
    p.add(tx(3, 0, tip=1000))
    assert len(p) == 3
    assert p.get(cheap.hash) is None


def test_eviction_takes_a_senders_last_nonce_never_opening_a_gap(accounts):
    p = pool(accounts, global_cap=3)
    p.add(tx(0, 0, tip=5))
    p.add(tx(0, 1, tip=1))
    p.add(tx(1, 0, tip=2))
    p.add(tx(2, 0, tip=50))
    assert sorted((e.sender, e.nonce) for e in p.select(BASE_FEE)) == sorted(
        [(ADDRS[0], 0), (ADDRS[1], 0), (ADDRS[2], 0)]
    )


def test_select_orders_by_effective_tip_then_arrival_keeping_nonce_order(accounts):
    p = pool(accounts)
    p.add(tx(0, 0, tip=1))
    p.add(tx(0, 1, tip=1000))  # must still come after nonce 0
    p.add(tx(1, 0, tip=500))
    p.add(tx(2, 0, tip=500))  # same tip as sender 1: later arrival
    p.add(tx(3, 0, tip=10**9, cap=BASE_FEE + 10))  # effective tip only 10
    order = [(ADDRS.index(e.sender), e.nonce) for e in p.select(BASE_FEE)]
    assert order == [(1, 0), (2, 0), (3, 0), (0, 0), (0, 1)]


def test_select_holds_transactions_below_a_risen_base_fee(accounts):
    p = pool(accounts)
    p.add(tx(0, 0, cap=BASE_FEE + 1))
    p.add(tx(1, 0, cap=3 * BASE_FEE))
    assert [e.sender for e in p.select(2 * BASE_FEE)] == [ADDRS[1]]
    assert len(p) == 2  # held, not dropped


def test_new_head_removes_mined_and_unaffordable_and_promotes_queued(accounts):
    p = pool(accounts)
    p.add(tx(0, 0))
    p.add(tx(0, 1))
    p.add(tx(0, 3))
    p.add(tx(1, 0, value=10**19))
    accounts.nonce[ADDRS[0]] = 2  # nonces 0 and 1 mined
    accounts.balance[ADDRS[1]] = 10  # can no longer pay
    removed = p.on_new_head(BASE_FEE)
    assert [e.sender for e in removed] == [ADDRS[1]]
    assert p.counts() == (0, 1)  # nonce 3 waits for 2
    p.add(tx(0, 2))
    assert p.counts() == (2, 0)


def test_dropped_hashes_leave_the_pool(accounts):
    p = pool(accounts)
    t = tx(0, 0)
    p.add(t)
    p.on_new_head(BASE_FEE, [t.hash])
    assert p.get(t.hash) is None and len(p) == 0


def test_select_after_starts_each_run_past_what_the_block_holds(accounts):
    p = pool(accounts)
    for nonce in range(3):
        p.add(tx(0, nonce))
    p.add(tx(1, 0))
    everything = p.select(BASE_FEE)
    rest = p.select(BASE_FEE, after={ADDRS[0]: 2})  # sender 0's nonces 0 and 1 are in the block
    assert [(e.sender, e.nonce) for e in rest] == [(ADDRS[0], 2), (ADDRS[1], 0)]  # same tip: arrival order
    assert {e.hash for e in rest} < {e.hash for e in everything}
    assert p.select(BASE_FEE, after={ADDRS[0]: 3, ADDRS[1]: 1}) == []
    assert p.select(BASE_FEE, after={ADDRS[0]: 0}) == everything  # below the account nonce: no effect


def test_take_touched_names_senders_with_new_transactions_once(accounts):
    p = pool(accounts)
    p.add(tx(0, 0))
    p.add(tx(1, 1))  # queued behind a gap: still a sender to look at
    assert p.take_touched() == {ADDRS[0], ADDRS[1]}
    assert p.take_touched() == set()
    p.add(tx(0, 1))
    touched = p.take_touched()
    assert touched == {ADDRS[0]}
    assert [e.nonce for e in p.select(BASE_FEE, after={ADDRS[0]: 1}, senders=touched)] == [1]
    assert p.select(BASE_FEE, senders=set()) == []


def test_on_new_head_reads_again_only_the_accounts_the_block_touched(accounts):
    p = pool(accounts)
    mined, kept = p.add(tx(0, 0)), p.add(tx(0, 1))
    other = p.add(tx(1, 0))
    gone = p.add(tx(2, 0))  # its sender's only transaction is in the block
    reads: list[bytes] = []
    p._read_account = lambda sender: (reads.append(sender), accounts(sender))[1]
    accounts.nonce[ADDRS[0]] = 1
    accounts.nonce[ADDRS[2]] = 1
    accounts.balance[ADDRS[1]] = 0  # would be unaffordable, but the block did not touch it: not read
    removed = p.on_new_head(BASE_FEE, mined=[mined.hash, gone.hash], touched={ADDRS[0], ADDRS[2]})
    assert removed == [] and reads == [ADDRS[0]]  # sender 2 has nothing left: no read either
    assert p.get(kept.hash) is kept and p.get(other.hash) is other and p.get(gone.hash) is None
    assert p.counts() == (2, 0) and p.next_nonce(ADDRS[0]) == 2
    removed = p.on_new_head(BASE_FEE)  # touched unknown (a rewind): every sender is read
    assert removed == [other] and set(reads[1:]) == {ADDRS[0], ADDRS[1]}
