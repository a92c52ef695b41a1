"""Output roots of real L2 blocks: the message passer's storage root is read from the state trie."""

from __future__ import annotations

import rlp
from eth_abi import encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from trie import HexaryTrie

from l2.chain import L2Chain
from l2.output_root import genesis_output_root, output_root, output_root_at, storage_root
from l2.predeploys import MESSAGE_PASSER_ADDRESS
from l2.transactions import decode_transaction
from l2.types import Head
from tests.conftest import CHAIN_ID, attrs

BLANK_ROOT = keccak(rlp.encode(b""))


def test_genesis_output_root_has_an_empty_message_passer(chain: L2Chain, spec):
    genesis = chain.head(Head.UNSAFE)
    assert storage_root(chain, genesis, MESSAGE_PASSER_ADDRESS) == BLANK_ROOT
    expected = keccak(b"\x00" * 32 + genesis.state_root + BLANK_ROOT + genesis.hash)
    assert output_root_at(chain, genesis) == expected == genesis_output_root(spec)


def test_a_withdrawal_changes_the_message_passer_storage_root(chain: L2Chain, spec, keys):
    sender = keys[0]
    tx = {
        "chainId": CHAIN_ID,
        "nonce": 0,
        "gas": 200_000,
        "value": 7,
        "data": b"",
        "type": 2,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 1,
        "to": to_checksum_address(MESSAGE_PASSER_ADDRESS),
    }
    raw = bytes(Account.sign_transaction(tx, sender.private).raw_transaction)
    sealed, skipped = chain.build_block(attrs(10), [decode_transaction(raw, spec)])
    assert not skipped and chain.receipts(sealed.header)[0].state_root == b"\x01"
    # MessagePasser storage: sentMessages[hash] = true (slot 0 mapping), messageNonce = 1 (slot 1)
    withdrawal = keccak(
        encode(
            ["uint256", "address", "address", "uint256", "uint256", "bytes"],
            [0, sender.address, sender.address, 7, 0, b""],
        )
    )
    expected_trie = HexaryTrie({})
    expected_trie[keccak(keccak(withdrawal + (0).to_bytes(32, "big")))] = rlp.encode(1)
    expected_trie[keccak((1).to_bytes(32, "big"))] = rlp.encode(1)
    passer_root = storage_root(chain, sealed.header, MESSAGE_PASSER_ADDRESS)
    assert passer_root == expected_trie.root_hash != BLANK_ROOT
    assert output_root_at(chain, sealed.header) == output_root(sealed.header.state_root, passer_root, sealed.hash)
