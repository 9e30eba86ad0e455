"""A real scrape of the running operator (against the Elasticsearch emulator, after it has created an endpoint and
blocked a deletion, so that series exist): `promtool check metrics` passes on it, and every metric name the
dashboard and the alerts use is in it."""

from __future__ import annotations

import re

from tests.support import Kube, Stack, endpoint_manifest, pipeline_using

from .support import alert_rules, dashboard_queries, exposed_names, metric_names, promtool


def _scrape_of_a_working_operator(stack: Stack, kube: Kube) -> str:
    kube.apply(endpoint_manifest("e5"))
    kube.apply(endpoint_manifest("in-use"))
    kube.wait_condition("e5", "Ready", timeout=60)
    kube.wait_condition("in-use", "Ready", timeout=60)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("in-use"))
    kube.run("delete", "iep", "in-use", "--wait=false")
    kube.wait_condition("in-use", "DeletionBlocked", timeout=60)
    scrape = stack.metrics()
    # Series, not only declarations: the requests the operator made, and its version.
    assert re.search(r"^es_inference_operator_elasticsearch_request_duration_seconds_count\{.*\} [1-9]", scrape, re.M)
    assert re.search(r'^es_inference_operator_build_info\{version="[^"]+"\} 1\.0$', scrape, re.M)
    return scrape


def test_promtool_check_metrics_passes_on_a_scrape_of_the_working_operator(stack: Stack, kube: Kube) -> None:
    scrape = _scrape_of_a_working_operator(stack, kube)
    result = promtool("check", "metrics", input=scrape)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_metrics_refuses_what_breaks_the_conventions() -> None:
    """The check above can fail: a counter without _total and a gauge in milliseconds are refused."""
    bad = (
        "# HELP es_inference_operator_things counted\n# TYPE es_inference_operator_things counter\n"
        "es_inference_operator_things 1\n"
        "# HELP es_inference_operator_wait_milliseconds waited\n# TYPE es_inference_operator_wait_milliseconds gauge\n"
        "es_inference_operator_wait_milliseconds 1\n"
    )
    result = promtool("check", "metrics", input=bad)
    assert result.returncode != 0
    assert '"_total" suffix' in result.stdout + result.stderr and "base unit" in result.stdout + result.stderr


def test_the_dashboard_and_the_alerts_use_only_metrics_a_scrape_of_the_operator_has(stack: Stack, kube: Kube) -> None:
    exposed = exposed_names(_scrape_of_a_working_operator(stack, kube)) | {"up"}
    for where, expr in dashboard_queries().items():
        assert metric_names(expr) <= exposed, where
    for rule in alert_rules():
        used = metric_names(rule["expr"]) | set(
            re.findall(r"es_inference_operator_\w+", rule["annotations"]["description"])
        )
        assert used <= exposed, rule["alert"]
