"""The install: the README's commands on the real API server, the Kustomize renders, and what the operator's
ServiceAccount may and may not do once installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from es_inference_operator.config import OperatorConfig
from testbed.controlplane import REPO_ROOT, ControlPlane

from .support import (
    CONNECTION_SECRET,
    NAMESPACE,
    SERVICE_ACCOUNT,
    find,
    granted,
    install_command,
    kubectl_as,
    readme_command,
    render,
    resource_names,
    run_shell,
    service_account_kubeconfig,
)

IMAGE = "ghcr.io/es-inference-operator/es-inference-operator:0.1.0"
GROUP = "inference.es-operator.dev"
IEP = f"inferenceendpoints.{GROUP}"

# What the operator calls (tests/deploy/test_least_privilege.py proves it against an audited API server).
EXPECTED_RULES = {
    (GROUP, "inferenceendpoints", "", "list"),
    (GROUP, "inferenceendpoints", "", "watch"),
    (GROUP, "inferenceendpoints", "", "patch"),
    (GROUP, "inferenceendpoints", "status", "patch"),
    ("", "events", "", "create"),
    ("", "secrets", "", "get"),
    ("", "namespaces", "", "get"),
    ("elasticsearch.k8s.elastic.co", "elasticsearches", "", "get"),
}
ECK = "elasticsearches.elasticsearch.k8s.elastic.co"
# Leader election: the Lease es-inference-operator in the operator's namespace (its Role).
LEASES = "leases.coordination.k8s.io"
LEASE = "es-inference-operator"
EXPECTED_LEASE_RULES = {("coordination.k8s.io", "leases", "", verb) for verb in ("create", "get", "update")}


def _live_versions(cp: ControlPlane, docs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(kind, name) -> resourceVersion of each rendered object, read back from the API server."""
    live = json.loads(cp.kubectl("get", "-f", "-", "-o", "json", input=yaml.safe_dump_all(docs)).stdout)["items"]
    assert len(live) == len(docs)
    return {(o["kind"], o["metadata"]["name"]): o["metadata"]["resourceVersion"] for o in live}


# --- renders ----------------------------------------------------------------------------------------------


