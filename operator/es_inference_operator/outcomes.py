"""How a reconcile pass ends: one status write and the time of the next look (settle), or a failure turned into
the status the error table (verdicts.py) calls for, with when the operator looks again (failed)."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from . import messages, status
from .config import OperatorConfig
from .decisions import poll_delay, ready_at, retry_delay
from .kube import KubeReader
from .kube_writer import EventTuple, ResourceWriter
from .store import Resource
from .verdicts import Phase, Recheck, classify

log = logging.getLogger(__name__)

FIX_RECHECK_SECONDS = 5.0  # a wait for a person's fix (a label, a Secret) is looked at again this often at most
_WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800)  # "checked again within ..." in few distinct words


@dataclass(frozen=True)
class Result:
    """What the work queue does next with the key (controller.py)."""

    requeue_after: float | None = None  # look again after this long; None: only when an event brings it back
    failed: bool = False  # a failure: the key's backoff grows; otherwise it starts again
    outcome: str = "success"  # for metrics: success, requeue (waiting on purpose), error, stalled


AGAIN = Result(requeue_after=0.0, outcome="requeue")  # the object changed under a write: once more, at once
GONE = Result(outcome="success")


class Outcomes:
    def __init__(self, config: OperatorConfig, writer: ResourceWriter, kube: KubeReader) -> None:
        self.config = config
        self.writer = writer
        self.kube = kube

    async def settle(
        self,
        obj: Resource,
        update: status.StatusUpdate,
        events: list[EventTuple] | None = None,
        *,
        outcome: str = "success",
    ) -> Result:
        """The pass is over: one status write (if anything changed), then the next drift check."""
        await self.writer.write_status(obj, update, events or ())
        return Result(requeue_after=self.poll(obj), outcome=outcome)

    async def failed(
        self, obj: Resource, err: Exception, phase: Phase, attempt: int, *, fields: dict[str, Any] | None = None
    ) -> Result:
        verdict = classify(err, phase)
        delay = self.delay(verdict.recheck, attempt, verdict.retry_after, obj)
        words = verdict.words(self.when(verdict.recheck, delay))
        if phase is Phase.RECONCILE:
            keep_ready = verdict.transient and ready_at(obj.status, obj.generation)
            update = status.not_ready(
                verdict.reason, words, retrying=not verdict.stalled, keep_ready=keep_ready, fields=fields
            )
        elif verdict.stalled:
            orphan = messages.orphan_command(obj.kubectl_args)
            advice = f"Fix it in Elasticsearch, or let the resource go and keep the endpoint: {orphan}"
            update = status.deletion_stalled(verdict.reason, f"{words}. {advice}")
        else:
            update = status.deletion_waiting(verdict.reason, self._deletion_wait_words(verdict.reason, words, obj))
        level = logging.INFO if verdict.recheck is Recheck.POLL else logging.WARNING
        log.log(level, "%s/%s: %s: %s", obj.namespace, obj.name, verdict.reason, words)
        await self.writer.write_status(obj, update)
        failed = verdict.recheck is not Recheck.POLL
        return Result(requeue_after=delay, failed=failed, outcome="stalled" if verdict.stalled else "error")

    @staticmethod
    def _deletion_wait_words(reason: str, words: str, obj: Resource) -> str:
        if reason in ("ConfigurationError", "KubernetesUnavailable"):
            # The endpoint this resource created cannot be reached (its Secret gone, say): a person may let it go.
            return (
                f"{words}. To let the resource go and keep the endpoint in Elasticsearch: "
                f"{messages.orphan_command(obj.kubectl_args)}"
            )
        return f"the endpoint is kept and the deletion retried: {words}"

    def delay(self, recheck: Recheck, attempt: int, retry_after: float | None, obj: Resource) -> float:
        if recheck is Recheck.POLL:
            return self.poll(obj)
        cap = self.config.retry_cap_seconds
        if recheck is Recheck.FIX:
            cap = min(cap, FIX_RECHECK_SECONDS)
        base = min(self.config.retry_base_seconds, cap)
        return retry_delay(attempt, base=base, cap=cap, retry_after=retry_after, jitter=random.random())

    def when(self, recheck: Recheck, delay: float) -> str:
        """When the operator looks again, in a few distinct words (a message that changed at every retry would
        be a status write at every retry)."""
        if recheck is Recheck.POLL:
            return f"looked at again within {messages.duration(self.config.resync_seconds * 1.5)} and on any change"
        bound = next((b for b in _WAIT_BUCKETS if b >= delay), delay)
        return f"checked again within {messages.duration(bound)}"

    def poll(self, obj: Resource) -> float:
        return poll_delay(obj.uid, self.config.resync_seconds, time.monotonic())

    def reader_for(self, obj: Resource) -> KubeReader:
        """Fresh reads while the resource waits for a person's fix (a label, a Secret), shared by every resource
        that reads the same object: the fix is seen at the next look, not a cache period later."""
        reason = next((c.get("reason") for c in obj.status.get("conditions") or () if c.get("type") == "Synced"), None)
        if reason in ("ReferenceNotAllowed", "ConfigurationError"):
            return self.kube.read_after(time.monotonic() - FIX_RECHECK_SECONDS)
        return self.kube
