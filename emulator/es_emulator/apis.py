"""Which of Elasticsearch's published REST APIs the emulator serves, from which version, and which it does not.

Names are those of Elasticsearch's REST API specification (``rest-api-spec/api/<name>.json``, published on Maven
Central as ``org.elasticsearch:rest-api-spec``). The emulator's routes carry these names (``Router.add(..., api=)``)
and ``tests/emulator/test_rest_spec_*.py`` holds every profile to the spec: each served API's paths, methods,
parameters and path-part options; each API of the families below that is not served answers as Elasticsearch
answers a request no handler takes (400 "no handler found", 405 with ``Allow``, or the handler of a broader
path that does match, as an Elasticsearch without that API would).

The emulator reads none of this at run time from the spec: its routes stay in code, and the test keeps them true.
"""

from __future__ import annotations

# The API families the emulator is held to: what the operator touches (inference endpoints, the pipelines and
# indexes that reference them, the cluster's identity) and their neighbours.
FAMILY_PREFIXES = ("inference.", "ingest.", "indices.")
FAMILY_NAMES = ("info", "ping")

# Typed creation APIs (one per service, 9.x specs): each is PUT /_inference/{task_type}/{<service>_inference_id},
# the very route of inference.put, which Elasticsearch serves with one handler whatever the service
# (RestPutInferenceModelAction). The emulator serves the route for all of them; the body's service decides the
# rest, and services outside the emulator's catalogue (services.py) answer "Unknown service [x]", as an
# Elasticsearch without that service does.
TYPED_PUT_APIS = tuple(
    f"inference.put_{service}"
    for service in (
        "ai21",
        "alibabacloud",
        "amazonbedrock",
        "amazonsagemaker",
        "anthropic",
        "azureaistudio",
        "azureopenai",
        "cohere",
        "contextualai",
        "custom",
        "deepseek",
        "elasticsearch",
        "elser",
        "fireworksai",
        "googleaistudio",
        "googlevertexai",
        "groq",
        "hugging_face",
        "jinaai",
        "llama",
        "mistral",
        "nvidia",
        "openai",
        "openshift_ai",
        "voyageai",
        "watsonx",
    )
)
PUT_APIS = ("inference.put", *TYPED_PUT_APIS)

# Served APIs and the first profile that has them (reference §0).
SERVED: dict[str, tuple[int, int]] = {
    "info": (8, 15),
    "ping": (8, 15),
    **dict.fromkeys(PUT_APIS, (8, 15)),
    "inference.get": (8, 15),
    "inference.delete": (8, 15),
    "inference.update": (8, 17),  # §3.4: PR #114457
    "ingest.put_pipeline": (8, 15),
    "ingest.get_pipeline": (8, 15),
    "ingest.delete_pipeline": (8, 15),
    "indices.create": (8, 15),
    "indices.get": (8, 15),
    "indices.exists": (8, 15),
    "indices.delete": (8, 15),
    "indices.get_mapping": (8, 15),
}

_PERFORM = "the inference (perform) API: the emulator has no model and calls no provider"
_REGION = "EIS region policies (9.5-era, Elastic Cloud): the operator manages endpoints, not EIS"
_GEOIP = "GeoIP / IP location databases: a download service the operator never touches"
_INGEST_RUN = "running pipelines on documents: the emulator stores pipelines but holds no documents"
_DOCS = "index data and upkeep (blocks, open/close, refresh, flush, merge, stats...): the emulator holds no documents"
_ALIASES = "aliases: the reference checks look at indexes and their mappings only (§2.2)"
_TEMPLATES = "index and component templates: the reference checks do not read them (§2.2)"
_SETTINGS = "index settings and mappings after creation: indexes are created with their mappings and never changed"
_STREAMS = "data streams and their lifecycle: no documents, no backing indexes"
_RESIZE = "resizing and reindexing indexes: no documents"
_RESOLVE = "resolving expressions across clusters and indexes: the operator reads mappings directly"

