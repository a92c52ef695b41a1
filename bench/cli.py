"""`rollup bench NAME [--json]`: run one benchmark and print it next to its baseline."""

from __future__ import annotations

import argparse
import importlib

BENCHES: dict[str, str] = {
    "core": "bench.core",
    "sequencer": "bench.sequencer",
    "l1gas": "bench.l1gas",
    "batch": "bench.batch",
    "replay": "bench.replay",
    "dispute": "bench.dispute",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHES), help="which benchmark")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--txs", type=int, default=None, help="transactions per workload (default per bench)")


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(BENCHES[args.name])
    result = module.run_bench(txs=args.txs)
    print(result.to_json() if args.json else result.to_table())
    return 0
