"""Behaviour that differs by Elasticsearch version (reference §0), each on the profile where it differs."""

from __future__ import annotations

import pytest

from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest, pipeline_using, secret


@pytest.mark.parametrize("es_version", ["8.15.0"])
def test_8_15_dry_run_lists_pipelines_only(stack: Stack, kube: Kube) -> None:
    """8.15 reports and checks pipelines only: a semantic_text index does not hold a deletion there."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    stack.es_call("PUT", "/_ingest/pipeline/embed", pipeline_using("e5"))
    kube.run("delete", "iep", "e5", "--wait=false")
    blocked = kube.wait_condition("e5", "DeletionBlocked")
    assert "embed" in blocked["message"] and "indexes" not in blocked["message"]
    refs = kube.get("e5")["status"]["references"]
    assert refs == {"pipelines": ["embed"], "indexes": [], "pipelineCount": 1, "indexCount": 0}
    stack.es_call("DELETE", "/_ingest/pipeline/embed")
    kube.wait_gone("e5", timeout=60)


def chat_endpoint(user: str) -> dict[str, object]:
    return endpoint_manifest(
        "chat",
        taskSettings={"user": user},
        taskType="completion",
        service="openai",
        serviceSettings={"model_id": "gpt-4o-mini"},
        serviceSettingsSecretRefs={"api_key": {"name": "k", "key": "k"}},
    )


@pytest.mark.parametrize("es_version", ["8.16.0"])
def test_before_8_17_there_is_no_update_api(stack: Stack, kube: Kube) -> None:
    kube.apply(chat_endpoint("a"))
    kube.apply(secret("k", k="sk"))  # opted in to use by InferenceEndpoints (README, Security)
    kube.wait_condition("chat", "Ready")
    kube.apply(chat_endpoint("b"))
    ready = kube.wait_condition("chat", "Ready", "False", reason="UpdateNotSupported")
    assert "taskSettings" in ready["message"] and "8.16.0" in ready["message"]
    assert stack.endpoint("chat")["task_settings"] == {"user": "a"}  # type: ignore[index]
    assert not [r for r in stack.es.requests.snapshot() if r.path.endswith("/_update")]


@pytest.mark.parametrize("es_version", ["8.15.0", "9.5.0"])
def test_oldest_and_newest_profiles_create_and_delete(stack: Stack, kube: Kube) -> None:
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    assert kube.get("e5")["status"]["elasticsearchVersion"] == stack.es.version
    kube.run("delete", "iep", "e5", "--wait=false")
    kube.wait_gone("e5")
    assert stack.endpoint("e5") is None


@pytest.mark.parametrize("es_version", ["9.5.0"])
def test_9_5_updates_chunking_settings_in_place(stack: Stack, kube: Kube) -> None:
    chunking = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
    kube.apply(endpoint_manifest("e5", chunkingSettings=chunking))
    kube.wait_condition("e5", "Ready")
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 20}
    kube.apply(endpoint_manifest("e5", chunkingSettings=chunking))
    kube.wait_condition("e5", "Ready")
    wait_for(
        "the new chunking settings",
        lambda: stack.endpoint("e5")["chunking_settings"] == chunking,  # type: ignore[index]
        timeout=20,
    )
