"""Table tests of the operator's decisions: what changed, what to call, may this delete go ahead."""

from __future__ import annotations

from typing import Any

import pytest

from es_inference_operator.decisions import (
    Capabilities,
    Claim,
    DeletionStep,
    References,
    Step,
    blocked_message,
    claim_winner,
    diff_endpoint,
    parse_version,
    plan_deletion,
    plan_reconcile,
    references_from_dry_run,
    retry_delay,
)
from es_inference_operator.spec import DesiredEndpoint, SecretKeyRef

V8_15, V8_16, V8_17, V9_1, V9_5 = (Capabilities(v) for v in [(8, 15, 0), (8, 16, 0), (8, 17, 0), (9, 1, 0), (9, 5, 0)])

DESIRED = DesiredEndpoint(
    inference_id="e5",
    task_type="text_embedding",
    service="openai",
    service_settings={"model_id": "text-embedding-3-small"},
    secret_refs={"api_key": SecretKeyRef("openai", "api-key")},
    task_settings={"user": "me"},
)

# What Elasticsearch echoes for DESIRED: no api_key, plus provider defaults it added.
OBSERVED: dict[str, Any] = {
    "inference_id": "e5",
    "task_type": "text_embedding",
    "service": "openai",
    "service_settings": {"model_id": "text-embedding-3-small", "rate_limit": {"requests_per_minute": 3000}},
    "task_settings": {"user": "me"},
    "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
}


def observed(**changes: Any) -> dict[str, Any]:
    return {**OBSERVED, **changes}


@pytest.mark.parametrize(
    ("seen", "fixed", "updatable"),
    [
        (OBSERVED, (), ()),
        (observed(service="cohere"), ("service",), ()),
        (observed(task_type="sparse_embedding"), ("taskType",), ()),
        (observed(service_settings={"model_id": "other"}), ("serviceSettings.model_id",), ()),
        (observed(task_settings={"user": "someone-else"}), (), ("taskSettings",)),
        (observed(task_settings={}), (), ("taskSettings",)),
        # Keys the server added on its own are not a difference.
        (observed(task_settings={"user": "me", "extra": 1}), (), ()),
    ],
    ids=["in-line", "service", "task-type", "fixed-setting", "task-settings", "task-settings-missing", "server-extra"],
)
def test_diff_endpoint(seen: dict[str, Any], fixed: tuple[str, ...], updatable: tuple[str, ...]) -> None:
    diff = diff_endpoint(DESIRED, seen)
    assert diff.fixed == fixed
    assert diff.updatable == updatable


