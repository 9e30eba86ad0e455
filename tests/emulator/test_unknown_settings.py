"""The unknown-settings refusal prints what it was sent, values included (reference §10.5): 400
``status_exception``, ``<prefix> contains settings [{k=v}] unknown to the [<service>] service``, where
``<prefix>`` is ``Model configuration`` up to the 9.1 profile and ``Configuration`` in 9.5."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError

from .conftest import V91, V95, V817, Factory
from .support import call, client, error, openai_body

IN_CLUSTER = {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1}


def prefix(version: str) -> str:
    return "Configuration" if version == V95 else "Model configuration"


# (id, PUT path, body, rendered settings, service)
ECHOED: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "secret-to-a-service-without-it",
        "/_inference/sparse_embedding/x",
        {"service": "elasticsearch", "service_settings": {**IN_CLUSTER, "api_key": "sk-live-123"}},
        "{api_key=sk-live-123}",
        "elasticsearch",
    ),
    (
        "secret-under-a-wrong-key",
        "/_inference/text_embedding/x",
        openai_body(None, apikey="sk-typo-456"),
        "{apikey=sk-typo-456}",
        "openai",
    ),
    (
        "secret-at-the-top-level",
        "/_inference/text_embedding/x",
        {**openai_body(None), "api_key": "sk-top-789"},
        "{api_key=sk-top-789}",
        "openai",
    ),
    (
        "secret-in-task-settings",
        "/_inference/text_embedding/x",
        {**openai_body(None), "task_settings": {"user": "u", "token": "sk-task-000"}},
        "{token=sk-task-000}",
        "openai",
    ),
    (
        "nested-map-inline",
        "/_inference/text_embedding/x",
        openai_body(None, headers={"Authorization": "Bearer abc"}),
        "{headers={Authorization=Bearer abc}}",
        "openai",
    ),
]


@pytest.mark.parametrize("version", [V817, V91, V95])
@pytest.mark.parametrize(("path", "body", "rendered", "service"), [pytest.param(*row[1:], id=row[0]) for row in ECHOED])
def test_values_are_echoed(
    emulator: Factory, version: str, path: str, body: dict[str, Any], rendered: str, service: str
) -> None:
    answer = call(emulator(version), "PUT", path, body)
    reason = f"{prefix(version)} contains settings [{rendered}] unknown to the [{service}] service"
    assert (answer.status, answer.json) == (400, error(reason))


def test_a_known_secret_is_never_echoed(emulator: Factory) -> None:
    # api_key is taken by the secret parser before the leftovers are reported.
    answer = call(emulator(V91), "PUT", "/_inference/text_embedding/x", openai_body(None, bogus=1))
    assert answer.json == error("Model configuration contains settings [{bogus=1}] unknown to the [openai] service")
    assert b"sk-secret" not in answer.raw


def test_a_missing_required_setting_fails_first_and_names_no_value(emulator: Factory) -> None:
    body = {"service": "elasticsearch", "service_settings": {"model_id": "m", "api_key": "sk-live-123"}}
    answer = call(emulator(V91), "PUT", "/_inference/text_embedding/x", body)
    assert answer.json["error"]["type"] == "validation_exception"
    assert "[service_settings] does not contain the required setting [num_threads]" in answer.json["error"]["reason"]
    assert b"sk-live-123" not in answer.raw


def test_the_official_client_carries_the_echo(emulator: Factory) -> None:
    es = client(emulator(V95))
    with pytest.raises(BadRequestError) as caught:
        es.inference.put(
            inference_id="x",
            task_type="sparse_embedding",
            inference_config={"service": "elasticsearch", "service_settings": {**IN_CLUSTER, "api_key": "sk-9"}},
        )
    assert caught.value.message == "status_exception"
    assert caught.value.body["error"]["reason"] == (
        "Configuration contains settings [{api_key=sk-9}] unknown to the [elasticsearch] service"
    )
