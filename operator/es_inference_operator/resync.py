"""The periodic drift check of every resource: one task for the whole operator, not a kopf timer per resource.

A kopf timer is a task per object that holds the object's whole body (managedFields included): at 10,000
resources that was most of the operator's memory, and the ticks of resources created together came together.
This task walks the resources the watch keeps (trimmed) once per OPERATOR_RESYNC_SECONDS, each at its own
moment of the period (by its uid), so that the work is spread evenly; it writes what changed through the status
writer and posts its Events itself.
"""

from __future__ import annotations

import asyncio
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


def object_reference(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
    }
