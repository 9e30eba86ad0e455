"""Table tests of the operator's decisions: what changed, what to call, may this delete go ahead."""

from __future__ import annotations

from typing import Any

import pytest

from es_inference_operator.decisions import (
    REFERENCES_KEPT,
    Capabilities,
    Claim,
    DeletionStep,
    References,
    Step,
    claim_winner,
    cluster_identity,
    create_refused,
    parse_version,
    plan_deletion,
    plan_reconcile,
    poll_delay,
    ready_at,
    references_from_conflict,
    references_from_dry_run,
    release_without_elasticsearch,
    retry_delay,
)
from es_inference_operator.endpoint_diff import diff_endpoint, expected_chunking_echo
from es_inference_operator.ownership import (
    ADOPTED,
    CREATE_PENDING,
    Ownership,
    cluster_changed,
    fixed_service_settings,
    not_ours,
)
from es_inference_operator.spec import DesiredEndpoint, SecretKeyRef

V8_15, V8_16, V8_17, V9_1, V9_5 = (
    Capabilities(v, "c1", "http://es:9200") for v in [(8, 15, 0), (8, 16, 0), (8, 17, 0), (9, 1, 0), (9, 5, 0)]
)

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


# What the resource recorded when it created OBSERVED on cluster "c1".
OWNED = Ownership(
    cluster="c1",
    inference_id="e5",
    task_type="text_embedding",
    service="openai",
    service_settings=fixed_service_settings(OBSERVED["service_settings"], DESIRED),
)
PENDING = Ownership.intent(DESIRED, "c1")  # what the create sent, recorded before the PUT
LEGACY_PENDING = Ownership(  # 0.1.0 recorded no settings with its intent
    cluster="c1", inference_id="e5", task_type="text_embedding", service="openai", state=CREATE_PENDING
)


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
    ("seen", "ownership", "secrets_changed", "caps", "adopt", "step"),
    [
        (None, None, False, V9_1, False, Step.CREATE),
        (None, OWNED, False, V9_1, False, Step.CREATE),  # deleted behind our back: create again
        # Not made by this resource: never written to, even when identical, unless adoption is asked for.
        (OBSERVED, None, False, V9_1, False, Step.ALREADY_EXISTS),
        (observed(task_settings={"user": "x"}), None, False, V9_1, False, Step.ALREADY_EXISTS),
        (OBSERVED, None, False, V9_1, True, Step.ADOPT),
        (observed(task_settings={"user": "x"}), None, False, V9_1, True, Step.ADOPT),  # then brought in line
        (observed(service_settings={"model_id": "other"}), None, False, V9_1, True, Step.ADOPT),  # NeedsRecreate
        (observed(service="cohere"), None, False, V9_1, True, Step.ALREADY_EXISTS),  # another service: never
        (observed(task_type="sparse_embedding"), None, False, V9_1, True, Step.ALREADY_EXISTS),
        (OBSERVED, OWNED, False, V9_1, False, Step.IN_LINE),
        (OBSERVED, OWNED, True, V9_1, False, Step.UPDATE),  # a rotated Secret
        (OBSERVED, OWNED, True, V8_16, False, Step.NO_UPDATE_API),
        (observed(task_settings={"user": "x"}), OWNED, False, V8_17, False, Step.UPDATE),
        (observed(task_settings={"user": "x"}), OWNED, False, V8_15, False, Step.NO_UPDATE_API),
        # Replaced outside the operator by one of another model, type or service: not ours, never overwritten.
        (observed(service_settings={"model_id": "other"}), OWNED, False, V9_1, False, Step.MISMATCH),
        (observed(task_type="sparse_embedding"), OWNED, False, V9_1, False, Step.MISMATCH),
        # ... unless its owner asks to adopt the replacement.
        (observed(service_settings={"model_id": "other"}), OWNED, False, V9_1, True, Step.ADOPT),
        # Ours, but the spec asks for another model since: only a new endpoint could do it.
        (
            observed(service_settings={"model_id": "other"}),
            Ownership(**{**OWNED.__dict__, "service_settings": {"model_id": "other"}}),
            False,
            V9_1,
            False,
            Step.NEEDS_RECREATE,
        ),
        # The operator died after asking for the create: what it finds, as it sent it, is its own.
        (OBSERVED, PENDING, False, V9_1, False, Step.IN_LINE),
        (observed(task_settings={"user": "x"}), PENDING, False, V9_1, False, Step.UPDATE),
        # Not what the create sent: made by somebody else meanwhile, never claimed.
        (observed(service="cohere"), PENDING, False, V9_1, False, Step.ALREADY_EXISTS),
        (observed(service_settings={"model_id": "other"}), PENDING, False, V9_1, False, Step.ALREADY_EXISTS),
        (observed(service_settings={"model_id": "other"}), LEGACY_PENDING, False, V9_1, False, Step.NEEDS_RECREATE),
    ],
)
def test_plan_reconcile(
    seen: dict[str, Any] | None,
    ownership: Ownership | None,
    secrets_changed: bool,
    caps: Capabilities,
    adopt: bool,
    step: Step,
) -> None:
    plan = plan_reconcile(
        DESIRED, seen, ownership=ownership, secrets_changed=secrets_changed, capabilities=caps, adopt=adopt
    )
    assert plan.step is step


