"""Requests built from Elasticsearch's REST spec, for the spec conformance tests (test_rest_spec_*.py).

For every served API: a concrete URL for each spec path (path parts filled with ids that exist after ``setup``,
enum parts with an option the profile knows), a body its handler accepts, and the objects a request needs to
succeed. Where Elasticsearch's handlers read more or fewer parameters than the spec documents, the tables below
say so with the source that shows it; the tests hold the emulator to the spec plus exactly these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from es_emulator import EmulatorServer
from es_emulator.apis import PUT_APIS
from es_emulator.app import build_router
from es_emulator.faults import Faults, RequestLog
from es_emulator.profiles import PROFILES, Profile, profile_for
from es_emulator.rest import Cluster, Context, Prepare
from es_emulator.restspec import Param, RestSpec, SpecPath
from es_emulator.routing import Route
from es_emulator.security import Security
from es_emulator.store import Store

from .support import Answer, call, openai_body, put_openai, put_pipeline

# One version per profile (8.15 ... 9.5).
PROFILE_VERSIONS = [f"{p.key[0]}.{p.key[1]}.0" for p in PROFILES]

ENDPOINT, PIPELINE, INDEX = "ep", "pipe", "idx"

# Parameters Elasticsearch's handlers read that the spec does not list, and a valid value for each.
# - format: AbstractRestChannel reads it on every route (the spec's _common.json omits it).
# - master_timeout on inference.update: RestUpdateInferenceModelAction passes RestUtils.getMasterNodeTimeout.
# - ignore_throttled: IndicesOptions.fromRequest still reads it (deprecated, gone from the spec).
EXTRA_EVERYWHERE = {"format": "json"}
EXTRAS: dict[str, dict[str, str]] = {
    "inference.update": {"master_timeout": "30s"},
    **{api: {"ignore_throttled": "false"} for api in ("indices.get", "indices.exists", "indices.delete")},
    "indices.get_mapping": {"ignore_throttled": "false"},
}
# `source` (in _common.json) is read only by handlers that take their body from RestRequest.contentOrSourceParam,
# and only when there is no body: of the served APIs, ingest.put_pipeline. Elsewhere it is unrecognized.
SOURCE_READERS = ("ingest.put_pipeline",)
# Booleans IndicesOptions reads with XContentMapValues.nodeBooleanValue ("Could not convert [x] to boolean");
# the others are RestRequest.paramAsBoolean (the bare Booleans.parseBoolean message).
INDICES_OPTION_BOOLEANS = ("ignore_unavailable", "allow_no_indices", "ignore_throttled")
BOOLEAN_MESSAGE = "Failed to parse value [1] as only [true] or [false] are allowed."


def version_of(profile: Profile) -> str:
    return f"{profile.key[0]}.{profile.key[1]}.0"


def gated(api: str, profile: Profile) -> set[str]:
    """Spec parameters the profile's version does not have yet (as the profile declares)."""
    if api in PUT_APIS and not profile.put_timeout_param:
        return {"timeout"}
    if api == "inference.update" and not profile.update_timeout_param:
        return {"timeout"}
    return set()


def accepted_params(spec: RestSpec, api: str, profile: Profile) -> dict[str, Param]:
    """The parameters a request of ``api`` may carry on this profile: the API's and the common ones, less those
    that came later and ``source`` where it is not read."""
    params = {**spec.common, **spec.apis[api].params}
    for name in gated(api, profile) | ({"source"} if api not in SOURCE_READERS else set()):
        params.pop(name, None)
    return params


def valid_value(param: Param) -> str:
    """A value of the parameter's type."""
    if param.type == "boolean":
        return "true"
    if param.type == "time":
        return "30s"
    if param.type in ("int", "long", "number"):
        return "1"
    if param.options:
        return param.options[0]
    return str(param.default) if isinstance(param.default, str) else "x"


