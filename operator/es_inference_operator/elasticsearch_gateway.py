"""Every Elasticsearch call the operator makes, through the official client, and nothing else.

Works against Elasticsearch 8.15+ and 9.x with the 9.x client: the client asks for
`compatible-with=9`, which an 8.x server refuses (400 media_type_header_exception). The transport below
rewrites the compatibility version to the server's major, learnt from `GET /` (sent as compatible-with=8,
which both majors accept).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import elastic_transport
from elasticsearch import AsyncElasticsearch, exceptions

from . import metrics
from .decisions import (
    Capabilities,
    References,
    cluster_identity,
    parse_version,
    references_from_conflict,
    references_from_dry_run,
    url_origin,
)
from .elasticsearch_connection import Connection as Connection  # re-exported: the gateway's callers import it here
from .elasticsearch_connection import locate, ssl_context, translate
from .endpoint_snapshot import EndpointSnapshot, TokenBucket
from .errors import NotLeader, Referenced, Rejected, Unavailable
from .redaction import mask

T = TypeVar("T")

_COMPATIBLE_WITH = re.compile(r"compatible-with=\d+")


class CompatibleTransport(elastic_transport.AsyncTransport):
    """Sends the compatibility version the server accepts instead of the client's own major."""

    compatible_with = 8  # until GET / told us: both 8.x and 9.x servers accept 8

    async def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:  # type: ignore[override]
        headers = kwargs.get("headers")
        if isinstance(headers, Mapping):
            fixed = dict(headers)
            for name, value in headers.items():
                if name.lower() in ("accept", "content-type") and isinstance(value, str):
                    fixed[name] = _COMPATIBLE_WITH.sub(f"compatible-with={self.compatible_with}", value)
            kwargs["headers"] = fixed
        return await super().perform_request(method, target, **kwargs)


