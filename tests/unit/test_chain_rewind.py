"""L2Chain.rewind: after an L1 reorg a node drops blocks above a number and builds again."""

from __future__ import annotations

from l2.chain import L2Chain
from l2.transactions import decode_transaction
from l2.types import Head
from tests.conftest import attrs
from tests.unit.test_state_transition import signed


def test_rewind_drops_blocks_and_their_lookups_then_builds_a_new_branch(tmp_path, spec, keys):
    chain = L2Chain.open(tmp_path / "c", spec, map_size=1 << 28)
    txs = [decode_transaction(signed(keys[0], n, value=n + 1), spec) for n in range(3)]
    blocks = [chain.build_block(attrs(10 + i), [tx])[0] for i, tx in enumerate(txs)]
    chain.set_head(Head.SAFE, blocks[2].hash)
    chain.set_head(Head.FINALIZED, blocks[0].hash)

    target = chain.rewind(1)

    assert target.hash == blocks[0].hash
    heads = chain.heads()
    assert heads.unsafe.hash == heads.safe.hash == blocks[0].hash
    assert heads.finalized.hash == blocks[0].hash
    assert chain.transaction_location(txs[0].hash) == (1, 0)
    assert chain.transaction_location(txs[1].hash) is None
    assert chain.header_by_hash(blocks[2].hash).block_number == 3  # still readable by hash
    assert chain.state_at(target).get_nonce(keys[0].address) == 1

    other = decode_transaction(signed(keys[1], 0, value=7), spec)
    new2, _ = chain.build_block(attrs(20), [other])
    assert new2.number == 2 and new2.hash != blocks[1].hash
    assert chain.header_by_number(2).hash == new2.hash
    assert chain.transaction_location(other.hash) == (2, 0)
    chain.close()

    reopened = L2Chain.open(tmp_path / "c", spec, map_size=1 << 28)
    assert reopened.head(Head.UNSAFE).hash == new2.hash
    reopened.close()


def test_rewind_to_head_or_above_changes_nothing(chain, spec, keys):
    sealed, _ = chain.build_block(attrs(1), [])
    assert chain.rewind(5).hash == sealed.hash
    assert chain.head(Head.UNSAFE).hash == sealed.hash
