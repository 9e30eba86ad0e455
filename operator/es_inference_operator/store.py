"""The InferenceEndpoints the operator serves, as the API server last sent them: what reconciles read.

Filled by one paginated LIST at startup (before any reconcile, so that every claim on an inference id is known),
then kept by the watch's events and by the objects the API server returns for the operator's own writes. Each
key keeps the newest version seen (resourceVersions are compared, never regressed): this is the API server's
state at a known resourceVersion, and every write made from it carries that resourceVersion as a precondition.

Objects are kept trimmed: no managedFields (most of an object) nor kubectl's copy of the last applied manifest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import kubernetes

from . import contract
from .decisions import Claim
from .ownership import Ownership
from .spec import DesiredEndpoint, ElasticsearchRef, desired_endpoint, inference_id_of

Key = tuple[str, str]  # (namespace, name)
LIST_PAGE = 500
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Resource:
    """One version of an InferenceEndpoint, as the API server sent it (trimmed)."""

    namespace: str
    name: str
    uid: str
    resource_version: str
    created: str
    generation: int | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deletion_timestamp: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Resource:
        meta = body.get("metadata") or {}
        annotations = {k: str(v) for k, v in (meta.get("annotations") or {}).items() if k != _LAST_APPLIED}
        return cls(
            namespace=str(meta.get("namespace")),
            name=str(meta.get("name")),
            uid=str(meta.get("uid")),
            resource_version=str(meta.get("resourceVersion", "")),
            created=str(meta.get("creationTimestamp", "")),
            generation=meta.get("generation"),
            spec=dict(body.get("spec") or {}),
            status=dict(body.get("status") or {}),
            annotations=annotations,
            finalizers=tuple(meta.get("finalizers") or ()),
            deletion_timestamp=meta.get("deletionTimestamp"),
        )

    @property
    def key(self) -> Key:
        return self.namespace, self.name

    @property
    def deleting(self) -> bool:
        return self.deletion_timestamp is not None

    @property
    def desired(self) -> DesiredEndpoint:
        return desired_endpoint(self.name, self.spec)

    @property
    def inference_id(self) -> str:
        return inference_id_of(self.name, self.spec)

    @property
    def ownership(self) -> Ownership | None:
        return Ownership.from_status(self.status)

    @property
    def lane(self) -> str:
        """The work queue's lane: the cluster the endpoint was created or adopted on, once known (so that tenants
        reaching one cluster through Secrets of their own share one lane: a cluster that hangs holds only its
        lane's workers, however many Secrets lead to it); before that, the Elasticsearch the spec names."""
        ownership = self.ownership
        if ownership is not None:
            return f"cluster:{ownership.cluster}"
        return self.desired.elasticsearch_ref.lane(self.namespace)

    @property
    def claim(self) -> Claim:
        ownership = self.ownership
        return Claim(
            created=self.created,
            uid=self.uid,
            namespace=self.namespace,
            name=self.name,
            managed=ownership is not None and not ownership.pending,
        )

    @property
    def kubectl_args(self) -> str:
        """How kubectl names this resource: `-n NS inferenceendpoint/NAME`."""
        return f"-n {self.namespace} inferenceendpoint/{self.name}"

    @property
    def involved_object(self) -> dict[str, Any]:
        """The object an Event is about."""
        return {
            "apiVersion": f"{contract.GROUP}/{contract.VERSION}",
            "kind": contract.KIND,
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
        }


@dataclass(frozen=True)
class ClaimEntry:
    """One resource's claim on an inference id: enough to tell whether two claims hit one Elasticsearch."""

    claim: Claim
    elasticsearch_ref: ElasticsearchRef
    owned_cluster: str | None = None  # where its status says it owns (or is creating) the endpoint


def newer(candidate: str, current: str) -> bool:
    """Is resourceVersion `candidate` newer than `current`? The API server's are etcd revisions, whole numbers
    that grow; anything else counts as newer (a different version of the object, so take it)."""
    try:
        return int(candidate) > int(current)
    except ValueError:
        return candidate != current


class ResourceStore:
    """Every InferenceEndpoint served, by key, and who claims which inference id."""

    def __init__(self) -> None:
        self._by_key: dict[Key, Resource] = {}
        self._claims: dict[str, dict[Key, ClaimEntry]] = {}  # inference id -> key -> claim

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._by_key.values()))

    def get(self, key: Key) -> Resource | None:
        return self._by_key.get(key)

    def all_keys(self) -> list[Key]:
        return list(self._by_key)

    def observe(self, body: Mapping[str, Any]) -> tuple[Resource | None, Resource | None]:
        """Keep `body` if it is newer than what the store holds for its key: (the previous version, the new one),
        or (previous, None) when `body` is not newer (an event for a version already seen, or older)."""
        resource = Resource.from_body(body)
        previous = self._by_key.get(resource.key)
        same_object = previous is not None and previous.uid == resource.uid
        if same_object and previous is not None and not newer(resource.resource_version, previous.resource_version):
            return previous, None
        if previous is not None and previous.inference_id != resource.inference_id:
            self._unclaim(previous)
        self._by_key[resource.key] = resource
        self._claims.setdefault(resource.inference_id, {})[resource.key] = _claim_entry(resource)
        return previous, resource

    def forget(self, key: Key, uid: str) -> Resource | None:
        """The object with `uid` is gone (its DELETED event); a newer object under the same name stays."""
        current = self._by_key.get(key)
        if current is None or current.uid != uid:
            return None
        del self._by_key[key]
        self._unclaim(current)
        return current

    def claims_on(self, inference_id: str) -> list[ClaimEntry]:
        return list(self._claims.get(inference_id, {}).values())

    def claimants(self, inference_id: str) -> list[Key]:
        return list(self._claims.get(inference_id, {}))

    def _unclaim(self, resource: Resource) -> None:
        claimants = self._claims.get(resource.inference_id, {})
        claimants.pop(resource.key, None)
        if not claimants:
            self._claims.pop(resource.inference_id, None)

    async def fill(self, api_client: kubernetes.client.ApiClient, namespaces: Iterable[str]) -> None:
        """Every InferenceEndpoint served, by pages (all namespaces when `namespaces` is empty)."""
        for body in await asyncio.to_thread(_list_all, api_client, list(namespaces)):
            self.observe(body)


def _claim_entry(resource: Resource) -> ClaimEntry:
    ownership = resource.ownership
    return ClaimEntry(
        resource.claim,
        resource.desired.elasticsearch_ref,
        owned_cluster=ownership.cluster if ownership else None,
    )


def _list_all(api_client: kubernetes.client.ApiClient, namespaces: list[str]) -> list[dict[str, Any]]:
    """Every resource, trimmed page by page: never more than a page of whole objects in memory at once."""
    api = kubernetes.client.CustomObjectsApi(api_client)
    items: list[dict[str, Any]] = []
    scopes: list[str | None] = list(namespaces) or [None]
    for namespace in scopes:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"limit": LIST_PAGE, **({"_continue": token} if token else {})}
            if namespace is None:
                found = api.list_cluster_custom_object(contract.GROUP, contract.VERSION, contract.PLURAL, **args)
            else:
                found = api.list_namespaced_custom_object(
                    contract.GROUP, contract.VERSION, namespace, contract.PLURAL, **args
                )
            page = cast(dict[str, Any], found)
            items.extend(_trimmed(item) for item in page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
    return items


_KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "annotations",
    "finalizers",
)


def _trimmed(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in _KEPT_METADATA if k in meta},
        "spec": body.get("spec") or {},
        "status": body.get("status") or {},
    }
