"""The update API, ``PUT /_inference/[{task_type}/]{id}/_update`` (reference §3.4), 8.17+."""

from __future__ import annotations

from typing import Any

import pytest

from es_emulator import EmulatorServer

from .conftest import V91, V95, V815, V816, V817, Factory
from .support import Answer, call, client, error, put_openai


def update(srv: EmulatorServer, target: str, body: Any = None, query: str = "", **kwargs: Any) -> Answer:
    return call(srv, "PUT", f"/_inference/{target}/_update{query}", body, **kwargs)


@pytest.mark.parametrize("version", [V815, V816])
def test_no_update_api_before_8_17(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    # The path falls through to PUT _inference/{task_type}/{inference_id}.
    assert update(srv, "ep", {"task_settings": {"user": "u"}}).json == error("Unknown task_type [ep]")


@pytest.mark.parametrize("version", [V817, V91])
def test_update_secret_and_task_settings(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    es_body = {"service_settings": {"api_key": "sk-rotated"}, "task_settings": {"user": "alice"}}
    answer = update(srv, "ep", es_body)
    assert answer.status == 200
    assert answer.json["task_settings"] == {"user": "alice"}
    assert "api_key" not in answer.json["service_settings"]
    assert b"sk-rotated" not in answer.raw
    assert srv.state.secret_settings("ep") == {"api_key": "sk-rotated"}
    # With the task type in the URL, and with the official client.
    assert (
        update(srv, "text_embedding/ep", {"task_type": "text_embedding", "task_settings": {"user": "bob"}}).status
        == 200
    )
    if version == V91:  # the 9.x client cannot talk to an 8.x server (§6.2)
        updated = client(srv).inference.update(inference_id="ep", inference_config={"task_settings": {"user": "carol"}})
        assert updated.body["task_settings"] == {"user": "carol"}


def test_in_cluster_num_allocations_and_ignored_num_threads(emulator: Factory) -> None:
    srv = emulator(V91)
    settings = {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1}
    call(srv, "PUT", "/_inference/sparse_embedding/elser", {"service": "elasticsearch", "service_settings": settings})
    answer = update(srv, "elser", {"service_settings": {"num_allocations": 4, "num_threads": 8}})
    assert answer.json["service_settings"] == {"num_allocations": 4, "num_threads": 1, "model_id": ".elser_model_2"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "Request body is empty"),
        ({}, "Request body is empty"),
        (
            {"service": "cohere"},
            "Request contained fields which cannot be updated, remove these fields and try again [{service=cohere}]",
        ),
        (
            {"chunking_settings": {"strategy": "word"}},
            "Request contained fields which cannot be updated, remove these fields and try again "
            "[{chunking_settings={strategy=word}}]",
        ),
        ({"service_settings": "x"}, "Unable to parse service settings in the request [x]"),
        ({"task_settings": 5}, "Unable to parse task settings in the request [5]"),
        ({"task_type": "completion"}, "Task type must match the task type of the existing endpoint"),
    ],
)
def test_update_errors(emulator: Factory, body: Any, reason: str) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    answer = update(srv, "ep", body)
    assert (answer.status, answer.json) == (400, error(reason))


@pytest.mark.parametrize("version", [V817, V91, V95])
def test_unknown_update_settings_are_refused_from_9_5_only(emulator: Factory, version: str) -> None:
    # §10.5: PR #149430 (2026, the 9.5 profile) checks them, with values; before, they were silently ignored.
    srv = emulator(version)
    put_openai(srv, "ep")
    for body, rendered in (
        ({"service_settings": {"nope": 1}}, "{nope=1}"),
        ({"task_settings": {"secret": "sk-in-task"}}, "{secret=sk-in-task}"),
    ):
        answer = update(srv, "ep", body)
        if version == V95:
            reason = f"Configuration contains settings [{rendered}] unknown to the [openai] service"
            assert (answer.status, answer.json) == (400, error(reason))
        else:
            assert answer.status == 200, answer.raw
            assert "nope" not in answer.json["service_settings"]
            assert "task_settings" not in answer.json


def test_update_with_wrong_task_type_in_url(emulator: Factory) -> None:
    # InferenceCrudIT.testUpdateEndpointWithWrongTaskTypeInURL
    srv = emulator(V91)
    put_openai(srv, "ep")
    answer = update(srv, "completion/ep", {"task_settings": {"user": "u"}})
    assert answer.json == error("Task type must match the task type of the existing endpoint")


def test_update_missing_and_invalid_id(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = update(srv, "missing", {"task_settings": {"user": "u"}})
    assert (answer.status, answer.json["error"]["type"]) == (404, "resource_not_found_exception")
    answer = update(srv, "Bad-Id", {"task_settings": {"user": "u"}})
    assert answer.json["error"]["type"] == "action_request_validation_exception"


@pytest.mark.parametrize(
    ("version", "reason_type"), [(V91, "action_request_validation_exception"), (V95, "status_exception")]
)
def test_update_default_endpoint(emulator: Factory, version: str, reason_type: str) -> None:
    answer = update(emulator(version), ".elser-2-elasticsearch", {"service_settings": {"num_allocations": 2}})
    assert (answer.status, answer.json["error"]["type"]) == (400, reason_type)
    if version == V95:
        assert answer.json["error"]["reason"] == "Default endpoint [.elser-2-elasticsearch] cannot be updated"


def test_9_5_replaces_chunking_settings(emulator: Factory) -> None:
    srv = emulator(V95)
    put_openai(srv, "ep")
    chunking = {"strategy": "word", "max_chunk_size": 120, "overlap": 40}
    assert update(srv, "ep", {"chunking_settings": chunking}).json["chunking_settings"] == chunking
    assert update(srv, "ep", {"task_settings": {"user": "x"}}, "?timeout=10s").status == 200
    assert update(emulator(V91), "ep", {"task_settings": {}}, "?timeout=10s").json["error"]["type"] == (
        "illegal_argument_exception"
    )


def test_update_needs_manage_inference(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    answer = update(srv, "ep", {"task_settings": {"user": "u"}}, auth=("viewer", "viewer-pw"))
    assert answer.status == 403
    assert answer.json["error"]["reason"] == (
        "action [cluster:admin/xpack/inference/update] is unauthorized for user [viewer] with effective roles "
        "[inference_user], this action is granted by the cluster privileges [manage_inference,manage,all]"
    )
