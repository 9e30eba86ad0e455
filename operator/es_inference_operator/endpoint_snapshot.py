"""Shared, rate-limited views of one Elasticsearch cluster: its endpoint list (for drift checks) and a token
bucket (for the reference sweep's dry runs)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class TokenBucket:
    """At most `rate` takes per second on average, in bursts of at most one second's worth."""

    def __init__(self) -> None:
        self._tokens: float | None = None  # full at first
        self._at = time.monotonic()

    def take(self, rate: float) -> bool:
        now = time.monotonic()
        tokens = rate if self._tokens is None else self._tokens + (now - self._at) * rate
        self._tokens = min(rate, tokens)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class EndpointSnapshot:
    """All endpoints of one cluster from one list request, shared by every resource on that cluster: the
    periodic drift check compares with it locally, so that its load on Elasticsearch does not grow with the
    number of resources. The operator's own creates, updates and deletes are noted in it as they happen."""

    def __init__(self, list_endpoints: Callable[[], Awaitable[dict[str, dict[str, Any]]]]) -> None:
        self._list_endpoints = list_endpoints
        self._endpoints: dict[str, dict[str, Any]] | None = None
        self._taken_at = 0.0
        self._notes: dict[str, tuple[float, dict[str, Any] | None]] = {}  # id -> (when, endpoint or None: gone)
        self._listing = asyncio.Lock()

    def note(self, inference_id: str, endpoint: dict[str, Any] | None) -> None:
        self._notes[inference_id] = (time.monotonic(), endpoint)
        if self._endpoints is not None:
            self._apply(inference_id, endpoint)

    def _apply(self, inference_id: str, endpoint: dict[str, Any] | None) -> None:
        assert self._endpoints is not None
        if endpoint is None:
            self._endpoints.pop(inference_id, None)
        else:
            self._endpoints[inference_id] = endpoint

    async def get(self, inference_id: str, *, max_age: float) -> dict[str, Any] | None:
        """The endpoint as of a list at most `max_age` seconds old (taken now if the last one is older)."""
        async with self._listing:  # one list at a time per cluster, however many resources ask
            if self._endpoints is None or time.monotonic() - self._taken_at > max_age:
                started = time.monotonic()
                endpoints = await self._list_endpoints()
                self._endpoints, self._taken_at = endpoints, started
                # What the operator did while the list was under way is newer than the list.
                self._notes = {k: v for k, v in self._notes.items() if v[0] >= started}
                for noted_id, (_, endpoint) in self._notes.items():
                    self._apply(noted_id, endpoint)
            return self._endpoints.get(inference_id)
