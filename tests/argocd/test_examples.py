"""The Argo CD examples: the argocd-cm patch carries health.lua unchanged and ignores the right fields, and
the example Application syncs manifests the API server accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jq
import pytest
import yaml

from tests.support import Kube

from .lua_health import HEALTH_LUA, REPO_ROOT, TESTDATA

EXAMPLES = REPO_ROOT / "examples" / "argocd"
KEY = "inference.es-operator.dev_InferenceEndpoint"


def argocd_cm() -> dict[str, str]:
    return dict(yaml.safe_load((EXAMPLES / "argocd-cm-patch.yaml").read_text())["data"])


def test_the_argocd_cm_patch_carries_health_lua_unchanged() -> None:
    assert argocd_cm()[f"resource.customizations.health.{KEY}"] == HEALTH_LUA.read_text()


def test_the_argocd_cm_patch_ignores_status_and_kopf_annotations() -> None:
    ignore = yaml.safe_load(argocd_cm()[f"resource.customizations.ignoreResourceUpdates.{KEY}"])
    assert ignore["jsonPointers"] == ["/status"]
    assert len(ignore["jqPathExpressions"]) == 1


@pytest.mark.parametrize("name", ["deletion_blocked", "healthy", "progressing_new"])
def test_the_jq_path_selects_exactly_kopfs_annotations(name: str) -> None:
    """Argo CD drops the paths the expression yields (gojq's `path(...)`); jq (libjq, from PyPI) yields the same."""
    ignore = yaml.safe_load(argocd_cm()[f"resource.customizations.ignoreResourceUpdates.{KEY}"])
    obj: dict[str, Any] = yaml.safe_load((TESTDATA / f"{name}.yaml").read_text())
    paths = jq.compile(f"[path({ignore['jqPathExpressions'][0]})]").input_value(obj).first()
    selected = {tuple(p) for p in paths}
    annotations = obj["metadata"].get("annotations", {})
    expected = {
        ("metadata", "annotations", k) for k in annotations if k.startswith("operator.inference.es-operator.dev/")
    }
    assert selected == expected


def test_the_jq_path_selects_the_annotations_an_older_operator_left() -> None:
    """kopf's bookkeeping now lives in status.operator; resources handled by 0.1.0 still carry its annotations."""
    ignore = yaml.safe_load(argocd_cm()[f"resource.customizations.ignoreResourceUpdates.{KEY}"])
    obj: dict[str, Any] = yaml.safe_load((TESTDATA / "healthy.yaml").read_text())
    assert not [
        k for k in obj["metadata"].get("annotations", {}) if k.startswith("operator.inference.es-operator.dev/")
    ]
    legacy = {"operator.inference.es-operator.dev/last-handled-configuration": "{}", "team": "search"}
    obj["metadata"]["annotations"] = {**obj["metadata"].get("annotations", {}), **legacy}
    paths = jq.compile(f"[path({ignore['jqPathExpressions'][0]})]").input_value(obj).first()
    assert {tuple(p) for p in paths} == {
        ("metadata", "annotations", "operator.inference.es-operator.dev/last-handled-configuration")
    }


def test_the_example_application_syncs_the_example_endpoints() -> None:
    apps = [d for d in yaml.safe_load_all((EXAMPLES / "application.yaml").read_text()) if d]
    assert [a["kind"] for a in apps] == ["Application", "Application"]
    paths = [a["spec"]["source"]["path"] for a in apps]
    assert paths == ["manifests/default", "examples/argocd/inference-endpoints"]
    for path in paths:
        assert (REPO_ROOT / path).is_dir(), path
    operator_app = apps[0]
    assert operator_app["spec"]["syncPolicy"]["automated"]["prune"] is False  # never prune the operator


def test_the_example_endpoints_are_accepted_by_the_api_server(kube: Kube) -> None:
    for path in sorted(Path(EXAMPLES / "inference-endpoints").glob("*.yaml")):
        kube.run("apply", "--dry-run=server", "-f", str(path))
        annotations = yaml.safe_load(path.read_text())["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/sync-wave"] == "1", path.name
