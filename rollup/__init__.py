"""The `rollup` console script: one subcommand per role."""
