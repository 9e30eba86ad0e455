"""Deletion through the finalizer: dry run first, blocked while referenced, forced on request, never lost on
an error. Through kubectl, on the real API server, against an 8.x and a 9.x profile."""

from __future__ import annotations

import time

import pytest

from es_inference_operator.decisions import url_origin
from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest, pipeline_using, secret

FINALIZER = "inference.es-operator.dev/finalizer"


def ready_endpoint(kube: Kube, name: str = "e5", **spec: object) -> None:
    kube.apply(endpoint_manifest(name, **spec))
    kube.wait_condition(name, "Ready")


def es_calls(stack: Stack, method: str = "DELETE") -> list[tuple[str, dict[str, str]]]:
    return [(r.path, dict(r.query)) for r in stack.es.requests.snapshot() if r.method == method]


def deletes(stack: Stack) -> list[tuple[str, dict[str, str]]]:
    """The DELETE calls that delete (the periodic resync also sends dry runs)."""
    return [(path, query) for path, query in es_calls(stack) if query.get("dry_run") != "true"]


def test_an_unreferenced_endpoint_is_deleted_after_a_dry_run(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    stack.es.requests.clear()
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert stack.endpoint("e5") is None
    calls = es_calls(stack)
    assert calls[-2:] == [
        ("/_inference/text_embedding/e5", {"dry_run": "true"}),
        ("/_inference/text_embedding/e5", {}),  # no force: Elasticsearch's own 409 guards the race
    ]


def test_a_referenced_endpoint_blocks_then_goes_once_the_pipeline_is_gone(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    assert stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))[0] == 200
    kube.run("delete", "iep", "e5", "--wait=false")

    blocked = kube.wait_condition("e5", "DeletionBlocked")
    assert blocked["reason"] == "InUse"
    assert "embed-docs" in blocked["message"]
    assert "kubectl annotate" in blocked["message"] and "inference.es-operator.dev/force=true" in blocked["message"]
    obj = kube.get("e5")
    assert obj["metadata"]["finalizers"] == [FINALIZER]
    assert obj["status"]["references"] == {
        "pipelines": ["embed-docs"],
        "indexes": [],
        "pipelineCount": 1,
        "indexCount": 0,
    }
    assert stack.endpoint("e5") is not None
    assert "InUse" in kube.run("get", "iep", "e5").stdout  # the Deletion column

    # An expected wait, not an error, in the operator's log.
    assert stack.operator is not None
    wait_for(
        "the wait in the operator's log",
        lambda: (
            f"{kube.namespace}/e5: deletion waits: inference endpoint e5 is referenced" in stack.operator.log_text()
        ),
        timeout=10,
    )
    assert "failed temporarily" not in stack.operator.log_text() and "Traceback" not in stack.operator.log_text()

    warnings = [e for e in kube.events("e5") if e["type"] == "Warning" and e["reason"] == "InUse"]
    assert len(warnings) == 1 and warnings[0].get("count", 1) == 1

    # The pipeline goes: the deletion completes on its own at the next re-check.
    stack.es_call("DELETE", "/_ingest/pipeline/embed-docs")
    kube.wait_gone("e5", timeout=60)
    assert stack.endpoint("e5") is None
    assert all(q.get("force") != "true" for _, q in es_calls(stack))


@pytest.mark.parametrize("key", ["inference.es-operator.dev/force", "force"])
def test_the_force_annotation_deletes_a_blocked_endpoint_at_once(stack: Stack, kube: Kube, key: str) -> None:
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_condition("e5", "DeletionBlocked")

    started = time.monotonic()
    kube.run("annotate", "iep", "e5", f"{key}=true")
    # The re-check interval is 30 s here: only the wake-up on the annotation makes this quick.
    kube.wait_gone("e5", timeout=10)
    elapsed = time.monotonic() - started
    print(f"force annotation -> gone: {elapsed:.2f} s")
    assert stack.endpoint("e5") is None
    assert ("/_inference/text_embedding/e5", {"force": "true"}) in es_calls(stack)


