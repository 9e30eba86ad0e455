"""The periodic drift check of every resource: one task for the whole operator, not a kopf timer per resource.

A kopf timer is a task per object that holds the object's whole body (managedFields included): at 10,000
resources that was most of the operator's memory, and the ticks of resources created together came together.
This task walks the resources the watch keeps (trimmed) once per OPERATOR_RESYNC_SECONDS, each at its own
moment of the period (by its uid), so that the work is spread evenly; it writes what changed through the status
writer and posts its Events itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .decisions import spread_offset

log = logging.getLogger(__name__)

Check = Callable[[str], Awaitable[None]]


async def run_forever(period: float, uids: Callable[[], list[str]], check: Check) -> None:
    """Check every uid once per `period`, spread over it; the first round starts one period after startup
    (the resume handlers have just looked at everything)."""
    await asyncio.sleep(period)
    while True:
        started = time.monotonic()
        for uid in sorted(uids(), key=lambda u: spread_offset(u, 1.0)):
            delay = started + spread_offset(uid, period) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await check(uid)
            except asyncio.CancelledError:
                raise
            except Exception:  # one resource's failure never stops the others' checks
                log.exception("the periodic check of %s failed", uid)
        await asyncio.sleep(max(0.0, started + period - time.monotonic()))


class Retries:
    """Reconciles to run again after a failure, each at its own time: the work queue of a handler's retries.

    Not kopf's: a kopf handler that asks to be retried later sleeps in its worker, and the worker keeps one of
    the OPERATOR_MAX_WORKERS slots all the while, so that 100 resources waiting for an Elasticsearch that is down
    would hold every slot and stall every other resource, on every cluster. Here a waiting resource costs an
    entry in a heap; at most `limit` retries run at once."""

    def __init__(self, limit: int) -> None:
        self._due: dict[str, tuple[float, int]] = {}  # uid -> (when, attempt): the one that counts
        self._heap: list[tuple[float, str]] = []  # may hold stale entries: checked against _due when popped
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(limit)
        self._running: set[asyncio.Task[None]] = set()

    def schedule(self, uid: str, delay: float, attempt: int) -> None:
        when = time.monotonic() + delay
        self._due[uid] = (when, attempt)
        heapq.heappush(self._heap, (when, uid))
        self._wake.set()

    def cancel(self, uid: str) -> None:
        """A newer reconcile supersedes the retry (a spec change, a deletion)."""
        self._due.pop(uid, None)

    def __len__(self) -> int:
        return len(self._due)

    async def run_forever(self, check: Callable[[str, int], Awaitable[None]]) -> None:
        """Run each retry when it is due: `check(uid, attempt)`, which schedules the next one if it fails again."""
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                when, uid = heapq.heappop(self._heap)
                if self._due.get(uid, (None, 0))[0] != when:
                    continue  # superseded or cancelled
                attempt = self._due.pop(uid)[1]
                await self._slots.acquire()
                task = asyncio.create_task(self._run(check, uid, attempt))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            self._wake.clear()
            timeout = self._heap[0][0] - time.monotonic() if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def _run(self, check: Callable[[str, int], Awaitable[None]], uid: str, attempt: int) -> None:
        try:
            await check(uid, attempt)
        except Exception:  # one resource's failure never stops the others' retries
            log.exception("the retry of %s failed", uid)
        finally:
            self._slots.release()


def object_reference(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
    }
