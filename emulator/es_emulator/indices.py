"""Indexes: name validation, create-index bodies, semantic_text mappings (reference §2.2, §7.2)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Cause, EsError, parse_exception
from .profiles import Profile
from .references import SemanticField

SEMANTIC_TEXT = "semantic_text"


@dataclass
class Index:
    name: str
    uuid: str
    # The "properties" tree as sent; semantic_text fields are rendered per profile by ``mapping_json``.
    properties: dict[str, Any]
    # Other top-level mapping keys (dynamic, _meta, ...), kept as sent.
    mapping_extras: dict[str, Any]
    # Flattened settings, "index."-prefixed (index.default_pipeline, index.final_pipeline, ...).
    settings: dict[str, Any]
    semantic_fields: list[SemanticField] = field(default_factory=list)

    def pipeline_settings(self) -> dict[str, str]:
        return {
            k: v
            for k in ("index.default_pipeline", "index.final_pipeline")
            if isinstance(v := self.settings.get(k), str)
        }


def invalid_index_name(name: str, why: str) -> EsError:
    return EsError(
        400,
        "invalid_index_name_exception",
        f"Invalid index name [{name}], {why}",
        extra={"index_uuid": "_na_", "index": name},
    )


def validate_index_name(name: str) -> None:
    """MetadataCreateIndexService.validateIndexName checks, in upstream order [unverified: not in the
    reference]."""
    if any(c in name for c in '\\/*?"<>| ,'):
        raise invalid_index_name(name, 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]')
    if "#" in name:
        raise invalid_index_name(name, "must not contain '#'")
    if ":" in name:
        raise invalid_index_name(name, "must not contain ':'")
    if name[:1] in ("_", "-", "+"):
        raise invalid_index_name(name, "must not start with '_', '-', or '+'")
    if len(name.encode()) > 255:
        raise invalid_index_name(name, f"index name is too long, ({len(name.encode())} > 255)")
    if name in (".", ".."):
        raise invalid_index_name(name, "must not be '.' or '..'")
    if name.lower() != name:
        raise invalid_index_name(name, "must be lowercase")


def already_exists(index: Index) -> EsError:
    """§7.2: 400 resource_already_exists_exception with index_uuid and index."""
    return EsError(
        400,
        "resource_already_exists_exception",
        f"index [{index.name}/{index.uuid}] already exists",
        extra={"index_uuid": index.uuid, "index": index.name},
    )


def mapping_error(reason: str) -> EsError:
    """Mapping failures surface as "Failed to parse mapping: ..." with the cause below [unverified form]."""
    return EsError(
        400,
        "mapper_parsing_exception",
        f"Failed to parse mapping: {reason}",
        caused_by=Cause("illegal_argument_exception", reason),
    )


def parse_create_index(name: str, body: Mapping[str, Any] | None, profile: Profile) -> Index:
    """Build an index from a create-index body. The inference endpoints are not checked (§7.2)."""
    body = copy.deepcopy(dict(body or {}))
    for key in body:
        if key not in ("settings", "mappings", "aliases"):
            raise parse_exception(f"unknown key [{key}] for create index")
    mappings = body.get("mappings") or {}
    if not isinstance(mappings, dict):
        raise mapping_error("mappings must be an object")
    properties = mappings.get("properties") or {}
    if not isinstance(properties, dict):
        raise mapping_error("properties must be an object")
    extras = {k: v for k, v in mappings.items() if k != "properties"}
    fields = list(_semantic_fields(properties, "", nested=False, profile=profile))
    return Index(
        name=name,
        uuid=uuid.uuid4().hex[:22],
        properties=properties,
        mapping_extras=extras,
        settings=_flatten_settings(body.get("settings") or {}),
        semantic_fields=fields,
    )


def _semantic_fields(
    properties: Mapping[str, Any], prefix: str, *, nested: bool, profile: Profile
) -> Iterator[SemanticField]:
    for name, definition in properties.items():
        path = f"{prefix}{name}"
        if not isinstance(definition, dict):
            java_class = "java.lang.String" if isinstance(definition, str) else "java.lang.Object"
            raise mapping_error(f"Expected map for property [fields] on field [{name}] but got a class {java_class}")
        field_type = definition.get("type")
        if field_type is None and "properties" not in definition:
            raise mapping_error(f"No type specified for field [{path}]")
        if field_type == SEMANTIC_TEXT:
            if nested:
                raise mapping_error(f"semantic_text field [{path}] cannot be nested")
            yield _semantic_field(path, definition, profile)
        for sub_name, sub in (definition.get("fields") or {}).items():
            if isinstance(sub, dict) and sub.get("type") == SEMANTIC_TEXT:
                if not profile.semantic_text_multifields:
                    raise mapping_error(f"Field [{sub_name}] of type [semantic_text] can't be used in multifields")
                yield _semantic_field(f"{path}.{sub_name}", sub, profile)
        if isinstance(definition.get("properties"), dict):
            yield from _semantic_fields(
                definition["properties"], f"{path}.", nested=nested or field_type == "nested", profile=profile
            )


def _semantic_field(path: str, definition: Mapping[str, Any], profile: Profile) -> SemanticField:
    inference_id = definition.get("inference_id")
    if profile.semantic_text_default_id is None:
        # 8.15: inference_id is required [unverified text].
        if not inference_id:
            raise mapping_error("field [inference_id] must be specified")
    elif inference_id is None:
        inference_id = profile.semantic_text_default_id
    for key in ("inference_id", "search_inference_id"):
        if definition.get(key) == "":
            raise mapping_error(f"[{key}] on mapper [{path}] of type [semantic_text] must not be empty")
    search_id = definition.get("search_inference_id")
    return SemanticField(path, str(inference_id), str(search_id) if search_id is not None else None)


def _flatten_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_settings(value, f"{full}."))
        else:
            flat[full if full.startswith("index.") else f"index.{full}"] = value
    return flat


def mapping_json(index: Index, profile: Profile) -> dict[str, Any]:
    """GET _mapping body for one index: properties sorted by name, semantic_text fields as §7.2 shows."""
    mappings: dict[str, Any] = copy.deepcopy(index.mapping_extras)
    if index.properties:
        mappings["properties"] = _render_properties(index.properties, profile)
    return {"mappings": mappings}


def _render_properties(properties: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    return {name: _render_field(properties[name], profile) for name in sorted(properties)}


def _render_field(definition: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    out = copy.deepcopy(dict(definition))
    if out.get("type") == SEMANTIC_TEXT:
        out = _render_semantic(out, profile)
    if isinstance(out.get("properties"), dict):
        out["properties"] = _render_properties(out["properties"], profile)
    if isinstance(out.get("fields"), dict):
        out["fields"] = {name: _render_field(sub, profile) for name, sub in sorted(out["fields"].items())}
    return out


def _render_semantic(definition: dict[str, Any], profile: Profile) -> dict[str, Any]:
    # §2.2: 8.17+ always shows inference_id, resolved to the default when omitted; 8.16 omitted the default.
    rendered: dict[str, Any] = {"type": SEMANTIC_TEXT}
    given = definition.pop("inference_id", None)
    if given is not None or profile.mapping_always_emits_inference_id:
        rendered["inference_id"] = given if given is not None else profile.semantic_text_default_id
    definition.pop("type")
    rendered.update(definition)  # search_inference_id and anything else, as sent
    return rendered
