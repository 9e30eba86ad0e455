"""What the monitoring tests share: promtool (built from the pinned Go module by testbed/build-promtool.sh), the
Prometheus Operator's CRDs (testbed/fetch-prometheus-operator-crds.sh), the sources in monitoring/, and the metric
names that PromQL expressions use and that a scrape exposes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from testbed.controlplane import REPO_ROOT

MONITORING = REPO_ROOT / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
DASHBOARD = MONITORING / "dashboard.json"
ALERT_TESTS = Path(__file__).resolve().parent / "alerts-test.yaml"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/es-inference-operator/es-inference-operator/blob/main/docs/runbooks.md"
BUILD_SCRIPT = REPO_ROOT / "testbed" / "build-promtool.sh"
FETCH_CRDS_SCRIPT = REPO_ROOT / "testbed" / "fetch-prometheus-operator-crds.sh"
PROMETHEUS_OPERATOR_CRDS = (
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_podmonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
)
# The job label every target of the operator gets from the chart's and the components' monitors.
JOB = "es-inference-operator"

_promtool: Path | None = None


def _last_line_of(script: Path) -> Path:
    result = subprocess.run(["bash", str(script)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and lines, f"{script} failed with exit code {result.returncode}"
    return Path(lines[-1])


def find_promtool() -> Path:
    """Run testbed/build-promtool.sh (TEST_ASSET_PROMTOOL, else the cache, else a build from testbed/promtool)
    and return the binary it prints last. Its progress goes to stderr."""
    global _promtool
    if _promtool is None:
        binary = _last_line_of(BUILD_SCRIPT)
        assert os.access(binary, os.X_OK), f"{BUILD_SCRIPT} printed {binary}, which is not executable"
        _promtool = binary
    return _promtool


def prometheus_operator_crds() -> list[Path]:
    """The ServiceMonitor, PodMonitor and PrometheusRule CRDs (PROMETHEUS_OPERATOR_CRDS_DIR, else the cache,
    else fetched from the pinned Go module)."""
    folder = _last_line_of(FETCH_CRDS_SCRIPT)
    return [folder / name for name in PROMETHEUS_OPERATOR_CRDS]


def promtool(*args: str, input: str | None = None, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_promtool()), *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=120, check=False
    )


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def dashboard_panels(panels: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed panels included, rows themselves not."""
    found: list[dict[str, Any]] = []
    for panel in dashboard()["panels"] if panels is None else panels:
        if panel["type"] == "row":
            found += dashboard_panels(panel.get("panels", []))
        else:
            found.append(panel)
    return found


# Grafana's variables, as a query gets them: any value works for the parser, the names must be known.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": ".*", "$cluster": ".*"}


def as_promql(grafana_query: str) -> str:
    """A panel's query with Grafana's variables replaced, or a `label_values(<selector>, <label>)` variable query
    reduced to its selector: what Prometheus receives."""
    query = grafana_query
    label_values = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip(), re.DOTALL)
    if label_values:
        query = label_values.group(1)
    for variable, value in GRAFANA_VARIABLES.items():
        query = query.replace(variable, value)
    assert "$" not in query, f"a Grafana variable the tests do not know: {grafana_query}"
    return query


def dashboard_queries() -> dict[str, str]:
    """Every query of the dashboard as PromQL, by where it is (panel title and refId, or variable name)."""
    queries = {
        f"{panel['title']} [{target['refId']}]": as_promql(target["expr"])
        for panel in dashboard_panels()
        for target in panel["targets"]
    }
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries[f"variable {variable['name']}"] = as_promql(variable["query"]["query"])
    return queries


_NAME = re.compile(r"(?<![\w:.\"=~])(es_inference_operator_[a-z0-9_]+|up)(?![\w\"])")


def metric_names(expression: str) -> set[str]:
    """The metric names an expression selects: the operator's (es_inference_operator_*) and `up`. String
    literals (label values, templates' printf) are dropped first, so only selectors count."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    return set(_NAME.findall(without_strings))


def exposed_names(scrape: str) -> set[str]:
    """The series names a scrape can hold, from its TYPE lines: a histogram's _bucket, _sum and _count, a counter
    as declared (prometheus_client declares `x_total`), and each with the _created that prometheus_client adds.
    A labelled metric with no sample yet has its TYPE line only."""
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", scrape, re.MULTILINE):
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        elif kind == "counter":
            names |= {name, f"{name.removesuffix('_total')}_created"}
        else:
            names.add(name)
    return names


def declared_names() -> set[str]:
    """The series names operator/es_inference_operator/metrics.py declares, as prometheus_client exposes them, and
    those the operator computes at scrape time from the resources it serves (collector.py), with none served."""
    import prometheus_client

    from es_inference_operator import metrics  # noqa: F401  (declaring them registers them)
    from es_inference_operator.collector import ResourceCollector
    from es_inference_operator.store import ResourceStore

    registry = prometheus_client.CollectorRegistry()
    registry.register(ResourceCollector(ResourceStore()))
    computed = prometheus_client.generate_latest(registry).decode()
    return exposed_names(prometheus_client.generate_latest().decode()) | exposed_names(computed)
