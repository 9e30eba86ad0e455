"""The one way work is scheduled: a keyed work queue, as client-go's and controller-runtime's.

* One entry per key (namespace, name): an add for a key already queued merges into it (keeping the higher
  priority); an add while the key is being reconciled marks it dirty, and `done` queues it once more. So a key
  is never reconciled twice at once, by construction.
* Delays: `add_after` keeps the earliest deadline per key; a due key becomes an ordinary add. An immediate add
  cancels a pending delay (the reconcile it brings sets the next one).
* Priorities: HIGH (a change: an event) goes before LOW (the initial listing, the periodic drift check), so that
  a user's edit or force annotation is not queued behind a restart's 10,000 checks.
* Lanes: each key belongs to a lane (the Elasticsearch it talks to); at most `lane_limit` keys of one lane are
  handed out at once, so that a cluster that hangs holds a few workers, never all of them. Lanes with work take
  turns.
* Failures: a per-key count, for the caller's exponential backoff; `forget` clears it.

Nothing here awaits between reading and changing the queue's state: every method but `get` is synchronous.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from . import metrics

K = TypeVar("K", bound=Hashable)

HIGH, LOW = 0, 1  # smaller goes first


class ShutDown(Exception):
    """The queue is shutting down: `get` hands out nothing more."""


@dataclass
class _Lane(Generic[K]):
    ready: tuple[deque[K], deque[K]] = field(default_factory=lambda: (deque(), deque()))  # by priority
    running: int = 0


class WorkQueue(Generic[K]):
    def __init__(self, *, lane_of: Callable[[K], str], lane_limit: int) -> None:
        self._lane_of = lane_of
        self._lane_limit = max(1, lane_limit)
        self._lanes: dict[str, _Lane[K]] = {}
        self._queued: dict[K, tuple[str, int, float]] = {}  # key -> (lane, priority, since): ready, not handed out
        self._processing: dict[K, tuple[str, float]] = {}  # key -> (lane, since)
        self._dirty: dict[K, int] = {}  # added while processing: queued again, at this priority, on done
        self._delayed: dict[K, tuple[float, int]] = {}  # key -> (due, priority): the one that counts
        self._heap: list[tuple[float, int, K]] = []  # may hold stale entries, checked against _delayed
        self._failures: dict[K, int] = {}
        self._turn: deque[str] = deque()  # lanes in the order they get their next turn
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self._seq = itertools.count()
        self._shutting_down = False

    # --- Adding ---------------------------------------------------------------------------------------------

    def add(self, key: K, *, priority: int = HIGH) -> None:
        """Reconcile `key` as soon as a worker (and its lane) is free."""
        if self._shutting_down:
            return
        metrics.WORKQUEUE_ADDS.inc()
        self._delayed.pop(key, None)
        if key in self._processing:
            self._dirty[key] = min(priority, self._dirty.get(key, priority))
            return
        queued = self._queued.get(key)
        if queued is not None:
            lane, was, since = queued
            if priority < was:  # joins the higher priority's line; its old place is skipped when reached
                self._lanes[lane].ready[priority].append(key)
                self._queued[key] = (lane, priority, since)
            return
        lane = self._lane_of(key)
        self._queued[key] = (lane, priority, time.monotonic())
        self._lane(lane).ready[priority].append(key)
        if lane not in self._turn:
            self._turn.append(lane)
        self._wake_one()

    def add_after(self, key: K, delay: float, *, priority: int = LOW) -> None:
        """Reconcile `key` after `delay` seconds, or earlier if something adds it sooner."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key, priority=priority)
            return
        if key in self._queued:
            return  # due already
        due = time.monotonic() + delay
        current = self._delayed.get(key)
        if current is not None and current[0] <= due:
            return  # the earlier deadline wins
        self._delayed[key] = (due, priority)
        heapq.heappush(self._heap, (due, next(self._seq), key))
        self._arm_timer()

    # --- Failures -------------------------------------------------------------------------------------------

    def failures(self, key: K) -> int:
        """How many reconciles of `key` failed in a row (for the caller's backoff)."""
        return self._failures.get(key, 0)

    def failed(self, key: K) -> None:
        self._failures[key] = self._failures.get(key, 0) + 1
        metrics.WORKQUEUE_RETRIES.inc()

    def forget(self, key: K) -> None:
        """`key` succeeded (or is gone): its backoff starts again from the beginning."""
        self._failures.pop(key, None)

    def discard(self, key: K) -> None:
        """`key` is gone for good: drop its pending delay and failures (a queued add still runs and finds it
        gone)."""
        self._delayed.pop(key, None)
        self._failures.pop(key, None)

    # --- Handing out ----------------------------------------------------------------------------------------

    async def get(self) -> K:
        """The next key to reconcile. The caller must call `done(key)` when the reconcile ends, whatever happens."""
        while True:
            if self._shutting_down:
                raise ShutDown
            key = self._pick()
            if key is not None:
                return key
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # it was woken for an item it will not take: pass the turn on
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def done(self, key: K) -> None:
        lane, _ = self._processing.pop(key)
        self._lanes[lane].running -= 1
        priority = self._dirty.pop(key, None)
        if priority is not None:
            self.add(key, priority=priority)
        elif self._lanes[lane].ready[HIGH] or self._lanes[lane].ready[LOW]:
            self._wake_one()  # the lane has room again

    def shutdown(self) -> None:
        """Hand out nothing more; waiting `get`s raise ShutDown. Reconciles under way finish."""
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # --- State, for metrics and tests -----------------------------------------------------------------------

    def __len__(self) -> int:
        """Keys due and waiting for a worker."""
        return len(self._queued)

    @property
    def delayed(self) -> int:
        return len(self._delayed)

    @property
    def processing(self) -> int:
        return len(self._processing)

    def longest_running(self) -> float:
        now = time.monotonic()
        return max((now - since for _, since in self._processing.values()), default=0.0)

    def is_delayed(self, key: K) -> bool:
        return key in self._delayed

    # --- Inside -----------------------------------------------------------------------------------------------

    def _lane(self, name: str) -> _Lane[K]:
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane()
        return lane

    def _pick(self) -> K | None:
        """The first key of the highest priority among lanes with room; a lane that got one goes to the back."""
        for priority in (HIGH, LOW):
            for name in list(self._turn):
                lane = self._lanes[name]
                if lane.running >= self._lane_limit:
                    continue
                key = self._pop_valid(name, lane, priority)
                if not lane.ready[HIGH] and not lane.ready[LOW]:
                    self._turn.remove(name)
                elif key is not None:
                    self._turn.remove(name)
                    self._turn.append(name)
                if key is None:
                    continue
                _, _, since = self._queued.pop(key)
                lane.running += 1
                self._processing[key] = (name, time.monotonic())
                metrics.WORKQUEUE_QUEUE_SECONDS.observe(time.monotonic() - since)
                return key
        return None

    def _pop_valid(self, name: str, lane: _Lane[K], priority: int) -> K | None:
        """The lane's next key in this priority's line, skipping places left by a key that moved up."""
        line = lane.ready[priority]
        while line:
            key = line.popleft()
            if self._queued.get(key, (None, None, 0.0))[:2] == (name, priority):
                return key
        return None

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _arm_timer(self) -> None:
        if not self._heap:
            return
        due = self._heap[0][0]
        if self._timer is not None and self._timer_due <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        delay = max(0.0, due - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._release_due)

    def _release_due(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            pending = self._delayed.get(key)
            if pending is None or pending[0] != due:
                continue  # superseded or cancelled
            del self._delayed[key]
            self.add(key, priority=pending[1])
        self._arm_timer()
