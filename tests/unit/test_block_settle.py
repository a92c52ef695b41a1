"""`BlockBuilder.settle` folds state mid-block without changing the block; `touched` names what changed."""

from __future__ import annotations

from bench.workloads import erc20_transfers, eth_transfers, token_address
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from l2.types import BlockAttributes, L1Origin
from tests.conftest import CHAIN_ID

ETH = eth_transfers(12, CHAIN_ID, senders=4)
ERC20 = erc20_transfers(12, CHAIN_ID)
SPEC = ERC20.spec(ETH.spec(ChainSpec(chain_id=CHAIN_ID)))


def _chain(path) -> L2Chain:
    chain = L2Chain.open(path, SPEC, map_size=1 << 30)
    setup = [decode_transaction(r, SPEC) for r in ERC20.setup]
    _, skipped = chain.build_block(BlockAttributes(1, L1Origin(0)), setup)
    assert not skipped
    return chain


def test_settling_after_every_transaction_seals_the_same_block(tmp_path):
    txs = [decode_transaction(r, SPEC) for pair in zip(ETH.txs, ERC20.txs, strict=True) for r in pair]
    headers = []
    for settle in (False, True):
        chain = _chain(tmp_path / str(settle))
        builder = chain.open_block(BlockAttributes(2, L1Origin(0)))
        for tx in txs:
            builder.add(tx)
            if settle:
                builder.settle()
        sealed = builder.seal()
        chain.commit(builder, sealed)
        headers.append(sealed.header)
        chain.close()
    assert headers[0] == headers[1] and headers[0].gas_used > 0


def test_touched_holds_every_sender_recipient_and_the_token(tmp_path):
    chain = _chain(tmp_path)
    builder = chain.open_block(BlockAttributes(2, L1Origin(0)))
    eth = decode_transaction(ETH.txs[0], SPEC)
    erc20 = decode_transaction(ERC20.txs[0], SPEC)
    builder.add(eth)
    builder.settle()
    builder.add(erc20)
    builder.seal()
    assert builder.touched is not None
    assert {eth.sender, eth.to, erc20.sender, token_address(ERC20.keys[0])} <= builder.touched
    untouched = decode_transaction(ETH.txs[1], SPEC).sender
    assert untouched not in builder.touched
    chain.close()
