"""Contracts present at fixed addresses from genesis (DESIGN section 3)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from eth.vm.forks.prague.constants import (
    HISTORY_STORAGE_ADDRESS,
    HISTORY_STORAGE_CONTRACT_CODE,
)
from eth_utils import to_canonical_address

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

# Same addresses as the OP Stack's predeploys, so tooling that knows them just works.
L1_INFO_ADDRESS = to_canonical_address("0x4200000000000000000000000000000000000015")
MESSAGE_PASSER_ADDRESS = to_canonical_address("0x4200000000000000000000000000000000000016")
SEQUENCER_FEE_VAULT_ADDRESS = to_canonical_address("0x4200000000000000000000000000000000000011")
# EIP-2935 block-hash history: py-evm updates it at block start when this exact code is there.
BLOCK_HASH_HISTORY_ADDRESS = bytes(HISTORY_STORAGE_ADDRESS)

# Storage slots of L1Info written by the block-start step (see L1Info.sol).
L1_INFO_NUMBER_SLOT = 0
L1_INFO_HASH_SLOT = 1
L1_INFO_BASE_FEE_SLOT = 2


@cache
def artifact(name: str) -> dict:
    """The committed compiler output of predeploy `name`."""
    return json.loads((ARTIFACTS / f"{name}.json").read_text())


def runtime_code(name: str) -> bytes:
    return bytes.fromhex(artifact(name)["deployedBytecode"][2:])


def predeploy_code() -> dict[bytes, bytes]:
    """Address -> runtime code of every predeploy."""
    return {
        L1_INFO_ADDRESS: runtime_code("L1Info"),
        MESSAGE_PASSER_ADDRESS: runtime_code("MessagePasser"),
        BLOCK_HASH_HISTORY_ADDRESS: HISTORY_STORAGE_CONTRACT_CODE,
    }
