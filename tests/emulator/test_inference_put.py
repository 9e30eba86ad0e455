"""PUT /_inference: request forms, response shapes per version, the §3.3 error catalogue."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError

from .conftest import ALL, V90, V91, V95, V815, V816, V817, V818, V819, Factory
from .support import call, client, error, openai_body

CHUNKING_DEFAULT = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}


def test_put_with_official_client_returns_the_endpoint_without_secrets(emulator: Factory) -> None:
    srv = emulator(V91)
    es = client(srv)
    created = es.inference.put(
        inference_id="emb-1",
        task_type="text_embedding",
        inference_config={"service": "openai", "service_settings": {"api_key": "sk-1", "model_id": "m"}},
    )
    assert created.body == {
        "inference_id": "emb-1",
        "task_type": "text_embedding",
        "service": "openai",
        "service_settings": {"model_id": "m", "rate_limit": {"requests_per_minute": 3000}},
        "chunking_settings": CHUNKING_DEFAULT,
    }
    assert srv.state.secret_settings("emb-1") == {"api_key": "sk-1"}
    assert b"sk-1" not in call(srv, "GET", "/_inference/emb-1").raw
    assert b"sk-1" not in call(srv, "GET", "/_inference").raw


@pytest.mark.parametrize("version", ALL)
def test_response_shape_per_version(emulator: Factory, version: str) -> None:
    answer = call(emulator(version), "PUT", "/_inference/text_embedding/emb", openai_body(None))
    assert answer.status == 200
    body = answer.json
    # §3.2: 8.15.0 wrote model_id and inference_id; later versions inference_id only.
    assert ("model_id" in body) is (version == V815)
    assert body["inference_id"] == "emb"
    # chunking_settings default since 8.16 (emulator decision, documented in profiles.py).
    assert body.get("chunking_settings") == (None if version == V815 else CHUNKING_DEFAULT)
    # §10.4: empty task_settings are printed as {} up to 8.15, omitted since 8.16.
    assert body.get("task_settings") == ({} if version == V815 else None)
    assert "api_key" not in body["service_settings"]


def test_task_type_in_body_only(emulator: Factory) -> None:
    # CT tests/inference/10_basic.yml and InferenceCrudIT.testApisWithoutTaskType
    answer = call(emulator(V91), "PUT", "/_inference/body-only", openai_body("text_embedding"))
    assert answer.status == 200
    assert (answer.json["task_type"], answer.json["inference_id"]) == ("text_embedding", "body-only")


def test_task_type_in_url_and_body_agreeing(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/_inference/completion/both", openai_body("COMPLETION "))
    assert answer.status == 200
    assert answer.json["task_type"] == "completion"
    assert "chunking_settings" not in answer.json  # completion does not chunk


@pytest.mark.parametrize(
    ("path", "task_in_body", "reason"),
    [
        ("/_inference/x", None, "model is missing required setting [task_type]"),
        ("/_inference/any/x", None, "model is missing required setting [task_type]"),
        ("/_inference/x", "any", "task_type [any] is not valid type for inference"),
        ("/_inference/x", "bad", "Unknown task_type [bad]"),  # YAML "Test put inference with bad task type"
        ("/_inference/bad/x", None, "Unknown task_type [bad]"),
        (
            "/_inference/completion/x",
            "text_embedding",
            "Cannot resolve conflicting task_type parameter in the request URL [completion] and the request body "
            "[text_embedding]",
        ),
    ],
)
def test_task_type_errors(emulator: Factory, path: str, task_in_body: str | None, reason: str) -> None:
    answer = call(emulator(V91), "PUT", path, openai_body(task_in_body))
    assert (answer.status, answer.json) == (400, error(reason))


def test_bad_task_type_with_official_client(emulator: Factory) -> None:
    es = client(emulator(V91))
    with pytest.raises(BadRequestError) as caught:
        es.inference.put(inference_id="x", inference_config={**openai_body("bad")})
    assert caught.value.body["error"]["reason"] == "Unknown task_type [bad]"


@pytest.mark.parametrize("bad_id", ["UPPER", "-lead", "trail_", "_all", "sp ace", ".elser-2-elasticsearch", "a.b."])
def test_invalid_ids(emulator: Factory, bad_id: str) -> None:
    answer = call(emulator(V91), "PUT", f"/_inference/text_embedding/{bad_id.replace(' ', '%20')}", openai_body(None))
    reason = (
        f"Validation Failed: 1: Invalid inference_id; '{bad_id}' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start and end with alphanumeric;"
    )
    assert (answer.status, answer.json) == (400, error(reason, "action_request_validation_exception"))


@pytest.mark.parametrize("good_id", ["a", "a.b", "a-b_c.9", "0"])
def test_valid_ids(emulator: Factory, good_id: str) -> None:
    assert call(emulator(V91), "PUT", f"/_inference/text_embedding/{good_id}", openai_body(None)).status == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"task_type": "text_embedding", "service_settings": {}},
            "Inference endpoint configuration is missing the [service] setting",
        ),
        ({"task_type": "text_embedding", "service": "nope", "service_settings": {}}, "Unknown service [nope]"),
        ({"task_type": "text_embedding", "service": "openai"}, "Missing required field [service_settings]"),
        ({**openai_body("rerank")}, "The [openai] service does not support task type [rerank]"),
    ],
)
def test_service_errors(emulator: Factory, body: dict[str, Any], reason: str) -> None:
    answer = call(emulator(V91), "PUT", "/_inference/x", body)
    assert (answer.status, answer.json) == (400, error(reason))


@pytest.mark.parametrize(
    ("service", "task_type", "settings", "missing"),
    [
        ("openai", "text_embedding", {"api_key": "k"}, ["model_id"]),
        ("openai", "text_embedding", {"model_id": "m"}, ["api_key"]),
        ("openai", "text_embedding", {}, ["model_id"]),  # public settings are validated before the secrets
        ("hugging_face", "text_embedding", {"api_key": "k"}, ["url"]),
        ("hugging_face", "text_embedding", {"url": "http://hf"}, ["api_key"]),
        ("cohere", "rerank", {}, ["api_key"]),
    ],
)
def test_missing_required_settings(
    emulator: Factory, service: str, task_type: str, settings: dict[str, Any], missing: list[str]
) -> None:
    body = {"service": service, "service_settings": settings}
    answer = call(emulator(V91), "PUT", f"/_inference/{task_type}/x", body)
    text = "".join(
        f"{n}: [service_settings] does not contain the required setting [{m}];" for n, m in enumerate(missing, 1)
    )
    assert (answer.status, answer.json) == (400, error(f"Validation Failed: {text}", "validation_exception"))


def test_in_cluster_needs_allocations_or_adaptive(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(
        srv, "PUT", "/_inference/sparse_embedding/e", {"service": "elser", "service_settings": {"num_threads": 1}}
    )
    assert answer.json == error(
        "Validation Failed: 1: [service_settings] does not contain one of the required settings "
        "[num_allocations, adaptive_allocations];",
        "validation_exception",
    )
    answer = call(
        srv,
        "PUT",
        "/_inference/sparse_embedding/e",
        {"service": "elser", "service_settings": {"num_threads": 0, "num_allocations": 1}},
    )
    assert answer.json["error"]["reason"] == (
        "Validation Failed: 1: [service_settings] Invalid value [0]. [num_threads] must be a positive integer;"
    )


def test_elser_defaults_model_id_and_in_cluster_output_order(emulator: Factory) -> None:
    srv = emulator(V91)
    settings = {"adaptive_allocations": {"enabled": True}, "num_threads": 2}
    answer = call(
        srv, "PUT", "/_inference/sparse_embedding/my-elser", {"service": "elser", "service_settings": settings}
    )
    assert answer.status == 200
    assert list(answer.json["service_settings"].items()) == [
        ("num_threads", 2),
        ("model_id", ".elser_model_2"),
        ("adaptive_allocations", {"enabled": True}),
    ]
    assert "my-elser" in srv.state.deployments


@pytest.mark.parametrize(("version", "prefix"), [(V91, "Model configuration"), (V95, "Configuration")])
def test_unknown_settings(emulator: Factory, version: str, prefix: str) -> None:
    srv = emulator(version)
    cases = [
        ({**openai_body("text_embedding"), "extra_key": "value"}, "{extra_key=value}"),
        (openai_body("text_embedding", foo={"a": 1}), "{foo={a=1}}"),
        ({**openai_body("text_embedding"), "task_settings": {"user": "u", "bad": True}}, "{bad=true}"),
        # chunking_settings belongs to chunking task types only; elsewhere it is an unknown setting.
        (
            {**openai_body("completion"), "chunking_settings": {"strategy": "word"}},
            "{chunking_settings={strategy=word}}",
        ),
    ]
    for body, rendered in cases:
        answer = call(srv, "PUT", "/_inference/x", body)
        assert (answer.status, answer.json) == (
            400,
            error(f"{prefix} contains settings [{rendered}] unknown to the [openai] service"),
        ), body


def test_8_15_has_no_chunking_settings(emulator: Factory) -> None:
    body = {**openai_body("text_embedding"), "chunking_settings": {"strategy": "word"}}
    answer = call(emulator(V815), "PUT", "/_inference/x", body)
    assert answer.json == error(
        "Model configuration contains settings [{chunking_settings={strategy=word}}] unknown to the [openai] service"
    )


def test_given_chunking_settings_are_kept(emulator: Factory) -> None:
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 50}
    answer = call(
        emulator(V91), "PUT", "/_inference/x", {**openai_body("text_embedding"), "chunking_settings": chunking}
    )
    assert answer.json["chunking_settings"] == chunking


def test_provider_defaults_and_given_values(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "PUT", "/_inference/completion/c", openai_body(None))
    assert answer.json["service_settings"]["rate_limit"] == {"requests_per_minute": 500}
    answer = call(
        srv,
        "PUT",
        "/_inference/text_embedding/d",
        openai_body(None, rate_limit={"requests_per_minute": 10}, dimensions=64),
    )
    assert answer.json["service_settings"] == {
        "model_id": "text-embedding-3-small",
        "dimensions": 64,
        "rate_limit": {"requests_per_minute": 10},
    }
    answer = call(
        srv,
        "PUT",
        "/_inference/rerank/r",
        {"service": "cohere", "service_settings": {"api_key": "k"}, "task_settings": {"top_n": 3}},
    )
    assert answer.json["service_settings"] == {"rate_limit": {"requests_per_minute": 10000}}
    assert answer.json["task_settings"] == {"top_n": 3}


def test_existing_id_is_not_replaced(emulator: Factory) -> None:
    srv = emulator(V91)
    assert call(srv, "PUT", "/_inference/text_embedding/dup", openai_body(None)).status == 200
    again = call(srv, "PUT", "/_inference/text_embedding/dup", openai_body(None, model_id="other"))
    assert (again.status, again.json) == (
        400,
        error("Inference endpoint [dup] already exists", "resource_already_exists_exception"),
    )
    kept = srv.state.endpoint("dup")
    assert kept is not None and kept.service_settings["model_id"] == "text-embedding-3-small"


@pytest.mark.parametrize(("version", "known"), [(V817, False), (V818, True), (V90, True)])
def test_chat_completion_task_type_from_8_18(emulator: Factory, version: str, known: bool) -> None:
    answer = call(emulator(version), "PUT", "/_inference/chat_completion/chat", openai_body(None))
    if known:
        assert answer.status == 200
    else:
        assert answer.json == error("Unknown task_type [chat_completion]")


@pytest.mark.parametrize(("version", "accepted"), [(V816, False), (V90, False), (V819, True), (V91, True)])
def test_timeout_parameter_from_8_19(emulator: Factory, version: str, accepted: bool) -> None:
    answer = call(emulator(version), "PUT", "/_inference/text_embedding/t?timeout=30s", openai_body(None))
    if accepted:
        assert answer.status == 200
    else:
        assert answer.json == error(
            "request [/_inference/text_embedding/t] contains unrecognized parameter: [timeout]",
            "illegal_argument_exception",
        )


IN_CLUSTER = {"num_allocations": 1, "num_threads": 1}


@pytest.mark.parametrize(
    ("version", "settings", "status", "type_", "reason"),
    [
        # §10.2: from 8.16 the elasticsearch service reads model_id first, to choose E5, ELSER or a custom model.
        (
            V816,
            IN_CLUSTER,
            400,
            "illegal_argument_exception",
            "Error parsing service settings, model_id must be provided",
        ),
        (
            V91,
            IN_CLUSTER,
            400,
            "illegal_argument_exception",
            "Error parsing service settings, model_id must be provided",
        ),
        (
            V815,
            IN_CLUSTER,
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];",
        ),
        # The emulator is a platform-agnostic cluster: .elser_model_2 is its ELSER; other ELSER ids are refused.
        (
            V91,
            {**IN_CLUSTER, "model_id": ".elser_model_2_linux-x86_64"},
            400,
            "illegal_argument_exception",
            "Error parsing request config, model id does not match any models available on this platform. Was "
            "[.elser_model_2_linux-x86_64]. You may need to use a platform agnostic model.",
        ),
        (
            V816,
            {**IN_CLUSTER, "model_id": ".elser_model_1"},
            400,
            "illegal_argument_exception",
            "Error parsing request config, model id does not match any models available on this platform. Was "
            "[.elser_model_1]. You may need to use a platform agnostic model.",
        ),
    ],
)
def test_elasticsearch_service_model_id(
    emulator: Factory, version: str, settings: dict[str, Any], status: int, type_: str, reason: str
) -> None:
    body = {"service": "elasticsearch", "service_settings": settings}
    answer = call(emulator(version), "PUT", "/_inference/sparse_embedding/x", body)
    assert (answer.status, answer.json) == (status, error(reason, type_, status))


def test_elser_model_id_is_stored_as_sent(emulator: Factory) -> None:
    # §10.2: a user-given model_id is echoed exactly as sent.
    body = {"service": "elasticsearch", "service_settings": {**IN_CLUSTER, "model_id": ".elser_model_2"}}
    answer = call(emulator(V91), "PUT", "/_inference/sparse_embedding/x", body)
    assert answer.json["service_settings"]["model_id"] == ".elser_model_2"
