"""`rollup <command>`: dispatches to the module that owns the command.

Each command module exposes `configure(parser)` and `run(args) -> int`; only the module
of the command given is imported, so one role's dependencies never load in another.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

import l2  # noqa: F401  (crypto backend selection comes first)

COMMANDS: dict[str, tuple[str, str]] = {
    "devnet": ("ops.devnet", "run the local devnet: anvil, contracts, sequencer, batcher, proposer, verifier"),
    "bench": ("bench.cli", "run a benchmark against its baseline"),
    "contracts": ("l1.contracts_cli", "compile Solidity sources / check committed artifacts"),
    "sequencer": ("sequencer.cli", "run the sequencer: JSON-RPC, gRPC, block production"),
    "deploy": ("l1.deploy", "deploy the L1 contracts and write the deployment file"),
    "batcher": ("batcher.cli", "run the batcher: the sequencer's blocks, compressed, to the L1 Inbox"),
    "proposer": ("batcher.proposer_cli", "run the proposer: replay from L1, post output roots with a bond"),
    "bridge": ("l1.bridge_cli", "deposit to L2, withdraw to L1: deposit, withdraw, status, prove, finalize"),
    "verifier": ("verifier.cli", "run a verifier: derive the chain from L1, check assertions, read-only JSON-RPC"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    available = {name: spec for name, spec in COMMANDS.items() if _module_exists(spec[0])}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in available:
        width = max(len(n) for n in available)
        lines = "\n".join(f"  {n:<{width}}  {available[n][1]}" for n in sorted(available))
        out = sys.stdout if argv and argv[0] in ("-h", "--help") else sys.stderr
        if argv and argv[0] not in ("-h", "--help"):
            print(f"rollup: unknown command {argv[0]!r}", file=out)
        print(f"usage: rollup <command> [options]\n\ncommands:\n{lines}", file=out)
        return 0 if out is sys.stdout else 2
    name = argv[0]
    module = importlib.import_module(available[name][0])
    parser = argparse.ArgumentParser(prog=f"rollup {name}", description=available[name][1])
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    module.configure(parser)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
    )
    return int(module.run(args) or 0)


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


if __name__ == "__main__":
    raise SystemExit(main())