def test_a_pending_create_whose_spec_changed_meanwhile_is_still_its_own() -> None:
    """Issue 15: the intent records what the PUT sent, so an edit of the spec before the outcome is known never
    disowns the endpoint the operator made (which would leak it)."""
    edited = DesiredEndpoint(**{**DESIRED.__dict__, "service_settings": {"model_id": "text-embedding-3-large"}})
    plan = plan_reconcile(edited, OBSERVED, ownership=PENDING, secrets_changed=False, capabilities=V9_1)
    assert plan.step is Step.NEEDS_RECREATE  # ours, and the new model needs a new endpoint


def test_an_update_resends_the_secrets_with_service_settings() -> None:
    plan = plan_reconcile(DESIRED, OBSERVED, ownership=OWNED, secrets_changed=True, capabilities=V9_1)
    assert plan.update_body == {"service_settings": {}}
    assert plan.send_secrets

    plan = plan_reconcile(
        DESIRED, observed(task_settings={"user": "x"}), ownership=OWNED, secrets_changed=False, capabilities=V9_1
    )
    assert plan.update_body == {"task_settings": {"user": "me"}}
    assert not plan.send_secrets


def test_chunking_settings_update_needs_a_server_that_can() -> None:
    wanted = DesiredEndpoint(**{**DESIRED.__dict__, "chunking_settings": {"strategy": "word"}})
    assert (
        plan_reconcile(wanted, OBSERVED, ownership=OWNED, secrets_changed=False, capabilities=V9_1).step
        is Step.NO_UPDATE_API
    )
    assert (
        plan_reconcile(wanted, OBSERVED, ownership=OWNED, secrets_changed=False, capabilities=V9_5).step is Step.UPDATE
    )


@pytest.mark.parametrize(
    ("policy", "ownership", "released"),
    [
        ("Orphan", OWNED, True),
        ("Delete", None, True),  # never created nor adopted: nothing to delete, Elasticsearch not asked
        ("Delete", PENDING, False),  # may have been created: ask
        ("Delete", OWNED, False),
    ],
)
def test_release_without_elasticsearch(policy: str, ownership: Ownership | None, released: bool) -> None:
    assert (release_without_elasticsearch(policy=policy, ownership=ownership) is not None) is released


@pytest.mark.parametrize(
    ("ownership", "cluster", "seen", "claimed_by_other", "forced", "step"),
    [
        (OWNED, "c1", OBSERVED, False, False, DeletionStep.CHECK_REFERENCES),
        (OWNED, "c1", OBSERVED, False, True, DeletionStep.FORCE_DELETE),
        (OWNED, "c1", None, False, False, DeletionStep.RELEASE),  # already gone
        (OWNED, "c2", OBSERVED, False, True, DeletionStep.RELEASE_FOREIGN),  # it lives on another cluster
        (OWNED, "c1", OBSERVED, True, True, DeletionStep.RELEASE),  # another resource manages the id
        # Replaced outside the operator with another task type (a DELETE would get a 400 for ever): not ours.
        (OWNED, "c1", observed(task_type="sparse_embedding"), False, False, DeletionStep.RELEASE_FOREIGN),
        (OWNED, "c1", observed(service_settings={"model_id": "other"}), False, True, DeletionStep.RELEASE_FOREIGN),
        # Changed in place (task settings): still ours.
        (OWNED, "c1", observed(task_settings={"user": "x"}), False, False, DeletionStep.CHECK_REFERENCES),
        (PENDING, "c1", OBSERVED, False, False, DeletionStep.CHECK_REFERENCES),
        (PENDING, "c1", None, False, False, DeletionStep.RELEASE),  # the create never happened
        # 0.1.0 named a cluster that reported no uuid by its URL: the same URL is the same cluster.
        (Ownership(**{**OWNED.__dict__, "cluster": "url:http://es:9200"}), "c1", OBSERVED, False, False,
         DeletionStep.CHECK_REFERENCES),
    ],
)  # fmt: skip
def test_plan_deletion(
    ownership: Ownership,
    cluster: str,
    seen: dict[str, Any] | None,
    claimed_by_other: bool,
    forced: bool,
    step: DeletionStep,
) -> None:
    caps = Capabilities((9, 1, 0), cluster, "http://es:9200")
    plan = plan_deletion(
        ownership=ownership, capabilities=caps, observed=seen, claimed_by_other=claimed_by_other, forced=forced
    )
    assert plan.step is step