# Every other API of the families, with the reason it is not served. The test fails when the spec has an API of
# the families that is neither served nor listed here, or when this lists an API the spec does not have.
NOT_SERVED: dict[str, str] = {
    **dict.fromkeys(
        (
            "inference.inference",
            "inference.completion",
            "inference.text_embedding",
            "inference.sparse_embedding",
            "inference.rerank",
            "inference.embedding",
            "inference.stream_completion",
            "inference.chat_completion_unified",
        ),
        _PERFORM,
    ),
    **dict.fromkeys(
        ("inference.get_region_policy", "inference.put_region_policy", "inference.delete_region_policy"), _REGION
    ),
    **dict.fromkeys(
        (
            "ingest.get_geoip_database",
            "ingest.put_geoip_database",
            "ingest.delete_geoip_database",
            "ingest.geo_ip_stats",
            "ingest.get_ip_location_database",
            "ingest.put_ip_location_database",
            "ingest.delete_ip_location_database",
        ),
        _GEOIP,
    ),
    **dict.fromkeys(("ingest.simulate", "ingest.processor_grok"), _INGEST_RUN),
    **dict.fromkeys(
        (
            "indices.add_block",
            "indices.remove_block",
            "indices.analyze",
            "indices.clear_cache",
            "indices.close",
            "indices.open",
            "indices.disk_usage",
            "indices.field_usage_stats",
            "indices.flush",
            "indices.forcemerge",
            "indices.recovery",
            "indices.refresh",
            "indices.reload_search_analyzers",
            "indices.segments",
            "indices.shard_stores",
            "indices.stats",
            "indices.validate_query",
        ),
        _DOCS,
    ),
    **dict.fromkeys(
        (
            "indices.delete_alias",
            "indices.exists_alias",
            "indices.get_alias",
            "indices.put_alias",
            "indices.update_aliases",
            "indices.rollover",
        ),
        _ALIASES,
    ),
    **dict.fromkeys(
        (
            "indices.delete_index_template",
            "indices.delete_template",
            "indices.exists_index_template",
            "indices.exists_template",
            "indices.get_index_template",
            "indices.get_template",
            "indices.put_index_template",
            "indices.put_template",
            "indices.simulate_index_template",
            "indices.simulate_template",
        ),
        _TEMPLATES,
    ),
    **dict.fromkeys(
        ("indices.get_settings", "indices.put_settings", "indices.put_mapping", "indices.get_field_mapping"),
        _SETTINGS,
    ),
    **dict.fromkeys(
        (
            "indices.create_data_stream",
            "indices.delete_data_stream",
            "indices.get_data_stream",
            "indices.data_streams_stats",
            "indices.migrate_to_data_stream",
            "indices.modify_data_stream",
            "indices.promote_data_stream",
            "indices.delete_data_lifecycle",
            "indices.explain_data_lifecycle",
            "indices.get_data_lifecycle",
            "indices.get_data_lifecycle_stats",
            "indices.put_data_lifecycle",
            "indices.delete_data_stream_options",
            "indices.get_data_stream_options",
            "indices.put_data_stream_options",
            "indices.get_data_stream_mappings",
            "indices.put_data_stream_mappings",
            "indices.get_data_stream_settings",
            "indices.put_data_stream_settings",
        ),
        _STREAMS,
    ),
    **dict.fromkeys(
        (
            "indices.clone",
            "indices.shrink",
            "indices.split",
            "indices.downsample",
            "indices.create_from",
            "indices.migrate_reindex",
            "indices.cancel_migrate_reindex",
            "indices.get_migrate_reindex_status",
        ),
        _RESIZE,
    ),
    **dict.fromkeys(("indices.resolve_cluster", "indices.resolve_index"), _RESOLVE),
}


def in_family(name: str) -> bool:
    return name in FAMILY_NAMES or name.startswith(FAMILY_PREFIXES)


def served_apis(key: tuple[int, int]) -> frozenset[str]:
    """The APIs a profile serves."""
    return frozenset(name for name, since in SERVED.items() if key >= since)