def test_diff_chunking_settings_only_when_the_spec_has_them() -> None:
    assert diff_endpoint(DESIRED, observed(chunking_settings=None)).in_line
    wanted = DesiredEndpoint(
        **{**DESIRED.__dict__, "chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}
    )
    diff = diff_endpoint(wanted, OBSERVED)
    assert diff.updatable == ("chunkingSettings",)
    assert diff.update_body == {"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}


def test_diff_in_cluster_allocations_are_updatable() -> None:
    wanted = DesiredEndpoint(
        "e",
        "text_embedding",
        "elasticsearch",
        {"model_id": ".multilingual-e5-small", "num_allocations": 2, "num_threads": 1},
    )
    seen = {
        "task_type": "text_embedding",
        "service": "elasticsearch",
        "service_settings": {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1},
    }
    diff = diff_endpoint(wanted, seen)
    assert diff.updatable == ("serviceSettings.num_allocations",)
    assert diff.update_body == {"service_settings": {"num_allocations": 2}}


@pytest.mark.parametrize(
    ("seen", "managed", "secrets_changed", "caps", "step"),
    [
        (None, False, False, V9_1, Step.CREATE),
        (None, True, False, V9_1, Step.CREATE),  # deleted behind our back: create again
        (OBSERVED, False, False, V9_1, Step.ADOPT),
        (observed(task_settings={"user": "x"}), False, False, V9_1, Step.MISMATCH),  # not ours: never overwrite
        (observed(service="cohere"), False, False, V9_1, Step.MISMATCH),
        (OBSERVED, True, False, V9_1, Step.IN_LINE),
        (OBSERVED, True, True, V9_1, Step.UPDATE),  # a rotated Secret
        (OBSERVED, True, True, V8_16, Step.NO_UPDATE_API),
        (observed(task_settings={"user": "x"}), True, False, V8_17, Step.UPDATE),
        (observed(task_settings={"user": "x"}), True, False, V8_15, Step.NO_UPDATE_API),
        (observed(service_settings={"model_id": "other"}), True, False, V9_1, Step.NEEDS_RECREATE),
    ],
)
def test_plan_reconcile(
    seen: dict[str, Any] | None, managed: bool, secrets_changed: bool, caps: Capabilities, step: Step
) -> None:
    plan = plan_reconcile(DESIRED, seen, managed=managed, secrets_changed=secrets_changed, capabilities=caps)
    assert plan.step is step


def test_an_update_resends_the_secrets_with_service_settings() -> None:
    plan = plan_reconcile(DESIRED, OBSERVED, managed=True, secrets_changed=True, capabilities=V9_1)
    assert plan.update_body == {"service_settings": {}}
    assert plan.send_secrets

    plan = plan_reconcile(
        DESIRED, observed(task_settings={"user": "x"}), managed=True, secrets_changed=False, capabilities=V9_1
    )
    assert plan.update_body == {"task_settings": {"user": "me"}}
    assert not plan.send_secrets


def test_chunking_settings_update_needs_a_server_that_can() -> None:
    wanted = DesiredEndpoint(**{**DESIRED.__dict__, "chunking_settings": {"strategy": "word"}})
    assert (
        plan_reconcile(wanted, OBSERVED, managed=True, secrets_changed=False, capabilities=V9_1).step
        is Step.NO_UPDATE_API
    )
    assert plan_reconcile(wanted, OBSERVED, managed=True, secrets_changed=False, capabilities=V9_5).step is Step.UPDATE


@pytest.mark.parametrize(
    ("policy", "managed", "claimed_by_other", "forced", "step"),
    [
        ("Delete", True, False, False, DeletionStep.CHECK_REFERENCES),
        ("Delete", True, False, True, DeletionStep.FORCE_DELETE),
        ("Orphan", True, False, False, DeletionStep.RELEASE),
        ("Orphan", True, False, True, DeletionStep.RELEASE),  # force does not override the policy
        ("Delete", False, False, True, DeletionStep.RELEASE),  # never ours: never deleted
        ("Delete", True, True, True, DeletionStep.RELEASE),  # another resource manages the id
    ],
)
def test_plan_deletion(policy: str, managed: bool, claimed_by_other: bool, forced: bool, step: DeletionStep) -> None:
    assert plan_deletion(policy=policy, managed=managed, claimed_by_other=claimed_by_other, forced=forced).step is step


def test_references_from_dry_run_sorted_and_tolerant_of_8_15() -> None:
    assert references_from_dry_run({"acknowledged": False, "pipelines": ["b", "a"], "indexes": ["i"]}) == References(
        ("a", "b"), ("i",)
    )
    assert references_from_dry_run({"acknowledged": False, "pipelines": []}) == References()
    assert not References()


def test_blocked_message_names_what_and_how_to_force() -> None:
    message = blocked_message("e5", References(("p1", "p2"), ("idx",)), "-n ns inferenceendpoint/e5")
    assert "ingest pipelines [p1, p2]" in message
    assert "semantic_text indexes [idx]" in message
    assert "kubectl annotate -n ns inferenceendpoint/e5 inference.es-operator.dev/force=true" in message


def test_claim_winner_is_the_managing_one_then_the_oldest_then_smallest_uid() -> None:
    a = Claim("2026-01-01T00:00:00Z", "uid-b", "ns1", "a")
    b = Claim("2026-01-02T00:00:00Z", "uid-a", "ns2", "b")
    c = Claim("2026-01-01T00:00:00Z", "uid-a", "ns3", "c")
    assert claim_winner([a, b]) == a
    assert claim_winner([b, a, c]) == c
    # Applied in the same second: the one that already manages the endpoint keeps it, whatever the uids say.
    managing = Claim("2026-01-01T00:00:00Z", "uid-z", "ns1", "first", managed=True)
    assert claim_winner([managing, c]) == managing


@pytest.mark.parametrize(
    ("attempt", "retry_after", "jitter", "expected"),
    [(0, None, 0.0, 1.0), (0, None, 0.999999, 2.0), (3, None, 0.0, 8.0), (20, None, 0.0, 60.0), (0, 30.0, 0.0, 30.0)],
)
def test_retry_delay(attempt: int, retry_after: float | None, jitter: float, expected: float) -> None:
    assert retry_delay(attempt, base=2, cap=120, retry_after=retry_after, jitter=jitter) == pytest.approx(
        expected, 1e-3
    )


@pytest.mark.parametrize(
    ("number", "parsed"), [("8.15.0", (8, 15, 0)), ("9.1.3-SNAPSHOT", (9, 1, 3)), ("9.0", (9, 0, 0))]
)
def test_parse_version(number: str, parsed: tuple[int, int, int]) -> None:
    assert parse_version(number) == parsed
