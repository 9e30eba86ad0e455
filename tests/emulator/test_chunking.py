"""``chunking_settings`` per strategy and version (reference §10.1): refusals with Elasticsearch's status, type
and words; what PUT and GET echo (defaults filled in, ``separator_group`` expanded); the update API (9.5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError

from es_emulator import EmulatorServer

from .client8 import run_with_client8
from .conftest import V90, V91, V92, V93, V95, V816, V817, V818, V819, Factory
from .support import Answer, call, client, error, openai_body

CLIENT8_PROBE = Path(__file__).with_name("client8_section10_probe.py")
DEFAULT = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
PLAINTEXT = [r"(?<!\n)\n\n(?!\n)", r"(?<!\n)\n(?!\n)"]
MARKDOWN = [
    "\n# ",
    "\n## ",
    "\n### ",
    "\n#### ",
    "\n##### ",
    "\n###### ",
    "\n^(?!\\s*$).*\\n-{1,}\\n",
    "\n^(?!\\s*$).*\\n={1,}\\n",
]
WITH_CHUNKING = [V816, V817, V818, V819, V90, V91, V92, V93, V95]
WITH_RECURSIVE = [V819, V91, V92, V93, V95]  # none and recursive: 8.19 / 9.1+


def put(srv: EmulatorServer, chunking: Any, *, omit: bool = False, inference_id: str = "chunked") -> Answer:
    body = openai_body("text_embedding")
    if not omit:
        body["chunking_settings"] = chunking
    return call(srv, "PUT", f"/_inference/{inference_id}", body)


def failed(*messages: str) -> dict[str, Any]:
    """A ValidationException: 400 validation_exception, ``Validation Failed: 1: a;2: b;``."""
    text = "".join(f"{n}: {m};" for n, m in enumerate(messages, start=1))
    return error(f"Validation Failed: {text}", "validation_exception")


def invalid_type(key: str, shown: str, java_type: str = "Integer") -> str:
    return f"field [{key}] is not of the expected type. The value [{shown}] cannot be converted to a [{java_type}]"


def word(max_chunk_size: Any = 100, overlap: Any = 10, **extra: Any) -> dict[str, Any]:
    return {"strategy": "word", "max_chunk_size": max_chunk_size, "overlap": overlap, **extra}


def sentence(max_chunk_size: Any = 100, **extra: Any) -> dict[str, Any]:
    return {"strategy": "sentence", "max_chunk_size": max_chunk_size, **extra}


def recursive(max_chunk_size: Any = 100, **extra: Any) -> dict[str, Any]:
    return {"strategy": "recursive", "max_chunk_size": max_chunk_size, **extra}


# (id, versions, chunking_settings, expected status, expected body)
REFUSED: list[tuple[str, list[str], Any, int, dict[str, Any]]] = [
    # --- the builder (ChunkingSettingsBuilder / ChunkingStrategy.fromString) ---
    (
        "strategy-unknown",
        WITH_CHUNKING,
        {"strategy": "paragraph", "max_chunk_size": 100},
        400,
        error("Invalid chunkingStrategy paragraph", "illegal_argument_exception"),
    ),
    (
        "strategy-case-sensitive",
        WITH_CHUNKING,
        {"strategy": "Sentence", "max_chunk_size": 100},
        400,
        error("Invalid chunkingStrategy Sentence", "illegal_argument_exception"),
    ),
    (
        "strategy-number-as-text",
        [V91],
        {"strategy": 5},
        400,
        error("Invalid chunkingStrategy 5", "illegal_argument_exception"),
    ),
    (
        "strategy-none-before-8-19",
        [V816, V818, V90],
        {"strategy": "none"},
        400,
        error("Invalid chunkingStrategy none", "illegal_argument_exception"),
    ),
    (
        "strategy-recursive-before-8-19",
        [V816, V818, V90],
        recursive(),
        400,
        error("Invalid chunkingStrategy recursive", "illegal_argument_exception"),
    ),
    (
        "strategy-missing",
        WITH_CHUNKING,
        {"max_chunk_size": 100},
        400,
        error("Can't generate Chunker without ChunkingStrategy provided", "illegal_argument_exception"),
    ),
    # --- word ---
    (
        "word-unknown-key",
        WITH_CHUNKING,
        word(foo=1),
        400,
        failed("Word based chunking settings can not have the following settings: [foo]"),
    ),
    (
        "word-unknown-keys-sorted",
        [V91],
        word(sentence_overlap=1, bar=2),
        400,
        failed("Word based chunking settings can not have the following settings: [bar, sentence_overlap]"),
    ),
    (
        "word-missing-max-chunk-size",
        WITH_CHUNKING,
        {"strategy": "word", "overlap": 10},
        400,
        failed("[chunking_settings] does not contain the required setting [max_chunk_size]"),
    ),
    (
        "word-missing-overlap",
        WITH_CHUNKING,
        {"strategy": "word", "max_chunk_size": 100},
        400,
        failed("[chunking_settings] does not contain the required setting [overlap]"),
    ),
    (
        "word-errors-accumulate",
        [V91],
        {"strategy": "word", "foo": "x"},
        400,
        failed(
            "Word based chunking settings can not have the following settings: [foo]",
            "[chunking_settings] does not contain the required setting [max_chunk_size]",
        ),
    ),
    ("max-chunk-size-string", WITH_CHUNKING, word("big"), 400, failed(invalid_type("max_chunk_size", "big"))),
    ("max-chunk-size-float", [V91], word(100.5), 400, failed(invalid_type("max_chunk_size", "100.5"))),
    ("max-chunk-size-bool", [V91], word(True), 400, failed(invalid_type("max_chunk_size", "true"))),
    (
        "max-chunk-size-beyond-int",
        [V91],
        word(3_000_000_000),
        400,
        failed(invalid_type("max_chunk_size", "3000000000")),
    ),
    (
        "max-chunk-size-negative",
        WITH_CHUNKING,
        word(-5),
        400,
        failed("[chunking_settings] Invalid value [-5]. [max_chunk_size] must be a positive integer"),
    ),
    (
        "max-chunk-size-zero",
        [V91],
        sentence(0),
        400,
        failed("[chunking_settings] Invalid value [0]. [max_chunk_size] must be a positive integer"),
    ),
    (
        "word-below-10-up-to-9-2",
        [V816, V91, V92],
        word(5, 1),
        400,
        failed("[chunking_settings] Invalid value [5.0]. [max_chunk_size] must be a greater than or equal to [10.0]"),
    ),
    (
        "word-below-10-from-9-3",
        [V93, V95],
        word(5, 1),
        400,
        failed("[chunking_settings] Invalid value [5.0]. [max_chunk_size] must be greater than or equal to [10.0]"),
    ),
    (
        "word-above-300-up-to-9-1",
        [V816, V819, V90, V91],
        word(500, 10),
        400,
        failed("[chunking_settings] Invalid value [500.0]. [max_chunk_size] must be a less than or equal to [300.0]"),
    ),
    (
        "word-overlap-above-half",
        [V816, V91, V92],
        word(100, 60),
        400,
        failed("[chunking_settings] Invalid value [60.0]. [overlap] must be a less than or equal to [50.0]"),
    ),
    (
        "word-overlap-above-half-from-9-3",
        [V93, V95],
        word(101, 51),
        400,
        failed("[chunking_settings] Invalid value [51.0]. [overlap] must be less than or equal to [50.0]"),
    ),
    (
        "word-overlap-zero",
        [V91],
        word(100, 0),
        400,
        failed("[chunking_settings] Invalid value [0]. [overlap] must be a positive integer"),
    ),
    (
        "word-overlap-unchecked-after-bad-size",
        [V91],
        word(5, 99),
        400,
        failed("[chunking_settings] Invalid value [5.0]. [max_chunk_size] must be a greater than or equal to [10.0]"),
    ),
    # --- sentence ---
    (
        "sentence-unknown-key-overlap",
        WITH_CHUNKING,
        sentence(overlap=10),
        400,
        failed("Sentence based chunking settings can not have the following settings: [overlap]"),
    ),
    (
        "sentence-below-20",
        [V91],
        sentence(15),
        400,
        failed("[chunking_settings] Invalid value [15.0]. [max_chunk_size] must be a greater than or equal to [20.0]"),
    ),
    (
        "sentence-missing-max-chunk-size",
        [V91],
        {"strategy": "sentence"},
        400,
        failed("[chunking_settings] does not contain the required setting [max_chunk_size]"),
    ),
    (
        "sentence-overlap-two",
        WITH_CHUNKING,
        sentence(sentence_overlap=2),
        400,
        failed("sentence_overlap[2] must be either 0 or 1"),
    ),
    (
        "sentence-overlap-negative",
        [V91],
        sentence(sentence_overlap=-1),
        400,
        failed("sentence_overlap[-1] must be either 0 or 1"),
    ),
    (
        "sentence-overlap-string",
        [V91],
        sentence(sentence_overlap="1"),
        400,
        failed(invalid_type("sentence_overlap", "1")),
    ),
    (
        "sentence-errors-accumulate",
        [V91],
        sentence("big", sentence_overlap=3),
        400,
        failed(invalid_type("max_chunk_size", "big"), "sentence_overlap[3] must be either 0 or 1"),
    ),
    # --- recursive (8.19 / 9.1+) ---
    (
        "recursive-unknown-key",
        WITH_RECURSIVE,
        recursive(foo=1),
        400,
        failed("Recursive chunking settings can not have the following settings: [foo]"),
    ),
    (
        "recursive-below-10",
        [V91],
        recursive(9),
        400,
        failed("[chunking_settings] Invalid value [9.0]. [max_chunk_size] must be a greater than or equal to [10.0]"),
    ),
    (
        "recursive-above-300",
        [V819, V91],
        recursive(301),
        400,
        failed("[chunking_settings] Invalid value [301.0]. [max_chunk_size] must be a less than or equal to [300.0]"),
    ),
    (
        "recursive-both-separators-and-group",
        WITH_RECURSIVE,
        recursive(separators=["\n"], separator_group="markdown"),
        400,
        failed("Recursive chunking settings can not have both separators and separator_set"),
    ),
    (
        "recursive-empty-separators",
        WITH_RECURSIVE,
        recursive(separators=[]),
        400,
        failed("Recursive chunking settings can not have an empty list of separators"),
    ),
    (
        "recursive-non-string-separator",
        WITH_RECURSIVE,
        recursive(separators=["\n", 5]),
        400,
        failed(invalid_type("separators", "5", "String")),
    ),
    (
        "recursive-bad-separator-group",
        WITH_RECURSIVE,
        recursive(separator_group="foo"),
        400,
        failed(
            "[chunking_settings] Invalid value [foo] received. [separator_group] must be one of [markdown, plaintext]"
        ),
    ),
    (
        "recursive-more-than-50-separators-9-5",
        [V95],
        recursive(separators=[f"s{i}" for i in range(51)]),
        400,
        failed("separators list size [51] must not exceed [50]"),
    ),
]


def _rows(rows: list[tuple[str, list[str], Any, int, dict[str, Any]]]) -> list[Any]:
    return [
        pytest.param(v, chunking, status, body, id=f"{name}-{v}")
        for name, vs, chunking, status, body in rows
        for v in vs
    ]


@pytest.mark.parametrize(("version", "chunking", "status", "body"), _rows(REFUSED))
def test_refused(emulator: Factory, version: str, chunking: Any, status: int, body: dict[str, Any]) -> None:
    srv = emulator(version)
    answer = put(srv, chunking)
    assert (answer.status, answer.json) == (status, body)
    assert srv.state.endpoint("chunked") is None  # nothing stored


# (id, versions, chunking_settings given, echoed by PUT and GET)
ACCEPTED: list[tuple[str, list[str], Any, dict[str, Any]]] = [
    ("omitted", WITH_CHUNKING, ..., DEFAULT),
    ("null", WITH_CHUNKING, None, DEFAULT),
    ("empty", WITH_CHUNKING, {}, DEFAULT),
    ("word", WITH_CHUNKING, word(100, 50), word(100, 50)),
    ("word-bounds", WITH_CHUNKING, word(10, 5), word(10, 5)),
    ("word-300", WITH_CHUNKING, word(300, 150), word(300, 150)),
    ("word-above-300-from-9-2", [V92, V93, V95], word(500, 100), word(500, 100)),
    ("sentence-overlap-filled-in", WITH_CHUNKING, sentence(20), {**sentence(20), "sentence_overlap": 1}),
    ("sentence-overlap-zero", WITH_CHUNKING, sentence(250, sentence_overlap=0), sentence(250, sentence_overlap=0)),
    (
        "sentence-keys-in-any-order",
        [V91],
        {"sentence_overlap": 0, "max_chunk_size": 40, "strategy": "sentence"},
        {"strategy": "sentence", "max_chunk_size": 40, "sentence_overlap": 0},
    ),
    ("none", WITH_RECURSIVE, {"strategy": "none"}, {"strategy": "none"}),
    (
        "none-drops-other-keys",
        WITH_RECURSIVE,
        {"strategy": "none", "max_chunk_size": "big", "x": 1},
        {"strategy": "none"},
    ),
    ("recursive-default-plaintext", WITH_RECURSIVE, recursive(), {**recursive(), "separators": PLAINTEXT}),
    (
        "recursive-markdown-expanded",
        WITH_RECURSIVE,
        recursive(separator_group="markdown"),
        {**recursive(), "separators": MARKDOWN},
    ),
    (
        "recursive-group-trimmed-any-case",
        [V91],
        recursive(separator_group=" PlainText "),
        {**recursive(), "separators": PLAINTEXT},
    ),
    (
        "recursive-own-separators",
        WITH_RECURSIVE,
        recursive(separators=["\n\n", "\n"]),
        {**recursive(), "separators": ["\n\n", "\n"]},
    ),
    (
        "recursive-50-separators",
        [V95],
        recursive(separators=[f"s{i}" for i in range(50)]),
        {**recursive(), "separators": [f"s{i}" for i in range(50)]},
    ),
    (
        "recursive-51-separators-before-9-5",
        [V91],
        recursive(separators=[f"s{i}" for i in range(51)]),
        {**recursive(), "separators": [f"s{i}" for i in range(51)]},
    ),
]


@pytest.mark.parametrize(
    ("version", "chunking", "echoed"),
    [pytest.param(v, given, echoed, id=f"{name}-{v}") for name, vs, given, echoed in ACCEPTED for v in vs],
)
def test_accepted_and_echoed(emulator: Factory, version: str, chunking: Any, echoed: dict[str, Any]) -> None:
    srv = emulator(version)
    answer = put(srv, chunking, omit=chunking is ...)
    assert answer.status == 200, answer.raw
    assert answer.json["chunking_settings"] == echoed
    assert list(answer.json["chunking_settings"]) == list(echoed)  # Elasticsearch's key order
    (got,) = call(srv, "GET", "/_inference/chunked").json["endpoints"]
    assert got["chunking_settings"] == echoed


def test_chunking_errors_come_before_service_settings_errors(emulator: Factory) -> None:
    # OpenAiService.parseRequestConfig parses chunking_settings before service_settings (§10.1).
    body = {"service": "openai", "service_settings": {"api_key": "k"}, "chunking_settings": word(-5)}
    answer = call(emulator(V91), "PUT", "/_inference/text_embedding/x", body)
    assert answer.json == failed("[chunking_settings] Invalid value [-5]. [max_chunk_size] must be a positive integer")


@pytest.mark.parametrize(
    ("value", "java_class"), [("word", "java.lang.String"), (["word"], "java.util.ArrayList"), (5, "java.lang.Integer")]
)
def test_chunking_settings_that_is_not_an_object(emulator: Factory, value: Any, java_class: str) -> None:
    # [inferred] an unchecked cast to Map: ClassCastException, 500.
    answer = put(emulator(V91), value)
    assert (answer.status, answer.json["error"]["type"]) == (500, "class_cast_exception")
    assert answer.json["error"]["reason"].startswith(f"class {java_class} cannot be cast to class java.util.Map")


def test_null_strategy_is_a_server_error(emulator: Factory) -> None:
    # [inferred from source] settings.get("strategy").toString() on null.
    answer = put(emulator(V91), {"strategy": None, "max_chunk_size": 100})
    assert (answer.status, answer.json["error"]["type"]) == (500, "null_pointer_exception")


@pytest.mark.parametrize(("version", "cap"), [(V91, False), (V92, True), (V95, True)])
@pytest.mark.parametrize("service", ["elasticsearch", "elser"])
def test_elser_refuses_chunks_above_300_from_9_2(emulator: Factory, version: str, cap: bool, service: str) -> None:
    srv = emulator(version)
    settings: dict[str, Any] = {"num_allocations": 1, "num_threads": 1}
    if service == "elasticsearch":
        settings["model_id"] = ".elser_model_2"
    body = {"service": service, "service_settings": settings, "chunking_settings": sentence(500)}
    answer = call(srv, "PUT", "/_inference/sparse_embedding/elser", body)
    if cap:
        reason = "ELSER based models do not support chunk sizes larger than 300. Requested chunk size: 500"
        assert (answer.status, answer.json) == (400, error(reason, "illegal_argument_exception"))
    else:  # 9.1 still has the general upper bound of 300
        assert answer.json == failed(
            "[chunking_settings] Invalid value [500.0]. [max_chunk_size] must be a less than or equal to [300.0]"
        )


def test_a_non_elser_model_takes_large_chunks_from_9_2(emulator: Factory) -> None:
    body = {
        "service": "elasticsearch",
        "service_settings": {"model_id": "my-e5", "num_allocations": 1, "num_threads": 1},
        "chunking_settings": sentence(1000),
    }
    answer = call(emulator(V92), "PUT", "/_inference/text_embedding/e5", body)
    assert answer.status == 200, answer.raw
    assert answer.json["chunking_settings"] == {**sentence(1000), "sentence_overlap": 1}


def test_task_types_without_chunking_echo_none(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/_inference/completion/c", openai_body(None))
    assert "chunking_settings" not in answer.json


def test_an_endpoint_stored_before_8_16_shows_the_old_default(emulator: Factory) -> None:
    srv = emulator(V91)
    put(srv, None, omit=True, inference_id="old")
    srv.state.endpoints["old"].chunking_settings = None  # as a config document written by 8.15
    (got,) = call(srv, "GET", "/_inference/old").json["endpoints"]
    assert got["chunking_settings"] == {"strategy": "word", "max_chunk_size": 250, "overlap": 100}


# --- official clients ----------------------------------------------------------------------------------------


def test_official_9x_client_sees_the_refusal(emulator: Factory) -> None:
    es = client(emulator(V91))
    with pytest.raises(BadRequestError) as caught:
        es.inference.put(
            inference_id="x",
            task_type="text_embedding",
            inference_config={**openai_body(None), "chunking_settings": word(-5)},
        )
    assert caught.value.message == "validation_exception"
    assert caught.value.body == failed(
        "[chunking_settings] Invalid value [-5]. [max_chunk_size] must be a positive integer"
    )
    created = es.inference.put(
        inference_id="x",
        task_type="text_embedding",
        inference_config={**openai_body(None), "chunking_settings": sentence(100)},
    )
    assert created.body["chunking_settings"] == {**sentence(100), "sentence_overlap": 1}


# --- update API (chunking_settings replaced wholesale from 9.5) -------------------------------------------------


def update(srv: EmulatorServer, body: Any) -> Answer:
    return call(srv, "PUT", "/_inference/chunked/_update", body)


def test_update_validates_and_expands_like_put(emulator: Factory) -> None:
    srv = emulator(V95)
    assert put(srv, word(100, 20)).status == 200
    answer = update(srv, {"chunking_settings": sentence(15)})
    assert answer.json == failed(
        "[chunking_settings] Invalid value [15.0]. [max_chunk_size] must be greater than or equal to [20.0]"
    )
    stored = srv.state.endpoint("chunked")
    assert stored is not None and stored.chunking_settings == word(100, 20)
    answer = update(srv, {"chunking_settings": {"strategy": "paragraph"}})
    assert answer.json == error("Invalid chunkingStrategy paragraph", "illegal_argument_exception")
    answer = update(srv, {"chunking_settings": recursive(separator_group="markdown")})
    assert answer.json["chunking_settings"] == {**recursive(), "separators": MARKDOWN}
    answer = update(srv, {"chunking_settings": sentence(100)})
    assert answer.json["chunking_settings"] == {**sentence(100), "sentence_overlap": 1}
    (got,) = call(srv, "GET", "/_inference/chunked").json["endpoints"]
    assert got["chunking_settings"] == {**sentence(100), "sentence_overlap": 1}


def test_update_chunking_of_a_task_type_that_does_not_chunk(emulator: Factory) -> None:
    srv = emulator(V95)
    assert call(srv, "PUT", "/_inference/completion/chunked", openai_body(None)).status == 200
    answer = update(srv, {"chunking_settings": sentence(100)})
    assert answer.json == error(
        "Configuration contains settings [{chunking_settings={strategy=sentence, max_chunk_size=100}}] unknown to "
        "the [openai] service"
    )


@pytest.mark.parametrize("version", [V819, V91])
def test_official_8x_client_sees_the_refusals_and_the_echo(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    result = run_with_client8(CLIENT8_PROBE, srv.url)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    # The cluster uuid and the lists are checked in test_cluster_identity / test_inference_get.
    assert seen["cluster_uuid"] == srv.cluster_uuid
    defaults = [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"]
    assert seen["all"] == sorted(["partial", *defaults])
    assert (seen["sparse"], seen["rerank"]) == ([".elser-2-elasticsearch"], [".rerank-v1-elasticsearch"])
    for key in ("cluster_uuid", "all", "sparse", "rerank"):
        del seen[key]
    assert seen == {
        "negative": [
            "validation_exception",
            "Validation Failed: 1: [chunking_settings] Invalid value [-5]. [max_chunk_size] must be a positive "
            "integer;",
        ],
        "text": ["validation_exception", f"Validation Failed: 1: {invalid_type('max_chunk_size', 'big')};"],
        "paragraph": ["illegal_argument_exception", "Invalid chunkingStrategy paragraph"],
        "echo": {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 1},
    }
