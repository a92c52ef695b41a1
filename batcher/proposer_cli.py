"""`rollup proposer`: replay the chain from L1 and post assertions with a bond until SIGINT/SIGTERM.

Configuration: defaults < `--config FILE` ([proposer] table) < ROLLUP_PROPOSER_<KEY> < flags.
`--test-only-post-wrong-root true` posts corrupted roots, `--test-only-wrong-root-once true` only
the next one: for dispute tests, never in production. The proposer defends its own assertions
in dispute games with the same key (`--defend false` turns that off).
"""

from __future__ import annotations

import argparse
import sys

from batcher.config import ProposerConfig
from l2.config import add_flags, flag_values, load_config
from l2.errors import ConfigError, RollupError

HELP = {
    "l1_rpc": "L1 JSON-RPC URL",
    "deployment": "deployment file written by `rollup deploy`",
    "datadir": "the proposer's own chain data directory",
    "genesis": "genesis JSON file (default: the built-in devnet)",
    "private_key": "proposer key (hex); prefer the environment variable",
    "propose_every": "L2 blocks between assertions",
    "confirmations": "L1 blocks on top of an inbox entry before it is replayed",
    "poll_interval": "seconds between polls",
    "resubmit_after": "seconds before a stuck L1 transaction is re-sent with a higher fee",
    "max_fee_gwei": "fee cap per gas on L1",
    "min_balance_eth": "balance below which the low-balance alarm fires",
    "metrics_host": "Prometheus /metrics listen host",
    "metrics_port": "Prometheus /metrics port",
    "test_only_post_wrong_root": "TEST ONLY: post wrong output roots (dispute tests)",
    "test_only_wrong_root_once": "TEST ONLY: post a wrong output root in the next assertion only",
    "defend": "defend our assertions in dispute games (the dispute agent, same key)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_flags(parser, ProposerConfig, "proposer", HELP)


def run(args: argparse.Namespace) -> int:
    from batcher.metrics import ProposerMetrics
    from batcher.proposer import Proposer, make_defender
    from batcher.service import make_transactor, run_until_signalled, serve_metrics
    from l1.bindings import RollupBinding
    from l1.deploy import Deployment
    from l1.inbox_reader import InboxReader
    from l2.chain import L2Chain
    from l2.replay import Replayer

    try:
        config = load_config(ProposerConfig, "proposer", args.config, overrides=flag_values(args, ProposerConfig))
        deployment = Deployment.load(config.deployment)
        spec = deployment.chain_spec(config.genesis)
        w3 = deployment.connect(config.l1_rpc)
    except ConfigError as exc:
        print(f"rollup proposer: {exc}", file=sys.stderr)
        return 2
    try:
        chain = L2Chain.open(config.datadir, spec)
        reader = InboxReader(w3, deployment, confirmations=config.confirmations)
        transactor = make_transactor(w3, config)
        metrics = ProposerMetrics()
        port = serve_metrics(metrics.registry, config.metrics_host, config.metrics_port)
        replayer = Replayer(chain, reader)
        agent = make_defender(deployment, replayer, transactor) if config.defend else None
        proposer = Proposer(
            replayer, RollupBinding(w3, deployment.contracts["Rollup"]), transactor, metrics,
            config.propose_every, config.test_only_post_wrong_root, agent, config.test_only_wrong_root_once,
        )
        print(f"proposer ready metrics={port} account={transactor.address}", flush=True)
        run_until_signalled(lambda stop: proposer.run(stop, config.poll_interval))
        chain.close()
    except (RollupError, OSError) as exc:
        print(f"rollup proposer: {exc}", file=sys.stderr)
        return 1
    return 0
