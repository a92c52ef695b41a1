"""`rollup batcher`: post the sequencer's blocks to the L1 Inbox until SIGINT/SIGTERM.

Configuration: defaults < `--config FILE` ([batcher] table) < ROLLUP_BATCHER_<KEY> < flags.
A bad setting exits with code 2.
"""

from __future__ import annotations

import argparse
import sys

from batcher.config import BatcherConfig
from l2.config import add_flags, flag_values, load_config
from l2.errors import ConfigError, RollupError

HELP = {
    "l1_rpc": "L1 JSON-RPC URL",
    "deployment": "deployment file written by `rollup deploy`",
    "sequencer_grpc": "sequencer gRPC address (host:port)",
    "private_key": "batcher key (hex); prefer the environment variable",
    "max_batch_bytes": "largest batch payload (0: the codec's maximum)",
    "max_batch_age": "seconds before a non-full batch is posted",
    "confirmations": "L1 blocks on top of a batch before it counts",
    "poll_interval": "seconds between polls",
    "resubmit_after": "seconds before a stuck L1 transaction is re-sent with a higher fee",
    "max_fee_gwei": "fee cap per gas on L1",
    "min_balance_eth": "balance below which the low-balance alarm fires",
    "metrics_host": "Prometheus /metrics listen host",
    "metrics_port": "Prometheus /metrics port",
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, BatcherConfig, "batcher", HELP)


def run(args: argparse.Namespace) -> int:
    from batcher.batcher import Batcher
    from batcher.feed import BlockFeed
    from batcher.metrics import BatcherMetrics
    from batcher.service import make_transactor, run_until_signalled, serve_metrics
    from l1.deploy import Deployment
    from l1.inbox_reader import InboxReader

    try:
        config = load_config(BatcherConfig, "batcher", args.config, overrides=flag_values(args, BatcherConfig))
        deployment = Deployment.load(config.deployment)
        w3 = deployment.connect(config.l1_rpc)
    except ConfigError as exc:
        print(f"rollup batcher: {exc}", file=sys.stderr)
        return 2
    try:
        metrics = BatcherMetrics()
        port = serve_metrics(metrics.registry, config.metrics_host, config.metrics_port)
        feed = BlockFeed(config.sequencer_grpc)
        batcher = Batcher(
            w3, InboxReader(w3, deployment, confirmations=0), make_transactor(w3, config), feed, metrics,
            deployment.l2_chain_id, config.max_batch_bytes, config.max_batch_age,
        )
        feed.start(1)
        print(f"batcher ready metrics={port} account={batcher.transactor.address}", flush=True)
        run_until_signalled(lambda stop: batcher.run(stop, config.poll_interval))
        feed.stop()
    except (RollupError, OSError) as exc:
        print(f"rollup batcher: {exc}", file=sys.stderr)
        return 1
    return 0
