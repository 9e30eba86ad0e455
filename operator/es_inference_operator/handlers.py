"""The kopf handlers: thin wiring from Kubernetes events to the reconciler's steps.

Where to look: CRD (crds/) -> these handlers -> reconciler.Reconciler (steps) -> decisions (plain functions)
-> elasticsearch_gateway (the Elasticsearch calls). Status goes out through status.write_status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import kopf
import prometheus_client

from . import contract, logs, metrics, persistence
from .config import OperatorConfig
from .elasticsearch_gateway import GatewayPool
from .kube import KubeReader
from .reconciler import ClaimEntry, Reconciler, Resource, Result
from .spec import inference_id_of, is_forced
from .status import write_status

RESOURCE = (contract.GROUP, contract.VERSION, contract.PLURAL)
DELETE_HANDLER_ID = "delete-endpoint"

# Read at import: kopf's decorators below need the intervals.
CONFIG = OperatorConfig.from_env()


class Runtime:
    """What the handlers share, made at startup."""

    reconciler: Reconciler
    pool: GatewayPool
    progress: kopf.AnnotationsProgressStorage

    def __init__(self) -> None:
        self.locks: dict[str, asyncio.Lock] = {}  # one reconcile at a time per resource (timer vs. handlers)
        self.blocked: set[str] = set()  # uids of deletions blocked by references now


RUNTIME = Runtime()


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = contract.FINALIZER
    RUNTIME.progress = persistence.progress_storage()
    settings.persistence.progress_storage = RUNTIME.progress
    settings.persistence.diffbase_storage = persistence.diffbase_storage()
    settings.posting.reporting_component = "es-inference-operator"
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    settings.execution.default_backoff = CONFIG.retry_base_seconds * 4
    # The CRD is installed before the operator; no need to list CRDs and namespaces (nor the RBAC for it).
    settings.scanning.disabled = True

    RUNTIME.pool = GatewayPool(request_timeout=CONFIG.request_timeout_seconds)
    kube = await asyncio.to_thread(KubeReader.from_environment)
    RUNTIME.reconciler = Reconciler(CONFIG, kube, RUNTIME.pool)
    if CONFIG.metrics_port:
        prometheus_client.start_http_server(CONFIG.metrics_port)


@kopf.on.cleanup()
async def close_connections(**_: Any) -> None:
    await RUNTIME.pool.close()


@kopf.on.probe(id="blockedDeletions")
def blocked_deletions(**_: Any) -> int:
    return len(RUNTIME.blocked)


@kopf.index(*RESOURCE)
def claims(
    name: str, namespace: str | None, spec: kopf.Spec, meta: kopf.Meta, status: kopf.Status, uid: str, **_: Any
) -> dict[str, ClaimEntry]:
    """Who claims which inference id, so that two resources never fight over one endpoint."""
    resource = _resource_from(name, str(namespace), uid, meta, spec, status)
    return {inference_id_of(name, spec): ClaimEntry(resource.claim, resource.desired.connection_secret)}


def _resource_from(name: str, namespace: str, uid: str, meta: kopf.Meta, spec: Any, status: Any) -> Resource:
    return Resource(
        namespace=namespace,
        name=name,
        uid=uid,
        created=str(meta.get("creationTimestamp", "")),
        spec=dict(spec),
        status=dict(status),
        annotations=dict(meta.get("annotations") or {}),
    )


def _resource(body: kopf.Body) -> Resource:
    meta = body.metadata
    return _resource_from(str(meta.name), str(meta.namespace), str(meta.uid), meta, body.spec, body.status)


def _claims_for(resource: Resource, kwargs: dict[str, Any]) -> Iterable[ClaimEntry]:
    """The claims on this resource's inference id, from the `claims` index kopf passes to every handler."""
    index: kopf.Index[str, ClaimEntry] = kwargs["claims"]
    key = resource.desired.inference_id
    return list(index[key]) if key in index else []


def _publish(body: kopf.Body, patch: kopf.Patch, result: Result) -> None:
    write_status(body, patch, result.update)
    for event_type, reason, message in result.events:
        kopf.event(body, type=event_type, reason=reason, message=message)


