"""Fault injection and the request log, both shared between the server thread and tests."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
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


# How often a held request looks at its release and at its client's connection.
_HOLD_POLL_SECONDS = 0.01


class Hold:
    """The next request matching ``method`` and ``path_regex``, held without an answer until ``release()``.

    ``after_apply=False`` holds it before Elasticsearch acts (a client that goes away leaves nothing done, as if
    the request had never arrived); ``after_apply=True`` acts first and holds only the answer (the change is
    in the store, the client hears nothing until released). A client that disconnects ends the hold.

    States: ``pending`` (waiting for a matching request), ``held``, then ``answered`` (released and answered),
    ``disconnected`` (the client went away while held) or ``cancelled`` (cleared while still pending).
    """

    def __init__(
        self,
        hold_id: str,
        method: str | None,
        path_regex: str,
        after_apply: bool,
        query: Mapping[str, str | None] | None = None,
    ) -> None:
        self.id = hold_id
        self.method = method.upper() if method is not None else None
        self.path_regex = path_regex
        self.after_apply = after_apply
        # Query parameters the request must have with these values (None: must not have it).
        self.query: dict[str, str | None] = dict(query or {})
        self._pattern = re.compile(path_regex)
        self._lock = threading.Lock()
        self._held = threading.Event()
        self._released = threading.Event()
        self._finished = threading.Event()
        self._state = "pending"
        self.request: RecordedRequest | None = None

    # --- for tests --------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def wait_held(self, timeout: float) -> bool:
        """True once a matching request is held (or was: it stays True after the release)."""
        return self._held.wait(timeout)

    def release(self) -> None:
        """Let the held request go on (or, still pending, let the next matching request through unheld)."""
        self._released.set()

    def wait_finished(self, timeout: float) -> bool:
        """True once the held request is answered or its client is gone, or the hold was cancelled."""
        return self._finished.wait(timeout)

    def snapshot(self) -> dict[str, Any]:
        request = self.request
        return {
            "id": self.id,
            "method": self.method,
            "path_regex": self.path_regex,
            "after_apply": self.after_apply,
            "query": dict(self.query),
            "state": self.state,
            "request": None if request is None else request._asdict(),
        }

    # --- for the server ---------------------------------------------------------------------------------

    def take(self, request: RecordedRequest) -> bool:
        """Claim ``request`` if this hold is still pending and matches it."""
        with self._lock:
            if self._state != "pending" or self.request is not None:
                return False
            if self.method not in (None, request.method.upper()) or not self._pattern.fullmatch(request.path):
                return False
            if any(request.query.get(key) != value for key, value in self.query.items()):
                return False
            if self._released.is_set():
                self._state = "cancelled"  # released before anything matched: nothing to hold
                self._finished.set()
                return False
            self.request = request
            return True

    async def block(self, client_gone: Callable[[], bool]) -> bool:
        """Hold the claimed request until released (True) or its client is gone (False)."""
        with self._lock:
            self._state = "held"
        self._held.set()
        while not self._released.is_set():
            if client_gone():
                break
            await asyncio.sleep(_HOLD_POLL_SECONDS)
        if client_gone():  # also when released just after the client died: it is gone all the same
            self.finish("disconnected")
            return False
        return True

    def finish(self, state: str) -> None:
        with self._lock:
            if self._finished.is_set():
                return
            self._state = state
        self._finished.set()


class Faults:
    """Faults applied to the Elasticsearch routes (never to ``/_emulator/...``).

    A request first waits the latency, then consumes one pending drop if any, else one pending failure.
    ``fail_next`` and ``drop_next`` replace any earlier run of the same kind. A request served normally is
    then held if a pending ``hold`` matches it (the oldest such hold, each hold takes one request).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._drops = 0
        self._failures = 0
        self._failure: Failure | None = None
        self._holds: list[Hold] = []
        self._hold_ids = itertools.count(1)

    def hold(
        self,
        method: str | None = None,
        path_regex: str = ".*",
        *,
        after_apply: bool = False,
        query: Mapping[str, str | None] | None = None,
    ) -> Hold:
        """Hold the next request whose method is ``method`` (None: any), whose path (no query string) matches
        ``path_regex`` in full and whose query parameters have the values in ``query`` (a value None: the
        parameter is absent; e.g. ``{"dry_run": "true"}`` or ``{"dry_run": None}``). See ``Hold``."""
        with self._lock:
            created = Hold(f"h{next(self._hold_ids)}", method, path_regex, after_apply, query)
            self._holds.append(created)
        return created

    def holds(self) -> list[Hold]:
        with self._lock:
            return list(self._holds)

    def find_hold(self, hold_id: str) -> Hold | None:
        return next((h for h in self.holds() if h.id == hold_id), None)

    def take_hold(self, request: RecordedRequest) -> Hold | None:
        """The oldest pending hold that matches ``request``; it takes no other request afterwards."""
        with self._lock:
            for candidate in self._holds:
                if candidate.take(request):
                    return candidate
        return None

    def clear_holds(self) -> None:
        """Cancel pending holds and release held requests (so that no request hangs past a test)."""
        with self._lock:
            holds, self._holds = self._holds, []
        for held in holds:
            if held.request is None:
                held.finish("cancelled")
            held.release()  # a held request goes on and is answered

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
        self.clear_holds()

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


class TimedRequest(NamedTuple):
    """A logged request with when it arrived and who sent it: what a test needs to tell two clients apart (two
    operator replicas) and to say that one sent nothing after a moment (a leader's fencing deadline)."""

    at: float  # time.monotonic() in the emulator's process when the request arrived
    user: str | None  # the user (Basic) or API key id (ApiKey) the request claims, before any check; None: none
    peer: str | None  # the client's address
    request: RecordedRequest


class RequestLog:
    """Thread-safe log of the Elasticsearch requests received (admin routes excluded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []
        self._timed: list[TimedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once: what a client's cap must bound

    def record(
        self, method: str, path: str, query: dict[str, str], *, user: str | None = None, peer: str | None = None
    ) -> RecordedRequest:
        entry = RecordedRequest(method, path, dict(query))
        with self._lock:
            self._entries.append(entry)
            self._timed.append(TimedRequest(time.monotonic(), user, peer, entry))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return entry

    def answered(self) -> None:
        """A recorded request is done (answered, failed, dropped or abandoned)."""
        with self._lock:
            self.in_flight -= 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._timed.clear()
            self.max_in_flight = self.in_flight

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._entries)

    def timeline(self) -> list[TimedRequest]:
        """The same entries, in order, each with its arrival time, claimed user and peer."""
        with self._lock:
            return list(self._timed)

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
