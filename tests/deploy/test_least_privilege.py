"""Least privilege, proven: the operator runs as its ServiceAccount, with the ClusterRole and the leader
election Role of manifests/base and the arguments and environment the Deployment gives it (leader election on),
cluster-wide as deployed, on a control plane of its own that writes an audit log. It plays the core flows;
then the log shows no refusal, and the audit log shows that it made exactly the calls the roles grant: every
rule used, nothing else asked for, the Lease only by its name in the operator's namespace.

A control plane of its own, because the operator runs cluster-wide here (as deployed) and must not touch
other tests' resources, and because the API server needs its audit flags from the start.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.controlplane import ControlPlane
from testbed.eck import ELASTICSEARCH_CRD, eck_crd_file, elasticsearch
from testbed.stack import OperatorProcess, es_request, free_port, wait_for
from tests.support import FAST_OPERATOR_SETTINGS, Kube, endpoint_manifest, pipeline_using, secret

from .support import (
    CONNECTION_SECRET,
    NAMESPACE,
    SA_USER,
    Permission,
    find,
    granted,
    install_command,
    pod_environment,
    render,
    resource_names,
    run_shell,
    service_account_kubeconfig,
)

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

pytestmark = pytest.mark.e2e

ES_ADMIN = ("elastic", "changeme")
# The operator's Elasticsearch identity: an API key whose owner has only the privileges the README names.
ES_OPERATOR_PRIVILEGES = ("manage_inference", "monitor")
AUDIT_POLICY = f"""\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    users: ["{SA_USER}"]
  - level: None
