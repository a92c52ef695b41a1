"""The project's exception hierarchy: one base, one subclass per failure a caller acts on.

The JSON-RPC and gRPC servers map these once to their error codes.
"""

from __future__ import annotations


class RollupError(Exception):
    """Base of every error the rollup raises on purpose."""


class ConfigError(RollupError):
    """A configuration file, variable or flag is invalid; the message names it."""


class StoreError(RollupError):
    """The LMDB store is missing, corrupt, or belongs to another chain."""


class UnknownBlock(RollupError):
    """A block (by number or hash) is not in the store."""


class InvalidTransaction(RollupError):
    """A transaction breaks a validity rule; `rule` names which one.

    Raised before any state changes: the pending block is exactly as before.
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message


class SlowBackendError(RollupError):
    """A pure-Python crypto backend is active where a C one is required."""


class BatchDecodeError(RollupError):
    """A batch payload does not decode (l2.codec); the whole batch is invalid on L1 too."""
