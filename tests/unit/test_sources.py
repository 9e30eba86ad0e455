"""Which watch events are worth a reconcile (sources.py): table-tested on Resource versions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from es_inference_operator import contract
from es_inference_operator.sources import concerns_other_claimants, status_written_by_operator, worth_a_reconcile
from es_inference_operator.store import Resource, ResourceStore

BASE = Resource(
    namespace="ns",
    name="e5",
    uid="u1",
    resource_version="10",
    created="2026-11-30T00:00:00Z",
    generation=1,
    spec={"taskType": "text_embedding", "service": "elasticsearch"},
    status={"conditions": [{"type": "Ready", "status": "True"}]},
    finalizers=(contract.FINALIZER,),
)


@pytest.mark.parametrize(
    ("current", "worth"),
    [
        (replace(BASE, resource_version="11", annotations={"argocd.argoproj.io/tracking-id": "x"}), False),
        (replace(BASE, resource_version="11", generation=2), True),  # the spec changed
        (replace(BASE, resource_version="11", deletion_timestamp="2026-11-30T01:00:00Z"), True),
        (replace(BASE, resource_version="11", annotations={"force": "true"}), True),
        (replace(BASE, resource_version="11", annotations={contract.FORCE_ANNOTATION: "true"}), True),
        (replace(BASE, resource_version="11", annotations={contract.ADOPT_ANNOTATION: "true"}), True),
        (replace(BASE, resource_version="11", finalizers=()), True),  # somebody took the finalizer off
        (replace(BASE, resource_version="11", status={}), True),  # somebody else wrote the status: put right
        (replace(BASE, resource_version="11", uid="u2"), True),  # deleted and created again under the name
    ],
)
def test_worth_a_reconcile(current: Resource, worth: bool) -> None:
    assert worth_a_reconcile(BASE, current) is worth
    assert worth_a_reconcile(None, current)


def test_the_store_keeps_the_newest_version_and_never_goes_back() -> None:
    store = ResourceStore()
    body = {
        "metadata": {"name": "e5", "namespace": "ns", "uid": "u1", "resourceVersion": "12", "generation": 1},
        "spec": {"taskType": "text_embedding", "service": "elasticsearch"},
    }
    assert store.observe(body)[1] is not None
    older = {**body, "metadata": {**body["metadata"], "resourceVersion": "11"}}
    assert store.observe(older) == (store.get(("ns", "e5")), None)  # an event late for a version already seen
    again = {**body, "metadata": {**body["metadata"], "uid": "u2", "resourceVersion": "5"}}
    assert store.observe(again)[1] is not None  # another object under the same name: taken whatever its version
    assert store.forget(("ns", "e5"), "u1") is None  # the old object's DELETED does not remove the new one


def test_claimants_are_woken_when_an_id_is_freed_or_taken() -> None:
    owned = replace(BASE, status={"ownership": {"clusterUUID": "c1", "inferenceId": "e5", "state": "Created"}})
    assert concerns_other_claimants(None, BASE)
    assert concerns_other_claimants(BASE, None)
    assert concerns_other_claimants(BASE, owned)
    assert concerns_other_claimants(BASE, replace(BASE, deletion_timestamp="t"))
    assert not concerns_other_claimants(BASE, replace(BASE, annotations={"a": "b"}))


def test_a_status_the_operator_wrote_itself_is_no_news() -> None:
    changed = replace(BASE, resource_version="11", status={"conditions": []})
    assert not worth_a_reconcile(BASE, changed, status_is_ours=True)
    assert worth_a_reconcile(BASE, replace(changed, generation=2), status_is_ours=True)


def managed(*entries: tuple[str, str]) -> dict:
    fields = [{"manager": m, "operation": "Update", "subresource": "status", "time": t} for m, t in entries]
    fields.append({"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-12-04T10:00:09Z"})
    return {"metadata": {"managedFields": fields}}


def test_who_wrote_the_status_last() -> None:
    ours, user = "es-inference-operator", "kubectl-patch"
    assert status_written_by_operator(managed((ours, "2026-12-04T10:00:05Z")))
    assert not status_written_by_operator(managed((ours, "2026-12-04T10:00:05Z"), (user, "2026-12-04T10:00:06Z")))
    assert status_written_by_operator(managed((user, "2026-12-04T10:00:04Z"), (ours, "2026-12-04T10:00:06Z")))
    assert not status_written_by_operator(managed((ours, "2026-12-04T10:00:05Z"), (user, "2026-12-04T10:00:05Z")))
    assert not status_written_by_operator({"metadata": {}})


OWNED = {"ownership": {"clusterUUID": "c-1", "inferenceId": "e5", "taskType": "text_embedding", "service": "x"}}
VIA_SECRET = {**BASE.spec, "elasticsearchRef": {"secretName": "team-a-search"}}
VIA_ECK = {**BASE.spec, "elasticsearchRef": {"name": "quickstart", "namespace": "search"}}


@pytest.mark.parametrize(
    ("resource", "lane"),
    [
        (BASE, "default"),
        (replace(BASE, spec=VIA_SECRET), "secret:ns/team-a-search"),
        (replace(BASE, spec=VIA_ECK), "eck:search/quickstart"),
        # Once the cluster is known, one lane per cluster, whatever Secret leads to it.
        (replace(BASE, spec=VIA_SECRET, status=OWNED), "cluster:c-1"),
        (replace(BASE, namespace="other", spec=VIA_SECRET, status=OWNED), "cluster:c-1"),
        (replace(BASE, status={"ownership": {**OWNED["ownership"], "state": "CreatePending"}}), "cluster:c-1"),
    ],
)
def test_the_work_queue_lane(resource: Resource, lane: str) -> None:
    assert resource.lane == lane
