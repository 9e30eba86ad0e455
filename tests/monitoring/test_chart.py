"""The Helm chart's monitoring objects, rendered by the real helm: off by default; a ServiceMonitor or a PodMonitor
that selects the operator's named `metrics` port; a PrometheusRule that is monitoring/alerts.yaml, with alerts that
can be left out or given another `for`, severity or threshold (and still pass `promtool check rules`); the
dashboard in a ConfigMap with Grafana's sidecar label. test_admission.py has the API server admit them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.controlplane import REPO_ROOT
from tests.deploy.support import find
from tests.helm.support import CHART, Helm

from .support import ALERTS, DASHBOARD, JOB, alert_rules, promtool

MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
ALL_ON = (
    "--set=metrics.serviceMonitor.enabled=true",
    "--set=metrics.prometheusRule.enabled=true",
    "--set=metrics.grafanaDashboard.enabled=true",
)


def _kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def test_the_monitoring_objects_are_off_by_default(helm: Helm) -> None:
    docs = helm.template()
    assert not _kinds(docs) & MONITORING_KINDS
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"] == []


def test_the_metrics_port_is_named_on_the_container_and_the_service(helm: Helm) -> None:
    docs = helm.template()
    (container,) = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    (port,) = find(docs, "Service")["spec"]["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics"


def test_the_service_monitor_selects_the_metrics_service_and_its_named_port(helm: Helm) -> None:
    docs = helm.template(
        *ALL_ON,
        "--set=metrics.serviceMonitor.labels.release=kube-prometheus-stack",
        "--set=metrics.serviceMonitor.interval=30s",
        "--set=metrics.serviceMonitor.scrapeTimeout=10s",
        "--set=metrics.serviceMonitor.namespace=monitoring",
        namespace="ops",
        release="eio",
    )
    monitor = find(docs, "ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    services = [d for d in docs if d["kind"] == "Service"]
    chosen = [s for s in services if _selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in chosen] == ["eio-es-inference-operator-metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in chosen[0]["spec"]["ports"]}
    assert (endpoint["interval"], endpoint["scrapeTimeout"], endpoint["path"]) == ("30s", "10s", "/metrics")
    assert endpoint["honorLabels"] is True
    assert {"action": "replace", "targetLabel": "job", "replacement": JOB} in endpoint["relabelings"]
    # Without interval and timeout, Prometheus's own apply.
    (plain,) = find(helm.template(*ALL_ON), "ServiceMonitor")["spec"]["endpoints"]
    assert "interval" not in plain and "scrapeTimeout" not in plain


def test_the_pod_monitor_selects_the_operator_pod_and_its_named_port(helm: Helm) -> None:
    docs = helm.template(
        "--set=metrics.podMonitor.enabled=true",
        "--set=metrics.podMonitor.labels.team=platform",
        "--set=metrics.podMonitor.interval=1m",
        "--set=metrics.podMonitor.metricRelabelings[0].action=drop",
        "--set=metrics.podMonitor.metricRelabelings[0].sourceLabels[0]=__name__",
        "--set=metrics.podMonitor.metricRelabelings[0].regex=python_gc_.*",
        namespace="ops",
    )
    assert "ServiceMonitor" not in _kinds(docs)
    monitor = find(docs, "PodMonitor")
    assert monitor["metadata"]["labels"]["team"] == "platform"
    pod = find(docs, "Deployment")["spec"]["template"]
    assert _selects(monitor["spec"]["selector"], pod["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (container,) = pod["spec"]["containers"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    assert endpoint["interval"] == "1m"
    assert endpoint["metricRelabelings"] == [{"action": "drop", "sourceLabels": ["__name__"], "regex": "python_gc_.*"}]
    assert {"action": "replace", "targetLabel": "job", "replacement": JOB} in endpoint["relabelings"]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (["--set=metrics.serviceMonitor.enabled=true", "--set=metrics.podMonitor.enabled=true"], "enable one of them"),
        (["--set=metrics.serviceMonitor.enabled=true", "--set=metrics.service.enabled=false"], "metrics.service"),
        (["--set=metrics.podMonitor.enabled=true", "--set=metrics.enabled=false"], "metrics.enabled"),
        (["--set=metrics.serviceMonitor.interval=often"], "interval"),
    ],
    ids=["both-monitors", "service-monitor-without-service", "pod-monitor-without-metrics", "bad-interval"],
)
def test_monitor_settings_that_cannot_work_are_refused(helm: Helm, values: list[str], says: str) -> None:
    result = helm.run("template", "x", str(CHART), *values, check=False)
    assert result.returncode != 0 and says in result.stderr, result.stderr


# --- the PrometheusRule ---------------------------------------------------------------------------------------


def _rule(helm: Helm, *values: str) -> dict[str, Any]:
    return find(helm.template("--set=metrics.prometheusRule.enabled=true", *values), "PrometheusRule")


def _by_alert(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def test_the_prometheus_rule_is_monitoring_alerts_yaml(helm: Helm) -> None:
    rule = _rule(helm, "--set=metrics.prometheusRule.labels.release=kube-prometheus-stack")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text())


def test_alerts_can_be_left_out_or_given_another_for_severity_threshold_and_labels(helm: Helm, tmp_path: Path) -> None:
    prefix = "--set=metrics.prometheusRule"
    rule = _rule(
        helm,
        f"{prefix}.alerts.EsInferenceOperatorAbsent.enabled=false",
        f"{prefix}.alerts.EsInferenceOperatorDeletionBlockedTooLong.threshold=7200",
        f"{prefix}.alerts.EsInferenceOperatorDeletionBlockedTooLong.for=10m",
        f"{prefix}.alerts.EsInferenceOperatorReconcileErrors.threshold=0.25",
        f"{prefix}.alerts.EsInferenceOperatorWorkQueueSaturated.severity=info",
        f"{prefix}.alertLabels.team=platform",
        f"{prefix}.runbookBaseURL=https://wiki.example/runbooks.md",
    )
    alerts = _by_alert(rule)
    source = {r["alert"]: r for r in alert_rules()}
    assert set(alerts) == set(source) - {"EsInferenceOperatorAbsent"}
    blocked = alerts["EsInferenceOperatorDeletionBlockedTooLong"]
    assert blocked["expr"] == source[blocked["alert"]]["expr"].replace("> 3600", "> 7200")
    assert blocked["for"] == "10m"
    assert alerts["EsInferenceOperatorReconcileErrors"]["expr"].endswith("> 0.25")
    assert alerts["EsInferenceOperatorWorkQueueSaturated"]["labels"]["severity"] == "info"
    for name, alert in alerts.items():
        assert alert["labels"]["team"] == "platform"
        assert alert["annotations"]["runbook_url"] == f"https://wiki.example/runbooks.md#{name.lower()}"
        if name not in {"EsInferenceOperatorDeletionBlockedTooLong", "EsInferenceOperatorReconcileErrors"}:
            assert alert["expr"] == source[name]["expr"], name
    # What the chart made is still rules Prometheus loads.
    rule_file = tmp_path / "rendered.yaml"
    rule_file.write_text(yaml.safe_dump(rule["spec"]))
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "metrics.prometheusRule.alerts.EsInferenceOperatorNoLeader.threshold=1",  # an alert without a threshold
        "metrics.prometheusRule.alerts.NoSuchAlert.enabled=false",
        "metrics.prometheusRule.alerts.EsInferenceOperatorAbsent.for=soon",
        "metrics.prometheusRule.alerts.EsInferenceOperatorReconcileStuck.threshold=long",
    ],
)
def test_alert_settings_that_mean_nothing_are_refused(helm: Helm, value: str) -> None:
    result = helm.run(
        "template", "x", str(CHART), "--set=metrics.prometheusRule.enabled=true", f"--set={value}", check=False
    )
    assert result.returncode != 0, value


def _threshold(expr: str) -> float | None:
    found = re.search(r"(?:>|<|>=|<=|==|!=)\s*(-?[0-9][0-9.eE+-]*)\s*$", expr)
    return float(found.group(1)) if found else None


def test_values_yaml_and_the_schema_list_every_alert_with_its_defaults() -> None:
    """`helm show values` tells the truth: each alert's `for`, severity and threshold as monitoring/alerts.yaml has
    them, and a threshold setting exactly for the alerts documented to have one."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["prometheusRule"]["alerts"]
    schema = json.loads((CHART / "values.schema.json").read_text())
    alerts_schema = schema["properties"]["metrics"]["properties"]["prometheusRule"]["properties"]["alerts"]
    source = {r["alert"]: r for r in alert_rules()}
    assert set(values) == set(source) == set(alerts_schema["properties"])
    for name, rule in source.items():
        assert values[name]["for"] == rule["for"] and values[name]["severity"] == rule["labels"]["severity"], name
        with_threshold = alerts_schema["properties"][name]["$ref"].endswith("alertWithThreshold")
        assert with_threshold == ("threshold" in values[name]), name
        if with_threshold:
            assert _threshold(rule["expr"]) == values[name]["threshold"], name


