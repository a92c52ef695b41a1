"""The shared core of the rollup: chain spec, state transition, storage, derivation.

Sequencer, proposer and verifier all run this package: one state transition, one
derivation. It imports no role.
"""

import os

# py-evm hashes through eth-hash, which picks its backend at first use: select the
# C keccak (safe-pysha3) before anything imports eth_hash.auto.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