def test_ownership_round_trips_through_status() -> None:
    assert Ownership.from_status({"ownership": OWNED.as_status()}) == OWNED
    assert Ownership.from_status({"ownership": PENDING.as_status()}) == PENDING
    assert PENDING.service_settings == {"model_id": "text-embedding-3-small"}  # never the api_key
    assert Ownership.from_status({}) is None
    assert Ownership.from_status({"ownership": {"clusterUUID": ""}}) is None


@pytest.mark.parametrize(
    ("ownership", "seen", "foreign"),
    [
        (OWNED, OBSERVED, False),
        (OWNED, observed(service_settings={**OBSERVED["service_settings"], "similarity": "cosine"}), False),  # added
        (OWNED, observed(service_settings={"model_id": "text-embedding-3-small", "num_allocations": 3}), False),
        (OWNED, observed(service="cohere"), True),
        (PENDING, observed(service_settings={"model_id": "other"}), True),  # not what the create sent
        (LEGACY_PENDING, observed(service_settings={"model_id": "other"}), False),  # 0.1.0 recorded no settings
    ],
)
def test_not_ours(ownership: Ownership, seen: dict[str, Any], foreign: bool) -> None:
    assert (not_ours(ownership, seen) is not None) is foreign


def test_cluster_changed() -> None:
    origin = "http://es:9200"
    assert not cluster_changed(None, "c1", origin, "e5")
    assert not cluster_changed(OWNED, "c1", origin, "e5")
    assert cluster_changed(OWNED, "c2", origin, "e5")
    assert cluster_changed(Ownership(**{**OWNED.__dict__, "state": ADOPTED}), "c1", origin, "other-id")
    legacy = Ownership(**{**OWNED.__dict__, "cluster": "url:http://es:9200"})
    assert not cluster_changed(legacy, "c1", origin, "e5")
    assert cluster_changed(legacy, "c1", "http://other:9200", "e5")


@pytest.mark.parametrize(
    ("uuid", "identity"),
    [
        ("dXJhbmRvbQ", "dXJhbmRvbQ"),  # two URLs of one cluster are one cluster: the server says which it is
        ("_na_", ""),  # not formed yet: unknown, and nothing that depends on it is decided
        (None, ""),
        ("", ""),
    ],
)
def test_cluster_identity(uuid: str | None, identity: str) -> None:
    assert cluster_identity(uuid) == identity


