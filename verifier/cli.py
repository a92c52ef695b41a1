"""`rollup verifier`: derive the chain from L1, judge assertions, serve read-only JSON-RPC.

Configuration: defaults < `--config FILE` ([verifier] table) < ROLLUP_VERIFIER_<KEY> < flags.
A bad setting (or a deployment/genesis/L1 that do not fit together) exits with code 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from l2.config import add_flags, flag_values, load_config
from l2.errors import ConfigError, RollupError
from verifier.config import VerifierConfig

log = logging.getLogger(__name__)

HELP = {
    "l1_rpc": "L1 JSON-RPC URL",
    "deployment": "deployment file written by `rollup deploy`",
    "datadir": "the verifier's own chain data directory",
    "genesis": "genesis JSON file (default: the built-in devnet)",
    "confirmations": "L1 blocks on top of an inbox entry before it is replayed",
    "poll_interval": "seconds between L1 polls once caught up",
    "entries_per_step": "inbox entries replayed between two checks for reorgs and assertions",
    "rpc_host": "JSON-RPC listen host",
    "rpc_port": "JSON-RPC port",
    "metrics_host": "Prometheus /metrics listen host",
    "metrics_port": "Prometheus /metrics port",
    "rpc_max_batch": "max requests in one JSON-RPC batch",
    "rpc_max_body_bytes": "max JSON-RPC request body",
    "logs_max_blocks": "widest eth_getLogs block range",
    "gas_cap": "gas limit of eth_call and eth_estimateGas",
    "dispute_key": "L1 key of the dispute agent (hex, or a file holding it); empty: no agent",
    "dispute_safety_margin": "seconds of our game clock below which an alert is logged",
    "dispute_resubmit_after": "seconds before a stuck dispute transaction is re-sent with a higher fee",
    "dispute_max_fee_gwei": "fee cap per gas of dispute transactions",
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, VerifierConfig, "verifier", HELP)


def run(args: argparse.Namespace) -> int:
    from verifier.service import VerifierService

    try:
        config = load_config(VerifierConfig, "verifier", args.config, overrides=flag_values(args, VerifierConfig))
    except ConfigError as exc:
        print(f"rollup verifier: {exc}", file=sys.stderr)
        return 2
    service = VerifierService(config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service.start()
    except ConfigError as exc:
        print(f"rollup verifier: {exc}", file=sys.stderr)
        return 2
    except (RollupError, OSError) as exc:
        print(f"rollup verifier: {exc}", file=sys.stderr)
        return 1
    print(f"verifier ready rpc={service.rpc_port} metrics={service.metrics_port}", flush=True)
    try:
        stop.wait()
        log.info("shutting down")
    finally:
        service.stop()
    return 0
