"""The operator's reads from Kubernetes besides its own resources: Secrets, namespaces, ECK's Elasticsearches and
the Services that `elasticsearchRef.serviceName` names.

The official client is synchronous, so every call runs in a thread and never blocks kopf's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from .errors import ConfigurationError, KindNotInstalled, KubernetesUnavailable, NotFound

# ECK's Elasticsearch kind, which spec.elasticsearchRef.name points at.
ECK_GROUP, ECK_VERSION, ECK_PLURAL = "elasticsearch.k8s.elastic.co", "v1", "elasticsearches"


@dataclass(frozen=True)
class SecretData:
    namespace: str
    name: str
    resource_version: str
    raw: dict[str, bytes]  # as stored: a Secret may hold binary keys (a .p12) beside the text ones we read
    finalizers: tuple[str, ...] = ()  # its metadata.finalizers (protection.py puts one on Secrets in use)

    def __repr__(self) -> str:  # never show the values
        return f"SecretData(name={self.name!r}, resource_version={self.resource_version!r})"

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str) -> str | None:
        return self.value(key) if key in self.raw else None

    @property
    def keys_listed(self) -> str:
        """The Secret's key names (never its values), for a message about a key it lacks."""
        if not self.raw:
            return " (it has no keys)"
        return f" (its keys: {', '.join(sorted(self.raw))})"

    def value(self, key: str) -> str:
        """One key as text. Only the keys the operator uses must be UTF-8; the others are never decoded."""
        if key not in self.raw:
            raise ConfigurationError(f"Secret {self.namespace}/{self.name} has no key {key!r}{self.keys_listed}")
        try:
            return self.raw[key].decode()
        except UnicodeDecodeError:
            raise ConfigurationError(f"key {key!r} of Secret {self.namespace}/{self.name} is not UTF-8 text") from None


@dataclass(frozen=True)
class ServiceData:
    """What the operator needs of a Service before it sends credentials there: where its traffic goes."""

    namespace: str
    name: str
    type: str
    selector: dict[str, str]


# Threads for the synchronous client's calls (status writes, Events, Secret reads), and connections to match.
# Python's default pool has min(32, cores + 4): 6 on 2 cores, shared by status writes, Events and reads.
KUBE_THREADS = 10
# Every Kubernetes call of the operator's gives up after this (connect, read) in seconds: a connection the network
# dropped silently would otherwise hold a worker for ever (the client sets no timeout of its own).
KUBE_REQUEST_TIMEOUT = (10.0, 30.0)


