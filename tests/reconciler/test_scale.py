"""The load the operator puts on Elasticsearch does not grow with the number of resources (issue 9): the drift
check compares with one list per cluster, dry runs are rate-limited, requests in flight are capped, and a slow
Elasticsearch is slow, not an error."""

from __future__ import annotations

import asyncio

from es_emulator import EmulatorServer
from es_inference_operator.elasticsearch_gateway import Connection, ElasticsearchGateway
from testbed.stack import es_request

from .world import ES_USER, World, condition, run

N = 40


def count(es: EmulatorServer, method: str, path: str) -> int:
    return len([r for r in es.requests if r.method == method and r.path == path])


def test_the_drift_check_of_many_endpoints_lists_once(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url, resync_seconds=60.0)
        try:
            objs = [world.apply(f"e{i}") for i in range(N)]
            for obj in objs:
                await world.reconcile(obj)
            es.requests.clear()
            for obj in objs:
                await world.reconcile(obj)
            assert all(condition(obj, "Ready")["status"] == "True" for obj in objs)
            inference_requests = [r for r in es.requests if r.path.startswith("/_inference")]
            assert [(r.method, r.path) for r in inference_requests if not r.query.get("dry_run")] == [
                ("GET", "/_inference/_all")
            ]
        finally:
            await world.close()

    run(scenario)


def test_a_drift_seen_in_the_list_is_checked_fresh_before_acting(es: EmulatorServer) -> None:
    """The list may be up to a period old: what it shows decides only that nothing needs doing. Anything else
    is looked at again with a GET before a write."""

    async def scenario() -> None:
        world = World(es.url, resync_seconds=60.0)
        try:
            other = world.apply("other")
            await world.reconcile(other)
            await world.reconcile(other)  # a drift check: the list is taken now, with no e5 in it
            body = {
                "service": "elasticsearch",
                "service_settings": {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1},
            }
            assert es_request(es.url, "PUT", "/_inference/text_embedding/e5", body, auth=ES_USER)[0] == 200
            obj = world.apply("e5")
            obj.annotations["inference.es-operator.dev/adopt"] = "true"
            await world.reconcile(obj)  # a new resource: a fresh GET, the endpoint adopted, in line
            assert condition(obj, "Ready")["status"] == "True"
            es.requests.clear()
            await world.reconcile(obj)  # its drift check: the list says absent; a fresh GET says otherwise
            assert count(es, "GET", "/_inference/e5") == 1
            assert count(es, "PUT", "/_inference/text_embedding/e5") == 0
            assert obj.status["ownership"]["state"] == "Adopted"
        finally:
            await world.close()

    run(scenario)


def test_dry_runs_are_spread_and_rate_limited(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url, resync_seconds=60.0)
        world.config = type(world.config)(
            **{**world.config.__dict__, "references_seconds": 600.0, "reference_checks_per_second": 5.0}
        )
        world.restart()
        try:
            objs = [world.apply(f"e{i}") for i in range(N)]
            for obj in objs:
                await world.reconcile(obj)  # a new endpoint's references are looked at once, rate permitting
            es.requests.clear()
            for obj in objs:
                await world.reconcile(obj)
            dry_runs = [r for r in es.requests if r.query.get("dry_run") == "true"]
            assert len(dry_runs) <= 5  # at most a second's worth of the rate, however many resources tick
        finally:
            await world.close()

    run(scenario)


def test_requests_in_flight_are_capped_and_waiting_is_not_an_error(es: EmulatorServer) -> None:
    async def scenario() -> None:
        gateway = ElasticsearchGateway(
            Connection(url=es.url, source="test", username=ES_USER[0], password=ES_USER[1]),
            request_timeout=1.0,
            max_concurrency=3,
        )
        try:
            await gateway.capabilities()
            es.faults.latency(0.3)
            es.requests.clear()
            # 15 requests, 0.3 s each, 3 at a time: the last waits 1.2 s for a slot, past the 1 s timeout.
            results = await asyncio.gather(*(gateway.get_endpoint(f"e{i}") for i in range(15)))
            assert results == [None] * 15
            assert es.requests.max_in_flight <= 3
        finally:
            es.faults.latency(0)
            await gateway.close()

    run(scenario)
