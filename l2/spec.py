"""The chain spec: everything two nodes must agree on before the first block.

Loaded from a genesis JSON file (chain id, limits, EIP-1559 parameters, allocation);
the predeploys are added by `l2.genesis`, never by the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak
from eth_utils import is_hex_address, to_canonical_address

import l2  # noqa: F401
from l2.errors import ConfigError
from l2.predeploys import SEQUENCER_FEE_VAULT_ADDRESS

DEVNET_GENESIS = Path(__file__).resolve().parent / "devnet-genesis.json"
MAX_TX_SIZE = 128 * 1024  # bytes of one encoded transaction (geth's txpool limit)


@dataclass(frozen=True)
class GenesisAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class ChainSpec:
    """Chain parameters; frozen so that no component can drift from another."""

    chain_id: int = 901
    genesis_timestamp: int = 0
    gas_limit: int = 30_000_000
    genesis_base_fee: int = 1_000_000_000
    # EIP-1559: gas target = gas_limit // elasticity; max change 1/denominator per block.
    eip1559_elasticity: int = 2
    eip1559_denominator: int = 8
    fee_recipient: bytes = SEQUENCER_FEE_VAULT_ADDRESS
    max_tx_size: int = MAX_TX_SIZE
    alloc: tuple[tuple[bytes, GenesisAccount], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.chain_id < 2**64:
            raise ConfigError(f"chainId {self.chain_id} out of range")
        if self.gas_limit < 21_000 * 2:
            raise ConfigError(f"gasLimit {self.gas_limit} too small")
        if self.eip1559_elasticity < 1 or self.eip1559_denominator < 1:
            raise ConfigError("eip1559 elasticity and denominator must be >= 1")
        if self.genesis_base_fee < 0 or self.genesis_timestamp < 0:
            raise ConfigError("baseFeePerGas and timestamp must be >= 0")

    @property
    def gas_target(self) -> int:
        return self.gas_limit // self.eip1559_elasticity

    def next_base_fee(self, parent_base_fee: int, parent_gas_used: int) -> int:
        """EIP-1559 base fee of a child block, with this chain's parameters."""
        target = self.gas_target
        if parent_gas_used == target:
            return parent_base_fee
        if parent_gas_used > target:
            delta = parent_base_fee * (parent_gas_used - target) // target // self.eip1559_denominator
            return parent_base_fee + max(delta, 1)
        delta = parent_base_fee * (target - parent_gas_used) // target // self.eip1559_denominator
        return max(parent_base_fee - delta, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "timestamp": self.genesis_timestamp,
            "gasLimit": self.gas_limit,
            "baseFeePerGas": self.genesis_base_fee,
            "eip1559": {"elasticity": self.eip1559_elasticity, "denominator": self.eip1559_denominator},
            "feeRecipient": "0x" + self.fee_recipient.hex(),
            "maxTxSize": self.max_tx_size,
            "alloc": {
                "0x" + address.hex(): {
                    "balance": hex(account.balance),
                    "nonce": account.nonce,
                    "code": "0x" + account.code.hex(),
                    "storage": {hex(k): hex(v) for k, v in account.storage},
                }
                for address, account in self.alloc
            },
        }

    def spec_hash(self) -> bytes:
        """keccak of the canonical JSON of the spec: the chain's identity in deployment files."""
        return keccak(json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode())

    @classmethod
    def from_json(cls, data: Any) -> ChainSpec:
        if not isinstance(data, dict):
            raise ConfigError("genesis must be a JSON object")
        try:
            eip1559 = data.get("eip1559", {})
            spec = cls(
                chain_id=_int(data.get("chainId", 901), "chainId"),
                genesis_timestamp=_int(data.get("timestamp", 0), "timestamp"),
                gas_limit=_int(data.get("gasLimit", 30_000_000), "gasLimit"),
                genesis_base_fee=_int(data.get("baseFeePerGas", 1_000_000_000), "baseFeePerGas"),
                eip1559_elasticity=_int(eip1559.get("elasticity", 2), "eip1559.elasticity"),
                eip1559_denominator=_int(eip1559.get("denominator", 8), "eip1559.denominator"),
                fee_recipient=_address(
                    data.get("feeRecipient", "0x" + SEQUENCER_FEE_VAULT_ADDRESS.hex()), "feeRecipient"
                ),
                max_tx_size=_int(data.get("maxTxSize", MAX_TX_SIZE), "maxTxSize"),
                alloc=tuple(
                    sorted(
                        (_address(addr, "alloc key"), _account(acct, addr))
                        for addr, acct in data.get("alloc", {}).items()
                    )
                ),
            )
        except (AttributeError, TypeError) as exc:
            raise ConfigError(f"malformed genesis: {exc}") from exc
        return spec

    @classmethod
    def load(cls, path: Path | str) -> ChainSpec:
        """Read a genesis file; any problem is a ConfigError naming the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read genesis file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genesis file {path} is not JSON: {exc}") from exc
        try:
            return cls.from_json(data)
        except ConfigError as exc:
            raise ConfigError(f"genesis file {path}: {exc}") from exc


def devnet_spec() -> ChainSpec:
    """The devnet chain: chain id 901, the ten standard dev accounts prefunded."""
    return ChainSpec.load(DEVNET_GENESIS)


def load_genesis(genesis: Path | str | None) -> ChainSpec:
    """The chain of a genesis file, or the built-in devnet when none is given (every role's --genesis)."""
    return ChainSpec.load(genesis) if genesis else devnet_spec()


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str):
        try:
            result = int(value, 16) if value.lower().startswith("0x") else int(value)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, not {value!r}") from None
    else:
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    if result < 0:
        raise ConfigError(f"{name} must not be negative")
    return result


def _address(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not is_hex_address(value):
        raise ConfigError(f"{name} {value!r} is not a 20-byte hex address")
    return to_canonical_address(value)


def _hex_bytes(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ConfigError(f"{name} must be 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ConfigError(f"{name} is not valid hex") from None


def _account(data: Any, addr: str) -> GenesisAccount:
    if not isinstance(data, dict):
        raise ConfigError(f"alloc entry {addr} must be an object")
    storage = tuple(
        sorted(
            (_int(k, f"{addr} storage key"), _int(v, f"{addr} storage value"))
            for k, v in data.get("storage", {}).items()
        )
    )
    return GenesisAccount(
        balance=_int(data.get("balance", 0), f"{addr} balance"),
        nonce=_int(data.get("nonce", 0), f"{addr} nonce"),
        code=_hex_bytes(data.get("code", "0x"), f"{addr} code"),
        storage=storage,
    )
