"""Our block execution agrees with stock py-evm transaction by transaction."""

from bench.core import stock_chain
from bench.workloads import erc20_transfers, eth_transfers
from l2.chain import L2Chain
from l2.spec import ChainSpec
from l2.transactions import decode_transaction
from tests.conftest import CHAIN_ID, attrs


def test_receipts_and_balances_equal_stock_pyevm(tmp_path):
    eth = eth_transfers(40, CHAIN_ID, senders=5)
    token = erc20_transfers(40, CHAIN_ID, senders=5)
    spec = token.spec(eth.spec(ChainSpec(chain_id=CHAIN_ID)))
    blocks = [token.setup, eth.txs[:20] + token.txs[:20], token.txs[20:] + eth.txs[20:]]

    ours = L2Chain.open(tmp_path / "ours", spec, map_size=1 << 30)
    stock = stock_chain(spec)
    for i, raw_block in enumerate(blocks):
        sealed, skipped = ours.build_block(attrs(1 + i), [decode_transaction(r, spec) for r in raw_block])
        assert not skipped
        _, stock_receipts, _ = stock.mine_all(
            [stock.get_vm().get_transaction_builder().decode(r) for r in raw_block],
            timestamp=1 + i,
            gas_limit=spec.gas_limit,
            coinbase=spec.fee_recipient,
        )
        our_receipts = ours.receipts(sealed.header)
        assert len(our_receipts) == len(stock_receipts) == len(raw_block)
        for mine, theirs in zip(our_receipts, stock_receipts, strict=True):
            assert mine.state_root == theirs.state_root  # status
            assert mine.gas_used == theirs.gas_used
            assert [(log.address, log.topics, log.data) for log in mine.logs] == [
                (log.address, log.topics, log.data) for log in theirs.logs
            ]
    our_state = ours.state_at(ours.header_by_number(len(blocks)))
    stock_state = stock.get_vm().state
    for key in eth.keys + token.keys:
        assert our_state.get_balance(key.address) == stock_state.get_balance(key.address)
        assert our_state.get_nonce(key.address) == stock_state.get_nonce(key.address)
    ours.close()
