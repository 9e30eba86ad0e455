"""Ingest pipeline and index APIs (reference §7) and the semantic_text mapping rules (§2.2)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import V91, V815, V816, V817, V819, Factory
from .support import call, client, error

# --- pipelines (§7.1) ----------------------------------------------------------------------------------------


def test_pipeline_crud_with_official_client(emulator: Factory) -> None:
    # CT tests/ingest/10_basic.yml
    es = client(emulator(V91))
    processors = [{"inference": {"model_id": "ep", "input_output": {"input_field": "a", "output_field": "b"}}}]
    assert es.ingest.put_pipeline(id="my_pipeline", description="_description", processors=processors).body == {
        "acknowledged": True
    }
    got = es.ingest.get_pipeline(id="my_pipeline").body
    assert got == {"my_pipeline": {"description": "_description", "processors": processors}}
    assert es.ingest.delete_pipeline(id="my_pipeline").body == {"acknowledged": True}


def test_get_pipeline_not_found_is_404_with_empty_object(emulator: Factory) -> None:
    srv = emulator(V91)
    for path in ("/_ingest/pipeline", "/_ingest/pipeline/missing", "/_ingest/pipeline/miss*"):
        answer = call(srv, "GET", path)
        assert (answer.status, answer.json) == (404, {})


def test_get_pipelines_by_list_wildcard_and_summary(emulator: Factory) -> None:
    srv = emulator(V91)
    for pid in ("a1", "a2", "b1"):
        call(srv, "PUT", f"/_ingest/pipeline/{pid}", {"processors": [], "version": 3})
    assert list(call(srv, "GET", "/_ingest/pipeline/a*").json) == ["a1", "a2"]
    assert list(call(srv, "GET", "/_ingest/pipeline/b1,a2").json) == ["b1", "a2"]
    assert call(srv, "GET", "/_ingest/pipeline/a1?summary=true").json == {"a1": {}}
    assert call(srv, "GET", "/_ingest/pipeline").json["a1"] == {"processors": [], "version": 3}


@pytest.mark.parametrize(
    ("body", "reason", "extra"),
    [
        ({"description": "x"}, "[processors] required property is missing", {"property_name": "processors"}),
        (
            {"processors": [{"inference": {"target_field": "x"}}]},
            "[model_id] required property is missing",
            {"processor_type": "inference", "property_name": "model_id"},
        ),
        (
            {"processors": [{"foreach": {"field": "f", "processor": {"inference": {}}}}]},
            "[model_id] required property is missing",
            {"processor_type": "inference", "property_name": "model_id"},
        ),
    ],
)
def test_put_pipeline_errors(emulator: Factory, body: dict[str, Any], reason: str, extra: dict[str, str]) -> None:
    answer = call(emulator(V91), "PUT", "/_ingest/pipeline/p", body)
    assert (answer.status, answer.json) == (400, error(reason, "parse_exception", 400, **extra))


def test_empty_processors_are_allowed(emulator: Factory) -> None:
    assert call(emulator(V91), "PUT", "/_ingest/pipeline/p", {"processors": []}).status == 200


def test_delete_pipeline_rules(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "DELETE", "/_ingest/pipeline/missing")
    assert (answer.status, answer.json) == (
        404,
        error("pipeline [missing] is missing", "resource_not_found_exception", 404),
    )
    assert call(srv, "DELETE", "/_ingest/pipeline/*").json == {"acknowledged": True}  # `*` matching nothing
    assert call(srv, "DELETE", "/_ingest/pipeline/x*").status == 404
    for pid in ("x1", "x2"):
        call(srv, "PUT", f"/_ingest/pipeline/{pid}", {"processors": []})
    assert call(srv, "DELETE", "/_ingest/pipeline/x*").status == 200
    assert srv.state.pipelines == {}


def test_pipeline_in_use_as_default_pipeline_cannot_be_deleted(emulator: Factory) -> None:
    srv = emulator(V91)
    call(srv, "PUT", "/_ingest/pipeline/p", {"processors": []})
    call(srv, "PUT", "/logs", {"settings": {"index": {"default_pipeline": "p"}}})
    answer = call(srv, "DELETE", "/_ingest/pipeline/p")
    assert answer.status == 400
    assert answer.json["error"]["type"] == "illegal_argument_exception"
    assert answer.json["error"]["reason"] == (
        "pipeline [p] cannot be deleted because it is the default pipeline for 1 index(es) including [logs]"
    )


# --- indexes (§7.2) ------------------------------------------------------------------------------------------


def test_create_index_and_already_exists(emulator: Factory) -> None:
    srv = emulator(V91)
    es = client(srv)
    created = es.indices.create(
        index="idx", mappings={"properties": {"f": {"type": "semantic_text", "inference_id": "x"}}}
    )
    assert created.body == {"acknowledged": True, "shards_acknowledged": True, "index": "idx"}
    answer = call(srv, "PUT", "/idx")
    uuid = srv.state.indexes["idx"].uuid
    assert (answer.status, answer.json) == (
        400,
        error(f"index [idx/{uuid}] already exists", "resource_already_exists_exception", index_uuid=uuid, index="idx"),
    )


def test_missing_index(emulator: Factory) -> None:
    srv = emulator(V91)
    expected = error(
        "no such index [nope]",
        "index_not_found_exception",
        404,
        **{"resource.type": "index_or_alias", "resource.id": "nope", "index_uuid": "_na_", "index": "nope"},
    )
    for method, path in (("GET", "/nope/_mapping"), ("DELETE", "/nope"), ("GET", "/nope")):
        answer = call(srv, method, path)
        assert (answer.status, answer.json) == (404, expected)
    assert call(srv, "HEAD", "/nope").status == 404


def test_delete_index(emulator: Factory) -> None:
    srv = emulator(V91)
    call(srv, "PUT", "/idx")
    assert call(srv, "HEAD", "/idx").status == 200
    assert client(srv).indices.delete(index="idx").body == {"acknowledged": True}
    assert srv.state.indexes == {}


def mapping_of(srv: Any, index: str) -> dict[str, Any]:
    return dict(call(srv, "GET", f"/{index}/_mapping").json[index]["mappings"]["properties"])


def test_mapping_shape_before_documents(emulator: Factory) -> None:
    srv = emulator(V91)
    field = {"type": "semantic_text", "inference_id": "a", "search_inference_id": "b"}
    call(srv, "PUT", "/idx", {"mappings": {"properties": {"z": {"type": "keyword"}, "f": field}}})
    properties = mapping_of(srv, "idx")
    assert list(properties) == ["f", "z"]  # sorted by name
    assert properties["f"] == field


@pytest.mark.parametrize(
    ("version", "shown"),
    [(V816, None), (V817, ".elser-2-elasticsearch"), (V91, ".elser-2-elasticsearch")],
)
def test_default_inference_id_in_mapping(emulator: Factory, version: str, shown: str | None) -> None:
    srv = emulator(version)
    call(srv, "PUT", "/idx", {"mappings": {"properties": {"f": {"type": "semantic_text"}}}})
    expected = {"type": "semantic_text"} if shown is None else {"type": "semantic_text", "inference_id": shown}
    assert mapping_of(srv, "idx")["f"] == expected
    # Either way the default is what the reference check finds.
    assert call(srv, "DELETE", "/_inference/.elser-2-elasticsearch?dry_run").json["indexes"] == ["idx"]


def test_8_15_requires_inference_id(emulator: Factory) -> None:
    answer = call(emulator(V815), "PUT", "/idx", {"mappings": {"properties": {"f": {"type": "semantic_text"}}}})
    assert answer.status == 400
    assert answer.json["error"]["type"] == "mapper_parsing_exception"
    assert answer.json["error"]["reason"] == "Failed to parse mapping: field [inference_id] must be specified"


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        (
            {"n": {"type": "nested", "properties": {"s": {"type": "semantic_text", "inference_id": "x"}}}},
            "semantic_text field [n.s] cannot be nested",
        ),
        (
            {"f": {"type": "semantic_text", "inference_id": ""}},
            "[inference_id] on mapper [f] of type [semantic_text] must not be empty",
        ),
        (
            {"t": {"type": "text", "fields": {"sem": {"type": "semantic_text", "inference_id": "x"}}}},
            "Field [sem] of type [semantic_text] can't be used in multifields",
        ),
        ({"f": {"index": False}}, "No type specified for field [f]"),
    ],
)
def test_semantic_text_mapping_errors(emulator: Factory, properties: dict[str, Any], reason: str) -> None:
    answer = call(emulator(V819), "PUT", "/idx", {"mappings": {"properties": properties}})
    assert answer.status == 400
    assert answer.json["error"]["reason"] == f"Failed to parse mapping: {reason}"
    assert answer.json["error"]["caused_by"] == {"type": "illegal_argument_exception", "reason": reason}


def test_semantic_text_in_objects_and_9x_multifields_are_references(emulator: Factory) -> None:
    srv = emulator(V91)
    properties = {
        "o": {"properties": {"s": {"type": "semantic_text", "inference_id": "obj-ep"}}},
        "t": {"type": "text", "fields": {"sem": {"type": "semantic_text", "inference_id": "multi-ep"}}},
    }
    assert call(srv, "PUT", "/idx", {"mappings": {"properties": properties}}).status == 200
    assert srv.state.indexes_referencing("obj-ep") == {"idx"}
    assert srv.state.indexes_referencing("multi-ep") == {"idx"}


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Upper", "must be lowercase"),
        ("_hidden", "must not start with '_', '-', or '+'"),
        ("a#b", "must not contain '#'"),
        ("a*b", 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'),
    ],
)
def test_invalid_index_names(emulator: Factory, name: str, why: str) -> None:
    answer = call(emulator(V91), "PUT", f"/{name.replace('#', '%23')}")
    assert (answer.status, answer.json) == (
        400,
        error(f"Invalid index name [{name}], {why}", "invalid_index_name_exception", index_uuid="_na_", index=name),
    )


def test_create_index_unknown_key(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/idx", {"mapping": {}})
    assert answer.json == error("unknown key [mapping] for create index", "parse_exception")
