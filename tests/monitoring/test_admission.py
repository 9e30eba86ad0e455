"""The scrape config, the PrometheusRule and the dashboard ConfigMap, from the Helm chart and from the Kustomize
components, admitted by a real API server that has the Prometheus Operator's CRDs (v0.85.0 from its Go module,
testbed/fetch-prometheus-operator-crds.sh): their schemas validate every field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.controlplane import REPO_ROOT, ControlPlane
from tests.deploy.support import find
from tests.helm.support import Helm

from .support import ALERTS, DASHBOARD, JOB

COMPONENTS = REPO_ROOT / "manifests" / "components"
OVERLAY = REPO_ROOT / "manifests" / "overlays" / "monitoring"
OPERATOR_NAMESPACE = "es-inference-operator"
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}

pytestmark = pytest.mark.usefixtures("monitoring_crds")


def _server_dry_run(cp: ControlPlane, text: str) -> list[str]:
    """`kubectl apply --server-side --dry-run=server`: the API server validates every object against its schema
    and stores nothing. --force-conflicts: the session's CRD was applied by another field manager."""
    result = cp.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", "--field-manager=monitoring-test",
        "-f", "-", input=text, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _apply(cp: ControlPlane, docs: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(docs)
    cp.kubectl("apply", "--server-side", "--field-manager=monitoring-test", "-f", "-", input=text)


def _get(cp: ControlPlane, kind: str, namespace: str, name: str) -> dict[str, Any]:
    return dict(json.loads(cp.kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout))


def _kustomize(cp: ControlPlane, folder: Path) -> list[dict[str, Any]]:
    text = cp.kubectl("kustomize", str(folder)).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def _ensure_operator_namespace(cp: ControlPlane) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}}
    cp.kubectl("apply", "--server-side", "--field-manager=monitoring-test", "-f", "-", input=json.dumps(manifest))


@pytest.mark.parametrize("monitor", ["serviceMonitor", "podMonitor"])
def test_the_charts_monitoring_objects_are_admitted_and_stored_as_rendered(
    helm: Helm, control_plane: ControlPlane, namespace: str, monitor: str
) -> None:
    release = f"eio-{namespace}"
    values = (
        f"--set=metrics.{monitor}.enabled=true",
        f"--set=metrics.{monitor}.labels.release=kube-prometheus-stack",
        f"--set=metrics.{monitor}.interval=30s",
        f"--set=metrics.{monitor}.scrapeTimeout=10s",
        "--set=metrics.prometheusRule.enabled=true",
        "--set=metrics.prometheusRule.alerts.EsInferenceOperatorDeletionBlockedTooLong.threshold=7200",
        "--set=metrics.grafanaDashboard.enabled=true",
    )
    text = helm.template_text(*values, namespace=namespace, release=release)
    applied = _server_dry_run(control_plane, text)
    assert all(line.endswith("serverside-applied (server dry run)") for line in applied), applied
    # The monitoring objects for real in the test's namespace, and read back: nothing pruned by a schema.
    docs = [d for d in yaml.safe_load_all(text) if d]
    ours = [d for d in docs if d["kind"] in MONITORING_KINDS or d["metadata"]["name"].endswith("-dashboard")]
    assert {d["kind"] for d in ours} == {monitor[0].upper() + monitor[1:], "PrometheusRule", "ConfigMap"}
    _apply(control_plane, ours)
    for doc in ours:
        stored = _get(control_plane, doc["kind"], namespace, doc["metadata"]["name"])
        assert stored.get("spec", stored.get("data")) == doc.get("spec", doc.get("data")), doc["kind"]


def test_the_api_server_refuses_a_monitor_its_crd_does_not_allow(control_plane: ControlPlane, namespace: str) -> None:
    """The control for the test above: the CRDs' schemas do validate (an interval that is no duration)."""
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "often"}]},
    }
    result = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(monitor), check=False
    )
    assert result.returncode != 0 and "interval" in result.stderr, result.stderr


def test_the_kustomize_monitoring_overlay_is_admitted_and_selects_the_operator(control_plane: ControlPlane) -> None:
    _ensure_operator_namespace(control_plane)
    docs = _kustomize(control_plane, OVERLAY)
    applied = _server_dry_run(control_plane, yaml.safe_dump_all(docs))
    assert len(applied) == len(docs)
    monitor = find(docs, "ServiceMonitor")
    service = find(docs, "Service")
    assert all(service["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert {"action": "replace", "targetLabel": "job", "replacement": JOB} in endpoint["relabelings"]
    assert find(docs, "PrometheusRule")["spec"] == yaml.safe_load(ALERTS.read_text())
    dashboard = find(docs, "ConfigMap", "es-inference-operator-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["es-inference-operator.json"]) == json.loads(DASHBOARD.read_text())


def test_the_kustomize_podmonitor_component_is_admitted_and_selects_the_operator_pod(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    _ensure_operator_namespace(control_plane)
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # Kustomize takes no absolute path.
        "resources": [os.path.relpath(REPO_ROOT / "manifests" / "base", tmp_path)],
        "components": [os.path.relpath(COMPONENTS / "podmonitor", tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    docs = _kustomize(control_plane, tmp_path)
    _server_dry_run(control_plane, yaml.safe_dump_all([d for d in docs if d["kind"] == "PodMonitor"]))
    monitor = find(docs, "PodMonitor")
    pod = find(docs, "Deployment")["spec"]["template"]
    assert all(pod["metadata"]["labels"].get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    (container,) = pod["spec"]["containers"]
    assert endpoint["port"] in {p["name"] for p in container["ports"]}
    assert {"action": "replace", "targetLabel": "job", "replacement": JOB} in endpoint["relabelings"]
