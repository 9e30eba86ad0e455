"""``?error_trace=true``: ``stack_trace`` in the error, every root cause and every ``caused_by``, as
ElasticsearchException.innerToXContent writes it; never on a 401 (RestResponse) nor in the flat form; a bad
value is RestController's flat 400 before any route is looked up. And ``pretty`` / ``human`` refused as the
response channel refuses them."""

from __future__ import annotations

from typing import Any

import elasticsearch
import pytest

from .conftest import V91, V815, Factory
from .support import call, client, error, put_openai


def _without_traces(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_traces(v) for k, v in value.items() if k != "stack_trace"}
    if isinstance(value, list):
        return [_without_traces(v) for v in value]
    return value


def _traces(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["stack_trace"]] if "stack_trace" in value else []
        return found + [t for v in value.values() for t in _traces(v)]
    if isinstance(value, list):
        return [t for v in value for t in _traces(v)]
    return []


@pytest.mark.parametrize("version", [V815, V91])
@pytest.mark.parametrize(
    ("method", "path", "java_class"),
    [
        ("GET", "/_inference/bogus/x", "org.elasticsearch.ElasticsearchStatusException"),
        ("GET", "/_inference/missing", "org.elasticsearch.ResourceNotFoundException"),
        ("DELETE", "/_inference/x?force=maybe", "java.lang.IllegalArgumentException"),
        ("GET", "/missing-index/_mapping", "org.elasticsearch.index.IndexNotFoundException"),
    ],
)
def test_error_trace_adds_stack_traces(
    emulator: Factory, version: str, method: str, path: str, java_class: str
) -> None:
    srv = emulator(version)
    plain = call(srv, method, path)
    joiner = "&" if "?" in path else "?"
    traced = call(srv, method, f"{path}{joiner}error_trace=true")
    assert traced.status == plain.status >= 400
    assert _traces(plain.json) == []
    error_object = traced.json["error"]
    trace = error_object["stack_trace"]
    assert isinstance(trace, str)
    assert trace.startswith(f"{java_class}: {error_object['reason']}\n\tat ")
    assert [c["stack_trace"] for c in error_object["root_cause"]] == [trace]
    assert _without_traces(traced.json) == plain.json
    # An empty value is true; false is no trace.
    assert _traces(call(srv, method, f"{path}{joiner}error_trace").json) != []
    assert _traces(call(srv, method, f"{path}{joiner}error_trace=false").json) == []


def test_caused_by_has_its_own_trace(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/_inference/text_embedding/x?error_trace=true", raw_body=b"{nope")
    error_object = answer.json["error"]
    assert error_object["caused_by"]["stack_trace"].startswith("com.fasterxml.jackson.core.JsonParseException: ")
    assert "\nCaused by: com.fasterxml.jackson.core.JsonParseException: " in error_object["stack_trace"]
    assert "stack_trace" in error_object["root_cause"][0]


def test_no_trace_on_401_but_on_403(emulator: Factory) -> None:
    srv = emulator(V91)
    unauthenticated = call(srv, "GET", "/_inference?error_trace=true", auth=None)
    assert unauthenticated.status == 401
    assert _traces(unauthenticated.json) == []
    forbidden = call(srv, "GET", "/_inference?error_trace=true", auth=("nobody", "nobody-pw"))
    assert forbidden.status == 403
    assert forbidden.json["error"]["stack_trace"].startswith("org.elasticsearch.ElasticsearchSecurityException: ")


def test_flat_errors_have_no_trace(emulator: Factory) -> None:
    srv = emulator(V91)
    no_route = call(srv, "GET", "/a/b/c/d?error_trace=true")
    assert no_route.json == {"error": "no handler found for uri [/a/b/c/d?error_trace=true] and method [GET]"}
    wrong_method = call(srv, "POST", "/_ingest/pipeline/p?error_trace=true")
    assert set(wrong_method.json) == {"error", "status"}
    not_json = call(srv, "PUT", "/_ingest/pipeline/p?error_trace=true", {"processors": []}, content_type="text/plain")
    assert set(not_json.json) == {"error", "status"}


def test_a_bad_error_trace_is_refused_before_routing(emulator: Factory) -> None:
    srv = emulator(V91)
    message = "Failed to parse value [1] as only [true] or [false] are allowed."
    for path in ("/_inference/x?error_trace=1", "/a/b/c/d?error_trace=1"):
        answer = call(srv, "GET", path)
        assert (answer.status, answer.json) == (400, {"error": message, "status": 400})
    # ...and before authentication.
    assert call(srv, "GET", "/_inference?error_trace=yes", auth=None).status == 400


def test_bad_pretty_or_human_is_a_bad_request(emulator: Factory) -> None:
    """The response channel parses them while it is built; the request is then answered as a bad request, by a
    channel without the parameters: no stack trace, not pretty, before routing and authentication."""
    srv = emulator(V91)
    for query in ("pretty=1", "human=yes", "pretty=1&error_trace=true", "pretty=no&human=1"):
        answer = call(srv, "GET", f"/a/b/c/d?{query}", auth=None)
        bad = query.split("=")[1].split("&")[0]
        assert (answer.status, answer.json) == (
            400,
            error(
                f"Failed to parse value [{bad}] as only [true] or [false] are allowed.", "illegal_argument_exception"
            ),
        ), query
        assert not answer.raw.startswith(b"{\n")


def test_official_client_error_trace(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    with pytest.raises(elasticsearch.NotFoundError) as raised:
        client(srv).inference.get(inference_id="missing", error_trace=True)
    assert raised.value.body["error"]["stack_trace"].startswith("org.elasticsearch.ResourceNotFoundException: ")
    assert srv.requests.snapshot()[-1].query == {"error_trace": "true"}
