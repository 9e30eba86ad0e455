"""A deletion that Elasticsearch itself refuses: a reference appears between the dry run and the DELETE (the
delete is held in the emulator while an application creates its indexes), and the 409 names every one of them."""

from __future__ import annotations

import asyncio

import pytest

from es_emulator import EmulatorServer
from es_emulator.indices import parse_create_index
from es_inference_operator.outcomes import Result

from .world import World, condition, run

INDEXES = 800  # a semantic_text data stream's backing indexes, say
PIPELINES = 7
SEMANTIC = {"mappings": {"properties": {"body": {"type": "semantic_text", "inference_id": "e5"}}}}


def _reference(es: EmulatorServer) -> None:
    """What an application does meanwhile: pipelines and indexes that use e5 (straight into the emulator's state:
    800 create-index requests would say nothing more)."""
    state = es.state
    with state.lock:
        for n in range(PIPELINES):
            state.pipelines[f"embed-{n}"] = {"processors": [{"inference": {"model_id": "e5"}}]}
        for n in range(INDEXES):
            name = f".ds-docs-2026.11.30-{n:06d}"
            state.indexes[name] = parse_create_index(name, SEMANTIC, state.profile)


def test_a_reference_made_during_the_delete_blocks_it_with_a_short_message(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5")
            await world.reconcile(obj)
            assert condition(obj, "Ready")["status"] == "True"
            # The real DELETE (not the dry run) waits in the emulator, before Elasticsearch looks at references.
            hold = es.faults.hold("DELETE", r"/_inference/.*/e5", query={"dry_run": None})
            deleting = asyncio.create_task(world.delete(obj))
            assert await asyncio.to_thread(hold.wait_held, 10), "the delete never came"
            _reference(es)
            hold.release()
            result: Result = await asyncio.wait_for(deleting, timeout=10)

            assert not obj.deleted and es.state.endpoint("e5") is not None  # Elasticsearch refused: nothing lost
            assert result.outcome == "requeue"
            blocked = condition(obj, "DeletionBlocked")
            assert (blocked["status"], blocked["reason"]) == ("True", "InUse")
            message = blocked["message"]
            assert "ingest pipelines [embed-0, embed-1, embed-2, embed-3, embed-4 and 2 more]" in message
            assert ".ds-docs-2026.11.30-000004 and 795 more]" in message
            assert message.endswith("kubectl annotate -n ns inferenceendpoint/e5 inference.es-operator.dev/force=true")
            for c in obj.status["conditions"]:
                assert len(c["message"]) < 1000, (c["type"], len(c["message"]))
            for _, reason, event_message in obj.events:
                assert len(event_message) < 1000, (reason, len(event_message))
            assert obj.status["references"]["indexCount"] == INDEXES
            assert obj.status["references"]["pipelineCount"] == PIPELINES
            assert len(obj.status["references"]["indexes"]) == 20

            # The next pass (its dry run) says the same: nothing more is written.
            writes = len(world.writer.status_writes)
            await world.reconcile(obj)
            assert len(world.writer.status_writes) == writes
            assert condition(obj, "DeletionBlocked")["message"] == message
        finally:
            await world.close()

    run(scenario)


@pytest.mark.parametrize("es_version", ["8.15.0"])
def test_on_8_15_the_409_names_no_list_and_its_words_are_kept_short(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5")
            await world.reconcile(obj)
            hold = es.faults.hold("DELETE", r"/_inference/.*/e5", query={"dry_run": None})
            deleting = asyncio.create_task(world.delete(obj))
            assert await asyncio.to_thread(hold.wait_held, 10), "the delete never came"
            _reference(es)  # 8.15's delete looks at pipelines only
            hold.release()
            await asyncio.wait_for(deleting, timeout=10)

            assert not obj.deleted and es.state.endpoint("e5") is not None
            blocked = condition(obj, "DeletionBlocked")
            assert blocked["status"] == "True"
            assert blocked["message"].startswith("Inference endpoint e5 is referenced by pipelines and cannot be")
            assert blocked["message"].endswith("inferenceendpoint/e5 inference.es-operator.dev/force=true")
            assert all(len(c["message"]) < 1000 for c in obj.status["conditions"])
        finally:
            await world.close()

    run(scenario)