# --- the dashboard --------------------------------------------------------------------------------------------


def test_the_dashboard_config_map_is_monitoring_dashboard_json_with_the_sidecar_label(helm: Helm) -> None:
    config_map = find(
        helm.template(*ALL_ON, namespace="ops", release="eio"), "ConfigMap", "eio-es-inference-operator-dashboard"
    )
    assert config_map["metadata"]["namespace"] == "ops"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["es-inference-operator.json"]) == json.loads(DASHBOARD.read_text())
    moved = find(
        helm.template(
            "--set=metrics.grafanaDashboard.enabled=true",
            "--set=metrics.grafanaDashboard.namespace=grafana",
            "--set=metrics.grafanaDashboard.sidecarLabel=dashboards",
            "--set=metrics.grafanaDashboard.sidecarLabelValue=operators",
            "--set=metrics.grafanaDashboard.annotations.grafana_folder=Operators",
        ),
        "ConfigMap",
    )
    assert moved["metadata"]["namespace"] == "grafana"
    assert (
        moved["metadata"]["labels"]["dashboards"] == "operators"
        and "grafana_dashboard" not in moved["metadata"]["labels"]
    )
    assert moved["metadata"]["annotations"] == {"grafana_folder": "Operators"}


def test_the_kustomize_components_carry_monitoring_s_alerts_and_dashboard() -> None:
    """Kustomize reads no file outside a component's folder, so the components carry copies (`make chart-sync`
    writes them again)."""
    components = REPO_ROOT / "manifests" / "components"
    assert (components / "grafana-dashboard" / "dashboard.json").read_bytes() == DASHBOARD.read_bytes()
    rule = yaml.safe_load((components / "prometheusrule" / "prometheusrule.yaml").read_text())
    assert rule["spec"] == yaml.safe_load(ALERTS.read_text()), "out of date: run `make chart-sync`"


def test_the_readme_s_helm_command_turns_on_the_monitor_the_rule_and_the_dashboard(helm: Helm) -> None:
    text = (REPO_ROOT / "README.md").read_text()
    section = text[text.index("## Monitoring") :]
    section = section[: section.index("\n## ")]
    (command,) = [
        block.replace("\\\n", " ")
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        if block.startswith("helm upgrade --install")
    ]
    values = [f"--set={value}" for value in re.findall(r"--set (\S+)", command)]
    assert len(values) == 5, command
    docs = helm.template(*values)
    assert {"ServiceMonitor", "PrometheusRule"} <= _kinds(docs)
    assert find(docs, "ServiceMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert find(docs, "ConfigMap", "es-inference-operator-dashboard")["metadata"]["labels"]["grafana_dashboard"] == "1"
