"""The crash matrix (issue 8): the operator is killed with SIGKILL at each step of each flow and started again.

The kill points are deterministic: the emulator holds the step's request (before Elasticsearch acts on it, or
after, holding only the answer) until the operator is dead. For each point the end state must be: exactly one
endpoint with the spec's configuration (or none after a delete), the resource Ready (or gone), no
ConfigurationMismatch on the operator's own endpoint, and a bystander endpoint of another resource untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from es_emulator.faults import Hold
from tests.support import Kube, Stack, endpoint_manifest

ENDPOINT = r"/_inference/(text_embedding/)?e5"
HOLD_TIMEOUT = 30.0


@dataclass(frozen=True)
class KillPoint:
    method: str
    path_regex: str
    after_apply: bool
    query: dict[str, str | None] | None = None  # {"dry_run": None}: a DELETE that is not a dry run


CREATE_POINTS = {
    "before-put": KillPoint("PUT", ENDPOINT, after_apply=False),
    "after-put-before-status": KillPoint("PUT", ENDPOINT, after_apply=True),
}
DELETE_POINTS = {
    "after-dry-run-before-delete": KillPoint("DELETE", ENDPOINT, after_apply=False, query={"dry_run": None}),
    "after-delete-before-finalizer": KillPoint("DELETE", ENDPOINT, after_apply=True, query={"dry_run": None}),
}
UPDATE_POINTS = {
    "during-update-before-apply": KillPoint("PUT", ENDPOINT + "/_update", after_apply=False),
    "during-update-after-apply": KillPoint("PUT", ENDPOINT + "/_update", after_apply=True),
}


def arm(stack: Stack, point: KillPoint) -> Hold:
    """Hold the operator's next request of `point`: armed before the step that sends it, or it may pass."""
    return stack.es.faults.hold(point.method, point.path_regex, after_apply=point.after_apply, query=point.query)


def kill_when_held(stack: Stack, hold: Hold) -> None:
    """Once the request is held, SIGKILL the operator and start it again."""
    assert hold.wait_held(HOLD_TIMEOUT), f"no {hold.method} {hold.path_regex} came"
    assert stack.operator is not None
    stack.operator.kill()
    hold.release()  # the client is gone: what Elasticsearch did (or not) stays as it is
    stack.start_operator()


def with_bystander(stack: Stack, kube: Kube) -> dict[str, object]:
    """Another resource's endpoint on the same Elasticsearch, which no step may touch."""
    kube.apply(endpoint_manifest("bystander"))
    kube.wait_condition("bystander", "Ready")
    endpoint = stack.endpoint("bystander")
    assert endpoint is not None
    return endpoint


def assert_in_line(stack: Stack, kube: Kube, bystander: dict[str, object], num_allocations: int = 1) -> None:
    ready = kube.wait_condition("e5", "Ready", timeout=60)
    assert ready["reason"] == "Available"
    status = kube.get("e5")["status"]
    assert status["ownership"]["state"] == "Created"
    endpoint = stack.endpoint("e5")
    assert endpoint is not None and endpoint["service_settings"]["num_allocations"] == num_allocations
    assert [e["inference_id"] for e in stack.es_call("GET", "/_inference/_all")[1]["endpoints"]].count("e5") == 1
    reasons = [e["reason"] for e in kube.events("e5")]
    assert "ConfigurationMismatch" not in reasons and "Adopted" not in reasons
    assert stack.endpoint("bystander") == bystander


@pytest.mark.parametrize("point", list(CREATE_POINTS), ids=list(CREATE_POINTS))
def test_a_crash_during_create(stack: Stack, kube: Kube, point: str) -> None:
    bystander = with_bystander(stack, kube)
    hold = arm(stack, CREATE_POINTS[point])
    kube.apply(endpoint_manifest("e5"))
    kill_when_held(stack, hold)
    assert_in_line(stack, kube, bystander)


def test_a_crash_after_the_status_write_changes_nothing(stack: Stack, kube: Kube) -> None:
    bystander = with_bystander(stack, kube)
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    assert stack.operator is not None
    version = kube.get("e5")["metadata"]["resourceVersion"]
    stack.operator.kill()
    stack.es.requests.clear()
    stack.start_operator()
    assert_in_line(stack, kube, bystander)
    assert not [r for r in stack.es.requests.snapshot() if r.method == "PUT"]
    assert kube.get("e5")["metadata"]["resourceVersion"] == version  # no write on resume


@pytest.mark.parametrize("point", list(UPDATE_POINTS), ids=list(UPDATE_POINTS))
def test_a_crash_during_an_update(stack: Stack, kube: Kube, point: str) -> None:
    bystander = with_bystander(stack, kube)
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    manifest = endpoint_manifest("e5")
    manifest["spec"]["serviceSettings"]["num_allocations"] = 2
    hold = arm(stack, UPDATE_POINTS[point])
    kube.apply(manifest)
    kill_when_held(stack, hold)
    kube.wait_condition("e5", "Ready", timeout=60)
    generation = kube.get("e5")["metadata"]["generation"]
    assert kube.get("e5")["status"]["observedGeneration"] == generation
    assert_in_line(stack, kube, bystander, num_allocations=2)


@pytest.mark.parametrize("point", list(DELETE_POINTS), ids=list(DELETE_POINTS))
def test_a_crash_during_delete(stack: Stack, kube: Kube, point: str) -> None:
    bystander = with_bystander(stack, kube)
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    hold = arm(stack, DELETE_POINTS[point])
    kube.run("delete", "iep", "e5", "--wait=false")
    kill_when_held(stack, hold)
    kube.wait_gone("e5", timeout=60)
    assert stack.endpoint("e5") is None
    assert stack.endpoint("bystander") == bystander
    assert kube.exists("bystander")