def test_kustomize_renders_base_default_and_overlay(control_plane: ControlPlane) -> None:
    base = render(control_plane, "base")
    assert sorted(d["kind"] for d in base) == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
        ]
    )
    assert all(
        d["metadata"].get("namespace") == NAMESPACE
        for d in base
        if d["kind"] in ("ServiceAccount", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget", "Service")
    )

    default = render(control_plane, "default")
    crd = find(default, "CustomResourceDefinition")
    assert crd == yaml.safe_load((REPO_ROOT / "crds" / f"{GROUP}_inferenceendpoints.yaml").read_text())
    assert [d for d in default if d["kind"] != "CustomResourceDefinition"] == base
    assert default[0]["kind"] == "Namespace"  # created before what lives in it

    overlay = render(control_plane, "overlays/elasticsearch-secret")
    connection = find(overlay, "Secret", CONNECTION_SECRET)  # the fixed name: no hash suffix
    assert set(connection["data"]) == {"url", "api-key"}
    assert find(overlay, "Secret", "elasticsearch-ca")["data"].keys() == {"ca.crt"}
    container = find(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    ca_file = Path(env["ELASTICSEARCH_CA_FILE"]["value"])
    mount = next(m for m in container["volumeMounts"] if m["name"] == "elasticsearch-ca")
    assert ca_file.parent == Path(mount["mountPath"]) and mount["readOnly"] is True
    volume = next(
        v for v in find(overlay, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "elasticsearch-ca"
    )
    assert volume["secret"] == {"secretName": "elasticsearch-ca", "items": [{"key": "ca.crt", "path": ca_file.name}]}
    assert "ELASTICSEARCH_URL" in env and "ELASTICSEARCH_API_KEY" in env  # the base's env is kept


def test_the_deployment_is_hardened_and_matches_the_operator(control_plane: ControlPlane) -> None:
    base = render(control_plane, "base")
    deployment = find(base, "Deployment")
    spec = deployment["spec"]
    # Two replicas with leader election; a rollout starts a new pod (Ready as a standby) before it stops one.
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    budget = find(base, "PodDisruptionBudget")["spec"]
    assert budget["minAvailable"] == 1 and budget["selector"]["matchLabels"].items() <= labels.items()
    assert pod["serviceAccountName"] == SERVICE_ACCOUNT
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == ["--log-format=json"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == OperatorConfig(default_connection=None).metrics_port
    assert ports["healthz"] == 8081  # the operator's --liveness default address: /healthz and /readyz
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "healthz"}

    assert {"name": "OPERATOR_LEADER_ELECTION", "value": "true"} in container["env"]
    env = {e["name"]: e["valueFrom"] for e in container["env"] if "valueFrom" in e}
    assert env["ELASTICSEARCH_URL"]["secretKeyRef"] == {"name": CONNECTION_SECRET, "key": "url"}
    assert env["ELASTICSEARCH_API_KEY"]["secretKeyRef"] == {
        "name": CONNECTION_SECRET,
        "key": "api-key",
        "optional": True,
    }
    # The Lease's holder identity and namespace, from the downward API.
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}

    service = find(base, "Service")
    assert service["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]


def test_the_cluster_role_grants_exactly_the_operators_calls(control_plane: ControlPlane) -> None:
    base = render(control_plane, "base")
    assert granted(find(base, "ClusterRole")) == EXPECTED_RULES
    binding = find(base, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "es-inference-operator",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]

    # Leader election: one Lease, by name, in the operator's namespace; create cannot be limited to a name.
    role = find(base, "Role")
    assert granted(role, named=True) == EXPECTED_LEASE_RULES
    assert resource_names(role) == {
        ("coordination.k8s.io", "leases", "", "get"): {LEASE},
        ("coordination.k8s.io", "leases", "", "update"): {LEASE},
    }
    role_binding = find(base, "RoleBinding")
    assert role_binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert role_binding["subjects"] == binding["subjects"]


# --- the README's commands on the API server ---------------------------------------------------------------


def test_the_readme_install_command_installs_everything_and_is_idempotent(
    control_plane: ControlPlane, installed: subprocess.CompletedProcess[str]
) -> None:
    docs = render(control_plane, "default")
    lines = installed.stdout.splitlines()
    assert len(lines) == len(docs) and all(line.endswith(" serverside-applied") for line in lines), installed.stdout
    # No warning: in particular none from Pod Security admission about the Deployment's pod template.
    assert installed.stderr.strip() == ""

    before = _live_versions(control_plane, docs)
    again = run_shell(control_plane, install_command())
    assert again.stderr.strip() == ""
    assert _live_versions(control_plane, docs) == before  # nothing changed: no new resourceVersion


def test_the_pod_passes_the_restricted_pod_security_standard(control_plane: ControlPlane, installed: object) -> None:
    """Pod Security admission warns on a Deployment whose pod template breaks the namespace's `restricted`
    level: silence for ours, a warning for the same with the container's securityContext removed (the
    control, showing that the check is live)."""
    deployment = find(render(control_plane, "base"), "Deployment")
    ours = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(deployment))
    assert ours.stderr.strip() == ""

    deployment["metadata"]["name"] = "weaker"
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {}
    weaker = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(deployment)
    )
    assert "would violate PodSecurity" in weaker.stderr and "allowPrivilegeEscalation" in weaker.stderr


def test_the_readme_secret_overlay_and_uninstall_commands_are_accepted(
    control_plane: ControlPlane, installed: object
) -> None:
    dry = " --dry-run=server"
    secret = run_shell(control_plane, readme_command("create secret generic") + dry, env={"ES_API_KEY": "a2V5OnZhbHVl"})
    assert f"secret/{CONNECTION_SECRET} created (server dry run)" in secret.stdout

    overlay = run_shell(control_plane, readme_command("-k manifests/overlays/elasticsearch-secret") + dry)
    assert "secret/elasticsearch-ca serverside-applied (server dry run)" in overlay.stdout
    assert f"secret/{CONNECTION_SECRET} serverside-applied (server dry run)" in overlay.stdout
    assert overlay.stderr.strip() == ""

    run_shell(control_plane, readme_command("delete inferenceendpoints") + dry)
    uninstall = run_shell(control_plane, readme_command("delete -k manifests/default") + dry)
    assert "(server dry run)" in uninstall.stdout
    # Nothing was deleted.
    control_plane.kubectl("get", "deployment/es-inference-operator", "-n", NAMESPACE)


# --- what the installed ServiceAccount may do -------------------------------------------------------------

ALLOWED = [
    ("list", IEP, "--all-namespaces"),
    ("watch", IEP, "--all-namespaces"),
    ("patch", IEP, "-n", "team-a"),
    ("patch", IEP, "--subresource=status", "-n", "team-a"),
    ("create", "events", "-n", "team-a"),
    ("get", "secrets", "-n", "team-a"),
    ("get", "namespaces/team-a"),
    ("get", ECK, "-n", "team-a"),
    ("create", LEASES, "-n", NAMESPACE),
    ("get", f"{LEASES}/{LEASE}", "-n", NAMESPACE),
    ("update", f"{LEASES}/{LEASE}", "-n", NAMESPACE),
]

REFUSED = [
    ("get", IEP, "-n", "team-a"),  # kopf lists and watches; it never reads one by name
    ("create", IEP, "-n", "team-a"),
    ("update", IEP, "-n", "team-a"),
    ("delete", IEP, "-n", "team-a"),
    ("deletecollection", IEP, "-n", "team-a"),
    ("update", IEP, "--subresource=status", "-n", "team-a"),
    ("list", "secrets", "-n", "team-a"),
    ("watch", "secrets", "--all-namespaces"),
    ("update", "secrets", "-n", "team-a"),
    ("patch", "secrets", "-n", "team-a"),
    ("create", "secrets", "-n", "team-a"),
    ("delete", "secrets", "-n", "team-a"),
    ("list", "namespaces"),
    ("watch", "namespaces"),
    ("patch", "namespaces/team-a"),
    ("update", "namespaces/team-a"),
    ("delete", "namespaces/team-a"),
    ("list", ECK, "--all-namespaces"),
    ("watch", ECK, "--all-namespaces"),
    ("patch", ECK, "-n", "team-a"),
    ("get", "services", "-n", "team-a"),  # ECK's Service is named, never read
    ("patch", "events", "-n", "team-a"),
    ("create", "events.events.k8s.io", "-n", "team-a"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ("create", "kopfpeerings.kopf.dev", "-n", "team-a"),
    ("patch", "clusterkopfpeerings.kopf.dev"),
    ("create", "pods", "-n", "team-a"),
    ("list", "pods", "--all-namespaces"),
    ("create", "serviceaccounts/token", "-n", NAMESPACE),
    ("impersonate", "serviceaccounts", "-n", NAMESPACE),
    ("escalate", "clusterroles.rbac.authorization.k8s.io"),
    ("bind", "clusterroles.rbac.authorization.k8s.io"),
    ("patch", "clusterroles.rbac.authorization.k8s.io/es-inference-operator"),
    ("get", f"{LEASES}/another-lease", "-n", NAMESPACE),  # its own Lease only
    ("update", f"{LEASES}/another-lease", "-n", NAMESPACE),
    ("list", LEASES, "-n", NAMESPACE),
    ("watch", LEASES, "-n", NAMESPACE),
    ("patch", f"{LEASES}/{LEASE}", "-n", NAMESPACE),
    ("delete", f"{LEASES}/{LEASE}", "-n", NAMESPACE),
    ("create", LEASES, "-n", "team-a"),  # in its own namespace only
    ("get", f"{LEASES}/{LEASE}", "-n", "kube-system"),
    ("*", "*", "--all-namespaces"),
]


def test_the_service_account_may_do_what_the_operator_needs_and_nothing_else(
    control_plane: ControlPlane, installed: object, eck_crds: None, tmp_path: Path
) -> None:
    # With ECK's CRD served, as where ECK runs: kubectl resolves elasticsearches only then.
    kubeconfig = service_account_kubeconfig(control_plane, tmp_path / "operator.kubeconfig")
    assert kubectl_as(
        control_plane, kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    ).stdout == (f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}")
    answers = {}
    for check in ALLOWED + REFUSED:
        result = kubectl_as(control_plane, kubeconfig, "auth", "can-i", *check)
        answers[check] = result.stdout.strip()
        assert answers[check] in ("yes", "no"), (check, result.stderr)
    wrong = {c: a for c, a in answers.items() if a != ("yes" if c in ALLOWED else "no")}
    assert not wrong, f"can-i answers that break least privilege: {wrong}"


@pytest.mark.parametrize(
    "command",
    [
        ("get", "secrets", "-n", "kube-system"),
        ("get", IEP, "some-endpoint", "-n", "team-a"),
        ("delete", IEP, "some-endpoint", "-n", "team-a"),
    ],
)
def test_the_api_server_refuses_the_calls_themselves(
    control_plane: ControlPlane, installed: object, tmp_path: Path, command: tuple[str, ...]
) -> None:
    kubeconfig = service_account_kubeconfig(control_plane, tmp_path / "operator.kubeconfig")
    result = kubectl_as(control_plane, kubeconfig, *command)
    assert result.returncode != 0 and "Forbidden" in result.stderr, result.stderr
