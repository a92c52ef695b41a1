"""One-step fraud proofs: commitments, the EVM step function, the tracer and the prover.

docs/fraud-proofs.md is the spec; the Solidity twins live under l1/contracts/osp/.
"""
