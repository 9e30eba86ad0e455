"""The Grafana dashboard (monitoring/dashboard.json): every query parsed by Prometheus's own parser (each wrapped
as a recording rule for `promtool check rules`), a layout Grafana can lay out, and only metric names the operator
declares (the names in a real scrape are checked in test_scrape.py)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .support import dashboard, dashboard_panels, dashboard_queries, declared_names, metric_names, promtool

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_every_dashboard_query_is_promql_that_prometheus_parses(tmp_path: Path) -> None:
    queries = dashboard_queries()
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(queries.values())]
    rule_file = tmp_path / "dashboard-queries.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, width=10_000))
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_a_query_prometheus_cannot_parse_is_refused(tmp_path: Path) -> None:
    """The check above can fail: a query with a typo makes promtool refuse the file."""
    rule_file = tmp_path / "broken.yaml"
    broken = 'sum by (cluster) (rate(es_inference_operator_elasticsearch_requests_total{job="x"}[5m])'
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"record": "r:x", "expr": broken}]}]}))
    assert promtool("check", "rules", str(rule_file)).returncode != 0


def test_the_dashboard_uses_only_metrics_the_operator_declares() -> None:
    used = {name for expr in dashboard_queries().values() for name in metric_names(expr)}
    assert used - declared_names() - {"up"} == set()
    # What an on-call person looks at first is there: the fleet, deletions, Elasticsearch, the queue, the leader.
    for metric in (
        "es_inference_operator_resources",
        "es_inference_operator_deletion_blocked_oldest_seconds",
        "es_inference_operator_elasticsearch_request_duration_seconds_bucket",
        "es_inference_operator_elasticsearch_requests_total",
        "es_inference_operator_workqueue_depth",
        "es_inference_operator_workqueue_queue_duration_seconds_bucket",
        "es_inference_operator_reconciles_total",
        "es_inference_operator_reconcile_duration_seconds_bucket",
        "es_inference_operator_leader",
    ):
        assert metric in used, metric


def test_the_dashboard_is_one_grafana_can_import() -> None:
    board = dashboard()
    assert board["uid"] == "es-inference-operator" and board["title"]
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        covered = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
    for panel in dashboard_panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"] and panel.get("description"), panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            # Every query is scoped to the operator's targets and to the chosen namespaces.
            for selector in re.findall(r"\b(?:es_inference_operator_\w+|up)\{([^}]*)\}", target["expr"]):
                assert 'job="es-inference-operator"' in selector and 'namespace=~"$namespace"' in selector, (
                    f"{panel['title']}: {target['expr']}"
                )
