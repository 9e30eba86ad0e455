"""The workers: the only code that runs reconciles. A fixed number of tasks pull keys from the one work queue,
run the managed reconciler, and turn its Result into queue calls, as controller-runtime's reconcileHandler does:

    failed            -> the key's failure count grows; back after the delay the reconciler chose from it
    requeue_after = d -> the failure count starts again; back after d (the drift check, a blocked deletion's
                         re-check), or earlier if an event brings it
    no requeue        -> gone: forgotten

`done` always runs, whatever the reconcile raised, so that a key is never stuck as being processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from . import metrics
from .config import OperatorConfig
from .decisions import retry_delay
from .errors import NotLeader
from .managed import ManagedReconciler
from .outcomes import Result
from .store import Key
from .workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)


class Controller:
    def __init__(self, config: OperatorConfig, queue: WorkQueue[Key], reconciler: ManagedReconciler) -> None:
        self.config = config
        self.queue = queue
        self.reconciler = reconciler
        self._workers: list[asyncio.Task[None]] = []

    def start(self, workers: int) -> None:
        metrics.WORKQUEUE_MAX_WORKERS.set(workers)
        self._workers = [asyncio.create_task(self._work(), name=f"worker-{i}") for i in range(workers)]

    async def stop(self, grace: float = 5.0) -> None:
        """Hand out nothing more, let reconciles under way finish for `grace` seconds, then cancel them (an
        interrupted reconcile is safe: every step is idempotent and recorded before it is taken)."""
        self.queue.shutdown()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=grace)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self._process(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: Key) -> None:
        started = time.monotonic()
        operation = "reconcile"
        obj = self.reconciler.store.get(key)
        if obj is not None and obj.deleting:
            operation = "delete"
        try:
            result = await self.reconciler.reconcile(key, self.queue.failures(key))
        except NotLeader as err:
            # Fencing: this replica may no longer write to Elasticsearch; the leader election ends the process.
            log.warning("%s/%s: %s", key[0], key[1], err)
            return
        except Exception:
            log.exception("%s/%s: the reconcile failed unexpectedly; retrying with backoff", key[0], key[1])
            attempt = self.queue.failures(key)
            delay = retry_delay(
                attempt,
                base=self.config.retry_base_seconds,
                cap=self.config.retry_cap_seconds,
                jitter=random.random(),
            )
            result = Result(requeue_after=delay, failed=True, outcome="error")
        finally:
            metrics.RECONCILE_SECONDS.labels(operation).observe(time.monotonic() - started)
            metrics.WORKQUEUE_LONGEST_RUNNING_SECONDS.set(self.queue.longest_running())
        metrics.RECONCILES.labels(operation, result.outcome).inc()
        self.apply(key, result)

    def apply(self, key: Key, result: Result) -> None:
        if result.failed:
            self.queue.failed(key)
        else:
            self.queue.forget(key)
        if result.requeue_after is None:
            self.queue.discard(key)
        elif result.requeue_after <= 0:
            self.queue.add(key)
        else:
            self.queue.add_after(key, result.requeue_after)
