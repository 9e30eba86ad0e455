"""The kopf handlers: thin wiring from Kubernetes events to the reconciler's steps.

Where to look: CRD (crds/) -> these handlers -> reconciler.Reconciler (steps) -> decisions (plain functions)
-> elasticsearch_gateway (the Elasticsearch calls). Status goes out through status.write_status, and through
kube.StatusWriter where a reconcile must record something before it calls Elasticsearch.

What the handlers share (configuration, reconciler, locks) is made in `on.startup` and kept in kopf's `memo`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import kopf

from . import contract, logs, metrics, persistence, resync
from .claims import ClaimRegistry
from .conditions import is_true
from .config import OperatorConfig
from .elasticsearch_gateway import GatewayPool
from .kube import KUBE_THREADS, EventPoster, KubeReader, StatusWriter, api_client_from_environment
from .reconciler import ClaimEntry, Reconciler, Resource, Result
from .spec import is_forced
from .status import applied, events_to_post, status_changes, write_status

log = logging.getLogger(__name__)

RESOURCE = (contract.GROUP, contract.VERSION, contract.PLURAL)
DELETE_HANDLER_ID = "delete-endpoint"
# How long a kopf worker waits for its resource's next event before it gives its slot back (kopf's default: 5 s).
WORKER_IDLE_SECONDS = 0.5
# How long kopf waits for the version its own patch made before it handles an older event (kopf's default: 5 s).
CONSISTENCY_SECONDS = 2.0


@dataclass
class Runtime:
    """What the handlers share, made at startup and kept in memo.runtime."""

    config: OperatorConfig
    reconciler: Reconciler
    pool: GatewayPool
    progress: kopf.StatusProgressStorage
    retries: resync.Retries
    claims: ClaimRegistry = field(default_factory=ClaimRegistry)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)  # one step at a time per resource
    blocked: set[str] = field(default_factory=set)  # uids of deletions blocked by references now
    writer: StatusWriter | None = None
    events: EventPoster | None = None
    background: list[asyncio.Task[None]] = field(default_factory=list)  # the resync and retry loops
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> the status last written

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = OperatorConfig.from_env()
    progress = persistence.progress_storage()
    settings.persistence.finalizer = contract.FINALIZER
    settings.persistence.progress_storage = progress
    settings.persistence.diffbase_storage = persistence.diffbase_storage()
    settings.posting.reporting_component = "es-inference-operator"
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    settings.execution.default_backoff = config.retry_base_seconds * 4
    # The CRD is installed before the operator; no need to list CRDs and namespaces (nor the RBAC for it).
    settings.scanning.disabled = True
    # At most this many resources in hand at once: 10,000 created together were 10,000 handlers holding their
    # bodies while they queued for Elasticsearch's few slots. (kopf warns that a limit can deadlock an index's
    # filling at startup: the operator has no kopf index.) A worker keeps its slot while it idles after its last
    # event (5 s by default), and after it lets a deleted resource go (kopf waits up to its consistency timeout,
    # 5 s, for a version the deletion never sends): with 100 slots that capped creates and deletes at 20 a
    # second, whatever Elasticsearch and the API server could do. Hence a short idle time, a shorter wait for a
    # patched version (the handlers are idempotent: one that runs on a body a moment old changes nothing), and
    # 200 slots (500 took 488 MiB at 10,000). No reconcile asks kopf for a delayed retry, which would sleep in
    # the worker holding its slot: reconciles retry through runtime.retries (resync.Retries). A deletion that
    # waits (references, Elasticsearch down) does hold one; the README says how to size for that.
    settings.queueing.worker_limit = config.max_workers
    settings.queueing.idle_timeout = WORKER_IDLE_SECONDS
    settings.persistence.consistency_timeout = CONSISTENCY_SECONDS

    pool = GatewayPool(
        request_timeout=config.request_timeout_seconds,
        create_timeout=config.create_timeout_seconds,
        capabilities_ttl=config.resync_seconds,
        max_concurrency=config.max_concurrency,
        # Fencing (leader election): memo.may_write says whether this replica may still write to Elasticsearch.
        may_write=memo.get("may_write") or (lambda: True),
    )
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=KUBE_THREADS, thread_name_prefix="kube")
    )
    api_client = await asyncio.to_thread(api_client_from_environment)
    kube = KubeReader(api_client, ttl=config.resync_seconds / 2)
    reconciler = Reconciler(config, kube, pool, StatusWriter(api_client))
    writer = StatusWriter(api_client)
    runtime = Runtime(
        config=config,
        reconciler=reconciler,
        pool=pool,
        progress=progress,
        retries=resync.Retries(limit=config.max_workers),
        writer=writer,
    )
    runtime.events = EventPoster(api_client)
    # Every claim known before the first handler runs: a resource must not adopt an endpoint that an older
    # resource, not yet seen by the watch, manages.
    await runtime.claims.fill(api_client, memo.get("namespaces") or ())
    memo.runtime = runtime
    runtime.background = [
        asyncio.create_task(
            resync.run_forever(config.resync_seconds, lambda: list(runtime.claims.bodies), partial(_check, runtime))
        ),
        asyncio.create_task(runtime.retries.run_forever(partial(_retry, runtime))),
    ]


@kopf.on.cleanup()
async def close_connections(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.runtime.background:
        task.cancel()
    await memo.runtime.pool.close()


@kopf.on.probe(id="blockedDeletions")
def blocked_deletions(memo: kopf.Memo, **_: Any) -> int:
    return len(memo.runtime.blocked)


def _resource_from(meta: Any, spec: Any, status: Any) -> Resource:
    return Resource(
        namespace=str(meta.get("namespace")),
        name=str(meta.get("name")),
        uid=str(meta.get("uid")),
        created=str(meta.get("creationTimestamp", "")),
        spec=dict(spec),
        status=dict(status),
        annotations=dict(meta.get("annotations") or {}),
        generation=meta.get("generation"),
    )


def _resource(body: kopf.Body, runtime: Runtime) -> Resource:
    """One consistent snapshot of the body (kopf's body is live in timers): spec and generation together. Its
    status is the one the last step wrote, which the body may not show yet: kopf applies a step's patch after
    the step, and refreshes a body only at the object's next event (the next step may already hold the lock)."""
    uid = str(body.metadata.uid)
    return _resource_from(dict(body.metadata), dict(body.spec), runtime.statuses.get(uid) or dict(body.status))


def _claims_for(runtime: Runtime, resource: Resource) -> Iterable[ClaimEntry]:
    """The claims on this resource's inference id."""
    return runtime.claims.claims_on(resource.desired.inference_id)


def _publish(body: kopf.Body, patch: kopf.Patch, resource: Resource, result: Result, runtime: Runtime) -> None:
    """Inside the resource's lock: the next step reads what this one wrote."""
    base = result.written if result.written is not None else resource.status
    runtime.statuses[resource.uid] = write_status(
        body, patch, result.update, generation=resource.generation, base=base, events=result.events
    )


def _outcome(result: Result) -> str:
    if result.done and result.retry_in is None:
        synced = next((c for c in result.update.conditions if c.type == contract.SYNCED), None)
        return "success" if synced is None or synced.status == "True" else "stalled"
    return "retrying"


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile", field="spec")
async def reconcile(body: kopf.Body, patch: kopf.Patch, reason: str, memo: kopf.Memo, **_: Any) -> None:
    """Create, adopt or update the endpoint. Only spec changes fire this: labels and annotations (Argo CD's
    tracking, the force annotation) do not. On resume (a restart, nothing changed) it checks as the resync does,
    against the cluster's list: a restart with thousands of resources costs one request, not one each.

    A failure is retried by runtime.retries (with backoff), not by kopf: see configure()."""
    runtime: Runtime = memo.runtime
    uid = str(body.metadata.uid)
    async with runtime.lock(uid):
        runtime.retries.cancel(uid)  # this reconcile supersedes a pending retry
        resource = _resource(body, runtime)
        result = await runtime.reconciler.reconcile(
            resource, _claims_for(runtime, resource), attempt=0, periodic=reason == kopf.Reason.RESUME
        )
        _publish(body, patch, resource, result, runtime)
        _retry_later(runtime, resource, result, attempt=0)
    metrics.RECONCILES.labels("reconcile", _outcome(result)).inc()


def _retry_later(runtime: Runtime, resource: Resource, result: Result, attempt: int) -> None:
    if result.retry_in is None:
        return
    runtime.retries.schedule(resource.uid, result.retry_in, attempt + 1)
    log.warning("%s/%s: %s; retrying in %.1f s", resource.namespace, resource.name, _message(result), result.retry_in)


async def _retry(runtime: Runtime, uid: str, attempt: int) -> None:
    """A reconcile retried after a failure (resync.Retries): the periodic check, which writes its own status."""
    await _check(runtime, uid, attempt=attempt)


async def _check(runtime: Runtime, uid: str, attempt: int | None = None) -> None:
    """The periodic drift check of one resource (see resync.py): an endpoint deleted or changed behind the
    operator's back, a rotated Secret, a conflict that went away. Its status goes out at once. As a round's
    check (attempt None) it has no retry of its own: the next round is the retry. As a retry, a failure
    schedules the next attempt."""
    body = runtime.claims.bodies.get(uid)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return  # the delete handler owns a deleting resource
    async with runtime.lock(uid):
        body = runtime.claims.bodies.get(uid)  # an edit that landed while another step held the lock
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        meta = body["metadata"]
        resource = _resource_from(meta, body["spec"], runtime.statuses.get(uid) or body["status"])
        result = await runtime.reconciler.reconcile(
            resource, _claims_for(runtime, resource), attempt=attempt or 0, periodic=True
        )
        base = result.written if result.written is not None else resource.status
        changes = status_changes(base, result.update, generation=resource.generation)
        assert runtime.writer is not None and runtime.events is not None
        await runtime.writer.patch_status(resource.namespace, resource.name, changes)
        runtime.statuses[uid] = applied(base, changes)
        for event in events_to_post(base, result.update, deleting=False, own=result.events):
            await runtime.events.post(resync.object_reference(body), *event)
        if attempt is not None:
            _retry_later(runtime, resource, result, attempt)
        elif result.retry_in is None:
            runtime.retries.cancel(uid)  # in line again: a pending retry has nothing left to do
    metrics.RECONCILES.labels("resync" if attempt is None else "retry", _outcome(result)).inc()


@kopf.on.delete(*RESOURCE, id=DELETE_HANDLER_ID)
async def delete(body: kopf.Body, patch: kopf.Patch, retry: int, memo: kopf.Memo, **_: Any) -> None:
    """The finalizer's handler. No filters on purpose: kopf releases the finalizer without calling a handler
    whose filters stop matching. It goes only when this returns; every wait raises TemporaryError."""
    runtime: Runtime = memo.runtime
    uid = str(body.metadata.uid)
    runtime.retries.cancel(uid)
    async with runtime.lock(uid):
        resource = _resource(body, runtime)
        result = await runtime.reconciler.delete(resource, _claims_for(runtime, resource), attempt=retry)
        if not result.done:
            _publish(body, patch, resource, result, runtime)
    blocked = any(c.type == contract.DELETION_BLOCKED and c.status == "True" for c in result.update.conditions)
    (runtime.blocked.add if blocked and not result.done else runtime.blocked.discard)(uid)
    metrics.DELETIONS_BLOCKED.set(len(runtime.blocked))
    metrics.RECONCILES.labels("delete", "success" if result.done else "blocked" if blocked else "retrying").inc()
    if result.done:
        # The resource is about to go: no status to write, only the events worth keeping.
        for event_type, reason, message in result.events:
            kopf.event(body, type=event_type, reason=reason, message=message)
        runtime.locks.pop(uid, None)
        runtime.statuses.pop(uid, None)
        return
    # A blocked deletion is an expected wait, logged as such (see logs.py); anything else is a failure.
    message = f"{logs.WAITING}{_message(result)}" if blocked else _message(result)
    raise kopf.TemporaryError(message, delay=result.retry_in or runtime.config.blocked_recheck_seconds)


@kopf.on.event(*RESOURCE, id="watch")
async def watch(
    event: kopf.RawEvent, body: kopf.Body, meta: kopf.Meta, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    """Every change of every resource: keep the claims registry current, and wake a forced deletion."""
    runtime: Runtime = memo.runtime
    if event.get("type") == "DELETED":
        runtime.claims.forget(str(meta.get("uid")))
        return
    runtime.claims.observe(body)
    wake_blocked_deletion(runtime, body, meta, patch)


def wake_blocked_deletion(runtime: Runtime, body: kopf.Body, meta: kopf.Meta, patch: kopf.Patch) -> None:
    """Kopf does not wake a delayed handler on a new event: a blocked deletion sleeps until its next re-check.
    When a deletion blocked by references (its status says so) sees either force key set to "true", drop the
    delete handler's progress record, so that kopf sees it as new and runs it at once.

    An event handler, not a field handler: it sees every change, so a value corrected from "True" to "true"
    wakes the deletion too. It relies on one undocumented kopf behaviour, that a purged record makes the
    handler due at once (kopf-notes §1.5); tests/e2e/test_deletion.py guards it across kopf upgrades."""
    if not meta.get("deletionTimestamp") or not is_forced(meta.get("annotations")):
        return
    if not is_true(body.get("status", {}).get("conditions") or [], contract.DELETION_BLOCKED):
        return  # not waiting for references (or already forced and retrying on an error): nothing to wake
    runtime.progress.purge(key=kopf.HandlerId(DELETE_HANDLER_ID), body=body, patch=patch)


def _message(result: Result) -> str:
    for cond in result.update.conditions:
        if cond.status != "True" or cond.type == contract.DELETION_BLOCKED:
            return cond.message
    return "retrying"