@pytest.mark.parametrize(
    ("wanted", "echo", "in_line"),
    [
        # Elasticsearch fills in sentence_overlap (reference §10.1): a partial spec is in line, not changed forever.
        (
            {"strategy": "sentence", "max_chunk_size": 100},
            {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 1},
            True,
        ),
        (
            {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 0},
            {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 1},
            False,
        ),
        (
            {"strategy": "word", "max_chunk_size": 100, "overlap": 10},
            {"strategy": "word", "max_chunk_size": 100, "overlap": 10},
            True,
        ),
        # A separator group is echoed as its separators, never by name.
        (
            {"strategy": "recursive", "max_chunk_size": 100, "separator_group": "markdown"},
            {"strategy": "recursive", "max_chunk_size": 100, "separators": ["\n# "]},
            True,
        ),
        (
            {"strategy": "recursive", "max_chunk_size": 100, "separators": ["a"]},
            {"strategy": "recursive", "max_chunk_size": 100, "separators": ["b"]},
            False,
        ),
        # `none` keeps its strategy only.
        ({"strategy": "none", "max_chunk_size": 5}, {"strategy": "none"}, True),
        (
            {"strategy": "word", "max_chunk_size": 100, "overlap": 10},
            {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
            False,
        ),
    ],
)
def test_chunking_settings_compare_with_what_elasticsearch_echoes(
    wanted: dict[str, Any], echo: dict[str, Any], in_line: bool
) -> None:
    desired = DesiredEndpoint(**{**DESIRED.__dict__, "chunking_settings": wanted})
    assert diff_endpoint(desired, observed(chunking_settings=echo)).in_line is in_line
    assert set(expected_chunking_echo(wanted)) <= set(wanted) | {"sentence_overlap"}


def test_references_from_dry_run_sorted_and_tolerant_of_8_15() -> None:
    assert references_from_dry_run({"acknowledged": False, "pipelines": ["b", "a"], "indexes": ["i"]}) == References(
        ("a", "b"), ("i",)
    )
    assert references_from_dry_run({"acknowledged": False, "pipelines": []}) == References()
    assert not References()


def test_references_in_status_are_bounded_with_their_count() -> None:
    refs = References(pipelines=("p",), indexes=tuple(f"idx-{i:03d}" for i in range(800)))
    kept = refs.as_status()
    assert kept["pipelines"] == ["p"] and kept["pipelineCount"] == 1
    assert len(kept["indexes"]) == REFERENCES_KEPT and kept["indexCount"] == 800


@pytest.mark.parametrize("now", [0.0, 17.3, 59.9, 1234.5])
def test_poll_delay_keeps_each_key_at_its_moment_of_the_period(now: float) -> None:
    delays = {key: poll_delay(key, 60.0, now) for key in ("a", "b", "c", "uid-1")}
    assert all(30.0 <= d < 90.0 for d in delays.values())
    # Wherever a check ran, the next is at the same moment of the period.
    for key, delay in delays.items():
        assert poll_delay(key, 60.0, now + delay) == pytest.approx(60.0)


def test_ready_at_needs_ready_for_this_generation() -> None:
    ready = {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}
    assert ready_at(ready, 1)
    assert not ready_at(ready, 2)  # a spec not applied yet
    assert not ready_at({"conditions": [{"type": "Ready", "status": "False", "observedGeneration": 1}]}, 1)
    assert not ready_at({}, 1)


def test_a_refused_create_is_remembered_for_this_request_only() -> None:
    refused = {
        "conditions": [
            {"type": "Stalled", "status": "True", "reason": "ElasticsearchRejected", "observedGeneration": 3}
        ],
        "secretVersions": {"key": "7"},
    }
    assert create_refused(refused, 3, {"key": "7"})
    assert not create_refused(refused, 4, {"key": "7"})  # the spec changed
    assert not create_refused(refused, 3, {"key": "8"})  # the Secret changed
    assert not create_refused({**refused, "ownership": OWNED.as_status()}, 3, {"key": "7"})  # an update refused


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


_PIPELINES_409 = (
    "Inference endpoint e5 is referenced by pipelines: [p2, p1]. Ensure that no pipelines are using this inference "
    "endpoint, or use force to ignore this warning and delete the inference endpoint."
)
_INDEXES_409 = (
    " Inference endpoint e5 is being used in the mapping for indexes: [i2, i1, i3]. Ensure that no index mappings "
    "are using this inference endpoint, or use force to ignore this warning and delete the inference endpoint."
)


@pytest.mark.parametrize(
    ("reason", "refs"),
    [
        (_PIPELINES_409, References(pipelines=("p1", "p2"))),
        (_INDEXES_409, References(indexes=("i1", "i2", "i3"))),  # 8.16+: starts with a space (reference §1.4)
        (_PIPELINES_409 + _INDEXES_409, References(pipelines=("p1", "p2"), indexes=("i1", "i2", "i3"))),
        (_INDEXES_409.strip(), References(indexes=("i1", "i2", "i3"))),  # should a later version trim it
        # 8.15: no list
        (
            "Inference endpoint e5 is referenced by pipelines and cannot be deleted. Use `force` to delete it anyway, "
            "or use `dry_run` to list the pipelines that reference it.",
            None,
        ),
        ("injected fault: HTTP 409 from the emulator", None),
    ],
)
def test_references_from_conflict(reason: str, refs: References | None) -> None:
    assert references_from_conflict(reason) == refs


def test_references_from_a_conflict_naming_800_indexes() -> None:
    names = [f".ds-docs-{n:04d}" for n in range(800)]
    reason = _INDEXES_409.replace("[i2, i1, i3]", "[" + ", ".join(reversed(names)) + "]")
    refs = references_from_conflict(reason)
    assert refs is not None and refs.indexes == tuple(names) and refs.pipelines == ()
