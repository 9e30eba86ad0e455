"""The work queue's invariants (client-go's and controller-runtime's, design anchors §1): one entry per key, never
two reconciles of one key at once, the earliest deadline wins, HIGH before LOW, lanes that cap one cluster's share
of the workers, and nothing lost on shutdown. Real asyncio, bounded waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from es_inference_operator.workqueue import HIGH, LOW, ShutDown, WorkQueue

T = TypeVar("T")


def run(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(make(), timeout=10))  # type: ignore[arg-type]


def queue(lanes: dict[str, str] | None = None, limit: int = 10) -> WorkQueue[str]:
    lanes = lanes or {}
    return WorkQueue(lane_of=lambda key: lanes.get(key, "default"), lane_limit=limit)


async def take(q: WorkQueue[str], timeout: float = 0.2) -> str | None:
    try:
        return await asyncio.wait_for(q.get(), timeout)
    except TimeoutError:
        return None


def test_adds_of_a_queued_key_merge() -> None:
    async def scenario() -> None:
        q = queue()
        for _ in range(3):
            q.add("a")
        q.add("b")
        assert len(q) == 2
        assert [await take(q), await take(q), await take(q)] == ["a", "b", None]

    run(scenario)


def test_a_key_added_while_it_is_processed_runs_once_more_after_done() -> None:
    async def scenario() -> None:
        q = queue()
        q.add("a")
        assert await take(q) == "a"
        q.add("a")
        q.add("a")
        assert await take(q) is None  # never twice at once
        q.done("a")
        assert await take(q) == "a"  # once more, not twice
        q.done("a")
        assert await take(q) is None

    run(scenario)


def test_a_delay_fires_once_and_the_earliest_deadline_wins() -> None:
    async def scenario() -> None:
        q = queue()
        q.add_after("a", 5.0)
        q.add_after("a", 0.05)
        q.add_after("a", 3.0)  # later than the pending one: ignored
        assert q.delayed == 1
        assert await take(q, 1.0) == "a"
        q.done("a")
        assert q.delayed == 0 and await take(q, 0.2) is None

    run(scenario)


def test_an_immediate_add_replaces_a_pending_delay() -> None:
    async def scenario() -> None:
        q = queue()
        q.add_after("a", 0.1)
        q.add("a")
        assert q.delayed == 0
        assert await take(q) == "a"
        q.done("a")
        assert await take(q, 0.3) is None  # the delay does not fire on top

    run(scenario)


def test_high_priority_goes_before_low_and_a_key_can_move_up() -> None:
    async def scenario() -> None:
        q = queue()
        for key in ("l1", "l2", "l3"):
            q.add(key, priority=LOW)
        q.add("h", priority=HIGH)
        q.add("l3", priority=HIGH)  # an edit of a resource waiting for its drift check
        assert [await take(q) for _ in range(4)] == ["h", "l3", "l1", "l2"]
        assert await take(q) is None  # l3's old place is not handed out again

    run(scenario)


def test_a_lane_at_its_limit_does_not_hold_the_others() -> None:
    async def scenario() -> None:
        lanes = {f"slow-{i}": "slow" for i in range(5)}
        q = queue(lanes, limit=2)
        for key in lanes:
            q.add(key)
        q.add("fast-0")
        got = [await take(q) for _ in range(3)]
        assert sorted(got) == ["fast-0", "slow-0", "slow-1"]  # two of the slow lane, then the other lane
        assert await take(q) is None  # the slow lane is full; its keys wait
        q.done("slow-0")
        assert await take(q) == "slow-2"

    run(scenario)


def test_lanes_take_turns() -> None:
    async def scenario() -> None:
        q = queue({"a1": "a", "a2": "a", "a3": "a", "b1": "b", "b2": "b"})
        for key in ("a1", "a2", "a3", "b1", "b2"):
            q.add(key)
        assert [await take(q) for _ in range(5)] == ["a1", "b1", "a2", "b2", "a3"]

    run(scenario)


def test_waiting_workers_are_woken_by_an_add() -> None:
    async def scenario() -> None:
        q = queue()
        workers = [asyncio.create_task(q.get()) for _ in range(3)]
        await asyncio.sleep(0.01)
        q.add("a")
        q.add("b")
        done, pending = await asyncio.wait(workers, timeout=1.0)
        assert sorted(task.result() for task in done) == ["a", "b"] and len(pending) == 1
        q.shutdown()
        with pytest.raises(ShutDown):
            await asyncio.wait_for(pending.pop(), 1.0)

    run(scenario)


def test_failures_count_until_forgotten() -> None:
    q: WorkQueue[str] = queue()
    assert q.failures("a") == 0
    q.failed("a")
    q.failed("a")
    assert q.failures("a") == 2
    q.forget("a")
    assert q.failures("a") == 0


def test_discard_drops_a_pending_delay() -> None:
    async def scenario() -> None:
        q = queue()
        q.add_after("a", 0.05)
        q.discard("a")
        assert await take(q, 0.3) is None

    run(scenario)


def test_a_thousand_keys_at_low_priority_then_one_at_high_goes_first() -> None:
    """A restart queues every resource at LOW: a user's edit meanwhile is next, not ten thousandth."""

    async def scenario() -> None:
        q = queue()
        for i in range(1000):
            q.add(f"k{i}", priority=LOW)
        assert await take(q) == "k0"
        q.add("edited", priority=HIGH)
        assert await take(q) == "edited"

    run(scenario)
