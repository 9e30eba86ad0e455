"""Create, adopt, keep in line, report: the operator on the real API server against the emulator, acting
through kubectl as a user does. Every test runs against an 8.x and a 9.x Elasticsearch profile."""

from __future__ import annotations

import json

import yaml

from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest, secret


def openai_endpoint(name: str, **spec: object) -> dict[str, object]:
    return endpoint_manifest(
        name,
        service="openai",
        serviceSettings={"model_id": "text-embedding-3-small"},
        serviceSettingsSecretRefs={"api_key": {"name": "openai", "key": "api-key"}},
        **spec,
    )


def test_apply_creates_the_endpoint_and_reports_ready(stack: Stack, kube: Kube) -> None:
    kube.apply(secret("openai", **{"api-key": "sk-first"}))
    kube.apply(openai_endpoint("embeddings"))
    ready = kube.wait_condition("embeddings", "Ready")
    assert ready["reason"] == "Available"

    obj = kube.get("embeddings")
    status = obj["status"]
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["inferenceId"] == "embeddings"
    assert status["ownership"]["state"] == "Created"
    assert status["elasticsearchVersion"] == stack.es.version
    assert obj["metadata"]["finalizers"] == ["inference.es-operator.dev/finalizer"]
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"Ready": "True", "Synced": "True", "Reconciling": "False", "Stalled": "False"}

    endpoint = stack.endpoint("embeddings")
    assert endpoint is not None
    assert endpoint["service"] == "openai"
    assert endpoint["service_settings"]["model_id"] == "text-embedding-3-small"
    # The key reached Elasticsearch, and appears nowhere in Kubernetes.
    assert stack.es.state.secret_settings("embeddings")["api_key"] == "sk-first"
    assert "sk-first" not in kube.run("get", "iep", "embeddings", "-o", "yaml").stdout
    assert "sk-first" not in stack.operator.log_text()  # type: ignore[union-attr]

    listing = kube.run("get", "iep").stdout
    assert "embeddings" in listing and "text_embedding" in listing and "True" in listing
    # One event for a create (issue 9: the Ready transition is said by Created, not by a second event).
    assert [(e["type"], e["reason"]) for e in kube.events("embeddings")] == [("Normal", "Created")]


