"""Proof packers of a group of level-2 step kinds (see kind_proofs.MODULES); none built yet."""

from __future__ import annotations

from verifier.proofs.kind_proofs import ProofFn

PROVERS: dict[str, ProofFn] = {}
