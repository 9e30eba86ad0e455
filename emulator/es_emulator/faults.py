"""Fault injection and the request log, both shared between the server thread and tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import EsError


def default_failure_error(status: int) -> EsError:
    """An Elasticsearch-style error for an injected status."""
    if status == 429:
        # The parent circuit breaker is what answers 429 at the REST layer.
        return EsError(
            429,
            "circuit_breaking_exception",
            "[parent] Data too large, data for [<http_request>] would be [1073741824/1gb], which is larger than "
            "the limit of [1020054732/972.7mb], real usage: [1073741824/1gb], new bytes reserved: [0/0b], usages "
            "[request=0/0b, fielddata=0/0b, in_flight_requests=0/0b, accounting=0/0b]",
            extra={"bytes_wanted": 1073741824, "bytes_limit": 1020054732, "durability": "TRANSIENT"},
        )
    if status == 503:
        return EsError(503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
    return EsError(status, "status_exception", f"injected fault: HTTP {status} from the emulator")


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class FaultDecision:
    """What to do with one request: wait ``latency`` seconds, then drop it, fail it, or serve it."""

    latency: float
    drop: bool
    failure: Failure | None


class Faults:
    """Faults applied to the Elasticsearch routes (never to ``/_emulator/...``).

    A request first waits the latency, then consumes one pending drop if any, else one pending failure.
    ``fail_next`` and ``drop_next`` replace any earlier run of the same kind.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._drops = 0
        self._failures = 0
        self._failure: Failure | None = None

    def latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0 to stop)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def fail_next(
        self,
        count: int,
        status: int = 503,
        *,
        retry_after: float | int | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status``; a 429 carries ``Retry-After: 1`` unless told."""
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("count must be >= 0 and status a 4xx/5xx code")
        if retry_after is None and status == 429:
            retry_after = 1
        failure = Failure(
            status=status,
            retry_after=None if retry_after is None else _seconds(retry_after),
            body=body if body is not None else default_failure_error(status).body(),
        )
        with self._lock:
            self._failures, self._failure = count, failure

    def drop_next(self, count: int) -> None:
        """Close the connection of the next ``count`` requests without answering."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._drops = count

    def clear(self) -> None:
        with self._lock:
            self._latency, self._drops, self._failures, self._failure = 0.0, 0, 0, None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency": self._latency,
                "drop_next": self._drops,
                "fail_next": self._failures,
                "status": self._failure.status if self._failure and self._failures else None,
            }

    def take(self) -> FaultDecision:
        """Consume what applies to one incoming request."""
        with self._lock:
            if self._drops > 0:
                self._drops -= 1
                return FaultDecision(self._latency, True, None)
            if self._failures > 0 and self._failure is not None:
                self._failures -= 1
                return FaultDecision(self._latency, False, self._failure)
            return FaultDecision(self._latency, False, None)


def _seconds(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class RecordedRequest(NamedTuple):
    method: str
    path: str
    query: dict[str, str]


class RequestLog:
    """Thread-safe log of the Elasticsearch requests received (admin routes excluded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def record(self, method: str, path: str, query: dict[str, str]) -> None:
        with self._lock:
            self._entries.append(RecordedRequest(method, path, dict(query)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def find(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Entries matching ``method`` and ``path`` (each optional)."""
        return [
            r for r in self.snapshot() if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