def test_a_corrected_force_annotation_wakes_the_deletion_at_once(stack: Stack, kube: Kube) -> None:
    """Seen: `force=True` (not forcing: the value must be `true`), then `--overwrite ...=true`, waited for the
    next re-check (10-15 s). Every change of either key to `true` wakes a blocked deletion."""
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_condition("e5", "DeletionBlocked")
    kube.run("annotate", "iep", "e5", "inference.es-operator.dev/force=True")
    # Let the operator see the wrong value on its own. It writes nothing when it does (by design), so there is
    # no condition to poll: a fixed second, well past kopf's 0.1 s batching of events.
    time.sleep(1.0)
    assert kube.exists("e5")
    kube.run("annotate", "--overwrite", "iep", "e5", "inference.es-operator.dev/force=true")
    # The re-check interval is 30 s here: only the wake-up on the annotation makes this quick.
    kube.wait_gone("e5", timeout=10)
    assert stack.endpoint("e5") is None


def test_a_force_annotation_set_before_the_delete_skips_the_dry_run(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("annotate", "iep", "e5", "force=true")
    stack.es.requests.clear()
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert deletes(stack) == [("/_inference/text_embedding/e5", {"force": "true"})]


@pytest.mark.parametrize("value", ["false", "yes", "True"])
def test_any_other_annotation_value_does_not_force(stack: Stack, kube: Kube, value: str) -> None:
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("annotate", "iep", "e5", f"inference.es-operator.dev/force={value}")
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_condition("e5", "DeletionBlocked")
    assert stack.endpoint("e5") is not None


def test_references_show_in_status_before_any_deletion(stack: Stack, kube: Kube) -> None:
    """The resync's dry run keeps status.references current, so that an admission policy can refuse a
    delete at once (policies/refuse-delete-while-referenced)."""
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    wait_for(
        "the pipeline in status.references",
        lambda: kube.get("e5")["status"].get("references", {}).get("pipelines") == ["embed-docs"],
        timeout=20,
    )
    stack.es_call("DELETE", "/_ingest/pipeline/embed-docs")
    wait_for(
        "the pipeline gone from status.references",
        lambda: kube.get("e5")["status"]["references"]["pipelines"] == [],
        timeout=20,
    )
    assert kube.condition("e5", "Ready")["status"] == "True"  # type: ignore[index]


def test_a_semantic_text_index_blocks_the_deletion(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    mapping = {"mappings": {"properties": {"body": {"type": "semantic_text", "inference_id": "e5"}}}}
    assert stack.es_call("PUT", "/articles", mapping)[0] == 200
    kube.run("delete", "iep", "e5", "--wait=false")
    blocked = kube.wait_condition("e5", "DeletionBlocked")
    assert "articles" in blocked["message"]
    refs = kube.get("e5")["status"]["references"]
    assert refs == {"pipelines": [], "indexes": ["articles"], "pipelineCount": 0, "indexCount": 1}
    stack.es_call("DELETE", "/articles")
    kube.wait_gone("e5", timeout=60)


def test_orphan_policy_leaves_the_endpoint(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube, deletionPolicy="Orphan")
    stack.es.requests.clear()
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert stack.endpoint("e5") is not None
    assert deletes(stack) == []


def test_a_namespace_annotation_sets_the_default_policy(stack: Stack, kube: Kube) -> None:
    kube.cp.kubectl("annotate", "namespace", kube.namespace, "inference.es-operator.dev/deletion-policy=Orphan")
    ready_endpoint(kube, "kept")
    ready_endpoint(kube, "deleted", deletionPolicy="Delete")  # the resource's own field wins
    kube.run("delete", "iep", "kept", "deleted", "--wait=false")
    kube.wait_gone("kept")
    kube.wait_gone("deleted")
    assert stack.endpoint("kept") is not None
    assert stack.endpoint("deleted") is None


def test_elasticsearch_down_keeps_the_finalizer_until_it_is_back(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    stack.es.down()
    try:
        kube.run("delete", "iep", "e5", "--wait=false")
        waiting = kube.wait_condition("e5", "DeletionBlocked", "False", reason="ElasticsearchUnavailable")
        assert "retried" in waiting["message"]
        assert kube.get("e5")["metadata"]["finalizers"] == [FINALIZER]
    finally:
        stack.es.up()
    kube.wait_gone("e5", timeout=30)
    assert stack.endpoint("e5") is None


@pytest.mark.parametrize("fault", ["429", "500", "503", "dropped"])
def test_passing_failures_are_retried_not_given_up(stack: Stack, kube: Kube, fault: str) -> None:
    """Answers of 429 or 5xx, and connections dropped without an answer, keep the finalizer until they pass."""
    ready_endpoint(kube)
    if fault == "dropped":
        stack.es.faults.drop_next(2)
    else:
        stack.es.faults.fail_next(3, status=int(fault))
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5", timeout=30)
    assert stack.endpoint("e5") is None
    assert 'outcome="unavailable"' in stack.metrics()


def test_a_restarted_operator_carries_on_with_a_blocked_deletion(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_condition("e5", "DeletionBlocked")
    assert stack.operator is not None
    stack.operator.kill()
    kube.run("annotate", "iep", "e5", "force=true")  # while no operator runs
    assert kube.exists("e5")
    stack.start_operator()
    kube.wait_gone("e5", timeout=30)
    assert stack.endpoint("e5") is None


def test_the_blocked_deletion_gauge_counts(stack: Stack, kube: Kube) -> None:
    ready_endpoint(kube)
    stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_condition("e5", "DeletionBlocked")
    assert stack.operator is not None

    # The resource metrics are computed at most once a second: the next scrapes show the wait.
    def scrape_showing_it() -> str | None:
        text = stack.metrics()
        return text if "es_inference_operator_deletions_blocked 1.0" in text else None

    metrics = wait_for("the blocked deletion in the metrics", scrape_showing_it, timeout=5)
    assert 'es_inference_operator_deletions_waiting{reason="InUse"} 1.0' in metrics
    assert 'es_inference_operator_reconciles_total{operation="reconcile",outcome="success"}' in metrics
    assert 'es_inference_operator_reconciles_total{operation="delete",outcome="requeue"}' in metrics
    assert 'operation="dry_run_delete"' in metrics


def connection_secret(stack: Stack, username: str, password: str) -> dict[str, object]:
    return secret("es", url=stack.es.url, username=username, password=password)


@pytest.mark.parametrize(
    ("username", "password", "reason", "words", "code"),
    [
        ("elastic", "wrong", "ElasticsearchAuthFailed", "unable to authenticate user [elastic]", "401"),
        ("viewer", "viewer-pw", "ElasticsearchAuthFailed", "is unauthorized for user [viewer]", "403"),
    ],
    ids=["401", "403"],
)
def test_refused_credentials_keep_the_finalizer_until_fixed(
    stack: Stack, kube: Kube, username: str, password: str, reason: str, words: str, code: str
) -> None:
    """The connection comes from the resource's own Secret here; a person breaks, then mends it. The metrics the
    credentials alert reads say so: requests refused with outcome auth and the code, the cluster down, then up."""
    kube.apply(connection_secret(stack, "elastic", "changeme"))
    ready_endpoint(kube, elasticsearchRef={"secretName": "es"})
    kube.apply(connection_secret(stack, username, password))
    kube.run("delete", "iep", "e5", "--wait=false")
    waiting = kube.wait_condition("e5", "DeletionBlocked", "False", reason=reason)
    assert words in waiting["message"]
    assert kube.get("e5")["metadata"]["finalizers"] == [FINALIZER]
    assert stack.endpoint("e5") is not None
    cluster = url_origin(stack.es.url)
    scrape = stack.metrics()
    refused = [
        line
        for line in scrape.splitlines()
        if line.startswith("es_inference_operator_elasticsearch_requests_total{")
        and f'cluster="{cluster}"' in line
        and 'outcome="auth"' in line
        and f'code="{code}"' in line
    ]
    assert refused and float(refused[0].rsplit(" ", 1)[1]) >= 1, scrape
    assert f'es_inference_operator_elasticsearch_up{{cluster="{cluster}"}} 0.0' in scrape

    kube.apply(connection_secret(stack, "elastic", "changeme"))
    kube.wait_gone("e5", timeout=30)
    assert stack.endpoint("e5") is None
    assert f'es_inference_operator_elasticsearch_up{{cluster="{cluster}"}} 1.0' in stack.metrics()
