"""Resources that wait never stall the others (issue 9). kopf runs at most OPERATOR_MAX_WORKERS resources at
once, and a kopf handler that asks to be retried later sleeps in its worker, keeping the slot. The operator's
reconciles therefore retry through its own queue: resources failing against an Elasticsearch that is down hold no
slot, and a resource on a healthy Elasticsearch goes Ready meanwhile."""

from __future__ import annotations

import asyncio
import json

from es_inference_operator.contract import FINALIZER
from es_inference_operator.kube import StatusWriter
from testbed.controlplane import ControlPlane
from testbed.stack import free_port, wait_for
from tests.support import Kube, Stack, endpoint_manifest, secret

STUCK = 4


def test_resources_retrying_against_a_dead_elasticsearch_do_not_stall_a_healthy_one(stack: Stack, kube: Kube) -> None:
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_MAX_WORKERS="2", OPERATOR_RETRY_BASE_SECONDS="5")
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    kube.apply(secret("dead-cluster", url=nobody_listens, username="elastic", password="changeme"))
    for i in range(STUCK):  # twice as many as there are slots
        kube.apply(endpoint_manifest(f"stuck-{i}", elasticsearchRef={"secretName": "dead-cluster"}))
    for i in range(STUCK):
        kube.wait_condition(f"stuck-{i}", "Ready", status="False", reason="ElasticsearchUnavailable")

    kube.apply(endpoint_manifest("healthy"))
    kube.wait_condition("healthy", "Ready", timeout=30)
    assert stack.endpoint("healthy") is not None
    # The others are still retrying, and say so.
    assert kube.condition("stuck-0", "Reconciling")["status"] == "True"  # type: ignore[index]


def test_a_finished_deletion_takes_off_only_its_own_finalizer(stack: Stack, kube: Kube) -> None:
    """The operator takes its finalizer off itself when a deletion is done (kopf would keep the worker for its
    consistency timeout after it): another controller's finalizer stays, and so does the object."""
    manifest = endpoint_manifest("e5")
    manifest["metadata"]["finalizers"] = ["example.com/keep-me"]  # type: ignore[index]
    kube.apply(manifest)
    kube.wait_condition("e5", "Ready")
    assert sorted(kube.get("e5")["metadata"]["finalizers"]) == ["example.com/keep-me", FINALIZER]

    kube.run("delete", "iep", "e5", "--wait=false")
    wait_for(
        "only the other finalizer left",
        lambda: kube.get("e5")["metadata"]["finalizers"] == ["example.com/keep-me"],
        timeout=30,
    )
    assert stack.endpoint("e5") is None
    kube.run("patch", "iep", "e5", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    kube.wait_gone("e5", timeout=30)


def test_the_finalizer_is_released_only_from_the_version_the_handler_saw(
    control_plane: ControlPlane, namespace: str
) -> None:
    """StatusWriter.release_finalizer on the real API server (no operator): a stale resourceVersion leaves
    everything to kopf; the current one takes off the operator's finalizer alone, and the object stays while
    another finalizer holds it."""
    kube = Kube(control_plane, namespace)
    manifest = endpoint_manifest("e5")
    manifest["metadata"]["finalizers"] = [FINALIZER, "example.com/keep-me"]  # type: ignore[index]
    kube.run("create", "-f", "-", input=json.dumps(manifest))
    stale = kube.get("e5")["metadata"]["resourceVersion"]
    kube.run("label", "iep", "e5", "changed=yes")  # a newer version
    kube.run("delete", "iep", "e5", "--wait=false")
    current = kube.get("e5")["metadata"]
    writer = StatusWriter(control_plane.api_client())

    assert not asyncio.run(writer.release_finalizer(namespace, "e5", current["finalizers"], stale))
    assert kube.get("e5")["metadata"]["finalizers"] == [FINALIZER, "example.com/keep-me"]

    assert asyncio.run(writer.release_finalizer(namespace, "e5", current["finalizers"], current["resourceVersion"]))
    assert kube.get("e5")["metadata"]["finalizers"] == ["example.com/keep-me"]
    kube.run("patch", "iep", "e5", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    kube.wait_gone("e5", timeout=30)
