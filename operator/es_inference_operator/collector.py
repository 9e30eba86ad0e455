"""Metrics that describe the resources (how many Ready, blocked, stalled, conflicting; the oldest blocked
deletion) and the work queue, computed when Prometheus scrapes, from the store and the queue: nothing to keep in
step, and no cost between scrapes. One pass over the store per scrape (10,000 resources: a few milliseconds)."""

from __future__ import annotations

import calendar
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from . import contract, metrics
from .store import Key, ResourceStore
from .workqueue import WorkQueue


class ResourceCollector(Collector):
    """Computed at most once a second however often it is scraped (a scraper polling fast would otherwise spend the
    operator's CPU on passes over 10,000 resources)."""

    FRESH_SECONDS = 1.0

    def __init__(self, store: ResourceStore, *, per_resource: bool = False) -> None:
        self.store = store
        self.per_resource = per_resource
        self._last: tuple[float, list[GaugeMetricFamily]] = (float("-inf"), [])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        computed_at, families = self._last
        if time.monotonic() - computed_at > self.FRESH_SECONDS:
            families = list(self._compute())
            self._last = (time.monotonic(), families)
        yield from families

    def _compute(self) -> Iterator[GaugeMetricFamily]:
        by_condition: Counter[tuple[str, str, str]] = Counter()
        waiting: Counter[str] = Counter()
        blocked_since: list[float] = []
        info = GaugeMetricFamily(
            metrics.RESOURCE_INFO,
            metrics.RESOURCE_INFO_HELP,
            labels=["namespace", "name", "inference_id", "ready", "reason"],
        )
        for obj in self.store:
            conditions = {str(c.get("type")): c for c in obj.status.get("conditions") or ()}
            for type_, cond in conditions.items():
                by_condition[(type_, str(cond.get("status")), str(cond.get("reason", "")))] += 1
            ready = conditions.get(contract.READY, {})
            if obj.deleting and contract.FINALIZER in obj.finalizers:
                blocked = conditions.get(contract.DELETION_BLOCKED, {})
                waiting[str(blocked.get("reason") or "Deleting")] += 1
                if blocked.get("status") == "True" and obj.deletion_timestamp:
                    blocked_since.append(_epoch(obj.deletion_timestamp))
            if self.per_resource:
                info.add_metric(
                    [
                        obj.namespace,
                        obj.name,
                        obj.inference_id,
                        str(ready.get("status", "Unknown")),
                        str(ready.get("reason", "")),
                    ],
                    1,
                )
        resources = GaugeMetricFamily(
            metrics.RESOURCES, metrics.RESOURCES_HELP, labels=["condition", "status", "reason"]
        )
        for labels, count in sorted(by_condition.items()):
            resources.add_metric(list(labels), count)
        yield resources
        yield GaugeMetricFamily(metrics.DELETIONS_BLOCKED, metrics.DELETIONS_BLOCKED_HELP, value=len(blocked_since))
        deletions = GaugeMetricFamily(metrics.DELETIONS_WAITING, metrics.DELETIONS_WAITING_HELP, labels=["reason"])
        for reason, count in sorted(waiting.items()):
            deletions.add_metric([reason], count)
        yield deletions
        oldest = time.time() - min(blocked_since) if blocked_since else 0.0
        yield GaugeMetricFamily(
            metrics.OLDEST_BLOCKED_DELETION_SECONDS, metrics.OLDEST_BLOCKED_DELETION_HELP, value=max(0.0, oldest)
        )
        yield info


def _epoch(timestamp: str) -> float:
    return float(calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")))


def install(store: ResourceStore, queue: WorkQueue[Key], *, per_resource: bool) -> ResourceCollector:
    """Register the store's metrics, and tie the queue's gauges to the queue itself."""
    collector = ResourceCollector(store, per_resource=per_resource)
    REGISTRY.register(collector)
    metrics.WORKQUEUE_DEPTH.set_function(lambda: len(queue))
    metrics.WORKQUEUE_DELAYED.set_function(lambda: queue.delayed)
    metrics.WORKQUEUE_ACTIVE_WORKERS.set_function(lambda: queue.processing)
    metrics.WORKQUEUE_LONGEST_RUNNING_SECONDS.set_function(queue.longest_running)
    return collector


def uninstall(collector: ResourceCollector) -> None:
    REGISTRY.unregister(collector)
