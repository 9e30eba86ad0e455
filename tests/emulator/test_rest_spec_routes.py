"""The emulator's routes held to Elasticsearch's published REST spec (rest-api-spec, pinned in testbed/versions.env),
on every profile: each API of the families the emulator answers for is served or listed as not served (apis.py);
the route table is exactly the spec paths of the profile's APIs; each spec path and method reaches a handler over
HTTP; and every other API answers as Elasticsearch answers a request no handler takes."""

from __future__ import annotations

import pytest

from es_emulator.apis import FAMILY_NAMES, NOT_SERVED, SERVED, in_family
from es_emulator.profiles import PROFILES, Profile
from es_emulator.restspec import RestSpec

from .conftest import Factory
from .spec_support import PROFILE_VERSIONS, concrete, part_value, probes, route_table, version_of
from .support import call, error

PROFILE_IDS = [p.name for p in PROFILES]


def test_every_api_of_the_families_is_served_or_listed_with_a_reason(spec: RestSpec) -> None:
    family = {name for name in spec.apis if in_family(name)}
    assert set(FAMILY_NAMES) <= family
    assert not set(SERVED) & set(NOT_SERVED)
    assert family - set(SERVED) - set(NOT_SERVED) == set(), "APIs of the spec neither served nor listed in apis.py"
    assert set(SERVED) | set(NOT_SERVED) <= family, "apis.py names APIs the spec does not have"
    assert all(reason.strip() for reason in NOT_SERVED.values())
    # 41 inference APIs in the 9.5.3 spec, the typed PUTs among them.
    assert len([n for n in family if n.startswith("inference.")]) == 41


@pytest.mark.parametrize("profile", PROFILES, ids=PROFILE_IDS)
def test_route_table_is_the_spec_paths_of_the_profile(spec: RestSpec, profile: Profile) -> None:
    routes = route_table(profile)
    for route in routes:
        assert route.apis, f"{route.method} {route.pattern} names no spec API"
        for api in route.apis:
            assert api in profile.apis, f"{route.method} {route.pattern} serves {api}, not an API of {profile.name}"
            # The route's path is one of the API's spec paths (placeholders are filled: "_all" is a literal here).
            url = "/" + "/".join("x" if s.startswith("{") else s for s in route.segments)
            assert spec.resolve(route.method, url, [api]).matches, f"{route.method} {route.pattern} is not {api}'s"
    for api in profile.apis:
        for path in spec.apis[api].paths:
            for method in path.methods:
                assert any(api in r.apis and r.method == method and _shape(r.pattern) == path.shape for r in routes), (
                    f"{method} {path.path} of {api} has no route on {profile.name}"
                )


def _shape(pattern: str) -> tuple[str | None, ...]:
    return tuple(None if s.startswith("{") else s for s in pattern.split("/") if s)


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_every_spec_path_and_method_reaches_its_handler(spec: RestSpec, emulator: Factory, version: str) -> None:
    """A parameter no API has is answered by the handler (BaseRestHandler's 400), not by the router: the request
    was routed. Before it, the handler parses the path; a task type the profile does not know is its own 400."""
    srv = emulator(version)
    profile = srv.profile
    for probe in probes(spec, profile, sorted(profile.apis)):
        answer = probe.send(srv, {"zzz_probe": "1"})
        task_type = (probe.path.match(tuple(p for p in probe.url.split("/") if p)) or {}).get("task_type")
        where = f"{probe.api}: {probe.method} {probe.url} on {version}"
        if task_type is not None and task_type not in profile.task_types:
            assert answer.json == error(f"Unknown task_type [{task_type}]"), where
            continue
        expected = error(
            f"request [{probe.url}] contains unrecognized parameter: [zzz_probe]", "illegal_argument_exception"
        )
        if probe.method == "HEAD":
            assert answer.status == 400, where
        else:
            assert (answer.status, answer.json) == (400, expected), where


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_apis_a_profile_lacks_answer_as_no_handler_takes_them(spec: RestSpec, emulator: Factory, version: str) -> None:
    """Where Elasticsearch has no handler: 400 "no handler found" (no status in the body), 405 with Allow when
    the path has other methods, or the handler of a broader path of a served API (what an Elasticsearch without
    the API does: GET /_inference/_region_policy is a GET of the endpoint "_region_policy")."""
    srv = emulator(version)
    profile = srv.profile
    lacking = sorted(name for name in spec.apis if in_family(name) and name not in profile.apis)
    assert set(NOT_SERVED) <= set(lacking)
    for probe in probes(spec, profile, lacking):
        answer = call(srv, probe.method, probe.url, {"any": "body"} if probe.method in ("PUT", "POST") else None)
        resolution = spec.resolve(probe.method, probe.url, profile.apis)
        where = f"{probe.api}: {probe.method} {probe.url} on {version} (the spec routes it to {resolution.apis})"
        if resolution.matches:
            assert answer.status != 405 and not _no_handler(answer.raw), where
        elif resolution.allowed:
            methods = ", ".join(resolution.allowed)
            message = f"Incorrect HTTP method for uri [{probe.url}] and method [{probe.method}], allowed: [{methods}]"
            assert answer.status == 405, where
            assert answer.headers["Allow"] == ",".join(resolution.allowed), where
            if probe.method != "HEAD":
                assert answer.json == {"error": message, "status": 405}, where
        else:
            assert answer.status == 400, where
            if probe.method != "HEAD":
                no_handler = f"no handler found for uri [{probe.url}] and method [{probe.method}]"
                assert answer.json == {"error": no_handler}, where


