"""ECK association: `spec.elasticsearchRef.name` points at an ECK Elasticsearch. ECK's real CRD (v3.5.0, pinned in
testbed/eck) is loaded into the API server; the tests play ECK's part: they create the Elasticsearch, then the
Service and Secrets as ECK names them, report the phase through the status subresource, and serve the emulator
over HTTPS with a CA of their own, as ECK's self-signed CA.

There is no cluster DNS here, so the operator is told where the Service answers with the development setting
OPERATOR_ECK_URL_TEMPLATE; everything else (which Secrets, TLS verified against ECK's CA, the elastic user) is
what the operator derives from the Elasticsearch's name. tests/unit/test_connections.py checks the default URL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.controlplane import ControlPlane
from testbed.eck import (
    TestTLS,
    eck_objects,
    elastic_user_secret,
    elasticsearch,
)
from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

ES_NAME = "quickstart"
FIRST_PASSWORD, ROTATED_PASSWORD = "first-elastic-password", "rotated-elastic-password"


@pytest.fixture
def es_version() -> str:
    return "9.1.0"


@pytest.fixture
def tls() -> TestTLS:
    # The name the operator connects to (OPERATOR_ECK_URL_TEMPLATE below) is in the certificate, as ECK puts
    # X-es-http.<ns>.svc in its own.
    return TestTLS.for_hosts("localhost")


@pytest.fixture
def emulator(es_version: str, tls: TestTLS, tmp_path: Path) -> Iterator[EmulatorServer]:
    """The emulator as ECK's Elasticsearch: HTTPS with the test's CA, the elastic user with ECK's password."""
    from es_emulator import EmulatorServer, User

    users = [User("elastic", FIRST_PASSWORD, roles=["superuser"])]
    context = tls.server_context(tmp_path)
    with EmulatorServer(version=es_version, security=True, users=users, ssl_context=context) as srv:
        yield srv


@pytest.fixture
def eck_stack(eck_crds: None, stack: Stack) -> Stack:
    """The operator, told that ECK's Services answer where the emulator listens (no cluster DNS here)."""
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_ECK_URL_TEMPLATE=f"{{scheme}}://localhost:{stack.es.port}")
    return stack


def eck_endpoint(name: str, **ref: str) -> dict[str, Any]:
    return endpoint_manifest(name, elasticsearchRef={"name": ES_NAME, **ref})


def set_phase(kube: Kube, phase: str, namespace: str | None = None) -> None:
    """What ECK does: report the Elasticsearch's phase through the status subresource."""
    status = json.dumps({"status": {"phase": phase, "health": "green" if phase == "Ready" else "unknown"}})
    kube.cp.kubectl(
        "-n", namespace or kube.namespace, "patch", "elasticsearch", ES_NAME,
        "--subresource=status", "--type=merge", "-p", status,
    )  # fmt: skip


def play_eck(kube: Kube, tls: TestTLS, namespace: str | None = None, annotations: dict[str, str] | None = None) -> None:
    """The Elasticsearch as a user applies it, then what ECK creates for it, then Ready."""
    namespace = namespace or kube.namespace
    kube.cp.kubectl("apply", "-f", "-", input=json.dumps(elasticsearch(namespace, ES_NAME, annotations=annotations)))
    for obj in eck_objects(namespace, ES_NAME, tls=tls, elastic_password=FIRST_PASSWORD):
        kube.cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    set_phase(kube, "Ready", namespace)