class ElasticsearchGateway:
    """The operator's Elasticsearch calls for one connection."""

    def __init__(
        self,
        connection: Connection,
        *,
        request_timeout: float = 10.0,
        create_timeout: float = 120.0,
        capabilities_ttl: float = 60.0,
        max_concurrency: int = 10,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        auth: dict[str, Any] = {}
        if connection.api_key:
            auth["api_key"] = connection.api_key
        elif connection.username:
            auth["basic_auth"] = (connection.username, connection.password or "")
        self.connection = connection
        self._may_write = may_write
        self.client = AsyncElasticsearch(
            connection.url,
            transport_class=CompatibleTransport,
            ssl_context=ssl_context(connection),
            request_timeout=request_timeout,
            # Retries belong to the operator (kopf's backoff with jitter), not to a hidden loop in here.
            max_retries=0,
            retry_on_timeout=False,
            # As many connections as requests may be in flight: a request never waits inside the client for a
            # connection, so its timeout measures Elasticsearch, not the operator's own queue.
            connections_per_node=max_concurrency,
            **auth,
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        # A PUT of an in-cluster service waits for its model deployment (30 s by default, 120 s for completion
        # tasks: reference §3.1): a timeout shorter than that would report a create that is still going on.
        self._create_timeout = max(create_timeout, request_timeout)
        # Made once: options() builds a whole client (9% of the operator's CPU samples in a burst of creates).
        self._creating = self.client.options(request_timeout=self._create_timeout)
        self._capabilities: Capabilities | None = None
        self._capabilities_at = 0.0
        self._capabilities_ttl = capabilities_ttl
        self._negotiating = asyncio.Lock()
        self.endpoints = EndpointSnapshot(self.list_endpoints)
        self.reference_checks = TokenBucket()

    @property
    def _transport(self) -> CompatibleTransport:
        transport = self.client.transport
        assert isinstance(transport, CompatibleTransport)
        return transport

    async def close(self) -> None:
        await self.client.close()

    async def _call(
        self,
        operation: str,
        make_call: Callable[[], Awaitable[T]],
        *,
        sent_secrets: tuple[str, ...] = (),
        write: bool = False,
    ) -> T:
        """One request. Its failure comes back in the operator's terms, with every secret value it sent (and the
        connection's credentials) masked: Elasticsearch echoes unknown settings, values included (§10.5).

        A write is fenced once it has its slot, just before it is sent: a write that waited for a slot while
        this replica's Lease ran out must not go out after."""
        async with self._slots:  # waiting for a slot is the operator's queue: it never counts as an error
            if write:
                self._check_may_write(operation)
            return await self._call_now(operation, make_call, sent_secrets)

    async def _call_now(
        self, operation: str, make_call: Callable[[], Awaitable[T]], sent_secrets: tuple[str, ...]
    ) -> T:
        started = time.monotonic()
        cluster = self.metrics_cluster
        try:
            result = await make_call()
        except (exceptions.ApiError, elastic_transport.TransportError) as err:
            translated = translate(err)
            translated.reason = mask(translated.reason, (*sent_secrets, *self.connection.credentials))
            locate(translated, self.connection)
            if translated.error_type == "media_type_header_exception" or isinstance(translated, Unavailable):
                # The server may have changed under us (restarted, upgraded): learn its version again.
                self._capabilities = None
            outcome = "not_found" if translated.status == 404 else translated.kind
            metrics.ES_REQUESTS.labels(cluster, operation, outcome, str(translated.status or "none")).inc()
            metrics.ES_UP.labels(cluster).set(0 if translated.kind in ("unavailable", "auth") else 1)
            raise translated from None
        finally:
            metrics.ES_REQUEST_SECONDS.labels(cluster, operation).observe(time.monotonic() - started)
        code = getattr(getattr(result, "meta", None), "status", 200)
        metrics.ES_REQUESTS.labels(cluster, operation, "success", str(code)).inc()
        metrics.ES_UP.labels(cluster).set(1)
        return result

    @property
    def where(self) -> str:
        """Which Elasticsearch, for messages: its URL and where the connection came from."""
        return self.connection.where

    @property
    def metrics_cluster(self) -> str:
        """The `cluster` label of this connection's metrics: its URL origin (bounded, never a credential)."""
        return url_origin(self.connection.url)

    def _check_may_write(self, operation: str) -> None:
        """Fencing: a replica that is not (or no longer surely) the leader sends no write to Elasticsearch."""
        if not self._may_write():
            raise NotLeader(f"not sending {operation}: this replica does not hold the leader lease")

    async def capabilities(self) -> Capabilities:
        """The server's cluster and version, and what they imply. Asked again after `capabilities_ttl` seconds
        and after a failure, since an upgrade (8.16 -> 8.17) or a restart can change them; per connection, never
        per resource. A node that reports no cluster yet (`_na_`) is asked again at the next call."""
        async with self._negotiating:
            stale = time.monotonic() - self._capabilities_at > self._capabilities_ttl
            if self._capabilities is None or stale or not self._capabilities.cluster_known:
                self._transport.compatible_with = 8
                info = await self._call("info", self.client.info)
                version = parse_version(str(info["version"]["number"]))
                self._transport.compatible_with = version[0]
                self._capabilities = Capabilities(
                    version,
                    cluster_identity(info.get("cluster_uuid")),
                    url_origin(self.connection.url),
                    cluster_name=str(info.get("cluster_name") or ""),
                )
                self._capabilities_at = time.monotonic()
            return self._capabilities

    async def get_endpoint(self, inference_id: str) -> dict[str, Any] | None:
        """The endpoint as Elasticsearch shows it, or None when it does not exist."""
        await self.capabilities()
        try:
            response = await self._call("get", lambda: self.client.inference.get(inference_id=inference_id))
        except Rejected as err:
            if err.status == 404:
                return None
            raise
        endpoints = response.get("endpoints") or response.get("models") or []
        return dict(endpoints[0]) if endpoints else None

    async def list_endpoints(self) -> dict[str, dict[str, Any]]:
        """Every endpoint of the cluster by id, in one request (GET _inference/_all; reference §10.4)."""
        await self.capabilities()
        response = await self._call("list", lambda: self.client.inference.get(inference_id="_all"))
        endpoints = response.get("endpoints") or response.get("models") or []
        return {str(e.get("inference_id") or e.get("model_id")): dict(e) for e in endpoints}

    async def put_endpoint(
        self, task_type: str, inference_id: str, body: Mapping[str, Any], *, secrets: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Create the endpoint; the answer is the endpoint as Elasticsearch stored it. `secrets`: the values in
        `body` that came from Secrets, masked in any error."""
        await self.capabilities()
        self._check_may_write("put")
        response = await self._call(
            "put",
            lambda: self._creating.inference.put(task_type=task_type, inference_id=inference_id, body=dict(body)),
            sent_secrets=secrets,
            write=True,
        )
        self.endpoints.note(inference_id, dict(response.body))
        return dict(response.body)

    async def update_endpoint(
        self, task_type: str, inference_id: str, body: Mapping[str, Any], *, secrets: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        await self.capabilities()
        self._check_may_write("update")
        response = await self._call(
            "update",
            lambda: self.client.inference.update(task_type=task_type, inference_id=inference_id, body=dict(body)),
            sent_secrets=secrets,
            write=True,
        )
        self.endpoints.note(inference_id, dict(response.body))
        return dict(response.body)

    async def semantic_text_indexes(self, inference_id: str) -> tuple[str, ...]:
        """Indexes whose mappings have a semantic_text field using the endpoint (inference_id or
        search_inference_id). Elasticsearch 8.15's delete checks pipelines only: the operator looks itself."""
        await self.capabilities()
        response = await self._call(
            # Closed and hidden indexes count too: a semantic_text field in one still uses the endpoint.
            "mappings",
            lambda: self.client.indices.get_mapping(index="*", expand_wildcards="all"),
        )
        return tuple(
            sorted(
                name
                for name, index in dict(response.body).items()
                if _uses_endpoint((index.get("mappings") or {}).get("properties") or {}, inference_id)
            )
        )

    async def dry_run_delete(self, task_type: str, inference_id: str) -> References | None:
        """What references the endpoint (None: it does not exist). Deletes nothing."""
        await self.capabilities()
        try:
            response = await self._call(
                "dry_run_delete",
                lambda: self.client.inference.delete(task_type=task_type, inference_id=inference_id, dry_run=True),
            )
        except Rejected as err:
            if err.status == 404:
                return None
            raise
        return references_from_dry_run(response.body)

    async def delete_endpoint(self, task_type: str, inference_id: str, *, force: bool) -> bool:
        """Delete the endpoint: True when deleted now, False when it was already gone.

        Without force, Elasticsearch's own 409 catches a reference created since the dry run.
        """
        await self.capabilities()
        self._check_may_write("delete")
        try:
            await self._call(
                "delete",
                lambda: self.client.inference.delete(
                    task_type=task_type, inference_id=inference_id, force=force or None
                ),
                write=True,
            )
        except Rejected as err:
            if err.status == 404:
                self.endpoints.note(inference_id, None)
                return False
            if err.status == 409:
                refs = references_from_conflict(err.reason)
                raise Referenced(err.reason, status=409, error_type=err.error_type, references=refs) from None
            raise
        self.endpoints.note(inference_id, None)
        return True


def _uses_endpoint(properties: Mapping[str, Any], inference_id: str) -> bool:
    for field_mapping in properties.values():
        if not isinstance(field_mapping, Mapping):
            continue
        if field_mapping.get("type") == "semantic_text" and inference_id in (
            field_mapping.get("inference_id"),
            field_mapping.get("search_inference_id"),
        ):
            return True
        nested = [field_mapping.get("properties") or {}, *(field_mapping.get("fields") or {}).values()]
        if any(isinstance(n, Mapping) and _uses_endpoint(n.get("properties", n), inference_id) for n in nested):
            return True
    return False
