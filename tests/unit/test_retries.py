"""resync.Retries: the operator's own queue of retried reconciles (kopf's would hold a worker while it waits)."""

from __future__ import annotations

import asyncio

from es_inference_operator.resync import Retries


async def _run(retries: Retries, until: asyncio.Event, calls: list[tuple[str, int]], fail: set[str]) -> None:
    async def check(uid: str, attempt: int) -> None:
        calls.append((uid, attempt))
        if uid in fail and attempt < 3:
            retries.schedule(uid, 0.01, attempt + 1)
        if not len(retries):
            until.set()

    task = asyncio.create_task(retries.run_forever(check))
    try:
        await asyncio.wait_for(until.wait(), timeout=5)
    finally:
        task.cancel()


def test_each_retry_runs_when_due_and_again_until_it_stops_failing() -> None:
    calls: list[tuple[str, int]] = []

    async def scenario() -> None:
        retries = Retries(limit=2)
        retries.schedule("b", 0.05, 1)
        retries.schedule("a", 0.01, 1)
        await _run(retries, asyncio.Event(), calls, fail={"a"})

    asyncio.run(scenario())
    assert calls == [("a", 1), ("a", 2), ("a", 3), ("b", 1)]


def test_a_newer_schedule_or_a_cancel_supersedes_the_pending_retry() -> None:
    calls: list[tuple[str, int]] = []

    async def scenario() -> None:
        retries = Retries(limit=2)
        retries.schedule("a", 0.01, 1)
        retries.schedule("a", 0.02, 5)  # the reconcile that failed again: only its retry counts
        retries.schedule("gone", 0.01, 1)
        retries.cancel("gone")  # deleted meanwhile
        assert len(retries) == 1
        await _run(retries, asyncio.Event(), calls, fail=set())

    asyncio.run(scenario())
    assert calls == [("a", 5)]


def test_many_waiting_retries_never_run_more_than_the_limit_at_once() -> None:
    running, peak = 0, 0

    async def scenario() -> None:
        nonlocal running, peak
        retries = Retries(limit=3)
        done = asyncio.Event()
        finished = 0

        async def check(uid: str, attempt: int) -> None:
            nonlocal running, peak, finished
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            finished += 1
            if finished == 20:
                done.set()

        for i in range(20):
            retries.schedule(f"u{i}", 0.0, 1)
        task = asyncio.create_task(retries.run_forever(check))
        await asyncio.wait_for(done.wait(), timeout=5)
        task.cancel()

    asyncio.run(scenario())
    assert peak == 3