def _no_handler(raw: bytes) -> bool:
    return raw.startswith(b'{"error":"no handler found')


@pytest.mark.parametrize(("version", "served"), [("8.16.0", False), ("8.17.0", True), ("9.0.0", True)])
def test_update_api_exists_from_8_17(spec: RestSpec, emulator: Factory, version: str, served: bool) -> None:
    srv = emulator(version)
    assert ("inference.update" in srv.profile.apis) is served
    answer = call(srv, "PUT", "/_inference/text_embedding/ep/_update", {"task_settings": {}})
    if served:
        assert answer.json["error"]["reason"] == "The inference endpoint [ep] does not exist and cannot be updated"
    else:
        # No 4-segment PUT route before 8.17: Elasticsearch has no handler for it.
        no_handler = "no handler found for uri [/_inference/text_embedding/ep/_update] and method [PUT]"
        assert (answer.status, answer.json) == (400, {"error": no_handler})


def test_options_answers_the_allowed_methods(emulator: Factory) -> None:
    srv = emulator(PROFILE_VERSIONS[-1])
    answer = call(srv, "OPTIONS", "/_ingest/pipeline/p")
    assert (answer.status, answer.raw, answer.headers["Allow"]) == (200, b"", "DELETE,GET,PUT")
    assert answer.headers["Content-Type"] == "text/plain; charset=UTF-8"
    answer = call(srv, "OPTIONS", "/a/b/c/d")
    assert (answer.status, answer.raw, answer.headers.get("Allow")) == (200, b"", None)


def test_typed_put_apis_share_the_put_route(spec: RestSpec, emulator: Factory) -> None:
    """PUT /_inference/{task_type}/{<service>_inference_id} is inference.put's route: with a service the emulator
    knows, a typed API's path creates the endpoint; one it lacks is the service's own 400."""
    srv = emulator(PROFILE_VERSIONS[-1])
    profile = srv.profile
    path = spec.apis["inference.put_openai"].paths[0]
    url = concrete(path, profile, openai_inference_id="typed")
    answer = call(srv, "PUT", url, {"service": "openai", "service_settings": {"api_key": "k", "model_id": "m"}})
    assert (answer.status, answer.json["inference_id"]) == (200, "typed")
    path = spec.apis["inference.put_groq"].paths[0]
    answer = call(srv, "PUT", concrete(path, profile), {"service": "groq", "service_settings": {}})
    assert answer.json == error("Unknown service [groq]")
    assert part_value("task_type", path.parts["task_type"], profile) == "chat_completion"


def test_version_of_every_profile_is_its_own(emulator: Factory) -> None:
    for profile, version in zip(PROFILES, PROFILE_VERSIONS, strict=True):
        assert version_of(profile) == version
        assert emulator(version).profile == profile
