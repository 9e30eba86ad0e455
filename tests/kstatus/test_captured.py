"""kstatus, Flux (with docs/flux.md's health check expressions) and Argo CD (health.lua in Argo CD's Lua setup)
on InferenceEndpoints captured from the real operator in each phase (`python -m tests.argocd.capture`), each
computed by the tools' own Go code (testbed/statuscheck)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.controlplane import REPO_ROOT

from .statuscheck import CHECK_DIR, TESTDATA, argocd_health_test, check, flux_kustomization_from_doc

# testdata file -> (kstatus, Flux with docs/flux.md), per phase of the issue and the README's promises.
EXPECTED = {
    # Just created, before the operator wrote anything: kstatus has nothing to go on and says Current (the
    # reason docs/flux.md exists); Flux with the expressions waits.
    "progressing_new": ("Current", "InProgress"),
    "healthy": ("Current", "Current"),
    # Updating to a new generation the operator has not observed yet.
    "progressing_generation_not_observed": ("InProgress", "InProgress"),
    # Elasticsearch down, a Secret not there yet, wrong credentials: Reconciling=True, retried.
    "progressing_elasticsearch_unavailable": ("InProgress", "InProgress"),
    "progressing_secret_missing": ("InProgress", "InProgress"),
    "progressing_auth_failed": ("InProgress", "InProgress"),
    # A Ready endpoint whose periodic check fails: Reconciling=True (Argo CD keeps it Healthy, see docs/argocd.md).
    "healthy_check_failing": ("InProgress", "InProgress"),
    # A spec edited while Elasticsearch was down: not applied, so never Current (nor Healthy in Argo CD).
    "progressing_change_not_applied": ("InProgress", "InProgress"),
    # Refused by Elasticsearch, and the other Stalled cases.
    "degraded_rejected": ("Failed", "Failed"),
    "degraded_configuration_mismatch": ("Failed", "Failed"),
    "degraded_already_exists": ("Failed", "Failed"),
    "degraded_needs_recreate": ("Failed", "Failed"),
    "degraded_conflict": ("Failed", "Failed"),
    # Deleting: kstatus says Terminating; Flux's CEL evaluator has no such state, and pruning does not wait for it.
    "deletion_blocked": ("Terminating", "InProgress"),
    "deleting_elasticsearch_unavailable": ("Terminating", "InProgress"),
    "deleting": ("Terminating", "InProgress"),
}

HEALTH_TEST = yaml.safe_load((CHECK_DIR / "health_test.yaml").read_text())["tests"]


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((TESTDATA / f"{name}.yaml").read_text()))


def test_every_captured_object_has_an_expected_status() -> None:
    assert {p.stem for p in TESTDATA.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_kstatus_and_flux_on_the_captured_object(name: str) -> None:
    obj = load(name)
    (report,) = check(obj)
    assert (report.kstatus.status, report.flux.status) == EXPECTED[name]
    if report.kstatus.status in ("InProgress", "Failed") and "generation" not in report.kstatus.message:
        # kstatus carries the operator's own words (the Reconciling or Stalled message).
        messages = {c["message"] for c in obj["status"]["conditions"] if c["status"] == "True"}
        assert report.kstatus.message in messages


def test_flux_agrees_with_kstatus_wherever_kstatus_can_tell() -> None:
    """The expressions only add the status-less object (and have no Terminating)."""
    for name, (kstatus, flux) in EXPECTED.items():
        if name != "progressing_new" and kstatus != "Terminating":
            assert flux == kstatus, name


def test_the_doc_checks_the_right_kind() -> None:
    crd = yaml.safe_load((REPO_ROOT / "crds" / "inference.es-operator.dev_inferenceendpoints.yaml").read_text())
    (entry,) = flux_kustomization_from_doc()["spec"]["healthCheckExprs"]
    served = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
    assert entry["apiVersion"] in {f"{crd['spec']['group']}/{v}" for v in served}
    assert entry["kind"] == crd["spec"]["names"]["kind"]
    assert {"inProgress", "failed", "current"} <= set(entry)


# --- Argo CD: health_test.yaml, the way argo-cd's TestLuaHealthScript checks it --------------------------------


@pytest.mark.parametrize("open_libs", [False, True], ids=["argocd-cm", "open-libs"])
def test_health_test_yaml_in_argo_cds_lua(open_libs: bool) -> None:
    """Every case's inputPath -> the expected status and message, compared whole. Without open libraries as an
    argocd-cm customization runs; with them as the upstream test runs built-in scripts."""
    code, results = argocd_health_test(open_libs)
    assert [r["inputPath"] for r in results] == [c["inputPath"] for c in HEALTH_TEST]
    differing = [r for r in results if not r["equal"]]
    assert not differing, differing
    assert code == 0


@pytest.mark.parametrize("case", HEALTH_TEST, ids=[Path(c["inputPath"]).stem for c in HEALTH_TEST])
def test_argocd_health_of_the_captured_object(case: dict[str, Any]) -> None:
    (report,) = check(load(Path(case["inputPath"]).stem))
    assert (report.argocd.status, report.argocd.message) == (
        case["healthStatus"]["status"],
        case["healthStatus"]["message"],
    )


def test_ready_for_an_older_generation_is_in_progress_everywhere() -> None:
    """Ready=True decided for generation 1 while generation 2 waits (as an operator before 0.2.0 wrote it when
    Elasticsearch was down during an edit): kstatus and Flux say InProgress, Argo CD Progressing."""
    obj = load("healthy")
    obj["metadata"]["generation"] = 2
    obj["status"]["observedGeneration"] = 2
    for cond in obj["status"]["conditions"]:
        if cond["type"] in ("Synced", "Reconciling"):
            status = "True" if cond["type"] == "Reconciling" else "False"
            cond.update(observedGeneration=2, status=status, reason="ElasticsearchUnavailable", message="unreachable")
    (report,) = check(obj)
    assert (report.kstatus.status, report.flux.status, report.argocd.status) == (
        "InProgress",
        "InProgress",
        "Progressing",
    )
