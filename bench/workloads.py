"""Pre-signed transaction workloads shared by benchmarks and tests.

Deterministic: the same keys, nonces and calldata every run, so figures compare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from eth_account import Account
from eth_hash.auto import keccak
from eth_utils import to_checksum_address

import l2  # noqa: F401
from l2.spec import ChainSpec, GenesisAccount

ARTIFACTS = Path(__file__).resolve().parent / "contracts" / "artifacts"
FUNDING = 10**24  # 1M ETH per workload sender
ETH_TRANSFER_GAS = 21_000
ERC20_TRANSFER_GAS = 60_000
MAX_FEE = 10**11  # 100 gwei: above any base fee the workloads reach
TIP = 10**6


@cache
def token_artifact() -> dict:
    return json.loads((ARTIFACTS / "TestToken.json").read_text())


@dataclass(frozen=True)
class Key:
    private: bytes
    address: bytes

    @classmethod
    def derive(cls, label: str, index: int) -> Key:
        private = keccak(f"{label}/{index}".encode())
        return cls(private, bytes.fromhex(Account.from_key(private).address[2:]))


@dataclass
class Workload:
    """Setup transactions (not measured) then the measured transactions, all raw and signed."""

    name: str
    keys: list[Key]
    setup: list[bytes] = field(default_factory=list)
    txs: list[bytes] = field(default_factory=list)

    def spec(self, base: ChainSpec) -> ChainSpec:
        """`base` with every workload key funded."""
        alloc = dict(base.alloc)
        for key in self.keys:
            alloc[key.address] = GenesisAccount(balance=FUNDING)
        return replace(base, alloc=tuple(sorted(alloc.items())))


def sign(key: Key, chain_id: int, nonce: int, to: bytes | None, value: int, data: bytes, gas: int) -> bytes:
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "maxPriorityFeePerGas": TIP,
        "maxFeePerGas": MAX_FEE,
        "gas": gas,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, key.private).raw_transaction)


def _keys(label: str, senders: int) -> list[Key]:
    return [Key.derive(label, i) for i in range(senders)]


def eth_transfers(count: int, chain_id: int, senders: int = 64) -> Workload:
    """`count` plain ETH transfers, round-robin over `senders` accounts, to fresh recipients."""
    keys = _keys("eth", senders)
    nonces = [0] * senders
    txs = []
    for i in range(count):
        s = i % senders
        recipient = keccak(b"recipient" + i.to_bytes(4, "big"))[:20]
        txs.append(sign(keys[s], chain_id, nonces[s], recipient, 10**12 + i, b"", ETH_TRANSFER_GAS))
        nonces[s] += 1
    return Workload("eth", keys, [], txs)


def token_address(deployer: Key) -> bytes:
    """CREATE address of the deployer's first contract (nonce 0)."""
    import rlp

    return keccak(rlp.encode([deployer.address, 0]))[12:]


def deploy_token_tx(deployer: Key, holders: list[bytes], chain_id: int, amount: int = 10**30) -> bytes:
    from eth_abi import encode

    args = encode(["string", "string", "address[]", "uint256"], ["Test", "TST", holders, amount])
    code = bytes.fromhex(token_artifact()["bytecode"][2:]) + args
    return sign(deployer, chain_id, 0, None, 0, code, 3_000_000)


def transfer_calldata(to: bytes, amount: int) -> bytes:
    return bytes.fromhex("a9059cbb") + to.rjust(32, b"\0") + amount.to_bytes(32, "big")


def erc20_transfers(count: int, chain_id: int, senders: int = 64) -> Workload:
    """`count` ERC-20 `transfer`s of a TestToken deployed in setup, to fresh recipients."""
    keys = _keys("erc20", senders + 1)
    deployer, holders = keys[0], keys[1:]
    token = token_address(deployer)
    setup = [deploy_token_tx(deployer, [k.address for k in holders], chain_id)]
    nonces = [0] * senders
    txs = []
    for i in range(count):
        s = i % senders
        recipient = keccak(b"holder" + i.to_bytes(4, "big"))[:20]
        data = transfer_calldata(recipient, 1000 + i)
        txs.append(sign(holders[s], chain_id, nonces[s], token, 0, data, ERC20_TRANSFER_GAS))
        nonces[s] += 1
    return Workload("erc20", keys, setup, txs)


def mixed(count: int, chain_id: int, senders: int = 64) -> Workload:
    """Half ETH transfers, half ERC-20 transfers, interleaved."""
    eth = eth_transfers(count - count // 2, chain_id, senders)
    token = erc20_transfers(count // 2, chain_id, senders)
    txs = []
    for i in range(max(len(eth.txs), len(token.txs))):
        txs.extend(w.txs[i] for w in (eth, token) if i < len(w.txs))
    return Workload("mixed", eth.keys + token.keys, token.setup, txs)
