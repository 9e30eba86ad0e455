"""Index APIs: create, get, exists, get mapping, delete (reference §7.2)."""

from __future__ import annotations

import copy
import json
from typing import Any

from . import security
from .api_ingest import simple_match
from .errors import EsError, illegal_argument, index_not_found
from .indices import Index, already_exists, mapping_json, parse_create_index, validate_index_name
from .rest import ACKNOWLEDGED, Action, Context, Reply, RestRequest, ok
from .routing import Router


def register(router: Router[Any], ctx: Context) -> None:
    del ctx
    router.add("PUT", "/{index}", create_index, api="indices.create")
    router.add("GET", "/{index}", get_index, api="indices.get")
    router.add("HEAD", "/{index}", index_exists, api="indices.exists")
    router.add("DELETE", "/{index}", delete_index, api="indices.delete")
    router.add_many(("GET",), ("/_mapping", "/{index}/_mapping"), get_mapping, api="indices.get_mapping")


def _read(
    request: RestRequest, *, booleans: tuple[str, ...] = (), times: tuple[str, ...] = (), other: tuple[str, ...] = ()
) -> None:
    """The spec's parameters of the API, parsed as the REST handler does (IndicesOptions where it applies)."""
    for name in booleans:
        request.params.boolean(name)
    for name in times:
        request.params.time_value(name)
    for name in other:
        request.params.get(name)


def _resolve(ctx: Context, expression: str, *, allow_wildcards: bool = True) -> list[str]:
    """Index names for a comma list of names / ``*`` patterns / ``_all``; a missing explicit name is 404."""
    with ctx.store.lock:
        existing = sorted(ctx.store.indexes)
    names: list[str] = []
    for part in expression.split(","):
        if part in ("_all", "*") or "*" in part:
            if not allow_wildcards:
                # action.destructive_requires_name defaults to true since 8.0 [unverified text]
                raise illegal_argument("Wildcard expressions or all indices are not allowed")
            pattern = "*" if part == "_all" else part
            names.extend(n for n in existing if simple_match(pattern, n) and n not in names)
        elif part not in existing:
            raise index_not_found(part)
        elif part not in names:
            names.append(part)
    return names


def create_index(ctx: Context, request: RestRequest) -> Action:
    name = request.path_params["index"]
    _read(request, times=("timeout", "master_timeout"), other=("wait_for_active_shards",))
    body = request.json_object(required=False)

    def action() -> Reply:
        ctx.authorize(request, security.INDEX_CREATE, [name])
        validate_index_name(name)
        with ctx.store.lock:
            if name in ctx.store.indexes:
                raise already_exists(ctx.store.indexes[name])
            ctx.store.indexes[name] = parse_create_index(name, body, ctx.profile)
        return ok({"acknowledged": True, "shards_acknowledged": True, "index": name})

    return action


def get_mapping(ctx: Context, request: RestRequest) -> Action:
    expression = request.path_params.get("index", "_all")
    request.params.indices_options()
    _read(request, booleans=("local",), times=("master_timeout",))

    def action() -> Reply:
        ctx.authorize(request, security.INDEX_GET_MAPPING, [expression])
        with ctx.store.lock:
            indexes = [ctx.store.indexes[n] for n in _resolve(ctx, expression)]
        return ok({i.name: mapping_json(i, ctx.profile) for i in indexes})

    return action


def _index_json(index: Index, ctx: Context) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key, value in sorted(index.settings.items()):
        node = settings
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        # Settings read back as strings ("true", "1").
        node[leaf] = json.dumps(value) if isinstance(value, bool) else str(value)
    index_settings = settings.setdefault("index", {})
    index_settings.setdefault("number_of_shards", "1")
    index_settings.setdefault("number_of_replicas", "1")
    index_settings.update({"uuid": index.uuid, "provided_name": index.name})
    return {"aliases": {}, **mapping_json(index, ctx.profile), "settings": copy.deepcopy(settings)}


def get_index(ctx: Context, request: RestRequest) -> Action:
    expression = request.path_params["index"]
    request.params.indices_options()
    _read(
        request, booleans=("local", "include_defaults", "flat_settings"), times=("master_timeout",), other=("features",)
    )

    def action() -> Reply:
        ctx.authorize(request, security.INDEX_GET, [expression])
        with ctx.store.lock:
            indexes = [ctx.store.indexes[n] for n in _resolve(ctx, expression)]
        return ok({i.name: _index_json(i, ctx) for i in indexes})

    return action


def index_exists(ctx: Context, request: RestRequest) -> Action:
    expression = request.path_params["index"]
    request.params.indices_options()
    _read(request, booleans=("local", "include_defaults", "flat_settings"))

    def action() -> Reply:
        ctx.authorize(request, security.INDEX_GET, [expression])
        try:
            _resolve(ctx, expression)
        except EsError:
            return Reply(404, None)
        return Reply(200, None)

    return action


def delete_index(ctx: Context, request: RestRequest) -> Action:
    expression = request.path_params["index"]
    request.params.indices_options()
    _read(request, times=("timeout", "master_timeout"))

    def action() -> Reply:
        ctx.authorize(request, security.INDEX_DELETE, [expression])
        with ctx.store.lock:
            for name in _resolve(ctx, expression, allow_wildcards=False):
                # The index leaves the semantic_text reference set at once (§7.2).
                del ctx.store.indexes[name]
        return ok(ACKNOWLEDGED)

    return action
