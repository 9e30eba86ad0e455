"""`kubectl delete namespace` of a team's namespace that holds InferenceEndpoints, the connection Secret they use and
an ECK Elasticsearch (issue 15): the namespace is gone within a minute, the endpoints on the cluster that survives are
deleted (or kept, by policy), and those of the Elasticsearch deleted with the namespace went with it.

A control plane of its own, with kube-controller-manager: its namespace controller deletes what a namespace holds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from es_emulator import EmulatorServer, User
from testbed.controlplane import REPO_ROOT, ControlPlane
from testbed.eck import ELASTICSEARCH_CRD, TestTLS, eck_crd_file, eck_objects, elasticsearch
from testbed.stack import wait_for
from tests.support import ES_USER, Kube, Stack, endpoint_manifest, secret

TEAM = "team-search"
ECK_PASSWORD = "eck-elastic-password"
IN_USE = "inference.es-operator.dev/secret-in-use"


@pytest.fixture
def with_controllers(tmp_path: Path) -> Iterator[ControlPlane]:
    with ControlPlane(controller_manager=True) as cp:
        cp.install_crds(REPO_ROOT / "crds")
        cp.install_crds(eck_crd_file(tmp_path, ELASTICSEARCH_CRD))
        yield cp


@pytest.mark.parametrize("es_version", ["9.1.0"])
def test_deleting_a_namespace_completes_and_leaks_nothing(
    with_controllers: ControlPlane, emulator: EmulatorServer, tmp_path: Path
) -> None:
    cp = with_controllers
    cp.kubectl("create", "namespace", TEAM)
    kube = Kube(cp, TEAM)
    tls = TestTLS.for_hosts("localhost")
    eck_users = [User("elastic", ECK_PASSWORD, roles=["superuser"])]
    with EmulatorServer(
        version=emulator.version, security=True, users=eck_users, ssl_context=tls.server_context(tmp_path)
    ) as eck_es:
        stack = Stack(cp, TEAM, emulator, tmp_path)
        stack.start_operator(OPERATOR_ECK_URL_TEMPLATE=f"{{scheme}}://localhost:{eck_es.port}")
        try:
            # The team's connection Secret to a cluster that outlives the namespace, and endpoints through it.
            kube.apply(secret("search", url=emulator.url, username=ES_USER[0], password=ES_USER[1]))
            kube.apply(endpoint_manifest("via-secret", elasticsearchRef={"secretName": "search"}))
            kube.apply(endpoint_manifest("kept", deletionPolicy="Orphan", elasticsearchRef={"secretName": "search"}))
            # The team's own Elasticsearch, managed by ECK (played by the test), and an endpoint on it.
            cp.kubectl("apply", "-f", "-", input=json.dumps(elasticsearch(TEAM, "quickstart")))
            for obj in eck_objects(TEAM, "quickstart", tls=tls, elastic_password=ECK_PASSWORD):
                cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
            status = json.dumps({"status": {"phase": "Ready", "health": "green"}})
            kube.run("patch", "elasticsearch", "quickstart", "--subresource=status", "--type=merge", "-p", status)
            kube.apply(endpoint_manifest("on-eck", elasticsearchRef={"name": "quickstart"}))
            for name in ("via-secret", "kept", "on-eck"):
                kube.wait_condition(name, "Ready", timeout=30)

            # ECK deletes an Elasticsearch (and what it made for it): its endpoints went with it. Deleting a
            # resource of it then lets the resource go, says why, and sends nothing.
            cp.kubectl("-n", TEAM, "delete", "elasticsearch", "quickstart")
            for obj in eck_objects(TEAM, "quickstart", tls=tls, elastic_password=ECK_PASSWORD):
                cp.kubectl("-n", TEAM, "delete", obj["kind"].lower(), obj["metadata"]["name"], "--ignore-not-found")
            eck_es.requests.clear()
            kube.run("delete", "iep", "on-eck", "--wait=false")
            kube.wait_gone("on-eck", timeout=30)
            assert not [r for r in eck_es.requests.snapshot() if r.method == "DELETE"]
            gone = [e for e in kube.events("on-eck") if e["reason"] == "ElasticsearchGone"]
            assert gone and gone[0]["type"] == "Normal" and "no longer exists" in gone[0]["message"]

            # Another Elasticsearch of the team's, to be deleted with the namespace.
            cp.kubectl("apply", "-f", "-", input=json.dumps(elasticsearch(TEAM, "quickstart")))
            for obj in eck_objects(TEAM, "quickstart", tls=tls, elastic_password=ECK_PASSWORD):
                cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
            kube.run("patch", "elasticsearch", "quickstart", "--subresource=status", "--type=merge", "-p", status)
            kube.apply(endpoint_manifest("on-eck-2", elasticsearchRef={"name": "quickstart"}))
            kube.wait_condition("on-eck-2", "Ready", timeout=30)
            protected = json.loads(kube.run("get", "secret", "search", "-o", "json").stdout)["metadata"]
            assert "inference.es-operator.dev/secret-in-use" in protected["finalizers"]

            delete_namespace_and_wait(cp, TEAM, "iep,secret,elasticsearch", stack)
            assert stack.endpoint("via-secret") is None  # deleted on the cluster that survives
            assert stack.endpoint("kept") is not None  # kept, as its policy says
            # on-eck-2 was deleted through its Elasticsearch while that was still there, or let go once it was not:
            # whichever the namespace controller's order allowed; either way nothing waits.
        finally:
            if stack.operator is not None:
                stack.operator.stop()


@pytest.mark.parametrize("es_version", ["9.1.0"])
def test_a_secret_no_longer_named_loses_its_protection(
    control_plane_with_controllers: ControlPlane, emulator: EmulatorServer, tmp_path: Path
) -> None:
    """A resource Ready through Secret A, its spec then naming Secret B (the same Elasticsearch): A's protection
    goes (A can be deleted), B's comes; the same when the spec changes while the operator is down. Then `kubectl
    delete namespace` completes: no protection is left behind."""
    cp = control_plane_with_controllers
    team = f"t-{uuid.uuid4().hex[:8]}"
    cp.kubectl("create", "namespace", team)
    kube = Kube(cp, team)

    def finalizers(secret_name: str) -> list[str]:
        found = kube.run("get", "secret", secret_name, "--ignore-not-found", "-o", "json").stdout.strip()
        return list(json.loads(found)["metadata"].get("finalizers") or []) if found else []

    def ready_for_its_spec(name: str) -> dict[str, Any] | None:
        """The resource once it is Ready for the generation of its spec it has now (not the one before)."""
        obj = kube.get(name)
        ready = next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), None)
        current = obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        return obj if current and ready is not None and ready["status"] == "True" else None

    stack = Stack(cp, team, emulator, tmp_path)
    stack.start_operator()
    try:
        for name in ("search-a", "search-b", "search-c", "search-d"):
            kube.apply(secret(name, url=emulator.url, username=ES_USER[0], password=ES_USER[1]))
        kube.apply(endpoint_manifest("moved", elasticsearchRef={"secretName": "search-a"}))
        kube.apply(endpoint_manifest("moved-offline", elasticsearchRef={"secretName": "search-c"}))
        for name in ("moved", "moved-offline"):
            kube.wait_condition(name, "Ready", timeout=30)
        assert IN_USE in finalizers("search-a") and IN_USE in finalizers("search-c")

        # The spec names another Secret of the same Elasticsearch: Ready again, through it.
        kube.apply(endpoint_manifest("moved", elasticsearchRef={"secretName": "search-b"}))
        moved = wait_for("moved: Ready for its new spec", lambda: ready_for_its_spec("moved"), timeout=30)
        wait_for("search-a to lose its protection", lambda: IN_USE not in finalizers("search-a"), timeout=10)
        kube.run("delete", "secret", "search-a", "--wait=false")
        wait_for("search-a to be gone", lambda: not kube.exists("search-a", kind="secret"), timeout=10)
        assert IN_USE in finalizers("search-b")
        assert moved["status"]["protectedSecrets"] == ["search-b"]  # what its deletion, or a restart, lets go

        # The same while the operator is down: the resource's status recorded what was protected for it.
        assert stack.operator is not None
        stack.operator.stop()
        kube.apply(endpoint_manifest("moved-offline", elasticsearchRef={"secretName": "search-d"}))
        stack.start_operator()
        wait_for("moved-offline: Ready for its new spec", lambda: ready_for_its_spec("moved-offline"), timeout=30)
        wait_for("search-c to lose its protection", lambda: IN_USE not in finalizers("search-c"), timeout=10)
        assert IN_USE in finalizers("search-d")

        delete_namespace_and_wait(cp, team, "iep,secret", stack)
        assert stack.endpoint("moved") is None and stack.endpoint("moved-offline") is None  # deleted, not leaked
    except BaseException:
        if stack.operator is not None:
            print(f"--- operator log ({stack.operator.log_path}) ---\n{stack.operator.log_tail(120)}")
        raise
    finally:
        if stack.operator is not None:
            stack.operator.stop()


def delete_namespace_and_wait(cp: ControlPlane, namespace: str, kinds: str, stack: Stack) -> None:
    """`kubectl delete namespace`, then gone within a minute; on a timeout, what held it, and the operator's log."""
    cp.kubectl("delete", "namespace", namespace, "--wait=false")
    try:
        wait_for(
            "the namespace to be gone",
            lambda: not cp.kubectl("get", "namespace", namespace, "--ignore-not-found", "-o", "name").stdout.strip(),
            timeout=60,
        )
    except TimeoutError:
        print(cp.kubectl("get", "namespace", namespace, "-o", "yaml").stdout)
        print(cp.kubectl("get", kinds, "-n", namespace, "-o", "yaml").stdout)
        if stack.operator is not None:
            print(stack.operator.log_tail(80))
        raise
