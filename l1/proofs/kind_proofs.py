"""Proof packers of the step kinds built after the first slices, one module per group.

`tx_proofs.proof_sections` asks `provers()` first: a kind listed here is packed by its module;
any other goes through tx_proofs' own kinds or is refused by name. Each group owns its module
(`PROVERS: dict[kind, fn(trace, j) -> list[Section]]`), so adding one touches no other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from l1.proofs.block_machine import BlockTrace
    from l1.proofs.steps import Section

ProofFn = Callable[["BlockTrace", int], "list[Section]"]

# claim steps (ENTRY_SKIP, BLOCK_START), the SYS walk; TX_START, TX_SETUP, TX_CALL, DEPOSIT_START
# and the LOADs before them; TRIE, TRIE_SPONGE, SEAL; NEXT_MESSAGE, TX_LOAD, DATA_LOAD, DEPOSIT_LOAD;
# TX_DECODE, SIG_HASH
MODULES = ("block_proofs", "start_proofs", "trie_proofs", "msg_proofs", "load_proofs", "decode_proofs")


@cache
def provers() -> dict[str, ProofFn]:
    """Step kind -> packer, from every module of `MODULES` (imported on first use: they import tx_proofs)."""
    out: dict[str, ProofFn] = {}
    for name in MODULES:
        module = importlib.import_module(f"l1.proofs.{name}")
        for kind, fn in getattr(module, "PROVERS", {}).items():
            if kind in out:
                raise RuntimeError(f"step kind {kind} packed by two modules")
            out[kind] = fn
    return out
