"""kopf, for what it is good at: the watch, startup and cleanup. It runs no reconcile (the work queue does).

Where to look: CRD (crds/) -> the watch here (one event handler) -> sources.EventSource (is this worth a
reconcile?) -> workqueue.WorkQueue -> controller.Controller (the workers) -> managed.ManagedReconciler (observe,
decide, act) -> decisions (plain functions) -> external.ExternalClient -> elasticsearch_gateway (the calls).
Kubernetes writes go through kube_writer.ResourceWriter.

kopf's finalizer setting stays at its default name, and no kopf handler needs a finalizer (no on.delete, no
timer, no daemon): kopf then neither adds nor removes any finalizer, and writes nothing to the objects. The
operator's finalizer is the managed reconciler's (kopf would strip it at once if it were kopf's setting with no
handler needing it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.metadata
import logging
from dataclasses import dataclass
from typing import Any

import kopf

from . import collector, contract, metrics, startup
from .arbitration import ClaimArbiter
from .config import OperatorConfig
from .controller import Controller
from .elasticsearch_pool import GatewayPool
from .external import Connector
from .kube import KUBE_THREADS, KubeReader, api_client_from_environment
from .kube_writer import ResourceWriter
from .managed import ManagedReconciler
from .protection import SecretProtection
from .sources import EventSource
from .store import Key, ResourceStore
from .workqueue import LOW, WorkQueue

log = logging.getLogger(__name__)

RESOURCE = (contract.GROUP, contract.VERSION, contract.PLURAL)
# How long a kopf worker waits for its resource's next event before it gives its slot back (kopf's default: 5 s):
# the event handler only files the object and returns.
WORKER_IDLE_SECONDS = 0.5


@dataclass
class Runtime:
    """What the operator is made of, built at startup and kept in memo.runtime."""

    config: OperatorConfig
    store: ResourceStore
    queue: WorkQueue[Key]
    events: EventSource
    controller: Controller
    pool: GatewayPool
    metrics: collector.ResourceCollector
    startup_check: asyncio.Task[None] | None = None  # the default Elasticsearch's first check (startup.py)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = OperatorConfig.from_env()
    settings.posting.reporting_component = "es-inference-operator"
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 10
    # The CRD is installed before the operator; no need to list CRDs and namespaces (nor the RBAC for it).
    settings.scanning.disabled = True
    # kopf's per-object workers only hand each event to the event handler: at most this many resources' events
    # in hand at once bounds the memory of a burst (10,000 created together).
    settings.queueing.worker_limit = config.max_workers
    settings.queueing.idle_timeout = WORKER_IDLE_SECONDS

    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=KUBE_THREADS, thread_name_prefix="kube")
    )
    pool = GatewayPool(
        request_timeout=config.request_timeout_seconds,
        create_timeout=config.create_timeout_seconds,
        capabilities_ttl=config.resync_seconds,
        max_concurrency=config.max_concurrency,
        # Fencing (leader election): memo.may_write says whether this replica may still write to Elasticsearch.
        may_write=memo.get("may_write") or (lambda: True),
    )
    api_client = await asyncio.to_thread(api_client_from_environment)
    kube = KubeReader(api_client, ttl=config.secret_cache_seconds)
    store = ResourceStore()
    connector = Connector(config, kube, pool)
    writer = ResourceWriter(api_client, store)
    protection = SecretProtection(api_client, store, kube)
    reconciler = ManagedReconciler(config, store, connector, ClaimArbiter(store, connector), writer, kube, protection)
    # A lane per Elasticsearch connection: a cluster that hangs holds at most `lane_limit` workers.
    queue: WorkQueue[Key] = WorkQueue(lane_of=lambda key: _lane(store, key), lane_limit=2 * config.max_concurrency)
    # Every claim is known before the first reconcile: a resource must not take an inference id that an older
    # resource, not yet seen by the watch, manages. Then each resource is looked at once (low priority: a change
    # that comes meanwhile goes first).
    await store.fill(api_client, memo.get("namespaces") or ())
    for key in store.all_keys():
        queue.add(key, priority=LOW)
    events = EventSource(store, queue)
    writer.on_reread = lambda body: events.on_event("MODIFIED", body)  # read after a write conflict: as if watched
    controller = Controller(config, queue, reconciler)
    controller.start(config.max_workers)
    memo.runtime = Runtime(
        config=config,
        store=store,
        queue=queue,
        events=events,
        controller=controller,
        pool=pool,
        metrics=collector.install(store, queue, per_resource=config.metrics_per_resource),
    )
    metrics.BUILD_INFO.labels(importlib.metadata.version("es-inference-operator")).set(1)
    log.info("serving %d InferenceEndpoints with %d workers", len(store), config.max_workers)
    memo.runtime.startup_check = asyncio.create_task(startup.check_elasticsearch(config, pool))  # logs one line


def _lane(store: ResourceStore, key: Key) -> str:
    obj = store.get(key)
    return obj.lane if obj is not None else "unknown"


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    if runtime.startup_check is not None:
        runtime.startup_check.cancel()
    await runtime.controller.stop()
    await runtime.pool.close()
    collector.uninstall(runtime.metrics)


@kopf.on.event(*RESOURCE, id="watch")
async def watch(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """Every version of every resource: into the store, and into the queue if it needs a reconcile."""
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        runtime.events.on_event(event.get("type"), event.get("object") or {})