"""
FORBIDDEN = re.compile(r"forbidden|(?<![\w.=:/-])403(?![\w.:/-])", re.IGNORECASE)
# Discovery, which every authenticated identity may read (the bootstrap ClusterRole system:discovery).
DISCOVERY = re.compile(r"^/(api|apis)(/[^/?]+){0,2}/?(\?.*)?$|^/version/?$")


@dataclass
class Audited:
    cp: ControlPlane
    log: Path

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [e for e in map(json.loads, lines) if e.get("user", {}).get("username") == SA_USER]


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    folder = tmp_path_factory.mktemp("audit")
    policy, log = folder / "policy.yaml", folder / "audit.log"
    policy.write_text(AUDIT_POLICY)
    args = [f"--audit-policy-file={policy}", f"--audit-log-path={log}", "--audit-log-format=json"]
    with ControlPlane(apiserver_args=args) as cp:
        yield Audited(cp, log)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    from es_emulator import ApiKey, EmulatorServer, Role, User

    role = Role("es-inference-operator", cluster=ES_OPERATOR_PRIVILEGES)
    with EmulatorServer(
        version="9.1.0",
        security=True,
        users=[User(*ES_ADMIN, roles=["superuser"]), User("operator", "unused", roles=[role.name])],
        roles=[role],
        api_keys=[ApiKey("operator-key", "operator-secret", owner="operator")],
    ) as srv:
        yield srv


def used_permissions(events: list[dict[str, Any]]) -> tuple[set[Permission], set[str], list[str]]:
    """(resource permissions used, non-resource paths read, refusals) from the audit events."""
    used: set[Permission] = set()
    paths: set[str] = set()
    refused: list[str] = []
    for event in events:
        code = event.get("responseStatus", {}).get("code")
        if code in (401, 403):
            refused.append(f"{code} {event['verb']} {event['requestURI']}")
        ref = event.get("objectRef")
        if ref is None:
            paths.add(event["requestURI"])
        else:
            used.add((ref.get("apiGroup", ""), ref["resource"], ref.get("subresource", ""), event["verb"]))
    return used, paths, refused


def test_the_operator_runs_on_exactly_the_granted_rbac(
    audited: Audited, emulator: EmulatorServer, tmp_path: Path
) -> None:
    cp = audited.cp
    # The install, as the README says (CRD, namespace, ServiceAccount, RBAC, Deployment, Service).
    run_shell(cp, install_command())
    cp.wait_for_crds(["inferenceendpoints.inference.es-operator.dev"])
    base = render(cp, "base")
    container = find(base, "Deployment")["spec"]["template"]["spec"]["containers"][0]

    # The connection Secret (README), and the operator with the Deployment's environment and arguments, as
    # its ServiceAccount (a TokenRequest token), watching all namespaces.
    key = emulator.security.api_keys["operator-key"]
    cp.kubectl(
        "create", "secret", "generic", CONNECTION_SECRET, "-n", NAMESPACE,
        f"--from-literal=url={emulator.url}", f"--from-literal=api-key={key.encoded}",
    )  # fmt: skip
    env = {k: v for k, v in cp.env().items() if not k.startswith(("ELASTICSEARCH_", "OPERATOR_"))}
    env["KUBECONFIG"] = str(service_account_kubeconfig(cp, tmp_path / "operator.kubeconfig"))
    env.update(pod_environment(cp, container))
    assert env["ELASTICSEARCH_API_KEY"] == key.encoded and "ELASTICSEARCH_USERNAME" not in env
    env.update(FAST_OPERATOR_SETTINGS, OPERATOR_METRICS_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    operator = OperatorProcess(env=env, log_path=tmp_path / "operator.log", extra_args=tuple(container["args"]))

    for name in ("team-a", "team-b"):
        cp.kubectl("create", "namespace", name)
    team_a, team_b = Kube(cp, "team-a"), Kube(cp, "team-b")
    try:
        operator.start()
        operator.wait_leading(30)  # the first replica: it creates the Lease

        # Create -> Ready, with the API key for the service from a Secret (secrets: get).
        team_a.apply(secret("openai", **{"api-key": "sk-from-a-secret"}))
        team_a.apply(
            endpoint_manifest(
                "embeddings",
                service="openai",
                serviceSettings={"model_id": "text-embedding-3-small"},
                serviceSettingsSecretRefs={"api_key": {"name": "openai", "key": "api-key"}},
            )
        )
        team_a.wait_condition("embeddings", "Ready", timeout=30)
        assert emulator.state.secret_settings("embeddings")["api_key"] == "sk-from-a-secret"

        # The namespace's deletion-policy annotation (namespaces: get): Orphan keeps the endpoint.
        cp.kubectl("annotate", "namespace", "team-b", "inference.es-operator.dev/deletion-policy=Orphan")
        team_b.apply(endpoint_manifest("kept"))
        team_b.wait_condition("kept", "Ready", timeout=30)
        team_b.run("delete", "iep", "kept", "--wait=false")
        team_b.wait_gone("kept", timeout=30)
        assert es_request(emulator.url, "GET", "/_inference/kept", auth=ES_ADMIN)[0] == 200

        # An ECK reference (elasticsearches: get), with ECK's real CRD: the Elasticsearch exists, and ECK has not
        # made it Ready, so the resource waits and reads no Secret of it (tests/e2e/test_eck.py connects).
        cp.install_crds(eck_crd_file(tmp_path, ELASTICSEARCH_CRD))
        cp.kubectl("apply", "-f", "-", input=json.dumps(elasticsearch("team-b", "quickstart")))
        team_b.apply(endpoint_manifest("on-eck", elasticsearchRef={"name": "quickstart"}))
        team_b.wait_condition("on-eck", "Ready", "False", reason="ElasticsearchNotReady", timeout=30)

        # A deletion blocked by a pipeline: the condition (status: patch) and a Warning Event (events: create).
        pipeline = pipeline_using("embeddings")
        assert es_request(emulator.url, "PUT", "/_ingest/pipeline/embed", pipeline, auth=ES_ADMIN)[0] == 200
        team_a.run("delete", "iep", "embeddings", "--wait=false")
        blocked = team_a.wait_condition("embeddings", "DeletionBlocked", timeout=30)
        assert blocked["reason"] == "InUse" and "embed" in blocked["message"]
        warnings = wait_for(
            "the InUse warning event",
            lambda: [e for e in team_a.events("embeddings") if e["type"] == "Warning" and e["reason"] == "InUse"],
            timeout=10,
        )
        assert warnings[0]["reportingComponent"] == "es-inference-operator"

        # Force -> gone (the annotation wakes the blocked deletion; kopf patches its finalizer away).
        team_a.run("annotate", "iep", "embeddings", "inference.es-operator.dev/force=true")
        team_a.wait_gone("embeddings", timeout=15)
        assert es_request(emulator.url, "GET", "/_inference/embeddings", auth=ES_ADMIN)[0] == 404
        peak_rss_mib = _peak_rss_mib(operator)
    finally:
        operator.stop()  # also ends its watches, so that the audit log has them complete
        log = operator.log_text()

    resources = container["resources"]
    limit = resources["limits"]["memory"]
    print(
        f"operator peak RSS {peak_rss_mib:.0f} MiB; Deployment request {resources['requests']['memory']}, limit {limit}"
    )
    mib = {"Mi": 1, "Gi": 1024}
    assert limit[-2:] in mib and peak_rss_mib < int(limit[:-2]) * mib[limit[-2:]]
    # No refusal anywhere in the operator's log: kopf's APIForbiddenError, the Kubernetes client's "(403)
    # Reason: Forbidden", an Elasticsearch 403 (not a resourceVersion=403, a timestamp or a uid).
    forbidden = [line for line in log.splitlines() if FORBIDDEN.search(line)]
    assert not forbidden, "\n".join(forbidden[:10])

    events = audited.events()
    used, paths, refused = used_permissions(events)
    assert not refused, refused
    # It listed and watched across all namespaces, as deployed (not namespace by namespace).
    reads = [
        e for e in events if e.get("objectRef", {}).get("resource") == "inferenceendpoints" and e["verb"] != "patch"
    ]
    assert reads and all("namespace" not in e["objectRef"] for e in reads)
    lease_role = find(base, "Role")
    rules = granted(find(base, "ClusterRole")) | granted(lease_role, named=True)
    assert used - rules == set(), "calls the API server allowed only through another rule"
    assert rules - used == set(), "granted but never used by these flows"
    assert all(DISCOVERY.match(path) for path in paths), sorted(paths)
    # The Lease: in the operator's namespace, by its name where the Role names it; released at the end.
    leases = [e for e in events if e.get("objectRef", {}).get("resource") == "leases"]
    assert {e["objectRef"]["namespace"] for e in leases} == {NAMESPACE}
    named = resource_names(lease_role)
    for event in leases:
        ref = event["objectRef"]
        permission = (ref["apiGroup"], ref["resource"], ref.get("subresource", ""), event["verb"])
        assert permission not in named or ref.get("name") in named[permission], event["requestURI"]
    assert "released the Lease" in log


def _peak_rss_mib(operator: OperatorProcess) -> float:
    assert operator.process is not None
    status = Path(f"/proc/{operator.process.pid}/status")
    if not status.exists():  # not Linux
        return 0.0
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
