"""The Helm chart, rendered by the real helm: lint, one source of truth for the CRD and the policies, the same
operator and least privilege as the Kustomize install, and renders the API server accepts (server-side dry
run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.controlplane import REPO_ROOT, ControlPlane
from tests.deploy.support import find, granted, render, resource_names

from .support import CHART, RELEASE, Helm

CRD_FILE = "inference.es-operator.dev_inferenceendpoints.yaml"
CI_VALUES = CHART / "ci" / "namespaces-and-policies-values.yaml"
KEEP = {"helm.sh/resource-policy": "keep"}


def _ci_values() -> dict[str, Any]:
    return dict(yaml.safe_load(CI_VALUES.read_text()))


def _ensure_namespace(cp: ControlPlane, name: str, **labels: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    cp.kubectl("apply", "--server-side", "--field-manager=tests-helm", "-f", "-", input=json.dumps(manifest))


def _server_dry_run(cp: ControlPlane, text: str) -> tuple[list[str], str]:
    """`kubectl apply --server-side --dry-run=server` of a render: the API server validates every object
    (schemas, CEL of the policies, Pod Security admission) and stores nothing. --force-conflicts because the
    session's CRD (and the policies of tests/policies) were applied by other field managers; nothing is
    written anyway."""
    result = cp.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", "--field-manager=helm-test",
        "-f", "-", input=text, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines(), result.stderr


# --- one source of truth --------------------------------------------------------------------------------------


def test_the_charts_crd_and_policies_are_copies_of_crds_and_policies() -> None:
    """The chart cannot read files outside itself, so it carries copies: they must be byte for byte the
    repository's own (`make chart-sync` copies them again)."""
    expected = {Path("crds") / CRD_FILE: REPO_ROOT / "crds" / CRD_FILE}
    for source in sorted((REPO_ROOT / "policies").glob("*/*.yaml")):
        if source.name != "kustomization.yaml":
            expected[source.relative_to(REPO_ROOT)] = source
    files = CHART / "files"
    present = {path.relative_to(files) for path in files.rglob("*") if path.is_file()}
    assert present == set(expected), (
        "charts/es-inference-operator/files/ differs from crds/ and policies/: make chart-sync"
    )
    drifted = [str(copy) for copy, source in expected.items() if (files / copy).read_bytes() != source.read_bytes()]
    assert not drifted, f"out of date in the chart: {drifted}; run `make chart-sync`"


# --- helm lint and show values --------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_helm_lint_is_clean(helm: Helm, strict: bool) -> None:
    for values in ([], [f"--values={CI_VALUES}"]):
        result = helm.run("lint", str(CHART), *(["--strict"] if strict else []), *values)
        assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout
        # Not even an informational note, but the icon: the project has none to point at.
        findings = [line for line in result.stdout.splitlines() if line.startswith("[")]
        assert findings == ["[INFO] Chart.yaml: icon is recommended"], findings


def test_helm_show_values_documents_every_top_level_value(helm: Helm) -> None:
    shown = helm.run("show", "values", str(CHART)).stdout
    assert shown.rstrip("\n") == (CHART / "values.yaml").read_text().rstrip("\n")
    lines = shown.splitlines()
    undocumented = [
        line.split(":")[0]
        for number, line in enumerate(lines)
        if line and not line[0].isspace() and not line.startswith("#") and not lines[number - 1].startswith("#")
    ]
    assert undocumented == [], f"values.yaml: top-level keys without a comment above them: {undocumented}"


# --- the same operator as manifests/ ---------------------------------------------------------------------------


