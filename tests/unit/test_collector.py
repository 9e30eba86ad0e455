"""The resource metrics computed at scrape time: bounded label sets (the series count does not grow with the number
of resources unless the per-resource opt-in is on), blocked deletions and the oldest one's age."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.core import Metric

from es_inference_operator import contract, metrics
from es_inference_operator.collector import ResourceCollector
from es_inference_operator.store import ResourceStore


def _body(
    index: int, *, ready: str = "True", reason: str = "Created", blocked_since: str | None = None
) -> dict[str, Any]:
    conditions = [{"type": contract.READY, "status": ready, "reason": reason}]
    meta: dict[str, Any] = {
        "namespace": f"team-{index % 3}",
        "name": f"endpoint-{index}",
        "uid": f"uid-{index}",
        "resourceVersion": str(index + 1),
        "creationTimestamp": "2026-12-01T00:00:00Z",
        "generation": 1,
        "finalizers": [contract.FINALIZER],
    }
    if blocked_since is not None:
        meta["deletionTimestamp"] = blocked_since
        conditions.append({"type": contract.DELETION_BLOCKED, "status": "True", "reason": "ReferencedByPipelines"})
    return {
        "metadata": meta,
        "spec": {"taskType": "text_embedding", "service": "elasticsearch"},
        "status": {"conditions": conditions},
    }


def _store(count: int) -> ResourceStore:
    store = ResourceStore()
    for index in range(count):
        store.observe(
            _body(index, ready="True" if index % 2 else "False", reason="Created" if index % 2 else "Conflict")
        )
    return store


def _families(collector: ResourceCollector) -> dict[str, Metric]:
    return {family.name: family for family in collector.collect()}


def _series(collector: ResourceCollector) -> int:
    return sum(len(family.samples) for family in collector.collect())


def test_the_series_count_does_not_grow_with_the_resources() -> None:
    few, many = ResourceCollector(_store(4)), ResourceCollector(_store(2_000))
    assert _series(few) == _series(many)
    counts = {tuple(s.labels.values()): s.value for s in _families(many)[metrics.RESOURCES].samples}
    assert counts[(contract.READY, "True", "Created")] == 1_000
    assert counts[(contract.READY, "False", "Conflict")] == 1_000
    assert not _families(many)[metrics.RESOURCE_INFO].samples


def test_the_per_resource_opt_in_adds_one_series_per_resource() -> None:
    collector = ResourceCollector(_store(50), per_resource=True)
    samples = _families(collector)[metrics.RESOURCE_INFO].samples
    assert len(samples) == 50
    assert {
        "namespace": "team-1",
        "name": "endpoint-1",
        "inference_id": "endpoint-1",
        "ready": "True",
        "reason": "Created",
    } in [s.labels for s in samples]


def test_blocked_deletions_and_the_oldest_ones_age() -> None:
    store = _store(3)
    an_hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3_600))
    a_minute_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    store.observe(_body(10, blocked_since=an_hour_ago))
    store.observe(_body(11, blocked_since=a_minute_ago))
    families = _families(ResourceCollector(store))
    assert families[metrics.DELETIONS_BLOCKED].samples[0].value == 2
    oldest = families[metrics.OLDEST_BLOCKED_DELETION_SECONDS].samples[0].value
    assert 3_600 <= oldest < 3_600 + 60
    waiting = {s.labels["reason"]: s.value for s in families[metrics.DELETIONS_WAITING].samples}
    assert waiting == {"ReferencedByPipelines": 2}


def test_no_blocked_deletion_reads_zero() -> None:
    families = _families(ResourceCollector(_store(3)))
    assert families[metrics.DELETIONS_BLOCKED].samples[0].value == 0
    assert families[metrics.OLDEST_BLOCKED_DELETION_SECONDS].samples[0].value == 0


def test_a_fast_scraper_gets_the_same_computation_within_a_second() -> None:
    store = _store(2)
    collector = ResourceCollector(store)
    first = _series(collector)
    store.observe(_body(99, ready="Unknown", reason="Pending"))
    assert _series(collector) == first  # computed less than a second ago: the same families
    collector.FRESH_SECONDS = 0.0
    assert _series(collector) == first + 1  # a new (condition, status, reason) combination
