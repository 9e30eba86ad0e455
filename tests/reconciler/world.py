"""A fast test bed for the managed reconciler: the real reconciler, connector, arbiter, gateway and official client
against the in-process Elasticsearch emulator, with Kubernetes replaced by plain dicts (Secrets, namespaces, the
objects). The writer plays the API server: a status write applies a merge patch to the stored object, bumps its
resourceVersion, and refuses a write computed from an older version (409), as kube_writer.ResourceWriter's
precondition makes the real one do.

A test "crashes" the operator at the n-th status write of a pass (`crash_at_write`): that write and everything
after it never happen, as when the process is killed.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from es_inference_operator import contract, status
from es_inference_operator.arbitration import ClaimArbiter
from es_inference_operator.config import OperatorConfig
from es_inference_operator.elasticsearch_gateway import Connection
from es_inference_operator.elasticsearch_pool import GatewayPool
from es_inference_operator.errors import KubernetesUnavailable, NotFound
from es_inference_operator.external import Connector
from es_inference_operator.kube import SecretData
from es_inference_operator.kube_writer import StaleObject
from es_inference_operator.managed import ManagedReconciler
from es_inference_operator.outcomes import Result
from es_inference_operator.store import Resource, ResourceStore

T = TypeVar("T")
ES_USER = ("elastic", "changeme")


class Crash(BaseException):
    """The operator process dies here (nothing in it catches a BaseException)."""


class FakeKube:
    """Secrets and namespaces by name; `failing` makes reads of a Secret fail as a throttled API server does."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], SecretData] = {}
        self.failing: set[tuple[str, str]] = set()
        self.versions = itertools.count(1)

    def put_secret(self, namespace: str, name: str, **data: str | bytes) -> None:
        """A Secret that opted in to use by InferenceEndpoints (the label the README's security rule asks for)."""
        raw = {k: v if isinstance(v, bytes) else v.encode() for k, v in data.items()}
        self.secrets[namespace, name] = SecretData(namespace, name, str(next(self.versions)), raw)

    async def read_secret_with_labels(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        return await self.read_secret(namespace, name), {contract.ALLOW_REFERENCE_LABEL: "true"}

    async def read_elasticsearch(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def read_after(self, moment: float) -> FakeKube:
        return self  # nothing cached here

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        if (namespace, name) in self.failing:
            raise KubernetesUnavailable(f"reading Secret {namespace}/{name} failed: 429 Too Many Requests")
        if (namespace, name) not in self.secrets:
            raise NotFound(f"Secret {namespace}/{name} not found")
        return self.secrets[namespace, name]

    async def namespace_annotations(self, namespace: str) -> dict[str, str]:
        return {}


@dataclass
class StoredObject:
    """An InferenceEndpoint as the API server holds it."""

    name: str
    spec: dict[str, Any]
    uid: str
    created: str
    generation: int = 1
    resource_version: int = 1
    status: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    finalizers: list[str] = field(default_factory=list)
    deleting: bool = False
    deleted: bool = False  # its last finalizer went
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": "ns",
            "uid": self.uid,
            "creationTimestamp": self.created,
            "resourceVersion": str(self.resource_version),
            "generation": self.generation,
            "annotations": dict(self.annotations),
            "finalizers": list(self.finalizers),
        }
        if self.deleting:
            meta["deletionTimestamp"] = "2026-11-30T01:00:00Z"
        return {"metadata": meta, "spec": self.spec, "status": self.status}


class FakeWriter:
    """The API server's side of kube_writer.ResourceWriter, with its resourceVersion precondition."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.status_writes: list[tuple[str, dict[str, Any]]] = []
        self.crash_at: int | None = None  # crash at this status write of the current pass (1 = the first)
        self._writes_this_pass = 0

    def _current(self, obj: Resource) -> StoredObject:
        stored = self.world.objects[obj.name]
        if str(stored.resource_version) != obj.resource_version:
            raise StaleObject(f"{obj.name}: the object changed meanwhile")
        return stored

    def _stored(self, stored: StoredObject) -> Resource:
        stored.resource_version += 1
        _, current = self.world.store.observe(stored.body())
        assert current is not None
        return current

    async def write_status(
        self, obj: Resource, update: status.StatusUpdate, events: Iterable[tuple[str, str, str]] = ()
    ) -> Resource:
        changes = status.status_changes(obj.status, update, generation=obj.generation)
        to_post = status.events_to_post(obj.status, update, deleting=obj.deleting, own=events)
        if changes:
            self._writes_this_pass += 1
            if self.crash_at == self._writes_this_pass:
                raise Crash
            stored = self._current(obj)
            self.status_writes.append((obj.name, changes))
            stored.status = status.applied(stored.status, changes)
            obj = self._stored(stored)
        await self.post_events(obj, to_post)
        return obj

    async def add_finalizer(self, obj: Resource) -> Resource:
        if contract.FINALIZER in obj.finalizers:
            return obj
        stored = self._current(obj)
        stored.finalizers.append(contract.FINALIZER)
        return self._stored(stored)

    async def remove_finalizer(self, obj: Resource) -> None:
        stored = self.world.objects[obj.name]
        if contract.FINALIZER in stored.finalizers:
            stored.finalizers.remove(contract.FINALIZER)
        if stored.deleting and not stored.finalizers:
            stored.deleted = True
            self.world.store.forget(obj.key, obj.uid)
        else:
            self._stored(stored)

    async def post_events(self, obj: Resource, events: Iterable[tuple[str, str, str]]) -> None:
        self.world.objects[obj.name].events.extend(events)


class FakeProtection:
    """protection.SecretProtection's calls, recorded (the Secrets here are plain dicts)."""

    def __init__(self) -> None:
        self.protected: list[str] = []
        self.released: list[str] = []

    async def protect(self, obj: Resource) -> None:
        self.protected.append(obj.name)

    async def release_unused(self, gone: Resource) -> None:
        self.released.append(gone.name)


class World:
    """InferenceEndpoints in namespace `ns`, reconciled by one operator process."""

    def __init__(self, es_url: str, **config: Any) -> None:
        self.kube = FakeKube()
        self.objects: dict[str, StoredObject] = {}
        self.es_url = es_url
        self.config = OperatorConfig(
            default_connection=Connection(
                url=es_url, source="the operator's default", username=ES_USER[0], password=ES_USER[1]
            ),
            retry_base_seconds=0.01,
            retry_cap_seconds=0.05,
            blocked_recheck_seconds=0.05,
            references_seconds=0.0,
            reference_checks_per_second=1000.0,
            **config,
        )
        self.pool = GatewayPool(request_timeout=5)
        self.restart()
        self._uids = itertools.count(1)

    async def close(self) -> None:
        await self.pool.close()

    def restart(self) -> None:
        """A new operator process: nothing in memory survives, only what Kubernetes and Elasticsearch hold."""
        self.store = ResourceStore()
        self.writer = FakeWriter(self)
        self.protection = FakeProtection()
        connector = Connector(self.config, self.kube, self.pool)  # type: ignore[arg-type]
        self.reconciler = ManagedReconciler(
            self.config,
            self.store,
            connector,
            ClaimArbiter(self.store, connector),
            self.writer,  # type: ignore[arg-type]
            self.kube,  # type: ignore[arg-type]
            self.protection,
        )

    def apply(self, name: str, **spec: Any) -> StoredObject:
        full_spec = {
            "taskType": "text_embedding",
            "service": "elasticsearch",
            "serviceSettings": {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1},
            **spec,
        }
        obj = self.objects.get(name)
        if obj is None:
            n = next(self._uids)
            obj = self.objects[name] = StoredObject(name, full_spec, f"uid-{n:04d}", f"2026-11-30T00:00:{n:02d}Z")
        elif obj.spec != full_spec:
            obj.spec, obj.generation = full_spec, obj.generation + 1
            obj.resource_version += 1
        return obj

    def _watch(self) -> None:
        """What the watch brings the store: every object's current version."""
        for obj in self.objects.values():
            if not obj.deleted:
                self.store.observe(obj.body())

    async def reconcile(self, obj: StoredObject, *, crash_at_write: int | None = None) -> Result:
        """One pass of the reconciler over `obj`, as the work queue runs it; `crash_at_write`: the operator dies
        at that status write of the pass (1: the first)."""
        self._watch()
        self.writer.crash_at, self.writer._writes_this_pass = crash_at_write, 0
        try:
            return await self.reconciler.reconcile(("ns", obj.name))
        except Crash:
            return Result(requeue_after=None, outcome="crashed")
        finally:
            self.writer.crash_at = None

    async def delete(self, obj: StoredObject, *, crash_at_write: int | None = None) -> Result:
        """`kubectl delete` (a deletionTimestamp, or gone at once without finalizers), then one pass."""
        if not obj.finalizers:
            obj.deleted = True
            return Result()
        obj.deleting = True
        obj.resource_version += 1
        return await self.reconcile(obj, crash_at_write=crash_at_write)


def condition(obj: StoredObject, type_: str) -> dict[str, Any]:
    return next((c for c in obj.status.get("conditions", []) if c["type"] == type_), {})


def reasons(obj: StoredObject) -> list[str]:
    return [reason for _, reason, _ in obj.events]


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]
