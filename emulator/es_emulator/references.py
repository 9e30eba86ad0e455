"""Which pipelines and indexes reference an inference endpoint (reference §2). Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# §2.1: "Recursion depth is capped at 10 levels". InferenceProcessorInfoExtractor starts at level 0 and
# stops when level > 10, so processors nested up to 10 levels below the top-level list are still seen.
MAX_PROCESSOR_DEPTH = 10


@dataclass(frozen=True)
class SemanticField:
    """Inference field metadata of one semantic_text field (InferenceFieldMetadata, §2.2)."""

    path: str
    inference_id: str
    search_inference_id: str | None = None


def pipeline_references(pipeline: Mapping[str, Any]) -> set[str]:
    """Every inference processor ``model_id`` found by the §2.1 walk of one pipeline.

    Only the top-level ``processors`` list is walked; the pipeline-level ``on_failure`` is not.
    """
    found: set[str] = set()
    for entry in _as_processor_list(pipeline.get("processors")):
        for processor_type, definition in entry.items():
            _walk_processor(processor_type, definition, 0, found)
    return found


def _walk_processor(processor_type: str, definition: Any, level: int, found: set[str]) -> None:
    if level > MAX_PROCESSOR_DEPTH or not isinstance(definition, Mapping):
        return
    if processor_type == "inference":
        # Exact model_id only; the inference processor's own on_failure is not searched.
        model_id = definition.get("model_id")
        if isinstance(model_id, str):
            found.add(model_id)
        return
    if processor_type == "foreach":
        inner = definition.get("processor")
        if isinstance(inner, Mapping):
            for inner_type, inner_definition in inner.items():
                _walk_processor(inner_type, inner_definition, level + 1, found)
        return
    # Any other processor: recurse into its processor-level on_failure list.
    for entry in _as_processor_list(definition.get("on_failure")):
        for inner_type, inner_definition in entry.items():
            _walk_processor(inner_type, inner_definition, level + 1, found)


def _as_processor_list(value: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [entry for entry in value if isinstance(entry, Mapping)]


def pipelines_referencing(pipelines: Mapping[str, Mapping[str, Any]], inference_id: str) -> set[str]:
    """Ids of the pipelines whose walk finds an inference processor with ``model_id == inference_id``."""
    return {pid for pid, body in pipelines.items() if inference_id in pipeline_references(body)}


def indexes_referencing(
    indexes: Mapping[str, Iterable[SemanticField]], inference_id: str, *, check_search_id: bool
) -> set[str]:
    """Names of the indexes with a semantic_text field using ``inference_id`` (§2.2, §2.3).

    ``indexes`` maps index name to its semantic fields, whose ``inference_id`` is already resolved to the
    version's default when the mapping omitted it.
    """
    result: set[str] = set()
    for name, fields in indexes.items():
        for f in fields:
            if f.inference_id == inference_id or (check_search_id and f.search_inference_id == inference_id):
                result.add(name)
                break
    return result
