"""The pure reference walks (reference §2.1, §2.2)."""

from __future__ import annotations

from typing import Any

from es_emulator.references import (
    MAX_PROCESSOR_DEPTH,
    SemanticField,
    indexes_referencing,
    pipeline_references,
    pipelines_referencing,
)


def inference(model_id: str, **extra: Any) -> dict[str, Any]:
    return {"inference": {"model_id": model_id, **extra}}


def test_top_level_inference_processor_exact_match() -> None:
    pipeline = {"processors": [{"set": {"field": "a", "value": 1}}, inference("ep")]}
    assert pipeline_references(pipeline) == {"ep"}
    assert pipelines_referencing({"p": pipeline}, "ep") == {"p"}
    assert pipelines_referencing({"p": pipeline}, "e") == set()
    assert pipelines_referencing({"p": pipeline}, "ep-2") == set()


def test_only_model_id_counts() -> None:
    pipeline = {"processors": [{"inference": {"inference_id": "ep", "input_output": {"input_field": "ep"}}}]}
    assert pipeline_references(pipeline) == set()


def test_foreach_and_processor_level_on_failure_are_walked() -> None:
    pipeline = {
        "processors": [
            {"foreach": {"field": "items", "processor": inference("in-foreach")}},
            {"set": {"field": "x", "value": 1, "on_failure": [inference("in-on-failure")]}},
        ]
    }
    assert pipeline_references(pipeline) == {"in-foreach", "in-on-failure"}


def test_not_walked_pipeline_on_failure_inference_on_failure_and_pipeline_processor() -> None:
    pipeline = {
        "processors": [
            inference("outer", on_failure=[inference("inside-inference-on-failure")]),
            {"pipeline": {"name": "other"}},
            {"script": {"source": "ctx.x = 1", "if": "inference('ep')"}},
        ],
        "on_failure": [inference("pipeline-level")],
    }
    assert pipeline_references(pipeline) == {"outer"}


def nested(depth: int, model_id: str) -> dict[str, Any]:
    """An inference processor ``depth`` levels below the top-level list (alternating foreach / on_failure)."""
    processor: dict[str, Any] = inference(model_id)
    for level in range(depth):
        if level % 2:
            processor = {"foreach": {"field": "f", "processor": processor}}
        else:
            processor = {"set": {"field": "f", "value": 1, "on_failure": [processor]}}
    return processor


def test_depth_cap() -> None:
    assert MAX_PROCESSOR_DEPTH == 10
    assert pipeline_references({"processors": [nested(10, "deep")]}) == {"deep"}
    assert pipeline_references({"processors": [nested(11, "too-deep")]}) == set()


def test_missing_or_odd_shapes_are_ignored() -> None:
    assert pipeline_references({}) == set()
    assert pipeline_references({"processors": "nope"}) == set()
    assert pipeline_references({"processors": [None, {"inference": "x"}, {"inference": {"model_id": 3}}]}) == set()


def test_indexes_referencing_with_and_without_search_id() -> None:
    indexes = {
        "a": [SemanticField("f", "ep")],
        "b": [SemanticField("f", "other", "ep")],
        "c": [SemanticField("f", "other")],
    }
    assert indexes_referencing(indexes, "ep", check_search_id=True) == {"a", "b"}
    assert indexes_referencing(indexes, "ep", check_search_id=False) == {"a"}
