from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from es_inference_operator.kube import KubeReader, _explained, object_missing


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "Secret ns/s not found"),
        (403, "the operator may not read Secret ns/s: its RBAC lacks get secrets"),
        (500, "reading Secret ns/s failed: 500 boom"),
    ],
)
def test_failed_reads_become_status_messages(status: int, message: str) -> None:
    assert str(_explained(ApiException(status=status, reason="boom"), "Secret ns/s", "get secrets")) == message


class _CountingCore:
    """CoreV1Api's two reads, counted, each answering after `delay` seconds (in the reader's thread)."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.namespace_reads = 0
        self.annotations = {"a": "1"}

    def read_namespace(self, name: str, **_: Any) -> Any:
        self.namespace_reads += 1
        seen = dict(self.annotations)
        time.sleep(self.delay)  # the API server's answer takes a while: reads overlap
        return SimpleNamespace(metadata=SimpleNamespace(annotations=seen))


def _reader(core: _CountingCore, ttl: float) -> KubeReader:
    reader = KubeReader.__new__(KubeReader)
    KubeReader.__init__(reader, kubernetes.client.ApiClient(), ttl=ttl)
    reader._core = core  # type: ignore[assignment]
    return reader


def test_reads_in_flight_are_shared() -> None:
    """A thousand deletions in one namespace at once: one namespace read, not a thousand."""
    core = _CountingCore()
    reader = _reader(core, ttl=0.0)

    async def burst() -> list[dict[str, str]]:
        fresh = reader.read_after(time.monotonic())
        return await asyncio.gather(*(fresh.namespace_annotations("team") for _ in range(1000)))

    answers = asyncio.run(burst())
    assert core.namespace_reads == 1
    assert all(a == {"a": "1"} for a in answers)


def test_read_after_never_uses_an_older_answer() -> None:
    """The cache serves the periodic checks; a deletion (read_after) sees what the namespace says now."""
    core = _CountingCore(delay=0.0)
    reader = _reader(core, ttl=3600.0)

    async def scenario() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        first = await reader.namespace_annotations("team")
        core.annotations = {"a": "2"}
        cached = await reader.namespace_annotations("team")
        fresh = await reader.read_after(time.monotonic()).namespace_annotations("team")
        return first, cached, fresh

    first, cached, fresh = asyncio.run(scenario())
    assert (first, cached, fresh) == ({"a": "1"}, {"a": "1"}, {"a": "2"})
    assert core.namespace_reads == 2


def test_a_burst_of_fresh_views_shares_the_next_read() -> None:
    """Deletions that arrive one after another while a read is under way (each too recent for it) share the next
    read: a burst costs two reads, and each deletion still sees an answer read after it began."""
    core = _CountingCore(delay=0.1)
    reader = _reader(core, ttl=0.0)

    async def burst() -> list[dict[str, str]]:
        first = asyncio.ensure_future(reader.read_after(time.monotonic()).namespace_annotations("team"))
        await asyncio.sleep(0.02)  # the first read is under way
        core.annotations = {"a": "2"}  # ... when the namespace changes, before the others begin
        later = []
        for _ in range(50):
            later.append(asyncio.ensure_future(reader.read_after(time.monotonic()).namespace_annotations("team")))
            await asyncio.sleep(0.001)
        return [await first, *await asyncio.gather(*later)]

    answers = asyncio.run(burst())
    assert answers[0] == {"a": "1"}
    assert all(a == {"a": "2"} for a in answers[1:])
    assert core.namespace_reads == 2


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        # What kube-apiserver v1.37.2 answers (tests/e2e/test_eck.py meets both for real).
        (
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"elasticsearches.'
            'elasticsearch.k8s.elastic.co \\"x\\" not found","reason":"NotFound","details":{"name":"x","group":'
            '"elasticsearch.k8s.elastic.co","kind":"elasticsearches"},"code":404}',
            True,
        ),
        (b"404 page not found\n", False),  # the kind is not served: ECK's CRD is not installed
        ('{"kind":"Status","reason":"NotFound","details":{"kind":"secrets"}}', False),
        (None, False),
    ],
)
def test_a_404_tells_a_missing_object_from_a_missing_kind(body: object, missing: bool) -> None:
    assert object_missing(body, "elasticsearches") is missing
