"""kube_writer.ResourceWriter against a fake API server: the resourceVersion precondition, how refusals map, and
what a conflict does (the object is read again, so that the reconcile that runs again at once is not refused
again and again until the watch brings the newer version)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from es_inference_operator import contract, status
from es_inference_operator.config import OperatorConfig
from es_inference_operator.errors import KubernetesUnavailable
from es_inference_operator.kube_writer import (
    REREAD_FAILED_RETRY_SECONDS,
    ObjectGone,
    ResourceWriter,
    StaleObject,
)
from es_inference_operator.managed import ManagedReconciler
from es_inference_operator.sources import EventSource
from es_inference_operator.store import Key, Resource, ResourceStore

KEY: Key = ("ns", "e5")
READY = status.ready("inference endpoint e5 exists in Elasticsearch and matches the spec", fields={})


def body(name: str = "e5", resource_version: int = 4, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{contract.GROUP}/{contract.VERSION}",
        "kind": contract.KIND,
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": str(resource_version),
            "generation": 1,
            "creationTimestamp": "2026-11-30T00:00:00Z",
            "finalizers": [contract.FINALIZER],
        },
        "spec": {"taskType": "text_embedding", "service": "elasticsearch", "inferenceId": "e5", **spec},
        "status": {},
    }


class FakeApiServer:
    """The CustomObjectsApi calls the writer makes, on stored objects, refused as the API server refuses them:
    409 for a stale resourceVersion precondition, 422 for a failed JSON patch test. `fail`: the status the next
    call of that name answers with instead."""

    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.objects = {b["metadata"]["name"]: copy.deepcopy(b) for b in bodies}
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, int] = {}

    def change(self, name: str, **metadata: Any) -> None:
        """Somebody else's write (kubectl, another controller): a newer resourceVersion."""
        meta = self.objects[name]["metadata"]
        meta.update(metadata)
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)

    def _refused(self, call: str) -> None:
        code = self.fail.pop(call, None)
        if code is not None:
            raise ApiException(status=code, reason="refused")

    def _found(self, name: str) -> dict[str, Any]:
        if name not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        return self.objects[name]

    def _written(self, stored: dict[str, Any]) -> dict[str, Any]:
        stored["metadata"]["resourceVersion"] = str(int(stored["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(stored)

    def patch_namespaced_custom_object_status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        name, patch = args[4], args[5]
        self.calls.append(("patch_status", copy.deepcopy(patch)))
        self._refused("patch_status")
        stored = self._found(name)
        precondition = (patch.get("metadata") or {}).get("resourceVersion")
        if precondition is not None and precondition != stored["metadata"]["resourceVersion"]:
            raise ApiException(status=409, reason="Conflict")
        stored["status"] = status.applied(stored["status"], patch.get("status") or {})
        return self._written(stored)

    def patch_namespaced_custom_object(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        name, ops = args[4], args[5]
        self.calls.append(("patch", copy.deepcopy(ops)))
        self._refused("patch")
        stored = self._found(name)
        meta = stored["metadata"]
        for op in ops:
            path = op["path"]
            if op["op"] == "test":
                held = meta["resourceVersion"] if path == "/metadata/resourceVersion" else None
                if path.startswith("/metadata/finalizers/"):
                    index = int(path.rsplit("/", 1)[1])
                    held = meta["finalizers"][index] if index < len(meta["finalizers"]) else None
                if held != op["value"]:
                    raise ApiException(status=422, reason="Unprocessable Entity")
            elif op["op"] == "add":
                meta["finalizers"] = (
                    [*meta.get("finalizers", []), op["value"]] if path.endswith("/-") else list(op["value"])
                )
            elif op["op"] == "remove":
                del meta["finalizers"][int(path.rsplit("/", 1)[1])]
        return self._written(stored)

    def list_namespaced_custom_object(self, *args: Any, field_selector: str = "", **kwargs: Any) -> dict[str, Any]:
        """The operator's RBAC has list, not get: one object is read again as a LIST of its name."""
        self.calls.append(("list", field_selector))
        self._refused("list")
        names = [name for name in self.objects if field_selector in ("", f"metadata.name={name}")]
        return {"items": [copy.deepcopy(self.objects[name]) for name in names]}

    def count(self, call: str) -> int:
        return sum(1 for made, _ in self.calls if made == call)


class FakeCore:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def create_namespaced_event(self, namespace: str, event: dict[str, Any], **_: Any) -> None:
        self.events.append(event)


def writer_for(api: FakeApiServer, store: ResourceStore) -> ResourceWriter:
    writer = ResourceWriter(kubernetes.client.ApiClient(), store)
    writer._custom = api  # type: ignore[assignment]
    writer._core = FakeCore()  # type: ignore[assignment]
    return writer


def stored(store: ResourceStore) -> Resource:
    obj = store.get(KEY)
    assert obj is not None
    return obj


def test_the_status_patch_carries_the_resource_version_it_was_computed_from() -> None:
    api, store = FakeApiServer(body()), ResourceStore()
    store.observe(body())
    written = asyncio.run(writer_for(api, store).write_status(stored(store), READY))
    (call, patch) = api.calls[0]
    assert call == "patch_status" and patch["metadata"] == {"resourceVersion": "4"}
    assert written.resource_version == "5" and stored(store).resource_version == "5"  # the answer is the newest


def test_after_a_conflict_the_next_write_uses_the_version_read_again() -> None:
    """Seen: a 409 on the status patch, the reconcile again at once from the same store version, 409 again, ...
    until the watch delivered the newer version: a burst of refused PATCHes. Now the object is read again on a
    conflict: one refused write, one read, and the reconcile that runs again (at once) writes."""
    api, store = FakeApiServer(body()), ResourceStore()
    store.observe(body())
    api.change("e5", annotations={"team": "search"})  # the watch has not brought this one yet
    writer = writer_for(api, store)

    async def reconcile_until_written() -> None:
        for _ in range(5):  # the work queue, requeueing at once (outcomes.AGAIN): a few rounds at most here
            try:
                await writer.write_status(stored(store), READY)
                return
            except StaleObject as err:
                assert err.requeue_after == 0  # the store has the newer version: again at once is right
        raise AssertionError(f"still refused after 5 writes: {api.calls}")

    asyncio.run(reconcile_until_written())
    patches = [patch for call, patch in api.calls if call == "patch_status"]
    assert [p["metadata"]["resourceVersion"] for p in patches] == ["4", "5"]
    assert [call for call in api.calls if call[0] == "list"] == [("list", "metadata.name=e5")]
    assert stored(store).annotations == {"team": "search"} and stored(store).resource_version == "6"
    assert api.objects["e5"]["status"]["conditions"][0]["type"] == contract.READY


def test_a_finalizer_patch_whose_test_fails_reads_the_object_again() -> None:
    api, store = FakeApiServer(body()), ResourceStore()
    without = body()
    without["metadata"]["finalizers"] = []
    api.objects["e5"] = copy.deepcopy(without)
    store.observe(without)
    api.change("e5", labels={"app": "x"})
    writer = writer_for(api, store)
    with pytest.raises(StaleObject):
        asyncio.run(writer.add_finalizer(stored(store)))  # 422: the resourceVersion test failed
    assert stored(store).resource_version == "5"
    obj = asyncio.run(writer.add_finalizer(stored(store)))
    assert obj.finalizers == (contract.FINALIZER,) and api.count("list") == 1


@pytest.mark.parametrize(
    ("call", "code", "raised", "reread"),
    [
        ("patch_status", 409, StaleObject, True),
        ("patch_status", 404, ObjectGone, False),
        ("patch_status", 422, KubernetesUnavailable, False),  # invalid (a message over the CRD's limit): no conflict
        ("patch_status", 500, KubernetesUnavailable, False),
        ("patch", 409, StaleObject, True),
        ("patch", 422, StaleObject, True),  # a JSON patch test failed: the list changed since it was read
        ("patch", 404, ObjectGone, False),
    ],
)
def test_refusals_map_to_what_the_reconciler_decides_on(
    call: str, code: int, raised: type[Exception], reread: bool
) -> None:
    api, store = FakeApiServer(body()), ResourceStore()
    store.observe(body())
    writer = writer_for(api, store)
    api.fail[call] = code
    with pytest.raises(raised):
        if call == "patch_status":
            asyncio.run(writer.write_status(stored(store), READY))
        else:
            asyncio.run(writer.remove_finalizer(stored(store)))
    assert api.count("list") == (1 if reread else 0)


def test_a_conflict_on_an_object_since_gone_is_gone() -> None:
    api, store = FakeApiServer(body()), ResourceStore()
    store.observe(body())
    api.fail["patch_status"] = 409
    del api.objects["e5"]  # deleted (its last finalizer went) between the write and the read
    with pytest.raises(ObjectGone):
        asyncio.run(writer_for(api, store).write_status(stored(store), READY))


def test_a_conflict_whose_object_cannot_be_read_again_is_retried_after_a_moment() -> None:
    """No newer version in the store: running again at once would only be refused again."""
    api, store = FakeApiServer(body()), ResourceStore()
    store.observe(body())
    api.change("e5", annotations={"team": "search"})
    api.fail["list"] = 503
    writer = writer_for(api, store)
    with pytest.raises(StaleObject) as refused:
        asyncio.run(writer.write_status(stored(store), READY))
    assert refused.value.requeue_after == REREAD_FAILED_RETRY_SECONDS
    assert stored(store).resource_version == "4"

    # What the work queue hears from the reconciler: again at once after a re-read, a moment later without.
    reconciler = ManagedReconciler(
        OperatorConfig(default_connection=None),
        store,
        None,  # type: ignore[arg-type]  # never reached: the finalizer write comes first
        None,  # type: ignore[arg-type]
        writer,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
    )
    unfinalized = body(resource_version=4)
    unfinalized["metadata"]["finalizers"] = []
    api.objects["e5"] = copy.deepcopy(unfinalized)
    store.forget(KEY, "uid-e5")
    store.observe(unfinalized)
    api.change("e5", annotations={"team": "search"})
    api.fail["list"] = 503
    assert asyncio.run(reconciler.reconcile(KEY)).requeue_after == REREAD_FAILED_RETRY_SECONDS
    result = asyncio.run(reconciler.reconcile(KEY))  # read again this time: the next pass is at once
    assert (result.requeue_after, result.outcome) == (0.0, "requeue")
    assert stored(store).resource_version == "5"


class RecordingQueue:
    def __init__(self) -> None:
        self.added: list[Key] = []

    def add(self, key: Key, *, priority: int = 0) -> None:
        self.added.append(key)


def test_a_version_read_again_reaches_the_queue_as_its_watch_event_would() -> None:
    """handlers.py sends what the writer reads after a conflict through the watch's path: a change in it that
    other resources wait for (a deletion began) wakes them, as its watch event (then no news) would have."""
    api, store = FakeApiServer(body(), body("waiting")), ResourceStore()
    store.observe(body())
    store.observe(body("waiting"))
    queue = RecordingQueue()
    events = EventSource(store, queue)  # type: ignore[arg-type]
    writer = writer_for(api, store)
    writer.on_reread = lambda fresh: events.on_event("MODIFIED", fresh)
    api.change("e5", deletionTimestamp="2026-11-30T01:00:00Z")
    with pytest.raises(StaleObject):
        asyncio.run(writer.write_status(stored(store), READY))
    assert stored(store).deleting
    assert ("ns", "waiting") in queue.added
    queue.added.clear()
    events.on_event("MODIFIED", copy.deepcopy(api.objects["e5"]))  # the watch's event for that version
    assert queue.added == []
