"""GET /_inference in all its forms (reference §4) and the default endpoints it lists (§1.6)."""

from __future__ import annotations

import copy

import pytest
from elasticsearch import NotFoundError

from .conftest import ALL, V90, V91, V815, V816, V818, V819, Factory
from .support import call, client, error, put_openai

DEFAULTS = {
    V815: [],
    V816: [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"],
    V818: [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"],
    V819: [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"],
    V90: [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"],
    V91: [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"],
}


@pytest.mark.parametrize("version", list(DEFAULTS))
@pytest.mark.parametrize("path", ["/_inference", "/_inference/_all", "/_inference/*"])
def test_all_forms_list_everything_sorted_with_defaults(emulator: Factory, version: str, path: str) -> None:
    srv = emulator(version)
    put_openai(srv, "zeta")
    put_openai(srv, "alpha", "completion")
    answer = call(srv, "GET", path)
    assert answer.status == 200
    ids = [e["inference_id"] for e in answer.json["endpoints"]]
    assert ids == sorted(["zeta", "alpha", *DEFAULTS[version]])


def test_defaults_shape(emulator: Factory) -> None:
    endpoints = {e["inference_id"]: e for e in call(emulator(V91), "GET", "/_inference").json["endpoints"]}
    adaptive = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}
    assert endpoints[".elser-2-elasticsearch"] == {
        "inference_id": ".elser-2-elasticsearch",
        "task_type": "sparse_embedding",
        "service": "elasticsearch",
        "service_settings": {"num_threads": 1, "model_id": ".elser_model_2", "adaptive_allocations": adaptive},
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    }
    assert endpoints[".multilingual-e5-small-elasticsearch"]["task_type"] == "text_embedding"
    assert endpoints[".rerank-v1-elasticsearch"]["task_type"] == "rerank"
    assert endpoints[".rerank-v1-elasticsearch"]["task_settings"] == {"return_documents": True}


def test_single_id_is_a_one_element_list(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "one")
    body = client(srv).inference.get(inference_id="one").body
    assert [e["inference_id"] for e in body["endpoints"]] == ["one"]
    assert call(srv, "GET", "/_inference/text_embedding/one").json == body
    assert call(srv, "GET", "/_inference/any/one").json == body


@pytest.mark.parametrize("version", ALL)
def test_get_missing(emulator: Factory, version: str) -> None:
    # YAML inference_crud.yml "Test get missing model"
    answer = call(emulator(version), "GET", "/_inference/inference_to_get")
    assert (answer.status, answer.json) == (
        404,
        error("Inference endpoint not found [inference_to_get]", "resource_not_found_exception", 404),
    )


def test_get_missing_with_official_client(emulator: Factory) -> None:
    with pytest.raises(NotFoundError) as caught:
        client(emulator(V91)).inference.get(inference_id="inference_to_get")
    assert caught.value.message == "resource_not_found_exception"


def test_task_type_name_alone_is_an_id(emulator: Factory) -> None:
    answer = call(emulator(V91), "GET", "/_inference/completion")
    assert answer.json == error("Inference endpoint not found [completion]", "resource_not_found_exception", 404)


@pytest.mark.parametrize("suffix", ["_all", "*"])
def test_by_task_type(emulator: Factory, suffix: str) -> None:
    srv = emulator(V91)
    put_openai(srv, "e1")
    put_openai(srv, "c1", "completion")
    answer = call(srv, "GET", f"/_inference/completion/{suffix}")
    assert [e["inference_id"] for e in answer.json["endpoints"]] == ["c1"]
    answer = call(srv, "GET", f"/_inference/sparse_embedding/{suffix}")
    assert [e["inference_id"] for e in answer.json["endpoints"]] == [".elser-2-elasticsearch"]


def test_get_zero_models(emulator: Factory) -> None:
    # InferenceCrudIT.testGetZeroModels; the official client's task_type-only form
    srv = emulator(V91)
    assert call(srv, "GET", "/_inference/completion/_all").json == {"endpoints": []}
    assert client(srv).inference.get(task_type="completion").body == {"endpoints": []}


def test_task_type_mismatch_and_unknown(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "emb")
    answer = call(srv, "GET", "/_inference/completion/emb")
    assert (answer.status, answer.json) == (
        400,
        error("Requested task type [completion] does not match the inference endpoint's task type [text_embedding]"),
    )
    assert call(srv, "GET", "/_inference/bogus/emb").json == error("Unknown task_type [bogus]")


def test_stored_endpoint_with_unknown_service(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "orphan")
    srv.state.endpoints["orphan"].service = "gone"
    answer = call(srv, "GET", "/_inference/orphan")
    assert answer.json == error("Unknown service [gone] for inference endpoint [orphan].", status=500)


def test_get_rejects_unknown_parameters(emulator: Factory) -> None:
    answer = call(emulator(V91), "GET", "/_inference?force=true&pretty")
    assert answer.json == error(
        "request [/_inference] contains unrecognized parameter: [force]", "illegal_argument_exception"
    )
    answer = call(emulator(V91), "GET", "/_inference/_all?b=1&a=2")
    assert answer.json["error"]["reason"] == "request [/_inference/_all] contains unrecognized parameters: [a], [b]"


@pytest.mark.parametrize("version", [V815, V816, V91])
def test_list_item_shape_per_version(emulator: Factory, version: str) -> None:
    # §10.4: 8.15 items carry model_id and inference_id and print empty task_settings; 8.16+ hide them.
    srv = emulator(version)
    put_openai(srv, "c1", "completion")
    (item,) = call(srv, "GET", "/_inference/completion/_all").json["endpoints"]
    expected: dict[str, object] = {
        "inference_id": "c1",
        "task_type": "completion",
        "service": "openai",
        "service_settings": {"model_id": "text-embedding-3-small", "rate_limit": {"requests_per_minute": 500}},
    }
    if version == V815:
        expected = {"model_id": "c1", **expected, "task_settings": {}}
    assert item == expected
    assert list(item) == list(expected)


def test_list_with_the_official_9x_client(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "b-emb")
    put_openai(srv, "a-chat", "completion")
    es = client(srv)
    assert [e["inference_id"] for e in es.inference.get()["endpoints"]] == [
        ".elser-2-elasticsearch",
        ".multilingual-e5-small-elasticsearch",
        ".rerank-v1-elasticsearch",
        "a-chat",
        "b-emb",
    ]
    by_task = es.inference.get(task_type="text_embedding")["endpoints"]
    assert [e["inference_id"] for e in by_task] == [".multilingual-e5-small-elasticsearch", "b-emb"]
    assert b"sk-secret" not in call(srv, "GET", "/_inference/_all").raw  # secrets never listed


def test_a_list_holds_at_most_10000_stored_endpoints(emulator: Factory) -> None:
    # §10.4: each registry search has size 10,000; defaults are added after it.
    srv = emulator(V91)
    put_openai(srv, "t")
    template = srv.state.endpoints["t"]
    with srv.state.lock:
        for n in range(10_004):
            clone = copy.copy(template)
            clone.inference_id = f"e{n:05d}"
            srv.state.endpoints[clone.inference_id] = clone
        del srv.state.endpoints["t"]
    ids = [e["inference_id"] for e in call(srv, "GET", "/_inference", timeout=60).json["endpoints"]]
    assert len(ids) == 10_000 + 3
    assert ids[:3] == sorted(DEFAULTS[V91]) and ids[3] == "e00000" and ids[-1] == "e09999"
    by_task = call(srv, "GET", "/_inference/text_embedding/_all", timeout=60).json["endpoints"]
    assert len(by_task) == 10_000 + 1  # with the E5 default
