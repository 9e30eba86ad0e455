"""The elector (leader.py) against an in-memory Lease with the API server's optimistic concurrency, on short
timings: acquire, standby, takeover after expiry, fencing, losing, release. tests/ha runs it against the real
API server."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from es_inference_operator.leader import LeaderElector, LeaseConflict, LeaseUnavailable
from es_inference_operator.lease import ElectionSettings, LeaseRecord

T = TypeVar("T")


class MemoryLease:
    """One Lease: get, create, replace with resourceVersion checks (409 on a stale one). `down` makes every call
    fail as an unreachable API server does."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.versions = itertools.count(1)
        self.down = False
        self.writes: list[LeaseRecord] = []

    async def _check(self) -> None:
        await asyncio.sleep(0)  # a request takes a turn of the loop: concurrent candidates interleave
        if self.down:
            raise LeaseUnavailable("TimeoutError")

    async def get(self, timeout: float) -> tuple[LeaseRecord, str] | None:
        await self._check()
        return None if self.record is None else (self.record, str(self.version))

    async def create(self, record: LeaseRecord, timeout: float) -> str:
        await self._check()
        if self.record is not None:
            raise LeaseConflict("exists")
        return self._store(record)

    async def replace(self, record: LeaseRecord, resource_version: str, timeout: float) -> str:
        await self._check()
        if self.record is None or resource_version != str(self.version):
            raise LeaseConflict("stale")
        return self._store(record)

    def _store(self, record: LeaseRecord) -> str:
        self.record, self.version = record, next(self.versions)
        self.writes.append(record)
        return str(self.version)


def settings(name: str, lease_duration: int = 1, renew_deadline: float = 0.5, retry: float = 0.1) -> ElectionSettings:
    return ElectionSettings("es-inference-operator", "ops", name, lease_duration, renew_deadline, retry)


def elector(store: MemoryLease, name: str, **timings: Any) -> LeaderElector:
    return LeaderElector(settings(name, **timings), store)  # type: ignore[arg-type]


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


def test_the_first_candidate_leads_and_the_other_stands_by() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a, b = elector(store, "a"), elector(store, "b")
        await asyncio.wait_for(a.acquire(), 1)
        assert store.record is not None and store.record.holder == "a" and store.record.transitions == 0
        assert a.may_write() and not b.may_write()
        assert not await b.try_acquire_or_renew() and b.holder == "a"
        assert await a.try_acquire_or_renew()  # a renew
        assert store.record.holder == "a" and store.record.acquire_time == store.writes[0].acquire_time

    run(scenario)


def test_a_silent_leader_is_replaced_a_lease_duration_after_its_last_renew_was_seen() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a, b = elector(store, "a"), elector(store, "b")
        await a.acquire()  # and a never renews again: killed
        killed = time.monotonic()
        await asyncio.wait_for(b.acquire(), 3)
        took = time.monotonic() - killed
        assert 1.0 <= took < 1.0 + 0.1 + 0.05  # the lease duration, not up to a retry period more
        assert store.record is not None and store.record.holder == "b" and store.record.transitions == 1

    run(scenario)


def test_the_fence_closes_at_the_renew_deadline_whatever_the_loop_does() -> None:
    now = [100.0]
    store = MemoryLease()
    a = LeaderElector(settings("a", lease_duration=15, renew_deadline=10, retry=2), store, clock=lambda: now[0])  # type: ignore[arg-type]
    asyncio.run(a.try_acquire_or_renew())
    now[0] = 109.999
    assert a.may_write()
    now[0] = 110.0
    assert not a.may_write()


def test_a_leader_that_cannot_renew_loses_at_the_renew_deadline() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a = elector(store, "a")
        await a.acquire()
        sent = time.monotonic()
        store.down = True
        reason = await asyncio.wait_for(a.hold(), 2)
        assert "renew deadline" in reason
        assert time.monotonic() - sent == pytest.approx(0.5, abs=0.1)
        assert not a.may_write()

    run(scenario)


def test_a_leader_that_sees_another_holder_loses_at_once() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a = elector(store, "a")
        await a.acquire()
        holding = asyncio.create_task(a.hold())
        await asyncio.sleep(0.15)
        assert store.record is not None
        store._store(LeaseRecord("b", 1, "t", "t", store.record.transitions + 1))  # somebody wrote over it
        reason = await asyncio.wait_for(holding, 1)
        assert reason == "held by b" and not a.may_write()

    run(scenario)


def test_release_hands_over_at_the_next_try() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a, b = elector(store, "a", lease_duration=15, renew_deadline=10, retry=0.2), elector(store, "b", retry=0.2)
        await a.acquire()
        waiting = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        released = time.monotonic()
        assert await a.release()
        assert not a.may_write()
        assert store.record is not None and store.record.holder == "" and store.record.duration_seconds == 1
        await asyncio.wait_for(waiting, 1)
        assert time.monotonic() - released <= 0.2 + 0.05
        assert store.record.holder == "b" and store.record.transitions == 1

    run(scenario)


def test_a_lost_lease_is_not_released() -> None:
    async def scenario() -> None:
        store = MemoryLease()
        a = elector(store, "a")
        await a.acquire()
        assert store.record is not None
        store._store(LeaseRecord("b", 1, "t", "t", 1))
        with pytest.raises(Exception, match="held by b"):
            await a.try_acquire_or_renew()
        assert not await a.release()
        assert store.record.holder == "b"

    run(scenario)


def test_two_candidates_racing_for_an_expired_lease_one_wins() -> None:
    async def race() -> None:
        store = MemoryLease()
        store._store(LeaseRecord("gone", 1, "t", "t", 7))
        b, c = elector(store, "b"), elector(store, "c")
        assert not await b.try_acquire_or_renew() and not await c.try_acquire_or_renew()  # seen, not expired
        await asyncio.sleep(1.05)
        # Both read the expired record, then both write: the second write carries a stale version (409).
        wins = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
        assert sorted(wins) == [False, True]
        assert store.record is not None and store.record.transitions == 8
        assert [b.may_write(), c.may_write()].count(True) == 1

    run(race)
