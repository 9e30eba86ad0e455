"""A fast test bed for the Reconciler: the real steps, gateway and official client against the in-process
Elasticsearch emulator, with Kubernetes replaced by plain dicts (Secrets, namespaces, the status as written).

It plays the part of kopf and the API server: each step's Result is applied to the stored status the way
handlers._publish does, unless a test "crashes" the operator by dropping it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from es_inference_operator import contract, status
from es_inference_operator.claims import ClaimRegistry
from es_inference_operator.config import OperatorConfig
from es_inference_operator.elasticsearch_gateway import Connection, GatewayPool
from es_inference_operator.errors import KubernetesUnavailable, NotFound
from es_inference_operator.kube import SecretData
from es_inference_operator.reconciler import ClaimEntry, Reconciler, Resource, Result
from es_inference_operator.spec import desired_endpoint

T = TypeVar("T")
ES_USER = ("elastic", "changeme")


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


class FakeStatusWriter:
    """The API server's side of StatusWriter: merges each patch into the object's stored status."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def patch_status(self, namespace: str, name: str, changes: dict[str, Any]) -> None:
        if changes:
            self.patches.append((name, changes))
            obj = self.world.objects[name]
            obj.status = status.applied(obj.status, changes)


@dataclass
class StoredObject:
    name: str
    spec: dict[str, Any]
    uid: str
    created: str
    generation: int = 1
    status: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    deleted: bool = False  # its finalizer went


class World:
    """InferenceEndpoints in namespace `ns`, reconciled by one Reconciler (one operator process)."""

    def __init__(self, es_url: str, **config: Any) -> None:
        self.kube = FakeKube()
        self.objects: dict[str, StoredObject] = {}
        self.writer = FakeStatusWriter(self)
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
        self.reconciler = Reconciler(self.config, self.kube, self.pool, self.writer)  # type: ignore[arg-type]
        self._uids = itertools.count(1)

    async def close(self) -> None:
        await self.pool.close()

    def restart(self) -> None:
        """A new operator process: nothing in memory survives, only what Kubernetes and Elasticsearch hold."""
        self.reconciler = Reconciler(self.config, self.kube, self.pool, self.writer)  # type: ignore[arg-type]

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
        return obj

    def resource(self, obj: StoredObject) -> Resource:
        return Resource(
            namespace="ns",
            name=obj.name,
            uid=obj.uid,
            created=obj.created,
            spec=obj.spec,
            status=dict(obj.status),
            annotations=dict(obj.annotations),
            generation=obj.generation,
        )

    def body(self, obj: StoredObject) -> dict[str, Any]:
        meta = {"name": obj.name, "namespace": "ns", "uid": obj.uid, "creationTimestamp": obj.created}
        return {"metadata": meta, "spec": obj.spec, "status": obj.status}

    def claims(self, obj: StoredObject) -> list[ClaimEntry]:
        """What the operator's claims registry holds for obj's inference id."""
        registry = ClaimRegistry()
        for other in self.objects.values():
            if not other.deleted:
                registry.observe(self.body(other))
        return registry.claims_on(desired_endpoint(obj.name, obj.spec).inference_id)

    def publish(self, obj: StoredObject, result: Result, generation: int) -> None:
        base = result.written if result.written is not None else obj.status
        changes = status.status_changes(base, result.update, generation=generation)
        events = status.transition_events(base, result.update, deleting=False)
        if result.events:  # as status.write_status does: a step's own event replaces the Ready transition's
            events = [e for e in events if e[1] != "Available"]
        obj.status = status.applied(base, changes)
        obj.events.extend(events)
        obj.events.extend(result.events)

    async def reconcile(self, obj: StoredObject, *, crash: bool = False, periodic: bool = False) -> Result:
        """One reconcile (`periodic`: the resync's); `crash`: the operator dies before kopf's final patch (what
        it wrote itself stays)."""
        resource = self.resource(obj)
        result = await self.reconciler.reconcile(resource, self.claims(obj), periodic=periodic)
        if not crash:
            self.publish(obj, result, resource.generation or 0)
        return result

    async def delete(self, obj: StoredObject, *, crash: bool = False) -> Result:
        resource = self.resource(obj)
        result = await self.reconciler.delete(resource, self.claims(obj))
        if crash:
            return result
        if result.done:
            obj.deleted = True
            obj.events.extend(result.events)
        else:
            self.publish(obj, result, resource.generation or 0)
        return result


def condition(obj: StoredObject, type_: str) -> dict[str, Any]:
    return next((c for c in obj.status.get("conditions", []) if c["type"] == type_), {})


def reasons(obj: StoredObject) -> list[str]:
    return [reason for _, reason, _ in obj.events]


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]