def test_the_default_render_is_the_kustomize_install_the_helm_way(helm: Helm, control_plane: ControlPlane) -> None:
    chart = helm.template()
    kustomize = render(control_plane, "default")
    assert sorted(d["kind"] for d in chart) == sorted(d["kind"] for d in kustomize if d["kind"] != "Namespace")
    assert all(
        d["metadata"]["name"] == RELEASE
        for d in chart
        if d["kind"] not in ("Service", "CustomResourceDefinition", "Role", "RoleBinding")
    )
    for kind in ("Role", "RoleBinding"):  # leader election's
        assert find(chart, kind)["metadata"]["name"] == find(kustomize, kind)["metadata"]["name"]

    # The CRD: crds/'s, kept on uninstall (and so updated by upgrades, being a template).
    crd = find(chart, "CustomResourceDefinition")
    assert crd["metadata"]["annotations"] == {
        **find(kustomize, "CustomResourceDefinition")["metadata"]["annotations"],
        **KEEP,
    }
    assert crd["spec"] == yaml.safe_load((REPO_ROOT / "crds" / CRD_FILE).read_text())["spec"]
    assert not [d for d in helm.template("--set=crds.install=false") if d["kind"] == "CustomResourceDefinition"]

    # The Deployment: the same pod, labels aside, with the settings as explicit environment variables.
    ours, theirs = find(chart, "Deployment")["spec"], find(kustomize, "Deployment")["spec"]
    assert ours["replicas"] == theirs["replicas"] == 2 and ours["strategy"] == theirs["strategy"]
    assert ours["selector"]["matchLabels"].items() <= ours["template"]["metadata"]["labels"].items()
    pod, kustomize_pod = ours["template"]["spec"], theirs["template"]["spec"]
    # The same anti-affinity, each on its own selector labels (the chart's add the release).
    affinity, kustomize_affinity = pod.pop("affinity"), kustomize_pod.pop("affinity")
    ((term,),) = [affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]]
    ((kustomize_term,),) = [kustomize_affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]]
    assert term["podAffinityTerm"].pop("labelSelector") == {"matchLabels": ours["selector"]["matchLabels"]}
    kustomize_term["podAffinityTerm"].pop("labelSelector")
    assert term == kustomize_term
    # The same PodDisruptionBudget, on the chart's selector labels.
    budget = find(chart, "PodDisruptionBudget")["spec"]
    assert budget == {**find(kustomize, "PodDisruptionBudget")["spec"], "selector": ours["selector"]}
    (container,) = pod.pop("containers")
    (kustomize_container,) = kustomize_pod.pop("containers")
    assert pod == kustomize_pod
    # The same Secret keys and downward API fields, and leader election on.
    secret_refs = [e for e in container.pop("env") if "valueFrom" in e or e["name"] == "OPERATOR_LEADER_ELECTION"]
    assert sorted(secret_refs, key=str) == sorted(kustomize_container.pop("env"), key=str)
    assert container == kustomize_container

    # The Service and the ServiceAccount, in the release namespace.
    service = find(chart, "Service")
    assert service["spec"]["ports"] == find(kustomize, "Service")["spec"]["ports"]
    assert service["spec"]["selector"].items() <= ours["template"]["metadata"]["labels"].items()
    assert all(
        d["metadata"]["namespace"] == RELEASE for d in chart if d["kind"] in ("ServiceAccount", "Deployment", "Service")
    )


