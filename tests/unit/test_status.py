from __future__ import annotations

from typing import Any

import kopf
import pytest

from es_inference_operator import status
from es_inference_operator.conditions import Condition, merge_conditions
from es_inference_operator.decisions import References


def test_merge_keeps_transition_time_when_status_is_unchanged() -> None:
    current = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "A",
            "message": "m",
            "lastTransitionTime": "t0",
            "observedGeneration": 1,
        }
    ]
    merged = merge_conditions(current, [Condition("Ready", "True", "B", "m2")], generation=2, now="t1")
    assert merged[0]["lastTransitionTime"] == "t0"
    assert merged[0]["reason"] == "B"
    flipped = merge_conditions(current, [Condition("Ready", "False", "B", "m2")], generation=2, now="t1")
    assert flipped[0]["lastTransitionTime"] == "t1"


def body(
    conditions: list[dict[str, Any]] | None = None, generation: int = 1, deleting: bool = False, **fields: Any
) -> kopf.Body:
    metadata: dict[str, Any] = {"name": "n", "namespace": "ns", "uid": "u", "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-27T00:00:00Z"
    raw = {
        "apiVersion": "inference.es-operator.dev/v1alpha1",
        "kind": "InferenceEndpoint",
        "metadata": metadata,
        "status": {"conditions": conditions or [], **fields},
    }
    return kopf.Body(raw)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    posted: list[tuple[str, str]] = []
    monkeypatch.setattr(kopf, "event", lambda _b, *, type, reason, message: posted.append((type, reason)))
    return posted


def write(b: kopf.Body, patch: kopf.Patch, update: status.StatusUpdate, generation: int = 1) -> None:
    status.write_status(b, patch, update, generation=generation, base=b.get("status") or {})


def test_nothing_is_written_when_nothing_changed(events: list[tuple[str, str]]) -> None:
    first = kopf.Patch()
    update = status.ready("in line", fields={"inferenceId": "n", "managed": True})
    write(body(), first, update)
    assert first.status["observedGeneration"] == 1
    assert events == [("Normal", "Available")]

    # Write what the first patch said into the object, and apply the same outcome again.
    again = kopf.Patch()
    write(body(first.status["conditions"], inferenceId="n", managed=True, observedGeneration=1), again, update)
    assert not again
    assert events == [("Normal", "Available")]


def test_a_blocked_deletion_posts_one_warning(events: list[tuple[str, str]]) -> None:
    update = status.deletion_blocked(References(("p",), ()), "blocked")
    patch = kopf.Patch()
    write(body(deleting=True), patch, update)
    assert patch.status["references"] == {"pipelines": ["p"], "indexes": []}
    again = kopf.Patch()
    write(
        body(patch.status["conditions"], deleting=True, references=patch.status["references"], observedGeneration=1),
        again,
        update,
    )
    assert not again
    assert events == [("Warning", "InUse")]


def test_the_status_describes_the_generation_it_was_decided_on(events: list[tuple[str, str]]) -> None:
    """A resync that took generation 1's spec publishes generation 1, even when the live body is at 2 by then:
    Argo CD and `kubectl wait` must not see the new generation Ready before it was reconciled."""
    patch = kopf.Patch()
    write(body(generation=2), patch, status.ready("in line", fields={}), generation=1)
    assert patch.status["observedGeneration"] == 1
    assert {c["observedGeneration"] for c in patch.status["conditions"]} == {1}


def test_a_status_written_during_the_reconcile_is_the_base_of_the_final_patch(events: list[tuple[str, str]]) -> None:
    """The reconcile wrote Reconciling=True itself (before calling Elasticsearch); the body kopf holds does not
    show it. The final patch must still set Reconciling=False."""
    b = body([{"type": "Reconciling", "status": "False", "reason": "R", "message": "m", "lastTransitionTime": "t"}])
    early = status.status_changes(b.status, status.reconciling("Updating", "go"), generation=2)
    written = status.applied(dict(b.status), early)
    patch = kopf.Patch()
    status.write_status(b, patch, status.ready("in line", fields={}), generation=2, base=written)
    reconciling = next(c for c in patch.status["conditions"] if c["type"] == "Reconciling")
    assert reconciling["status"] == "False"


def test_a_refused_create_after_creating_posts_its_warning(events: list[tuple[str, str]]) -> None:
    """Ready=False (Creating) was written before the PUT; Elasticsearch's refusal is still news."""
    b = body()
    early = status.status_changes(b.status, status.reconciling("Creating", "creating"), generation=1)
    written = status.applied(dict(b.status), early)
    refused = status.not_ready("ElasticsearchRejected", "Unknown service [foo]", retrying=False)
    status.write_status(b, kopf.Patch(), refused, generation=1, base=written)
    assert events == [("Warning", "ElasticsearchRejected")]


def test_a_map_in_status_loses_the_keys_it_no_longer_holds(events: list[tuple[str, str]]) -> None:
    """Status patches are merge patches: a Secret ref renamed from `openai` to `openai-v2` must not leave
    `openai` in secretVersions for ever (the versions would never match again: an update at every resync)."""
    before = {"secretVersions": {"openai": "42"}}
    changes = status.status_changes(
        before, status.StatusUpdate(fields={"secretVersions": {"openai-v2": "7"}}), generation=1
    )
    assert changes == {"secretVersions": {"openai": None, "openai-v2": "7"}}
    assert status.applied(before, changes) == {"secretVersions": {"openai-v2": "7"}}
