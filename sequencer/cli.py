"""`rollup sequencer`: run the sequencer until SIGINT/SIGTERM.

Configuration: defaults < `--config FILE` (TOML, keys of SequencerConfig, optionally under
[sequencer]) < ROLLUP_SEQUENCER_<KEY> variables < flags. A bad setting exits with code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from l2.config import add_flags
from l2.errors import ConfigError, RollupError
from sequencer.config import KEYS, SequencerConfig, load_config

log = logging.getLogger(__name__)

FLAG_HELP = {
    "datadir": "chain data directory",
    "genesis": "genesis JSON file (default: the built-in devnet)",
    "rpc_host": "JSON-RPC listen host",
    "rpc_port": "JSON-RPC port",
    "grpc_host": "gRPC listen host",
    "grpc_port": "gRPC port",
    "metrics_host": "Prometheus /metrics listen host",
    "metrics_port": "Prometheus /metrics port",
    "block_time": "seconds between blocks (0.1 .. 3600)",
    "mempool_per_sender": "max pooled transactions per sender",
    "mempool_global": "max pooled transactions in all",
    "min_tip_wei": "lowest priority fee the pool accepts",
    "suggested_tip_wei": "eth_maxPriorityFeePerGas answer",
    "rpc_max_batch": "max requests in one JSON-RPC batch",
    "rpc_max_body_bytes": "max JSON-RPC request body",
    "logs_max_blocks": "widest eth_getLogs block range",
    "gas_cap": "gas limit of eth_call and eth_estimateGas",
    "recovery_workers": "processes that decode transactions and recover senders (0: in process)",
    "l1_rpc": "L1 JSON-RPC URL (empty: standalone, nothing batched)",
    "deployment": "deployment file written by `rollup deploy`",
    "l1_confirmations": "L1 blocks the L1 origin and safe head trail the L1 head",
    "l1_poll_interval": "seconds between reads of L1",
    "test_only_ignore_deposits": "TESTS ONLY: censor deposits (never include them; true/false)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, SequencerConfig, "sequencer", FLAG_HELP)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, overrides={k: getattr(args, k, None) for k in KEYS})
        from sequencer.service import Sequencer, load_spec

        load_spec(config)  # a bad genesis is a configuration error, reported before anything starts
    except ConfigError as exc:
        print(f"rollup sequencer: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(Sequencer(config)))
    except ConfigError as exc:
        print(f"rollup sequencer: {exc}", file=sys.stderr)
        return 2
    except (RollupError, OSError) as exc:
        print(f"rollup sequencer: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(sequencer: object) -> None:
    from sequencer.service import Sequencer

    assert isinstance(sequencer, Sequencer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sequencer.start()
        print(
            f"sequencer ready rpc={sequencer.rpc_port} grpc={sequencer.grpc_port} metrics={sequencer.metrics_port}",
            flush=True,
        )
        await stop.wait()
        log.info("shutting down")
    finally:
        await sequencer.stop()