def test_the_settings_reach_the_container(helm: Helm) -> None:
    chart = helm.template(f"--values={CI_VALUES}")
    (container,) = find(chart, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["ELASTICSEARCH_URL"] == {"secretKeyRef": {"name": "search-connection", "key": "url"}}
    assert env["ELASTICSEARCH_PASSWORD"] == {
        "secretKeyRef": {"name": "search-connection", "key": "password", "optional": True}
    }
    assert env["ELASTICSEARCH_CA_FILE"] == "/etc/elasticsearch/ca/ca.crt"
    assert env["OPERATOR_DEFAULT_DELETION_POLICY"] == "Orphan" and env["OPERATOR_RESYNC_SECONDS"] == "300"
    assert env["OPERATOR_METRICS_PORT"] == "9090"
    assert container["args"] == ["--log-format=json", "--namespace=helm-team-a", "--namespace=helm-team-b"]
    assert env["OPERATOR_LEADER_ELECTION"] == "true"
    assert env["OPERATOR_LEASE_NAME"] == RELEASE and env["OPERATOR_LEASE_DURATION_SECONDS"] == "15"
    assert container["image"] == "ghcr.io/es-inference-operator/es-inference-operator:0.1.0"  # appVersion
    assert find(chart, "Service")["spec"]["ports"][0]["port"] == 9090

    off = helm.template("--set=metrics.enabled=false", "--set=elasticsearch.secretName=", "--set=image.tag=0.2.0")
    (container,) = find(off, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["OPERATOR_METRICS_PORT"] == "0" and not [p for p in container["ports"] if p["name"] == "metrics"]
    assert not [name for name in env if name.startswith("ELASTICSEARCH_") and "valueFrom" in str(env[name])]
    assert container["image"].endswith(":0.2.0")
    assert not [d for d in off if d["kind"] == "Service"]

    # values.schema.json refuses what the operator would refuse at start, and typing mistakes.
    for wrong, named in [
        ("operator.defaultDeletionPolicy=Keep", "defaultDeletionPolicy"),
        ("elasticsearch.secretname=typo", "secretname"),
        ("watchNamespaces={Team_A}", "watchNamespaces"),
    ]:
        refused = helm.run("template", RELEASE, str(CHART), f"--set={wrong}", check=False)
        assert refused.returncode != 0 and named in refused.stderr, (wrong, refused.stderr)
    refused = helm.run(
        "template", RELEASE, str(CHART), "--set=elasticsearch.caFromSecret=true,elasticsearch.secretName=", check=False
    )
    assert refused.returncode != 0 and "caFromSecret needs elasticsearch.secretName" in refused.stderr


def test_leader_election_values(helm: Helm, tmp_path: Path) -> None:
    chart = helm.template(
        "--set=replicaCount=3",
        "--set=leaderElection.leaseDurationSeconds=35,leaderElection.renewDeadlineSeconds=30",
        "--set=leaderElection.retryPeriodSeconds=5",
        release="search",
    )
    deployment = find(chart, "Deployment")["spec"]
    assert deployment["replicas"] == 3
    (container,) = deployment["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["OPERATOR_LEASE_NAME"] == "search-es-inference-operator"  # <release>-es-inference-operator
    assert (
        env["OPERATOR_LEASE_DURATION_SECONDS"],
        env["OPERATOR_LEASE_RENEW_DEADLINE_SECONDS"],
        env["OPERATOR_LEASE_RETRY_PERIOD_SECONDS"],
    ) == ("35", "30", "5")
    assert resource_names(find(chart, "Role")) == {
        ("coordination.k8s.io", "leases", "", verb): {"search-es-inference-operator"} for verb in ("get", "update")
    }

    # Off: one replica with Recreate, as before; no Lease, no Role, no budget (it would block every drain).
    off = helm.template("--set=leaderElection.enabled=false")
    deployment = find(off, "Deployment")["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"] == {"type": "Recreate"}
    (container,) = deployment["template"]["spec"]["containers"]
    assert {"name": "OPERATOR_LEADER_ELECTION", "value": "false"} in container["env"]
    assert not [e for e in container["env"] if e["name"].startswith("OPERATOR_LEASE_")]
    assert "affinity" not in deployment["template"]["spec"]
    assert not [d for d in off if d["kind"] in ("Role", "RoleBinding", "PodDisruptionBudget")]
    assert not [
        d for d in helm.template("--set=podDisruptionBudget.enabled=false") if d["kind"] == "PodDisruptionBudget"
    ]
    assert not [d for d in helm.template("--set=replicaCount=1") if d["kind"] == "PodDisruptionBudget"]
    # A given affinity replaces the default anti-affinity.
    node_affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}}
    ]}}  # fmt: skip
    values = tmp_path / "affinity.yaml"
    values.write_text(yaml.safe_dump({"affinity": node_affinity}))
    given = helm.template(f"--values={values}")
    assert find(given, "Deployment")["spec"]["template"]["spec"]["affinity"] == node_affinity
    for wrong, named in [
        ("replicaCount=0", "replicaCount"),
        ("leaderElection.leaseDurationSeconds=1.5", "leaseDurationSeconds"),
    ]:
        refused = helm.run("template", RELEASE, str(CHART), f"--set={wrong}", check=False)
        assert refused.returncode != 0 and named in refused.stderr, (wrong, refused.stderr)


