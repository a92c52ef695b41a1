"""A real Prometheus, configured by ops/prometheus.yml and ops/alerts.yml, scrapes a running devnet.

The shipped configuration is used as is, except the targets (the devnet runs on free
ports here) and the intervals (1 s, so the test is quick). Through Prometheus's HTTP API
it reads a metric of each role, checks that the rules loaded and that a healthy devnet
fires nothing, and evaluates every dashboard query.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.devnet_process import DevnetProcess, free_ports, wait_for
from tests.ops.conftest import OPS
from tests.ops.test_rules import dashboard_exprs

DEFAULT_METRICS_PORTS = {
    "metrics_port": 7300, "batcher_metrics_port": 7301, "proposer_metrics_port": 7302, "verifier_metrics_port": 7303,
}
# one metric of each role that is non-zero on a running devnet
ROLE_METRICS = {
    "sequencer": 'rollup_sequencer_head_block_number{head="unsafe"}',
    "batcher": "rollup_batcher_l1_balance_wei",
    "proposer": "rollup_proposer_l1_balance_wei",
    "verifier": "rollup_verifier_l1_head_block_number",
}


def prometheus_config(devnet: DevnetProcess, folder: Path) -> Path:
    """ops/prometheus.yml with the devnet's ports and 1 s intervals, beside a copy of ops/alerts.yml."""
    text = (OPS / "prometheus.yml").read_text()
    for flag, default in DEFAULT_METRICS_PORTS.items():
        assert f"127.0.0.1:{default}" in text
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{devnet.ports[flag]}")
    text = re.sub(r"(scrape_interval|evaluation_interval): \S+", r"\1: 1s", text)
    shutil.copy(OPS / "alerts.yml", folder / "alerts.yml")
    path = folder / "prometheus.yml"
    path.write_text(text)
    return path


class Prometheus:
    def __init__(self, binary: str, config: Path, folder: Path) -> None:
        self.port = free_ports(1)[0]
        self.log = folder / "prometheus.log"
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{self.log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.slow
def test_prometheus_scrapes_every_role_of_a_running_devnet(prometheus, tmp_path: Path):
    with DevnetProcess(tmp_path / "devnet") as devnet:
        devnet.start()
        prom = Prometheus(prometheus, prometheus_config(devnet, tmp_path), tmp_path)
        try:
            wait_for(prom.ready, 60, "prometheus to be ready")

            def all_up() -> bool:
                up = {r["metric"]["job"]: r["value"][1] for r in prom.query("up")}
                return up == {"sequencer": "1", "batcher": "1", "proposer": "1", "verifier": "1"}

            wait_for(all_up, 60, "every role to be scraped")
            for role, expr in ROLE_METRICS.items():
                def positive(expr: str = expr) -> bool:
                    result = prom.query(expr)
                    return bool(result) and float(result[0]["value"][1]) > 0

                wait_for(positive, 60, f"{expr} > 0")
                result = prom.query(expr)
                assert result[0]["metric"]["job"] == role, result

            def rules() -> list[dict[str, Any]]:
                return [rule for group in prom.api("rules")["groups"] for rule in group["rules"]]

            alerts_in_file = re.findall(r"- alert: (\w+)", (OPS / "alerts.yml").read_text())
            assert sorted(r["name"] for r in rules()) == sorted(alerts_in_file)
            wait_for(lambda: all(r["health"] == "ok" for r in rules()), 30, "every rule to evaluate")
            firing = [a for a in prom.api("alerts")["alerts"] if a["state"] == "firing"]
            assert firing == [], firing

            for expr in dashboard_exprs():
                prom.api("query", query=expr)  # every dashboard query parses and evaluates
        finally:
            prom.stop()
        assert devnet.stop() == 0, devnet.output