def part_value(name: str, part: Param, profile: Profile) -> str:
    if part.options:
        known = [o for o in part.options if o in profile.task_types]
        preferred = [o for o in ("text_embedding", "sparse_embedding", "rerank", "completion") if o in known]
        return (preferred or known or list(part.options))[0]
    if name == "index":
        return INDEX
    if name == "id":
        return PIPELINE
    if name.endswith("inference_id"):
        return ENDPOINT
    return "x"


def concrete(path: SpecPath, profile: Profile, **values: str) -> str:
    segments = []
    for segment in path.segments:
        name = segment[1:-1] if segment.startswith("{") else None
        segments.append(segment if name is None else values.get(name) or part_value(name, path.parts[name], profile))
    return "/" + "/".join(segments)


def task_type_of(path: SpecPath, url: str) -> str | None:
    values = path.match(tuple(p for p in url.split("/") if p)) or {}
    return values.get("task_type")


def body_for(api: str, task_type: str | None) -> Any:
    if api in PUT_APIS:
        if task_type == "rerank":
            return {"task_type": "rerank", "service": "cohere", "service_settings": {"api_key": "k"}}
        if task_type == "sparse_embedding":
            return {"task_type": "sparse_embedding", "service": "elser", "service_settings": {"num_allocations": 1}}
        return openai_body(task_type or "text_embedding")
    if api == "inference.update":
        return {"service_settings": {"api_key": "sk-rotated"}}
    if api == "ingest.put_pipeline":
        return {"processors": []}
    return None


def setup(srv: EmulatorServer, api: str) -> None:
    """Empty state, then what a request of ``api`` on the sample URL needs to succeed."""
    srv.state.reset()
    if api in ("inference.get", "inference.delete", "inference.update"):
        put_openai(srv, ENDPOINT)
    elif api in ("ingest.get_pipeline", "ingest.delete_pipeline"):
        put_pipeline(srv, PIPELINE, ENDPOINT)
    elif api in ("indices.get", "indices.exists", "indices.delete", "indices.get_mapping"):
        assert call(srv, "PUT", f"/{INDEX}").status == 200


@dataclass(frozen=True)
class Probe:
    """One request of one API on one spec path."""

    api: str
    method: str
    path: SpecPath
    url: str

    def send(self, srv: EmulatorServer, query: dict[str, str] | None = None, *, body: Any = "default") -> Answer:
        setup(srv, self.api)
        if body == "default":
            body = body_for(self.api, task_type_of(self.path, self.url))
        return call(srv, self.method, self.url + ("?" + urlencode(query) if query else ""), body)


def probes(spec: RestSpec, profile: Profile, apis: list[str], *, distinct: bool = False) -> list[Probe]:
    """A probe per API, path and method. ``distinct``: one per identical request (same method, URL, body and
    parameters), such as the typed inference.put_<service> APIs whose sample requests are one and the same."""
    every = [
        Probe(api, method, path, concrete(path, profile))
        for api in apis
        for path in spec.apis[api].paths
        for method in path.methods
    ]
    if not distinct:
        return every
    chosen: dict[str, Probe] = {}
    for probe in every:
        params = sorted((n, p.type, p.options) for n, p in accepted_params(spec, probe.api, profile).items())
        body = body_for(probe.api, task_type_of(probe.path, probe.url))
        key = json.dumps([probe.method, probe.url, body, params, sorted(EXTRAS.get(probe.api, {}))], default=str)
        chosen.setdefault(key, probe)
    return list(chosen.values())


def outcome(answer: Answer) -> tuple[int, Any]:
    """The status and, for an error, its type and reason (what a parameter could change)."""
    if not answer.raw:
        return answer.status, None
    body = json.loads(answer.raw)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return answer.status, (error.get("type"), error.get("reason"))
    return answer.status, error


def route_table(profile: Profile) -> tuple[Route[Prepare], ...]:
    """The emulator's routes for a profile, as its app builds them."""
    version = version_of(profile)
    context = Context(
        version=version,
        profile=profile_for(version),
        store=Store(profile),
        security=Security(False, [], (), ()),
        faults=Faults(),
        requests=RequestLog(),
        cluster=Cluster("spec"),
    )
    return build_router(context).routes