# --- least privilege, as in manifests/ --------------------------------------------------------------------------


def test_the_rendered_rbac_is_the_kustomize_rbac(helm: Helm, control_plane: ControlPlane) -> None:
    kustomize = render(control_plane, "base")
    expected_rules = granted(find(kustomize, "ClusterRole"))

    chart = helm.template()
    assert granted(find(chart, "ClusterRole")) == expected_rules
    binding = find(chart, "ClusterRoleBinding")
    assert binding["roleRef"] == find(kustomize, "ClusterRoleBinding")["roleRef"]
    assert binding["subjects"] == find(kustomize, "ClusterRoleBinding")["subjects"]
    # Leader election's Role: the same rules, the same Lease name.
    lease_role, kustomize_lease_role = find(chart, "Role"), find(kustomize, "Role")
    assert granted(lease_role, named=True) == granted(kustomize_lease_role, named=True)
    assert resource_names(lease_role) == resource_names(kustomize_lease_role)
    lease_binding = find(chart, "RoleBinding")
    assert lease_binding["roleRef"] == find(kustomize, "RoleBinding")["roleRef"]
    assert lease_binding["subjects"] == find(kustomize, "RoleBinding")["subjects"]

    # Confined to namespaces: the same ClusterRole, bound in each of them only.
    confined = helm.template(f"--values={CI_VALUES}", namespace="ops", release="search")
    role = find(confined, "ClusterRole")
    assert granted(role) == expected_rules
    assert not [d for d in confined if d["kind"] == "ClusterRoleBinding"]
    bindings = [d for d in confined if d["kind"] == "RoleBinding" and d["roleRef"]["kind"] == "ClusterRole"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == _ci_values()["watchNamespaces"]
    for rolebinding in bindings:
        assert rolebinding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role["metadata"]["name"],
        }
        assert rolebinding["subjects"] == [
            {"kind": "ServiceAccount", "name": "search-es-inference-operator", "namespace": "ops"}
        ]
    account = find(confined, "ServiceAccount")["metadata"]
    assert (account["name"], account["namespace"]) == ("search-es-inference-operator", "ops")


# --- the admission policies --------------------------------------------------------------------------------------


