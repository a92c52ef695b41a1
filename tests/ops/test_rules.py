"""ops/ configuration: promtool checks and unit tests, and every metric it names is real.

A metric name in the alerts or the dashboard must be exported by some role's metrics
module (read from their registries), or be listed in FUTURE with the issue that adds it.
"""

from __future__ import annotations

import json
import re
import subprocess

from prometheus_client import CollectorRegistry

from batcher.metrics import BatcherMetrics, ProposerMetrics
from sequencer.metrics import SequencerMetrics
from tests.ops.conftest import OPS
from verifier.metrics import VerifierMetrics

# Names the alerts may use before a role exports them, each with the issue that adds it (none today).
FUTURE: dict[str, str] = {}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),  # "": the family, as prose names it
    "summary": ("", "_sum", "_count", "_created"),
}
METRIC = re.compile(r"\brollup_[a-z0-9_]+")


def exported_names() -> set[str]:
    """Every series name the four roles can expose, labelled or not yet observed."""
    registries: list[CollectorRegistry] = [
        SequencerMetrics().registry, BatcherMetrics().registry, ProposerMetrics().registry, VerifierMetrics().registry,
    ]
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def alert_names() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", (OPS / "alerts.yml").read_text(), re.M)


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((OPS / "grafana" / "rollup.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=OPS, capture_output=True, text=True, timeout=120)


def test_promtool_checks_rules_and_config(promtool):
    rules = run(promtool, "check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = run(promtool, "check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_of_every_alert(promtool):
    result = run(promtool, "test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", (OPS / "alerts_test.yml").read_text()))
    assert set(alert_names()) <= tested, f"alerts without a unit test: {set(alert_names()) - tested}"


def test_every_metric_named_is_exported_or_listed_as_future():
    exported = exported_names()
    assert "rollup_sequencer_head_block_number" in exported and "rollup_verifier_rpc_requests_total" in exported
    for source, text in [
        ("ops/alerts.yml", (OPS / "alerts.yml").read_text()),
        ("ops/alerts_test.yml", (OPS / "alerts_test.yml").read_text()),
        ("ops/grafana/rollup.json", "\n".join(dashboard_exprs())),
        ("ops/RUNBOOK.md", (OPS / "RUNBOOK.md").read_text()),
    ]:
        unknown = sorted(set(METRIC.findall(text)) - exported - set(FUTURE))
        assert not unknown, f"{source} names metrics no role exports: {unknown}"
    for name in FUTURE:
        assert name not in exported, f"{name} is exported now: move it out of FUTURE"


def test_every_role_is_scraped_and_charted():
    config = (OPS / "prometheus.yml").read_text()
    exprs = "\n".join(dashboard_exprs())
    for role, port in [("sequencer", 7300), ("batcher", 7301), ("proposer", 7302), ("verifier", 7303)]:
        assert f"job_name: {role}" in config and f'"127.0.0.1:{port}"' in config
        assert f"rollup_{role}_" in exprs


def test_every_alert_has_a_runbook_section_and_annotations():
    runbook = (OPS / "RUNBOOK.md").read_text()
    alerts = (OPS / "alerts.yml").read_text()
    sections = set(re.findall(r"^## (\w+)$", runbook, re.M))
    names = alert_names()
    assert len(names) == len(set(names)) >= 10
    for name in names:
        assert name in sections, f"ops/RUNBOOK.md has no section ## {name}"
        assert f"runbook: ops/RUNBOOK.md#{name.lower()}" in alerts
    for key in ("severity:", "summary:", "description:"):
        assert alerts.count(key) == len(names), f"every alert needs {key}"


def test_dashboard_is_well_formed():
    dashboard = json.loads((OPS / "grafana" / "rollup.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"
            assert all(t["expr"].strip() for t in panel["targets"]), panel["title"]
