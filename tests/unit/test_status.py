from __future__ import annotations

from typing import Any

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


def events(base: dict[str, Any], update: status.StatusUpdate, deleting: bool = False) -> list[tuple[str, str]]:
    return [(t, r) for t, r, _ in status.events_to_post(base, update, deleting=deleting, own=())]


def test_nothing_is_written_when_nothing_changed() -> None:
    update = status.ready("in line", fields={"inferenceId": "n"})
    changes = status.status_changes({}, update, generation=1)
    assert changes["observedGeneration"] == 1
    assert events({}, update) == [("Normal", "Available")]
    written = status.applied({}, changes)
    assert status.status_changes(written, update, generation=1) == {}
    assert events(written, update) == []


def test_a_blocked_deletion_posts_one_warning() -> None:
    update = status.deletion_blocked(References(("p",), ()), "blocked")
    changes = status.status_changes({}, update, generation=1)
    assert changes["references"] == {"pipelines": ["p"], "indexes": [], "pipelineCount": 1, "indexCount": 0}
    assert events({}, update, deleting=True) == [("Warning", "InUse")]
    written = status.applied({}, changes)
    assert status.status_changes(written, update, generation=1) == {}
    assert events(written, update, deleting=True) == []


def test_the_status_describes_the_generation_it_was_decided_on() -> None:
    changes = status.status_changes({}, status.ready("in line", fields={}), generation=1)
    assert changes["observedGeneration"] == 1
    assert {c["observedGeneration"] for c in changes["conditions"]} == {1}


def test_the_status_written_before_a_call_is_the_base_of_the_final_write() -> None:
    """Reconciling=True was written before Elasticsearch was called; the final write sets it False again."""
    base = {"conditions": [{"type": "Reconciling", "status": "False", "reason": "R", "message": "m"}]}
    written = status.applied(base, status.status_changes(base, status.reconciling("Updating", "go"), generation=2))
    final = status.status_changes(written, status.ready("in line", fields={}), generation=2)
    reconciling = next(c for c in final["conditions"] if c["type"] == "Reconciling")
    assert reconciling["status"] == "False"


def test_a_refused_create_after_creating_posts_its_warning() -> None:
    """Ready=False (Creating) was written before the PUT; Elasticsearch's refusal is still news."""
    written = status.applied({}, status.status_changes({}, status.reconciling("Creating", "creating"), generation=1))
    refused = status.not_ready("ElasticsearchRejected", "Unknown service [foo]", retrying=False)
    assert events(written, refused) == [("Warning", "ElasticsearchRejected")]


def test_a_map_in_status_loses_the_keys_it_no_longer_holds() -> None:
    """Status patches are merge patches: a Secret ref renamed from `openai` to `openai-v2` must not leave
    `openai` in secretVersions for ever (the versions would never match again: an update at every resync)."""
    before = {"secretVersions": {"openai": "42"}}
    changes = status.status_changes(
        before, status.StatusUpdate(fields={"secretVersions": {"openai-v2": "7"}}), generation=1
    )
    assert changes == {"secretVersions": {"openai": None, "openai-v2": "7"}}
    assert status.applied(before, changes) == {"secretVersions": {"openai-v2": "7"}}


def _ready_status() -> dict[str, Any]:
    return status.applied({}, status.status_changes({}, status.ready("in line", fields={}), generation=1))


def test_credentials_refused_on_a_ready_endpoint_post_one_warning() -> None:
    """Ready stays True (the endpoint is still there) but a person must fix the credentials: one Event says so."""
    update = status.not_ready("ElasticsearchAuthFailed", "refused", retrying=True, keep_ready=True)
    assert events(_ready_status(), update) == [("Warning", "ElasticsearchAuthFailed")]
    written = status.applied(_ready_status(), status.status_changes(_ready_status(), update, generation=1))
    assert events(written, update) == []  # transitions only


def test_a_passing_outage_on_a_ready_endpoint_is_status_only() -> None:
    update = status.not_ready("ElasticsearchUnavailable", "unreachable", retrying=True, keep_ready=True)
    assert events(_ready_status(), update) == []


def test_ready_and_synced_turning_false_for_one_reason_post_one_event() -> None:
    update = status.not_ready("ConfigurationError", "Secret ns/es has no key 'url'", retrying=True)
    assert events(_ready_status(), update) == [("Warning", "ConfigurationError")]
