"""Fencing in the gateway (leader election): no Elasticsearch write leaves a replica once `may_write()` is False,
not even one that was already waiting for a request slot when the replica's Lease ran out."""

from __future__ import annotations

import asyncio

import pytest

from es_emulator import EmulatorServer
from es_inference_operator.elasticsearch_gateway import Connection, ElasticsearchGateway
from es_inference_operator.errors import NotLeader

from .world import ES_USER, run

BODY = {"service": "openai", "service_settings": {"api_key": "sk-test", "model_id": "text-embedding-3-small"}}


@pytest.fixture
def es_version() -> str:
    return "9.1.0"


def test_a_write_waiting_for_a_slot_is_not_sent_once_the_fence_closes(es: EmulatorServer) -> None:
    leading = True

    async def scenario() -> None:
        nonlocal leading
        gateway = ElasticsearchGateway(
            Connection(url=es.url, source="test", username=ES_USER[0], password=ES_USER[1]),
            max_concurrency=1,
            may_write=lambda: leading,
        )
        try:
            await gateway.capabilities()
            es.faults.latency(0.5)
            es.requests.clear()
            # Three creates, one slot: the first is sent, the other two wait for the slot.
            creates = [
                asyncio.create_task(gateway.put_endpoint("text_embedding", f"e{i}", BODY, secrets=("sk-test",)))
                for i in range(3)
            ]
            while not es.requests.find(method="PUT"):
                await asyncio.sleep(0.01)
            leading = False  # the Lease runs out while they wait
            results = await asyncio.gather(*creates, return_exceptions=True)
            assert not isinstance(results[0], BaseException)  # sent before: it completes
            assert [type(r) for r in results[1:]] == [NotLeader, NotLeader]
            assert [r.path for r in es.requests.find(method="PUT")] == ["/_inference/text_embedding/e0"]
            # And nothing is refused before it would be sent: reads go on.
            assert await gateway.get_endpoint("e1") is None
        finally:
            es.faults.latency(0)
            await gateway.close()

    run(scenario)