def test_kopf_writes_nothing_on_the_resources(stack: Stack, kube: Kube) -> None:
    """kopf only watches: no bookkeeping annotation, no status of its own, no finalizer but the operator's."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    stack.wait_for_reconciles(2)
    obj = kube.get("e5")
    assert list(obj["metadata"].get("annotations", {})) == ["kubectl.kubernetes.io/last-applied-configuration"]
    assert "operator" not in obj["status"]
    assert obj["metadata"]["finalizers"] == ["inference.es-operator.dev/finalizer"]
    shown = json.loads(kube.run("get", "iep", "e5", "--show-managed-fields", "-o", "json").stdout)
    managers = {entry["manager"] for entry in shown["metadata"]["managedFields"]}
    assert managers == {"kubectl-client-side-apply", "es-inference-operator"}


ADOPT = "inference.es-operator.dev/adopt"


def test_an_endpoint_made_outside_is_never_taken_without_the_adopt_annotation(stack: Stack, kube: Kube) -> None:
    """Issue 15: an endpoint made with curl holds a production key. A resource with its id and a spec that sets
    only model_id matches it as far as Elasticsearch shows (api_key is never returned): without the adopt
    annotation it is AlreadyExists, and nothing is ever written to or deleted from the endpoint, forced or not.
    With the annotation (a new resource), it is adopted once and managed from then on."""
    made_with_curl = {
        "service": "openai",
        "service_settings": {"model_id": "text-embedding-3-small", "api_key": "sk-production"},
    }
    assert stack.es_call("PUT", "/_inference/text_embedding/prod-embeddings", made_with_curl)[0] == 200
    kube.apply(secret("mine", **{"api-key": "sk-mine"}))
    manifest = endpoint_manifest(
        "embeddings",
        inferenceId="prod-embeddings",
        service="openai",
        serviceSettings={"model_id": "text-embedding-3-small"},
        serviceSettingsSecretRefs={"api_key": {"name": "mine", "key": "api-key"}},
    )
    stack.es.requests.clear()

    kube.apply(manifest)
    refused = kube.wait_condition("embeddings", "Ready", "False", reason="AlreadyExists")
    assert refused["message"] == (
        "inference endpoint prod-embeddings already exists in Elasticsearch and was not created by this resource; "
        "it is left untouched (never written to nor deleted by this resource) (looked at again within 3 s and on "
        "any change). If it is yours to manage from here: "
        f"kubectl annotate -n {kube.namespace} inferenceendpoint/embeddings {ADOPT}=true"
    )
    assert kube.condition("embeddings", "Stalled")["status"] == "True"  # type: ignore[index]
    assert not kube.get("embeddings")["status"].get("ownership")

    # Forced and deleted: the finalizer goes, and the endpoint stays as it was.
    kube.run("annotate", "iep", "embeddings", "inference.es-operator.dev/force=true")
    kube.run("delete", "iep", "embeddings", "--wait=false")
    kube.wait_gone("embeddings")
    writes = [(r.method, r.path) for r in stack.es.requests.snapshot() if r.method in ("PUT", "POST", "DELETE")]
    assert writes == []
    assert stack.es.state.secret_settings("prod-embeddings")["api_key"] == "sk-production"
    assert stack.endpoint("prod-embeddings") is not None

    # Asked for: a new resource with the annotation adopts it, once, and manages it as if it had made it (its own
    # key replaces the production one: the reason the annotation is asked for, and guarded by a policy).
    kube.apply({**manifest, "metadata": {"name": "embeddings", "annotations": {ADOPT: "true"}}})
    kube.wait_condition("embeddings", "Ready", timeout=30)
    adopter = kube.get("embeddings")
    assert adopter["status"]["ownership"]["state"] == "Adopted"
    assert stack.es.state.secret_settings("prod-embeddings")["api_key"] == "sk-mine"
    stack.wait_for_reconciles(2)
    events = [e for e in kube.events("embeddings") if e["involvedObject"]["uid"] == adopter["metadata"]["uid"]]
    adopted = [e for e in events if e["reason"] == "Adopted"]
    assert len(adopted) == 1 and adopted[0].get("count", 1) == 1, events

    stack.es.requests.clear()
    kube.apply({**manifest, "metadata": {"name": "embeddings", "annotations": {ADOPT: "true"}}, "spec": {
        **manifest["spec"], "taskSettings": {"user": "search-team"}}})  # fmt: skip
    wait_for(
        "the task settings in Elasticsearch",
        lambda: (stack.endpoint("prod-embeddings") or {}).get("task_settings") == {"user": "search-team"},
        timeout=20,
    )
    calls = [(r.method, r.path) for r in stack.es.requests.snapshot()]
    assert ("PUT", "/_inference/text_embedding/prod-embeddings/_update") in calls

    kube.run("delete", "iep", "embeddings", "--wait=false")
    kube.wait_gone("embeddings")
    assert stack.endpoint("prod-embeddings") is None  # deletionPolicy Delete (the default): deleted with it


def test_an_existing_endpoint_of_another_service_cannot_be_adopted(stack: Stack, kube: Kube) -> None:
    """The annotation takes over only an endpoint of the same task type and service; another is left alone, and
    the message says why and what to do instead."""
    body = {"service": "elasticsearch", "service_settings": {"model_id": ".elser_model_2", "num_allocations": 1,
                                                              "num_threads": 1}}  # fmt: skip
    assert stack.es_call("PUT", "/_inference/sparse_embedding/e5", body)[0] == 200
    stack.es.requests.clear()
    kube.apply({**endpoint_manifest("e5"), "metadata": {"name": "e5", "annotations": {ADOPT: "true"}}})
    refused = kube.wait_condition("e5", "Ready", "False", reason="AlreadyExists")
    assert refused["message"].startswith(
        "inference endpoint e5 already exists in Elasticsearch with another task type or service (it differs in "
    )
    assert refused["message"].endswith(
        "it cannot be adopted and is left untouched (looked at again within 3 s and on any change). "
        "Use another inferenceId"
    )
    assert kube.condition("e5", "Stalled")["status"] == "True"  # type: ignore[index]

    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert stack.endpoint("e5")["task_type"] == "sparse_embedding"  # type: ignore[index]
    assert not [r for r in stack.es.requests.snapshot() if r.method in ("PUT", "POST", "DELETE")]


def test_elasticsearch_refusal_is_reported_with_its_own_words(stack: Stack, kube: Kube) -> None:
    kube.apply(endpoint_manifest("bad", service="no-such-service", serviceSettings={"x": 1}))
    ready = kube.wait_condition("bad", "Ready", "False", reason="ElasticsearchRejected")
    assert "Unknown service [no-such-service]" in ready["message"]
    assert "Traceback" not in ready["message"]
    assert kube.condition("bad", "Stalled")["status"] == "True"  # type: ignore[index]


def test_a_task_settings_change_goes_through_the_update_api(stack: Stack, kube: Kube) -> None:
    kube.apply(secret("openai", **{"api-key": "sk-1"}))
    kube.apply(openai_endpoint("chat", taskType="completion", taskSettings={"user": "a"}))
    kube.wait_condition("chat", "Ready")
    stack.es.requests.clear()

    kube.apply(openai_endpoint("chat", taskType="completion", taskSettings={"user": "b"}))
    wait_for(
        "the new task settings in Elasticsearch",
        lambda: stack.endpoint("chat")["task_settings"] == {"user": "b"},
        timeout=20,
    )  # type: ignore[index]
    obj = kube.get("chat")
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 2
    calls = [(r.method, r.path) for r in stack.es.requests.snapshot()]
    assert ("PUT", "/_inference/completion/chat/_update") in calls
    assert not [r for r in stack.es.requests.snapshot() if r.method == "DELETE" and r.query.get("dry_run") != "true"]


def test_allocations_of_an_in_cluster_model_are_updated_in_place(stack: Stack, kube: Kube) -> None:
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    more = endpoint_manifest("e5")
    more["spec"]["serviceSettings"]["num_allocations"] = 2
    kube.apply(more)
    wait_for(
        "two allocations in Elasticsearch",
        lambda: stack.endpoint("e5")["service_settings"]["num_allocations"] == 2,
        timeout=20,
    )  # type: ignore[index]
    assert ("PUT", "/_inference/text_embedding/e5/_update") in [
        (r.method, r.path) for r in stack.es.requests.snapshot()
    ]
    kube.wait_condition("e5", "Ready")
    assert any(e["reason"] == "Updated" for e in kube.events("e5"))


def test_a_rotated_secret_reaches_elasticsearch(stack: Stack, kube: Kube) -> None:
    kube.apply(secret("openai", **{"api-key": "sk-old"}))
    kube.apply(openai_endpoint("rotating"))
    kube.wait_condition("rotating", "Ready")
    kube.apply(secret("openai", **{"api-key": "sk-new"}))
    wait_for(
        "the new key in Elasticsearch",
        lambda: stack.es.state.secret_settings("rotating")["api_key"] == "sk-new",
        timeout=20,
    )


def test_a_missing_secret_is_reported_then_picked_up(stack: Stack, kube: Kube) -> None:
    kube.apply(openai_endpoint("waiting"))
    ready = kube.wait_condition("waiting", "Ready", "False", reason="ConfigurationError")
    assert "Secret" in ready["message"] and "openai" in ready["message"] and "not found" in ready["message"]
    kube.apply(secret("openai", **{"api-key": "sk-late"}))
    kube.wait_condition("waiting", "Ready", timeout=30)


def test_an_endpoint_deleted_behind_the_operators_back_is_recreated(stack: Stack, kube: Kube) -> None:
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    assert stack.es_call("DELETE", "/_inference/e5")[0] == 200
    wait_for("the endpoint to be back", lambda: stack.endpoint("e5"), timeout=20)
    wait_for("a Recreated event", lambda: any(e["reason"] == "Recreated" for e in kube.events("e5")), timeout=10)


def test_an_endpoint_replaced_behind_the_operators_back_is_reported_and_left_alone(stack: Stack, kube: Kube) -> None:
    """Re-created by somebody else with another model: no longer this resource's (its recorded settings differ),
    so it is neither overwritten nor, later, deleted."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    # Somebody re-creates the id with another model.
    other = {
        "service": "elasticsearch",
        "service_settings": {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1},
    }
    stack.es_call("DELETE", "/_inference/e5")
    stack.es_call("PUT", "/_inference/text_embedding/e5", other)
    ready = kube.wait_condition("e5", "Ready", "False", reason="ConfigurationMismatch", timeout=20)
    assert "serviceSettings.model_id" in ready["message"] and "replaced outside the operator" in ready["message"]
    # The record of what it created stays: every later look says the same, and the deletion knows.
    assert kube.get("e5")["status"]["ownership"]["serviceSettings"]["model_id"] == ".multilingual-e5-small"
    stack.wait_for_reconciles(2)  # the next looks (every 2 s here) say the same
    assert kube.condition("e5", "Ready")["message"] == ready["message"]  # type: ignore[index]
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert stack.endpoint("e5")["service_settings"]["model_id"] == ".elser_model_2"  # type: ignore[index]


