"""L1 side of the rollup: Solidity contracts, their artifacts, deployment and bindings."""
