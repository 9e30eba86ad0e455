"""`helm install` and `helm uninstall` of the chart on a real API server, with the operator then running the
usual story as the ServiceAccount the chart created.

There is no kubelet in the testbed, so nothing runs the Deployment: the test runs the operator as a local
process with the Deployment's arguments and environment (the connection Secret's keys read from the API
server) and a token of the chart's ServiceAccount, exactly as tests/deploy/test_least_privilege.py does for
the Kustomize install.

A control plane of its own: the README's command installs the CRD and cluster-scoped objects under fixed names,
which the session's control plane already has from crds/ and tests/deploy, and the uninstall is watched from a
clean state.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, free_port
from tests.deploy.support import (
    NAMESPACE,
    SERVICE_ACCOUNT,
    find,
    kubectl_as,
    pod_environment,
    readme_command,
    run_shell,
    service_account_kubeconfig,
)
from tests.support import ES_USER, FAST_OPERATOR_SETTINGS, Kube, endpoint_manifest, pipeline_using

from .support import CHART, RELEASE, Helm

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

pytestmark = pytest.mark.e2e

CRD = "inferenceendpoints.inference.es-operator.dev"
CONNECTION_SECRET = "elasticsearch-connection"  # the chart's default elasticsearch.secretName


@pytest.fixture(scope="module")
def helm_plane() -> Iterator[ControlPlane]:
    """A control plane with nothing installed: the chart brings the CRD."""
    with ControlPlane() as cp:
        yield cp


def _release_manifest(helm: Helm, cp: ControlPlane) -> list[dict[str, Any]]:
    text = helm.run("get", "manifest", RELEASE, "-n", NAMESPACE, cp=cp).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _operator_as_deployed(helm: Helm, cp: ControlPlane, kubeconfig: Path, log: Path) -> OperatorProcess:
    """The operator as the release's Deployment would run it: its arguments and environment (Secret keys read
    from the API server), as the chart's ServiceAccount (a TokenRequest token in `kubeconfig`)."""
    container = find(_release_manifest(helm, cp), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {k: v for k, v in cp.env().items() if not k.startswith(("ELASTICSEARCH_", "OPERATOR_"))}
    env["KUBECONFIG"] = str(kubeconfig)
    env.update(pod_environment(cp, container))
    assert env["ELASTICSEARCH_USERNAME"] == ES_USER[0] and "ELASTICSEARCH_API_KEY" not in env
    env.update(FAST_OPERATOR_SETTINGS, OPERATOR_METRICS_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    return OperatorProcess(env=env, log_path=log, extra_args=tuple(container["args"]))


def test_helm_install_runs_the_operator_story_and_uninstall_keeps_the_crd(
    helm: Helm, helm_plane: ControlPlane, emulator: EmulatorServer, tmp_path: Path
) -> None:
    cp = helm_plane
    # The README's command, verbatim, with helm first on PATH and the admin kubeconfig.
    install = run_shell(cp, readme_command("helm install"), env=helm.env(cp))
    assert "STATUS: deployed" in install.stdout, install.stdout
    assert f"Secret {CONNECTION_SECRET} exists" in install.stdout  # NOTES.txt
    cp.wait_for_crds([CRD])
    crd = cp.kubectl_json("get", "crd", CRD)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
    deployment = cp.kubectl_json("get", "deployment", RELEASE, "-n", NAMESPACE)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == SERVICE_ACCOUNT

    # The connection Secret the chart names, pointing at the emulator.
    cp.kubectl(
        "create", "secret", "generic", CONNECTION_SECRET, "-n", NAMESPACE,
        f"--from-literal=url={emulator.url}", f"--from-literal=username={ES_USER[0]}",
        f"--from-literal=password={ES_USER[1]}",
    )  # fmt: skip
    kubeconfig = service_account_kubeconfig(cp, tmp_path / "operator.kubeconfig")
    for name in ("team-a", "team-b"):
        cp.kubectl("create", "namespace", name)
    team_a = Kube(cp, "team-a")

    operator = _operator_as_deployed(helm, cp, kubeconfig, tmp_path / "operator.log")
    try:
        operator.start()
        operator.wait_leading(30)  # with the Lease, through the chart's leader election Role
        # Apply -> Ready.
        team_a.apply(endpoint_manifest("embeddings"))
        team_a.wait_condition("embeddings", "Ready", timeout=30)
        assert es_request(emulator.url, "GET", "/_inference/embeddings", auth=ES_USER)[0] == 200

        # A pipeline uses it -> the deletion is blocked, naming the pipeline.
        pipeline = pipeline_using("embeddings")
        assert es_request(emulator.url, "PUT", "/_ingest/pipeline/embed", pipeline, auth=ES_USER)[0] == 200
        team_a.run("delete", "iep", "embeddings", "--wait=false")
        blocked = team_a.wait_condition("embeddings", "DeletionBlocked", timeout=30)
        assert blocked["reason"] == "InUse" and "embed" in blocked["message"]

        # Force -> gone, in Elasticsearch too.
        team_a.run("annotate", "iep", "embeddings", "inference.es-operator.dev/force=true")
        team_a.wait_gone("embeddings", timeout=15)
        assert es_request(emulator.url, "GET", "/_inference/embeddings", auth=ES_USER)[0] == 404
    finally:
        operator.stop()
    assert "Forbidden" not in operator.log_text(), operator.log_tail()

    # Confined to team-a by an upgrade: a RoleBinding there replaces the ClusterRoleBinding, and the operator
    # runs with --namespace=team-a. The upgrade is of a next version of the chart whose CRD has one more short
    # name: being a template, the CRD is updated (Helm never updates what is in a chart's crds/ folder).
    next_chart = tmp_path / "next" / CHART.name
    shutil.copytree(CHART, next_chart)
    crd_copy = next(next_chart.glob("files/crds/*.yaml"))
    assert crd_copy.read_text().count("shortNames: [iep]") == 1
    crd_copy.write_text(crd_copy.read_text().replace("shortNames: [iep]", "shortNames: [iep, infep]"))
    upgrade = helm.run(
        "upgrade",
        RELEASE,
        str(next_chart),
        "-n",
        NAMESPACE,
        "--reuse-values",
        "--set=watchNamespaces={team-a}",
        cp=cp,
    )
    assert "STATUS: deployed" in upgrade.stdout
    assert cp.kubectl_json("get", "crd", CRD)["spec"]["names"]["shortNames"] == ["iep", "infep"]
    answers = {
        check: kubectl_as(cp, kubeconfig, "auth", "can-i", *check).stdout.strip()
        for check in [
            ("get", "secrets", "-n", "team-a"),
            ("list", CRD, "-n", "team-a"),
            ("get", "namespaces/team-a", "-n", "team-a"),  # the namespace of a namespace request is its name
            ("get", "secrets", "-n", "team-b"),
            ("list", CRD, "-n", "team-b"),
            ("list", CRD, "--all-namespaces"),
        ]
    }
    assert list(answers.values()) == ["yes", "yes", "yes", "no", "no", "no"], answers

    operator = _operator_as_deployed(helm, cp, kubeconfig, tmp_path / "operator-confined.log")
    assert operator.extra_args == ("--log-format=json", "--namespace=team-a")
    try:
        operator.start()
        operator.wait_leading(30)  # with the Lease, through the chart's leader election Role
        # The namespace's deletion policy (get on the namespace, through the RoleBinding): Orphan keeps it.
        cp.kubectl("annotate", "namespace", "team-a", "inference.es-operator.dev/deletion-policy=Orphan")
        team_a.apply(endpoint_manifest("orphaned"))
        team_a.wait_condition("orphaned", "Ready", timeout=30)
        team_a.run("delete", "iep", "orphaned", "--wait=false")
        team_a.wait_gone("orphaned", timeout=30)
        assert es_request(emulator.url, "GET", "/_inference/orphaned", auth=ES_USER)[0] == 200

        # One left in place for the uninstall below.
        team_a.apply(endpoint_manifest("kept"))
        team_a.wait_condition("kept", "Ready", timeout=30)
    finally:
        operator.stop()
    assert "Forbidden" not in operator.log_text(), operator.log_tail()

    # Uninstall, the README's command verbatim: the operator's objects go, the CRD and the resources stay.
    uninstall = run_shell(cp, readme_command("helm uninstall"), env=helm.env(cp))
    assert "kept due to the resource policy" in uninstall.stdout + uninstall.stderr, uninstall.stdout
    cp.kubectl("get", "crd", CRD)
    assert team_a.exists("kept")
    for kind, name in [
        ("deployment", RELEASE),
        ("serviceaccount", SERVICE_ACCOUNT),
        ("service", f"{RELEASE}-metrics"),
        ("poddisruptionbudget", RELEASE),
        ("role", f"{RELEASE}-leader-election"),
        ("rolebinding", f"{RELEASE}-leader-election"),
    ]:
        assert not cp.kubectl("get", kind, name, "-n", NAMESPACE, "--ignore-not-found", "-o", "name").stdout
    for kind in ("clusterrole", "clusterrolebinding"):
        assert not cp.kubectl("get", kind, RELEASE, "--ignore-not-found", "-o", "name").stdout
    assert not cp.kubectl("get", "rolebinding", RELEASE, "-n", "team-a", "--ignore-not-found", "-o", "name").stdout