def test_the_eck_story_not_ready_ready_create_rotate_delete(eck_stack: Stack, kube: Kube, tls: TestTLS) -> None:
    es = eck_stack.es

    # Not there yet: the resource says so, with a reason of its own, and nothing goes to Elasticsearch.
    kube.apply(eck_endpoint("e5"))
    waiting = kube.wait_condition("e5", "Ready", "False", reason="ElasticsearchNotReady")
    assert f"Elasticsearch {kube.namespace}/{ES_NAME} does not exist (yet)" in waiting["message"]
    assert kube.condition("e5", "Reconciling")["status"] == "True"  # type: ignore[index]

    # It exists, ECK is still at work: still a wait, not a connection error.
    kube.cp.kubectl("apply", "-f", "-", input=json.dumps(elasticsearch(kube.namespace, ES_NAME)))
    set_phase(kube, "ApplyingChanges")
    wait_for(
        "the message to name ECK's phase",
        lambda: "(phase ApplyingChanges)" in (kube.condition("e5", "Ready") or {}).get("message", ""),
        timeout=15,
    )
    assert kube.condition("e5", "Ready")["reason"] == "ElasticsearchNotReady"  # type: ignore[index]
    assert not es.requests.find("PUT"), "nothing may be sent before the Elasticsearch is Ready"

    # ECK created the Service and the Secrets, and reports Ready: the operator connects over HTTPS, verifies
    # ECK's CA, logs in as elastic with the password from X-es-elastic-user, and creates the endpoint.
    for obj in eck_objects(kube.namespace, ES_NAME, tls=tls, elastic_password=FIRST_PASSWORD):
        kube.cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    set_phase(kube, "Ready")
    kube.wait_condition("e5", "Ready", timeout=30)
    assert es.state.endpoint("e5") is not None
    assert es.requests.find("PUT", "/_inference/text_embedding/e5")

    # The elastic user's password is rotated (as ECK does when its Secret is deleted): the old one no longer
    # logs in, and the operator picks up the new one from the Secret.
    from es_emulator import User

    es.security.users["elastic"] = User("elastic", ROTATED_PASSWORD, roles=("superuser",))
    failing = kube.wait_condition("e5", "Synced", "False", reason="ElasticsearchAuthFailed", timeout=15)
    assert f"Elasticsearch {kube.namespace}/{ES_NAME}" in failing["message"]
    rotated = elastic_user_secret(kube.namespace, ES_NAME, ROTATED_PASSWORD)
    kube.cp.kubectl("apply", "-f", "-", input=json.dumps(rotated))
    kube.wait_condition("e5", "Synced", "True", timeout=15)
    assert kube.condition("e5", "Ready")["status"] == "True"  # type: ignore[index]

    # Delete: through ECK's Elasticsearch, with the new password.
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5", timeout=30)
    assert es.state.endpoint("e5") is None
    assert FIRST_PASSWORD not in eck_stack.operator.log_text()  # type: ignore[union-attr]
    assert ROTATED_PASSWORD not in eck_stack.operator.log_text()  # type: ignore[union-attr]


def test_a_deletion_goes_through_when_the_elasticsearch_never_became_ready(eck_stack: Stack, kube: Kube) -> None:
    kube.apply(eck_endpoint("never-created"))
    kube.wait_condition("never-created", "Ready", "False", reason="ElasticsearchNotReady")
    kube.run("delete", "iep", "never-created", "--wait=false")
    kube.wait_gone("never-created", timeout=30)
    assert not eck_stack.es.requests.find("PUT")


def test_an_elasticsearch_in_another_namespace_must_allow_the_reference(
    eck_stack: Stack, kube: Kube, tls: TestTLS, control_plane: ControlPlane
) -> None:
    search = f"t-search-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", search)
    play_eck(kube, tls, namespace=search)

    kube.apply(eck_endpoint("e5", namespace=search))
    refused = kube.wait_condition("e5", "Ready", "False", reason="ReferenceNotAllowed")
    # It says how to allow it, on the Elasticsearch's side, and the resource waits for a person (Stalled).
    expected = (
        f"kubectl annotate elasticsearch -n {search} {ES_NAME} --overwrite "
        f"inference.es-operator.dev/allowed-namespaces={kube.namespace}"
    )
    assert expected in refused["message"]
    assert kube.condition("e5", "Stalled")["status"] == "True"  # type: ignore[index]
    assert not eck_stack.es.requests.find("PUT")

    # The Elasticsearch's owner allows this namespace (the command from the message): the next resync uses it.
    control_plane.kubectl(*expected.removeprefix("kubectl ").split())
    kube.wait_condition("e5", "Ready", timeout=30)
    assert eck_stack.es.state.endpoint("e5") is not None


