import json

import pytest
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from l2.devkeys import DEV_ACCOUNTS, DEV_MNEMONIC
from l2.errors import ConfigError
from l2.spec import ChainSpec, devnet_spec


def test_devnet_prefunds_the_ten_dev_accounts():
    spec = devnet_spec()
    funded = {"0x" + address.hex(): account.balance for address, account in spec.alloc}
    assert spec.chain_id == 901
    for address, _key in DEV_ACCOUNTS:
        assert funded[address.lower()] == 10_000 * 10**18


def test_dev_accounts_derive_from_the_mnemonic():
    Account.enable_unaudited_hdwallet_features()
    for i, (address, key) in enumerate(DEV_ACCOUNTS):
        account = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        assert account.address == address
        assert "0x" + account.key.hex().removeprefix("0x") == key


def test_spec_hash_is_stable_and_sensitive():
    spec = devnet_spec()
    assert spec.spec_hash() == ChainSpec.from_json(spec.to_json()).spec_hash()
    other = ChainSpec.from_json({**spec.to_json(), "chainId": 902})
    assert other.spec_hash() != spec.spec_hash()


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not JSON"),
        ("[]", "must be a JSON object"),
        ('{"chainId": 0}', "chainId"),
        ('{"chainId": "abc"}', "chainId must be an integer"),
        ('{"gasLimit": -1}', "gasLimit must not be negative"),
        ('{"alloc": {"0x1234": {"balance": "0x1"}}}', "not a 20-byte hex address"),
        ('{"alloc": {"0x' + "11" * 20 + '": {"balance": "lots"}}}', "balance must be an integer"),
        ('{"alloc": {"0x' + "11" * 20 + '": {"code": "6000"}}}', "code must be 0x-prefixed hex"),
        ('{"eip1559": {"elasticity": 0}}', "elasticity"),
    ],
)
def test_bad_genesis_files_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "genesis.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        ChainSpec.load(path)
    assert str(path) in str(info.value)


def test_missing_genesis_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read genesis file"):
        ChainSpec.load(tmp_path / "absent.json")


@given(
    base_fee=st.integers(0, 10**12),
    gas_used=st.integers(0, 30_000_000),
)
def test_base_fee_matches_ethereum_with_default_parameters(base_fee, gas_used):
    spec = ChainSpec()
    parent = PragueBlockHeader(
        difficulty=0, block_number=1, gas_limit=spec.gas_limit, gas_used=gas_used, base_fee_per_gas=base_fee,
        timestamp=1,
    )
    assert spec.next_base_fee(base_fee, gas_used) == calculate_expected_base_fee_per_gas(parent)


def test_base_fee_parameters_are_configurable():
    fast = ChainSpec(eip1559_elasticity=6, eip1559_denominator=50)
    full = fast.gas_limit
    assert fast.next_base_fee(1_000_000, full) == 1_000_000 + 1_000_000 * (full - full // 6) // (full // 6) // 50
    assert json.loads(json.dumps(fast.to_json()))["eip1559"] == {"elasticity": 6, "denominator": 50}