def test_the_policies_are_off_by_default_and_are_those_of_policies_when_on(helm: Helm) -> None:
    assert not [
        d for d in helm.template() if d["kind"].startswith("ValidatingAdmissionPolicy") or d["kind"] == "ConfigMap"
    ]

    chart = helm.template(f"--values={CI_VALUES}", namespace="ops")
    for name in ("force-annotation", "refuse-delete-while-referenced"):
        for part in ("policy", "binding", "params"):
            source = REPO_ROOT / "policies" / name / f"{part}.yaml"
            if not source.exists():
                continue
            original = yaml.safe_load(source.read_text())
            rendered = find(chart, original["kind"], original["metadata"]["name"])
            assert original["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()
            rendered["metadata"]["labels"] = original["metadata"]["labels"]
            if part == "params":
                # In the release namespace, with the lists from the values.
                assert rendered["metadata"].pop("namespace") == "ops" and original["metadata"].pop("namespace")
                assert rendered.pop("data") == {"groups": "search-admins", "users": "alice"}
                original.pop("data")
            elif name == "force-annotation" and part == "binding":
                assert rendered["spec"]["paramRef"].pop("namespace") == "ops"
                original["spec"]["paramRef"].pop("namespace")
            elif name == "refuse-delete-while-referenced" and part == "binding":
                assert rendered["spec"].pop("matchResources") == {
                    "namespaceSelector": {"matchLabels": {"inference.es-operator.dev/protect-referenced": "true"}}
                }
            assert rendered == original, f"{source} and the chart's render differ"


def test_the_finalizer_policy_is_off_by_default_and_is_that_of_policies_when_on(helm: Helm) -> None:
    assert not [d for d in helm.template() if d["kind"].startswith("MutatingAdmissionPolicy")]
    chart = helm.template("--set=policies.finalizerAtCreation.enabled=true")
    for part in ("policy", "binding"):
        source = REPO_ROOT / "policies" / "finalizer-at-creation" / f"{part}.yaml"
        original = yaml.safe_load(source.read_text())
        rendered = find(chart, original["kind"], original["metadata"]["name"])
        assert original["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()
        rendered["metadata"]["labels"] = original["metadata"]["labels"]
        assert rendered == original, f"{source} and the chart's render differ"


# --- the API server accepts the renders ---------------------------------------------------------------------------


def test_the_default_render_passes_a_server_side_dry_run(
    helm: Helm, control_plane: ControlPlane, namespace: str
) -> None:
    # The namespace enforces the restricted Pod Security Standard, as manifests/base's does: no warning.
    control_plane.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )
    text = helm.template_text(namespace=namespace, release=f"{RELEASE}-{namespace}")
    applied, warnings = _server_dry_run(control_plane, text)
    assert len(applied) == len([d for d in yaml.safe_load_all(text) if d]), applied
    assert all(line.endswith("serverside-applied (server dry run)") for line in applied), applied
    assert warnings.strip() == ""


def test_the_namespaces_and_policies_render_passes_a_server_side_dry_run(
    helm: Helm, control_plane: ControlPlane, namespace: str
) -> None:
    for watched in _ci_values()["watchNamespaces"]:
        _ensure_namespace(control_plane, watched)
    text = helm.template_text(f"--values={CI_VALUES}", namespace=namespace, release=f"{RELEASE}-{namespace}")
    applied, warnings = _server_dry_run(control_plane, text)
    kinds = {line.split("/")[0] for line in applied}
    assert {
        "validatingadmissionpolicy.admissionregistration.k8s.io",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io",
        "configmap",
        "rolebinding.rbac.authorization.k8s.io",
    } <= kinds, applied
    assert warnings.strip() == ""


def test_a_render_the_api_server_refuses_fails_the_dry_run(
    helm: Helm, control_plane: ControlPlane, namespace: str
) -> None:
    """The control for the two tests above: the dry run does validate (here a RoleBinding in a namespace that
    does not exist)."""
    text = helm.template_text("--set=watchNamespaces={no-such-namespace-for-helm}", namespace=namespace)
    result = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", "-", input=text, check=False
    )
    assert result.returncode != 0 and "no-such-namespace-for-helm" in result.stderr


def test_the_argocd_example_application_renders(helm: Helm, tmp_path: Path) -> None:
    """examples/argocd/application-helm.yaml points at this chart with values it knows."""
    (app,) = [
        d for d in yaml.safe_load_all((REPO_ROOT / "examples" / "argocd" / "application-helm.yaml").read_text()) if d
    ]
    source = app["spec"]["source"]
    assert REPO_ROOT / source["path"] == CHART
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(source["helm"]["valuesObject"]))
    known = yaml.safe_load((CHART / "values.yaml").read_text())

    def unknown_keys(given: dict[str, Any], defaults: dict[str, Any], prefix: str = "") -> list[str]:
        found = []
        for key, value in given.items():
            if key not in defaults:
                found.append(prefix + key)
            elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
                found += unknown_keys(value, defaults[key], f"{prefix}{key}.")
        return found

    assert unknown_keys(source["helm"]["valuesObject"], known) == []
    docs = helm.template(
        f"--values={values}", namespace=app["spec"]["destination"]["namespace"], release=source["helm"]["releaseName"]
    )
    assert find(docs, "Deployment")["metadata"]["name"] == "es-inference-operator"
    assert find(docs, "ConfigMap", "inference-force-allowed")["data"] == {"groups": "inference-admins", "users": ""}
