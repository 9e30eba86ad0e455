"""Ingest pipeline APIs: PUT, GET, DELETE ``/_ingest/pipeline/{id}`` (reference §7.1)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from . import security
from .errors import EsError, illegal_argument, parse_exception, resource_not_found
from .rest import ACKNOWLEDGED, Action, Context, Reply, RestRequest, ok
from .routing import Router


def register(router: Router[Any], ctx: Context) -> None:
    del ctx
    router.add("PUT", "/_ingest/pipeline/{id}", put_pipeline, api="ingest.put_pipeline")
    router.add_many(("GET",), ("/_ingest/pipeline", "/_ingest/pipeline/{id}"), get_pipelines, api="ingest.get_pipeline")
    router.add("DELETE", "/_ingest/pipeline/{id}", delete_pipeline, api="ingest.delete_pipeline")


def _missing_property(name: str, processor_type: str | None = None) -> EsError:
    # ConfigurationUtils.newConfigurationException: processor_type / property_name metadata [unverified]
    extra = {"processor_type": processor_type} if processor_type else {}
    return parse_exception(f"[{name}] required property is missing", **extra, property_name=name)


def validate_pipeline(body: dict[str, Any]) -> None:
    """Pipeline.create checks the emulator makes: ``processors`` present and a list (may be []), and every
    inference processor, wherever it sits, has a ``model_id``."""
    if "processors" not in body:
        raise _missing_property("processors")
    for key in ("processors", "on_failure"):
        if key in body and not isinstance(body[key], list):
            raise parse_exception(
                f"[{key}] property isn't a list, but of type [{_java_type(body[key])}]", property_name=key
            )
    _validate_processors(body.get("processors", []))
    _validate_processors(body.get("on_failure", []))


def _validate_processors(processors: Iterable[Any]) -> None:
    for entry in processors:
        if not isinstance(entry, dict):
            continue
        for processor_type, definition in entry.items():
            if not isinstance(definition, dict):
                continue
            if processor_type == "inference" and "model_id" not in definition:
                raise _missing_property("model_id", "inference")
            if processor_type == "foreach" and isinstance(definition.get("processor"), dict):
                _validate_processors([definition["processor"]])
            if isinstance(definition.get("on_failure"), list):
                _validate_processors(definition["on_failure"])


def _java_type(value: Any) -> str:
    return (
        "java.lang.String"
        if isinstance(value, str)
        else "java.util.HashMap"
        if isinstance(value, dict)
        else "java.lang.Object"
    )


def put_pipeline(ctx: Context, request: RestRequest) -> Action:
    pipeline_id = request.path_params["id"]
    # RestPutPipelineAction's order: if_version, the body (or the source parameter), then the timeouts.
    request.params.if_version()
    body = request.content_or_source()
    for name in ("master_timeout", "timeout"):
        request.params.time_value(name)

    def action() -> Reply:
        ctx.authorize(request, security.PIPELINE_PUT)
        validate_pipeline(body)
        with ctx.store.lock:
            ctx.store.pipelines[pipeline_id] = copy.deepcopy(body)
        return ok(ACKNOWLEDGED)

    return action


def simple_match(pattern: str, value: str) -> bool:
    """Regex.simpleMatch: ``*`` is the only wildcard."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value) is not None


def _matching(patterns: list[str], ids: Iterable[str]) -> list[str]:
    """Ids matched by the patterns, in pattern order (sorted within a wildcard), without duplicates."""
    ordered = sorted(ids)
    found: list[str] = []
    for pattern in patterns:
        hits = (
            [i for i in ordered if simple_match(pattern, i)] if "*" in pattern else [i for i in ordered if i == pattern]
        )
        found.extend(h for h in hits if h not in found)
    return found


def get_pipelines(ctx: Context, request: RestRequest) -> Action:
    patterns = request.path_params.get("id", "*").split(",")
    summary = request.params.boolean("summary")
    request.params.time_value("master_timeout")

    def action() -> Reply:
        ctx.authorize(request, security.PIPELINE_GET)
        with ctx.store.lock:
            found = {pid: copy.deepcopy(ctx.store.pipelines[pid]) for pid in _matching(patterns, ctx.store.pipelines)}
        if not found:
            return Reply(404, {})  # GetPipelineResponse: NOT_FOUND with an empty object
        return ok({pid: {} if summary else body for pid, body in found.items()})

    return action


def delete_pipeline(ctx: Context, request: RestRequest) -> Action:
    patterns = request.path_params["id"].split(",")
    for name in ("master_timeout", "timeout"):
        request.params.time_value(name)

    def action() -> Reply:
        ctx.authorize(request, security.PIPELINE_DELETE)
        with ctx.store.lock:
            targets: list[str] = []
            for pattern in patterns:
                matched = _matching([pattern], ctx.store.pipelines)
                # `*` matching nothing is fine; any other pattern or id matching nothing is 404.
                if not matched and pattern != "*":
                    raise resource_not_found(f"pipeline [{pattern}] is missing")
                targets.extend(m for m in matched if m not in targets)
            for pid in targets:
                _check_not_in_use(ctx, pid)
            for pid in targets:
                del ctx.store.pipelines[pid]
        return ok(ACKNOWLEDGED)

    return action


def _check_not_in_use(ctx: Context, pipeline_id: str) -> None:
    """IngestService.validateNotInUse: a default/final pipeline of an index cannot go (§7.1; text
    [unverified])."""
    uses: dict[str, list[str]] = {"default": [], "final": []}
    for name in sorted(ctx.store.indexes):
        for kind, value in ctx.store.indexes[name].pipeline_settings().items():
            if value == pipeline_id:
                uses["default" if kind == "index.default_pipeline" else "final"].append(name)
    parts = [
        f"the {kind} pipeline for {len(names)} index(es) including [{','.join(names[:3])}]"
        for kind, names in uses.items()
        if names
    ]
    if parts:
        raise illegal_argument(f"pipeline [{pipeline_id}] cannot be deleted because it is {' and '.join(parts)}")