def test_a_second_claim_on_the_same_id_gets_a_conflict_and_touches_nothing(stack: Stack, kube: Kube) -> None:
    kube.apply(endpoint_manifest("first", inferenceId="shared"))
    kube.wait_condition("first", "Ready")
    kube.apply(
        endpoint_manifest(
            "second",
            inferenceId="shared",
            serviceSettings={"model_id": ".multilingual-e5-small", "num_allocations": 2, "num_threads": 1},
        )
    )
    conflict = kube.wait_condition("second", "Conflict")
    assert f"{kube.namespace}/first" in conflict["message"]
    assert kube.condition("second", "Ready")["status"] == "False"  # type: ignore[index]

    stack.es.requests.clear()
    kube.run("delete", "iep", "second", "--wait=false")
    kube.wait_gone("second")
    assert stack.endpoint("shared")["service_settings"]["num_allocations"] == 1  # type: ignore[index]
    assert not [
        r
        for r in stack.es.requests.snapshot()
        if r.method == "PUT" or (r.method == "DELETE" and r.query.get("dry_run") != "true")
    ]


def test_two_claims_applied_together_agree_on_one_owner(stack: Stack, kube: Kube) -> None:
    """Applied in one go (the same creation second): exactly one manages the endpoint, the other reports the
    conflict, whatever order the operator sees them in."""
    both = [endpoint_manifest(name, inferenceId="shared") for name in ("one", "two")]
    kube.apply(yaml.safe_dump_all(both))

    def settled() -> tuple[str, str] | None:
        ready = {name for name in ("one", "two") if (kube.condition(name, "Ready") or {}).get("status") == "True"}
        conflicted = {
            name for name in ("one", "two") if (kube.condition(name, "Conflict") or {}).get("status") == "True"
        }
        if len(ready) == 1 and len(conflicted) == 1 and ready != conflicted:
            return ready.pop(), conflicted.pop()
        return None

    owner, other = wait_for("one owner and one conflict", settled, timeout=30)
    assert kube.get(owner)["status"]["ownership"]["state"] in ("Created", "Adopted")
    assert not kube.get(other)["status"].get("ownership")
    assert f"{kube.namespace}/{owner}" in kube.condition(other, "Conflict")["message"]  # type: ignore[index]


