"""Every write the operator makes to Kubernetes about an InferenceEndpoint: its status, its finalizer, its
Events. One place, so that every change goes out the same way:

* Status: a JSON merge patch of only what differs from the status the API server holds (the store's version of
  the object), carrying that version's resourceVersion as a precondition. A 409 means the object changed since:
  nothing is written, the object is read again into the store as a watch event would bring it, and the
  reconcile runs again on that newer version (StaleObject), not on the one the watch has not replaced yet (which
  would only be refused again). The object the API server returns becomes the store's version, so the next step
  reads what this one wrote.
* Finalizer: JSON patches that `test` what they change (a merge patch would replace the whole list, other
  controllers' finalizers included).
* Events: on transitions only (status.events_to_post), posted once the status that says so is written.

The official client is synchronous: every call runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from . import contract, status
from .errors import KubernetesUnavailable
from .kube import KUBE_REQUEST_TIMEOUT
from .store import Resource, ResourceStore

log = logging.getLogger(__name__)
FIELD_MANAGER = "es-inference-operator"

EventTuple = tuple[str, str, str]  # (type, reason, message)
REREAD_FAILED_RETRY_SECONDS = 1.0  # a conflict whose newer version could not be read: looked at again after this


class StaleObject(Exception):
    """The object changed since the version a write was computed from (409, or a failed JSON patch test).
    `requeue_after`: when to run the reconcile again: at once (0) when the store holds the newer version, a
    moment later when it could not be read (the watch brings it meanwhile)."""

    def __init__(self, message: str, *, requeue_after: float = 0.0) -> None:
        super().__init__(message)
        self.requeue_after = requeue_after


class ObjectGone(Exception):
    """The object no longer exists (404): nothing left to write."""


class ResourceWriter:
    def __init__(self, api_client: kubernetes.client.ApiClient, store: ResourceStore) -> None:
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._store = store
        # Where a version read after a conflict goes: handlers.py sends it through the watch's own path
        # (sources.EventSource), so that what it changed reaches the queue as its watch event would have (which is
        # then no news); by default into the store only.
        self.on_reread: Callable[[Mapping[str, Any]], object] = store.observe

    async def write_status(
        self, obj: Resource, update: status.StatusUpdate, events: Iterable[EventTuple] = ()
    ) -> Resource:
        """Bring the status in line with `update` for `obj.generation` (nothing is sent when nothing differs),
        then post the Events its transitions and the step's own `events` call for. Returns the newest version."""
        changes = status.status_changes(obj.status, update, generation=obj.generation)
        if "operator" in obj.status:
            changes["operator"] = None  # kopf's bookkeeping of versions before 0.2.0: nothing reads it now
        to_post = status.events_to_post(obj.status, update, deleting=obj.deleting, own=events)
        if changes:
            body = {"metadata": {"resourceVersion": obj.resource_version}, "status": changes}
            written = await self._write(
                obj,
                f"writing the status of {obj.namespace}/{obj.name}",
                self._custom.patch_namespaced_custom_object_status,
                contract.GROUP,
                contract.VERSION,
                obj.namespace,
                contract.PLURAL,
                obj.name,
                body,
                field_manager=FIELD_MANAGER,
            )
            obj = self._stored(obj, written)
        await self.post_events(obj, to_post)
        return obj

    async def add_finalizer(self, obj: Resource) -> Resource:
        """The operator's finalizer, on an object not being deleted, before anything is created for it."""
        if contract.FINALIZER in obj.finalizers:
            return obj
        add: dict[str, Any] = (
            {"op": "add", "path": "/metadata/finalizers/-", "value": contract.FINALIZER}
            if obj.finalizers
            else {"op": "add", "path": "/metadata/finalizers", "value": [contract.FINALIZER]}
        )
        ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version}, add]
        return self._stored(obj, await self._patch_metadata(obj, ops, "adding the finalizer to"))

    async def remove_finalizer(self, obj: Resource) -> None:
        """Let the object go: only the operator's own entry, tested at its index."""
        if contract.FINALIZER not in obj.finalizers:
            return
        index = obj.finalizers.index(contract.FINALIZER)
        path = f"/metadata/finalizers/{index}"
        ops = [{"op": "test", "path": path, "value": contract.FINALIZER}, {"op": "remove", "path": path}]
        written = await self._patch_metadata(obj, ops, "removing the finalizer of")
        self._stored(obj, written)

    async def post_events(self, obj: Resource, events: Iterable[EventTuple]) -> None:
        for event_type, reason, message in events:
            await self._post_event(obj, event_type, reason, message)

    async def _patch_metadata(self, obj: Resource, ops: list[dict[str, Any]], doing: str) -> Any:
        return await self._write(
            obj,
            f"{doing} {obj.namespace}/{obj.name}",
            self._custom.patch_namespaced_custom_object,
            contract.GROUP,
            contract.VERSION,
            obj.namespace,
            contract.PLURAL,
            obj.name,
            ops,
            json_patch=True,
            field_manager=FIELD_MANAGER,
            _content_type="application/json-patch+json",  # the client sends a merge patch unless told
        )

    async def _write(self, obj: Resource, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A write to `obj`; on a conflict, `obj` is read again before StaleObject goes up."""
        try:
            return await self._call(what, method, *args, **kwargs)
        except StaleObject as err:
            if not await self._reread(obj):
                err.requeue_after = REREAD_FAILED_RETRY_SECONDS
            raise

    async def _reread(self, obj: Resource) -> bool:
        """The object as the API server holds it now, into the store (True), so that the reconcile that runs again
        computes from it. ObjectGone when it is gone; False when it could not be read.

        A LIST of that one name (a field selector), not a GET: the operator's RBAC grants list, not get, and a
        LIST without a resourceVersion is as fresh as a GET (a consistent read)."""
        what = f"reading {obj.namespace}/{obj.name} again after a conflict"
        try:
            found = await self._call(
                what,
                self._custom.list_namespaced_custom_object,
                contract.GROUP,
                contract.VERSION,
                obj.namespace,
                contract.PLURAL,
                field_selector=f"metadata.name={obj.name}",
            )
        except KubernetesUnavailable as err:
            log.warning("%s", err)  # names the object
            return False
        items = [item for item in (found or {}).get("items") or () if isinstance(item, Mapping)]
        if not items:
            raise ObjectGone(f"{what}: the object is gone") from None
        self.on_reread(items[0])
        current = self._store.get(obj.key)
        return current is not None and current.resource_version != obj.resource_version

    async def _call(self, what: str, method: Any, *args: Any, json_patch: bool = False, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(method, *args, _request_timeout=KUBE_REQUEST_TIMEOUT, **kwargs)
        except ApiException as err:
            # 422 on a JSON patch: one of its tests failed (the list changed since it was read).
            if err.status == 409 or (json_patch and err.status == 422):
                raise StaleObject(f"{what}: the object changed meanwhile") from None
            if err.status == 404:
                raise ObjectGone(f"{what}: the object is gone") from None
            raise KubernetesUnavailable(f"{what} failed: {err.status} {err.reason}") from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"{what} failed: {err}") from None

    def _stored(self, obj: Resource, written: Any) -> Resource:
        if not isinstance(written, dict):
            return obj
        _, newer = self._store.observe(written)
        return newer or self._store.get(obj.key) or Resource.from_body(written)

    async def _post_event(self, obj: Resource, event_type: str, reason: str, message: str) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body: Any = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{obj.name}.", "namespace": obj.namespace},
            "involvedObject": obj.involved_object,
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await asyncio.to_thread(
                self._core.create_namespaced_event, obj.namespace, body, _request_timeout=KUBE_REQUEST_TIMEOUT
            )
        except (ApiException, urllib3.exceptions.HTTPError) as err:  # an Event is worth a try, not a retry
            log.warning("%s/%s: could not post the event %s: %s", obj.namespace, obj.name, reason, err)