def api_client_from_environment() -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, else the current kubeconfig."""
    configuration = kubernetes.client.Configuration()
    configuration.connection_pool_maxsize = KUBE_THREADS
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient(configuration)


class KubeReader:
    """Reads by name, cached for `ttl` seconds: thousands of resources naming a few Secrets cost a few reads per
    period, not one each. A rotated Secret is seen at most `ttl` after it changed (the handlers set it to half
    the resync period). RBAC stays `get`: no list, no watch of Secrets.

    `read_after(t)` gives a view that accepts only what was read after moment t (a deletion acts on what the
    namespace and its Secrets say now, not on a cached answer). Reads of the same object are shared while in
    flight, so that 9,000 deletions in one namespace cost a few namespace reads, not 9,000."""

    def __init__(self, api_client: kubernetes.client.ApiClient, ttl: float = 0.0) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._ttl = ttl
        self._not_before = float("-inf")  # this view accepts reads started at or after this moment
        # key -> (when the read started, when it expires, value); shared by every view
        self._cache: dict[tuple[str, ...], tuple[float, float, Any]] = {}
        self._in_flight: dict[tuple[str, ...], tuple[float, asyncio.Future[Any]]] = {}
        self._queued: dict[tuple[str, ...], asyncio.Future[Any]] = {}  # the next read, for views too recent

    def read_after(self, moment: float) -> KubeReader:
        """A view of this reader (same caches) that uses only reads started at `moment` or later."""
        view = copy.copy(self)
        view._not_before = moment
        return view

    async def _read(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[Any]]) -> Any:
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() < cached[1] and cached[0] >= self._not_before:
            return cached[2]
        flight = self._in_flight.get(key)
        if flight is None:
            return await asyncio.shield(self._start(key, fetch))
        if flight[0] >= self._not_before:
            return await asyncio.shield(flight[1])
        # The read under way began too early for this view: wait for the next one, which starts when this one
        # ends, and which every view that arrives meanwhile shares (a burst of deletions costs two reads).
        queued = self._queued.get(key)
        if queued is None:
            queued = asyncio.ensure_future(self._after(flight[1], key, fetch))
            self._queued[key] = queued
        return await asyncio.shield(queued)

    def _start(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        flight = (time.monotonic(), asyncio.ensure_future(fetch()))
        self._in_flight[key] = flight
        flight[1].add_done_callback(partial(self._landed, key, flight))
        return flight[1]

    async def _after(
        self, previous: asyncio.Future[Any], key: tuple[str, ...], fetch: Callable[[], Awaitable[Any]]
    ) -> Any:
        await asyncio.wait([previous])
        self._queued.pop(key, None)
        return await self._start(key, fetch)

    def _landed(self, key: tuple[str, ...], flight: tuple[float, asyncio.Future[Any]], _: Any) -> None:
        if self._in_flight.get(key) is flight:
            del self._in_flight[key]
        future = flight[1]
        if future.cancelled() or future.exception() is not None:
            return
        current = self._cache.get(key)
        if current is None or current[0] <= flight[0]:  # never replace a newer read with an older one
            self._cache[key] = (flight[0], flight[0] + self._ttl, future.result())

    def forget_secret(self, namespace: str, name: str) -> None:
        """Drop what was read of a Secret the operator just changed: the next read asks the API server."""
        self._cache.pop(("secret", namespace, name), None)

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        return (await self.read_secret_with_labels(namespace, name))[0]

    async def read_secret_with_labels(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        """A Secret and its labels, in one read: a Secret a resource names is used only when a label opts it in."""
        result: tuple[SecretData, dict[str, str]] = await self._read(
            ("secret", namespace, name), partial(self._fetch_secret, namespace, name)
        )
        return result

    async def _fetch_secret(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        try:
            secret = await asyncio.to_thread(
                self._core.read_namespaced_secret, name, namespace, _request_timeout=KUBE_REQUEST_TIMEOUT
            )
        except ApiException as err:
            raise _explained(err, f"Secret {namespace}/{name}", "get secrets") from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"reading Secret {namespace}/{name} failed: {err}") from None
        raw = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
        metadata = secret.metadata
        version = str(metadata.resource_version) if metadata else ""
        labels = dict((metadata.labels if metadata else None) or {})
        finalizers = tuple((metadata.finalizers if metadata else None) or ())
        data = SecretData(namespace=namespace, name=name, resource_version=version, raw=raw, finalizers=finalizers)
        return data, labels

    async def namespace_annotations(self, namespace: str) -> dict[str, str]:
        result: dict[str, str] = await self._read(("namespace", namespace), partial(self._fetch_namespace, namespace))
        return result

    async def _fetch_namespace(self, namespace: str) -> dict[str, str]:
        try:
            ns = await asyncio.to_thread(self._core.read_namespace, namespace, _request_timeout=KUBE_REQUEST_TIMEOUT)
        except ApiException as err:
            raise _explained(err, f"namespace {namespace}", "get namespaces") from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"reading namespace {namespace} failed: {err}") from None
        return dict((ns.metadata.annotations if ns.metadata else None) or {})

    async def read_service(self, namespace: str, name: str) -> ServiceData:
        """Service `namespace/name` (NotFound when there is none)."""
        result: ServiceData = await self._read(
            ("service", namespace, name), partial(self._fetch_service, namespace, name)
        )
        return result

    async def _fetch_service(self, namespace: str, name: str) -> ServiceData:
        try:
            service = await asyncio.to_thread(
                self._core.read_namespaced_service, name, namespace, _request_timeout=KUBE_REQUEST_TIMEOUT
            )
        except ApiException as err:
            raise _explained(err, f"Service {namespace}/{name}", "get services") from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"reading Service {namespace}/{name} failed: {err}") from None
        spec = service.spec
        return ServiceData(
            namespace=namespace,
            name=name,
            type=str((spec.type if spec else None) or "ClusterIP"),
            selector=dict((spec.selector if spec else None) or {}),
        )

    async def read_elasticsearch(self, namespace: str, name: str) -> dict[str, Any] | None:
        """ECK's Elasticsearch `namespace/name` (elasticsearch.k8s.elastic.co/v1), or None when there is none.
        KindNotInstalled when the API server does not know the kind: ECK's CRD is not installed."""
        api = kubernetes.client.CustomObjectsApi(self._core.api_client)
        try:
            found = await asyncio.to_thread(
                api.get_namespaced_custom_object,
                ECK_GROUP,
                ECK_VERSION,
                namespace,
                ECK_PLURAL,
                name,
                _request_timeout=KUBE_REQUEST_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404 and object_missing(err.body, ECK_PLURAL):
                return None
            if err.status == 404:
                raise KindNotInstalled(
                    f"the API server does not serve {ECK_PLURAL}.{ECK_GROUP}/{ECK_VERSION}"
                ) from None
            raise _explained(err, f"Elasticsearch {namespace}/{name}", f"get {ECK_PLURAL}.{ECK_GROUP}") from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"reading Elasticsearch {namespace}/{name} failed: {err}") from None
        return found if isinstance(found, dict) else None


def object_missing(body: object, plural: str) -> bool:
    """Whether a 404's body says that the object is missing (a Status naming the kind), rather than its kind: for an
    unknown resource type the API server answers `404 page not found`, with no Status. No extra request needed."""
    try:
        status = json.loads(body) if isinstance(body, (str, bytes)) else None
    except ValueError:
        return False
    if not isinstance(status, dict) or status.get("reason") != "NotFound":
        return False
    details = status.get("details")
    return isinstance(details, dict) and details.get("kind") == plural


def _explained(err: ApiException, what: str, permission: str) -> ConfigurationError | KubernetesUnavailable:
    """A failed read as a status message a person can act on (the handlers retry it with backoff). Only a 404
    says the thing is gone; a 5xx or 429 says nothing about it."""
    if err.status == 404:
        return NotFound(f"{what} not found")
    if err.status in (401, 403):
        return ConfigurationError(f"the operator may not read {what}: its RBAC lacks {permission}")
    return KubernetesUnavailable(f"reading {what} failed: {err.status} {err.reason}")