def service(kube: Kube, name: str, selector: dict[str, str], labels: dict[str, str] | None = None) -> None:
    """A Service in the test's namespace, as its owner would create it."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"ports": [{"name": "https", "port": 9200, "targetPort": 9200}], "selector": selector},
    }
    kube.apply(manifest)


OF_QUICKSTART = {"elasticsearch.k8s.elastic.co/cluster-name": ES_NAME, "common.k8s.elastic.co/type": "elasticsearch"}


def test_service_name_must_name_a_service_of_that_elasticsearch(eck_stack: Stack, kube: Kube, tls: TestTLS) -> None:
    """serviceName receives the elastic user's credentials: only a Service that sends its traffic to that
    Elasticsearch's pods (its selector has ECK's labels for it) is used, whatever the TLS settings; any other is
    ReferenceNotAllowed and is sent nothing at all."""
    es = eck_stack.es
    play_eck(kube, tls)
    # A proxy of somebody's, with ECK's labels copied onto the Service itself: labels say nothing of where it sends.
    service(kube, "my-proxy", {"app": "my-proxy"}, labels=OF_QUICKSTART)
    es.requests.clear()

    kube.apply(eck_endpoint("via-proxy", serviceName="my-proxy"))
    refused = kube.wait_condition("via-proxy", "Ready", "False", reason="ReferenceNotAllowed")
    assert refused["message"].startswith(
        f"Service {kube.namespace}/my-proxy (elasticsearchRef.serviceName) is not one of Elasticsearch "
        f"{kube.namespace}/{ES_NAME}'s: it does not select its pods by elasticsearch.k8s.elastic.co/cluster-name="
        f"{ES_NAME} and common.k8s.elastic.co/type=elasticsearch, so the operator sends it no credentials"
    )
    assert refused["message"].endswith("(ECK's labels on that Elasticsearch's pods)")
    assert kube.condition("via-proxy", "Stalled")["status"] == "True"  # type: ignore[index]

    # TLS off (the password would travel in the clear): refused all the same.
    tls_off = {"spec": {"http": {"tls": {"selfSignedCertificate": {"disabled": True}}}}}
    kube.run("patch", "elasticsearch", ES_NAME, "--type=merge", "-p", json.dumps(tls_off))
    kube.apply(eck_endpoint("via-proxy-plain", serviceName="my-proxy"))
    kube.wait_condition("via-proxy-plain", "Ready", "False", reason="ReferenceNotAllowed")
    # Not even a GET /: neither credentials nor anything else went anywhere.
    assert len(es.requests) == 0

    # A Service of the Elasticsearch's own (ECK's "Traffic splitting": its coordinating nodes) is used.
    kube.run("patch", "elasticsearch", ES_NAME, "--type=json", "-p", '[{"op":"remove","path":"/spec/http"}]')
    service(kube, "coordinating", {**OF_QUICKSTART, "elasticsearch.k8s.elastic.co/node-master": "false"})
    kube.apply(eck_endpoint("via-coordinating", serviceName="coordinating"))
    kube.wait_condition("via-coordinating", "Ready", timeout=30)
    assert es.state.endpoint("via-coordinating") is not None


def test_crd_refuses_secret_name_with_an_eck_reference(eck_crds: None, kube: Kube) -> None:
    manifest = endpoint_manifest("mixed", elasticsearchRef={"name": ES_NAME, "secretName": "search-cluster"})
    result = kube.apply(manifest, check=False)
    assert result.returncode != 0
    assert "secretName cannot be combined with name, namespace or serviceName" in result.stderr
    result = kube.apply(endpoint_manifest("empty", elasticsearchRef={"serviceName": "x"}), check=False)
    assert result.returncode != 0
    assert "elasticsearchRef needs name (an ECK Elasticsearch) or secretName" in result.stderr


def test_the_examples_are_valid_resources(eck_crds: None, kube: Kube) -> None:
    """Every manifest in examples/ (ECK references, labelled Secrets) passes the API server's validation."""
    from testbed.controlplane import REPO_ROOT

    examples = sorted((REPO_ROOT / "examples").glob("*.yaml"))
    assert any(path.name == "eck.yaml" for path in examples)
    for path in examples:
        kube.run("apply", "--dry-run=server", "-f", str(path))