def test_nothing_is_written_when_nothing_changed(stack: Stack, kube: Kube) -> None:
    """After Ready, resyncs and an Argo CD-style annotation change neither write the object nor call the
    update API: GitOps tools see no churn."""
    kube.apply(endpoint_manifest("quiet"))
    kube.wait_condition("quiet", "Ready")
    # Let the create cycle settle (kopf's last bookkeeping patch), then watch several resync periods.
    wait_for(
        "no pending kopf progress",
        lambda: not any("reconcile" in k for k in kube.get("quiet")["metadata"].get("annotations", {})),
        timeout=10,
    )
    version = kube.get("quiet")["metadata"]["resourceVersion"]
    stack.es.requests.clear()
    kube.run("annotate", "iep", "quiet", "argocd.argoproj.io/tracking-id=app:inference.es-operator.dev/x")
    version = kube.get("quiet")["metadata"]["resourceVersion"]
    wait_for(
        "two resyncs",
        lambda: (
            len([r for r in stack.es.requests.snapshot() if r.method == "GET" and r.path.startswith("/_inference")])
            >= 2
        ),
        timeout=15,
    )
    assert kube.get("quiet")["metadata"]["resourceVersion"] == version
    # Only reads: GETs and the dry runs that keep status.references current.
    assert not [
        r
        for r in stack.es.requests.snapshot()
        if r.method != "GET" and not (r.method == "DELETE" and r.query.get("dry_run") == "true")
    ]
