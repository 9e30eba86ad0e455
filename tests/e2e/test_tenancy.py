"""Tenancy (issue 15), through kubectl: a node that has not joined its cluster decides nothing about ownership,
and no namespace can take or block another's inference id."""

from __future__ import annotations

import json
import uuid

import pytest

from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest

LEFT_ALONE_EVENTS = {"EndpointLeftBehind", "Adopted", "NotOurs"}


def other_namespace(kube: Kube) -> Kube:
    name = f"t-{uuid.uuid4().hex[:8]}"
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"testbed/test": "true"}}}
    kube.cp.kubectl("create", "-f", "-", input=json.dumps(manifest))
    return Kube(kube.cp, name)


def test_a_cluster_that_reports_na_is_no_identity(stack: Stack, kube: Kube) -> None:
    """While the node answers GET / with cluster_uuid "_na_", the resource says the cluster is not formed and
    retries; nothing about ownership changes, and a deletion waits for the cluster rather than letting the
    endpoint go as somebody else's."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    ownership = kube.get("e5")["status"]["ownership"]

    stack.es.cluster_formed = False
    synced = kube.wait_condition("e5", "Synced", "False", reason="ElasticsearchUnavailable", timeout=20)
    assert "not part of a formed cluster" in synced["message"]
    stack.wait_for_reconciles(3)
    assert kube.get("e5")["status"]["ownership"] == ownership
    assert "leftBehind" not in kube.get("e5")["status"]

    kube.run("delete", "iep", "e5", "--wait=false")
    waiting = kube.wait_condition("e5", "DeletionBlocked", "False", reason="ElasticsearchUnavailable", timeout=20)
    assert "not part of a formed cluster" in waiting["message"]
    stack.wait_for_reconciles(3)
    assert kube.exists("e5") and stack.endpoint("e5") is not None

    stack.es.cluster_formed = True
    kube.wait_gone("e5", timeout=30)
    assert stack.endpoint("e5") is None
    assert not LEFT_ALONE_EVENTS & {e["reason"] for e in kube.events("e5")}


@pytest.mark.parametrize("es_version", ["9.1.0"])
def test_no_namespace_can_take_or_block_anothers_inference_id(stack: Stack, kube: Kube) -> None:
    """An older resource in another namespace that names the id through a connection that cannot be resolved
    blocks nobody; the resource that creates the endpoint keeps it; a later claimant elsewhere gets Conflict and
    takes over only once the owner is gone."""
    team_b = other_namespace(kube)
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(also_watch=(team_b.namespace,))

    kube.apply(endpoint_manifest("broken", inferenceId="shared", elasticsearchRef={"secretName": "does-not-exist"}))
    kube.wait_condition("broken", "Ready", "False", reason="ConfigurationError")
    team_b.apply(endpoint_manifest("owner", inferenceId="shared"))
    team_b.wait_condition("owner", "Ready", timeout=30)  # not held up by the older, broken claimant
    assert team_b.get("owner")["status"]["ownership"]["state"] == "Created"

    kube.apply(endpoint_manifest("late", inferenceId="shared"))
    conflict = kube.wait_condition("late", "Conflict", timeout=30)
    assert f"{team_b.namespace}/owner" in conflict["message"]
    kube.run("delete", "iep", "late", "--wait=false")
    kube.wait_gone("late")
    assert stack.endpoint("shared") is not None  # the loser's deletion touched nothing

    kube.apply(endpoint_manifest("late", inferenceId="shared"))
    kube.wait_condition("late", "Conflict", timeout=30)
    team_b.run("delete", "iep", "owner", "--wait=false")
    team_b.wait_gone("owner")
    # The owner deleted its endpoint; the other claimant is woken at once and creates its own.
    ready = kube.wait_condition("late", "Ready", timeout=30)
    assert ready["reason"] == "Available"
    wait_for("the endpoint made again", lambda: stack.endpoint("shared"), timeout=10)
    assert kube.get("late")["status"]["ownership"]["state"] == "Created"
