"""`rollup devnet`: the local devnet, each role as its own process.

Today the devnet is the sequencer alone (the batcher, proposer and verifier join as their
issues land); it prints the endpoints and the prefunded dev keys, then runs in the
foreground until Ctrl-C. A second start resumes the same chain from `--datadir`.
"""

from __future__ import annotations

import argparse
import os
import sys

from l2.devkeys import DEV_ACCOUNTS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datadir", default="./data/devnet", help="data directory of every role (default ./data/devnet)"
    )
    parser.add_argument("--rpc-port", default="9545", help="sequencer JSON-RPC port (default 9545)")
    parser.add_argument("--grpc-port", default="9555", help="sequencer gRPC port (default 9555)")
    parser.add_argument("--metrics-port", default="7300", help="sequencer metrics port (default 7300)")


def run(args: argparse.Namespace) -> int:
    print("devnet: chain id 901, block time 1 s")
    print(f"  sequencer JSON-RPC  http://127.0.0.1:{args.rpc_port}")
    print(f"  sequencer gRPC      127.0.0.1:{args.grpc_port}")
    print(f"  sequencer metrics   http://127.0.0.1:{args.metrics_port}/metrics")
    print("  prefunded dev accounts (10000 ETH each; public keys, never use them elsewhere):")
    for address, key in DEV_ACCOUNTS:
        print(f"    {address}  {key}")
    print("  not yet part of the devnet: L1 (anvil), batcher, proposer, verifier", flush=True)
    command = [
        sys.executable,
        "-m",
        "rollup",
        "sequencer",
        "--datadir",
        os.path.join(args.datadir, "sequencer"),
        "--rpc-port",
        args.rpc_port,
        "--grpc-port",
        args.grpc_port,
        "--metrics-port",
        args.metrics_port,
    ]
    os.execv(sys.executable, command)
    return 0  # not reached
