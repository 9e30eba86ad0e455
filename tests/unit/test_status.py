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


def test_nothing_is_written_when_nothing_changed(events: list[tuple[str, str]]) -> None:
    first = kopf.Patch()
    update = status.ready("in line", fields={"inferenceId": "n", "managed": True})
    status.write_status(body(), first, update)
    assert first.status["observedGeneration"] == 1
    assert events == [("Normal", "Available")]

    # Write what the first patch said into the object, and apply the same outcome again.
    again = kopf.Patch()
    status.write_status(
        body(first.status["conditions"], inferenceId="n", managed=True, observedGeneration=1), again, update
    )
    assert not again
    assert events == [("Normal", "Available")]


def test_a_blocked_deletion_posts_one_warning(events: list[tuple[str, str]]) -> None:
    update = status.deletion_blocked(References(("p",), ()), "blocked")
    patch = kopf.Patch()
    status.write_status(body(deleting=True), patch, update)
    assert patch.status["references"] == {"pipelines": ["p"], "indexes": []}
    again = kopf.Patch()
    status.write_status(
        body(patch.status["conditions"], deleting=True, references=patch.status["references"], observedGeneration=1),
        again,
        update,
    )
    assert not again
    assert events == [("Warning", "InUse")]
