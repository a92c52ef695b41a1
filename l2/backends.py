"""Which crypto backends py-evm runs on: coincurve for secp256k1, pysha3 for keccak.

With the pure-Python defaults py-evm is ~10x slower, so a node refuses to run without them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import l2  # noqa: F401  (selects the keccak backend before eth_hash loads)
from l2.errors import SlowBackendError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backends:
    keccak: str
    ecc: str

    @property
    def fast(self) -> bool:
        return self.keccak == "pysha3" and self.ecc == "coincurve"


def active_backends() -> Backends:
    """Name the keccak and ECC backends in use, forcing eth-hash to choose now."""
    from eth_hash.auto import keccak
    from eth_keys import KeyAPI

    keccak(b"")  # eth-hash binds its real backend on first call
    hasher_owner = getattr(keccak.hasher, "__self__", None)
    keccak_backend = type(hasher_owner).__module__.rsplit(".", 1)[-1]
    ecc_backend = type(KeyAPI().backend).__name__
    ecc = "coincurve" if "CoinCurve" in ecc_backend else ecc_backend
    return Backends(keccak=keccak_backend, ecc=ecc)


def require_fast_backends() -> Backends:
    """Log the live backends; raise if either one is the slow pure-Python fallback."""
    backends = active_backends()
    log.info("crypto backends: keccak=%s ecc=%s", backends.keccak, backends.ecc)
    if not backends.fast:
        raise SlowBackendError(
            f"slow crypto backend active (keccak={backends.keccak}, ecc={backends.ecc}); "
            "install coincurve and safe-pysha3 and set ETH_HASH_BACKEND=pysha3"
        )
    return backends