def _outcome(result: Result) -> str:
    if result.done and result.retry_in is None:
        synced = next((c for c in result.update.conditions if c.type == contract.SYNCED), None)
        return "success" if synced is None or synced.status == "True" else "stalled"
    return "retrying"


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile", field="spec")
async def reconcile(body: kopf.Body, patch: kopf.Patch, retry: int, **kwargs: Any) -> None:
    """Create, adopt or update the endpoint. Only spec changes fire this: labels and annotations (Argo CD's
    tracking, the force annotation) do not."""
    resource = _resource(body)
    async with RUNTIME.locks.setdefault(resource.uid, asyncio.Lock()):
        result = await RUNTIME.reconciler.reconcile(resource, _claims_for(resource, kwargs), attempt=retry)
    _publish(body, patch, result)
    metrics.RECONCILES.labels("reconcile", _outcome(result)).inc()
    if result.retry_in is not None:
        raise kopf.TemporaryError(_message(result), delay=result.retry_in)


@kopf.timer(
    *RESOURCE,
    id="resync",
    interval=CONFIG.resync_seconds,
    initial_delay=CONFIG.resync_seconds,
)
async def resync(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
    """The periodic drift check: an endpoint deleted or changed behind the operator's back, a rotated Secret,
    a conflict that went away. It never raises: the next tick is the retry."""
    resource = _resource(body)
    async with RUNTIME.locks.setdefault(resource.uid, asyncio.Lock()):
        result = await RUNTIME.reconciler.reconcile(resource, _claims_for(resource, kwargs))
    _publish(body, patch, result)
    metrics.RECONCILES.labels("resync", _outcome(result)).inc()


@kopf.on.delete(*RESOURCE, id=DELETE_HANDLER_ID)
async def delete(body: kopf.Body, patch: kopf.Patch, retry: int, **kwargs: Any) -> None:
    """The finalizer's handler. No filters on purpose: kopf releases the finalizer without calling a handler
    whose filters stop matching. It goes only when this returns; every wait raises TemporaryError."""
    resource = _resource(body)
    async with RUNTIME.locks.setdefault(resource.uid, asyncio.Lock()):
        result = await RUNTIME.reconciler.delete(resource, _claims_for(resource, kwargs), attempt=retry)
    blocked = any(c.type == contract.DELETION_BLOCKED and c.status == "True" for c in result.update.conditions)
    (RUNTIME.blocked.add if blocked and not result.done else RUNTIME.blocked.discard)(resource.uid)
    metrics.DELETIONS_BLOCKED.set(len(RUNTIME.blocked))
    metrics.RECONCILES.labels("delete", "success" if result.done else "blocked" if blocked else "retrying").inc()
    if result.done:
        # The resource is about to go: no status to write, only the events worth keeping.
        for event_type, reason, message in result.events:
            kopf.event(body, type=event_type, reason=reason, message=message)
        RUNTIME.locks.pop(resource.uid, None)
        return
    _publish(body, patch, result)
    # A blocked deletion is an expected wait, logged as such (see logs.py); anything else is a failure.
    message = f"{logs.WAITING}{_message(result)}" if blocked else _message(result)
    raise kopf.TemporaryError(message, delay=result.retry_in or CONFIG.blocked_recheck_seconds)


@kopf.on.field(*RESOURCE, id="force", field=("metadata", "annotations", contract.FORCE_ANNOTATION))
@kopf.on.field(*RESOURCE, id="force-bare", field=("metadata", "annotations", contract.FORCE_ANNOTATION_BARE))
async def wake_blocked_deletion(body: kopf.Body, meta: kopf.Meta, patch: kopf.Patch, **_: Any) -> None:
    """Kopf does not wake a delayed handler on a new event: a blocked deletion sleeps until its next re-check.
    When the force annotation arrives during a deletion, drop the delete handler's progress record, so that
    kopf sees it as new and runs it at once (kopf-notes §1.5; tests/e2e guard this across kopf upgrades)."""
    if meta.get("deletionTimestamp") and is_forced(meta.get("annotations")):
        RUNTIME.progress.purge(key=kopf.HandlerId(DELETE_HANDLER_ID), body=body, patch=patch)


def _message(result: Result) -> str:
    for cond in result.update.conditions:
        if cond.status != "True" or cond.type == contract.DELETION_BLOCKED:
            return cond.message
    return "retrying"
