"""HTTP-level behaviour: GET/HEAD /, the product header, media types and compatibility (reference §6)."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

from .conftest import ALL, V91, V815, V819, Factory
from .support import ELASTIC, JSON, call, client, compat


@pytest.mark.parametrize("version", [V815, V819, "9.3.2"])
def test_main_response_reports_the_requested_version(emulator: Factory, version: str) -> None:
    answer = call(emulator(version), "GET", "/")
    assert answer.status == 200
    body = answer.json
    assert body["version"]["number"] == version
    assert body["tagline"] == "You Know, for Search"
    assert set(body) == {"name", "cluster_name", "cluster_uuid", "version", "tagline"}
    assert body["version"]["build_flavor"] == "default"
    assert body["version"]["build_snapshot"] is False


def test_official_client_info_and_ping(emulator: Factory) -> None:
    srv = emulator(V91)
    es = client(srv)
    assert es.info()["version"]["number"] == "9.1.0"
    assert es.ping() is True
    assert client(srv, auth=("elastic", "wrong")).ping() is False


def test_head_root_has_product_header_and_no_body(emulator: Factory) -> None:
    answer = call(emulator(V91), "HEAD", "/")
    assert answer.status == 200
    assert answer.raw == b""
    assert answer.headers["X-elastic-product"] == "Elasticsearch"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/", {}, 200),
        ("HEAD", "/", {"auth": None}, 401),
        ("GET", "/_inference/nope", {}, 404),
        ("GET", "/_inference/nope", {"auth": None}, 401),
        ("GET", "/_inference/nope", {"auth": ("viewer", "bad")}, 401),
        ("DELETE", "/_inference/nope", {"auth": ("viewer", "viewer-pw")}, 403),
        ("PUT", "/_inference/x", {"auth": ("viewer", "viewer-pw")}, 400),  # body required
        ("POST", "/_ingest/pipeline/p", {}, 405),
        ("GET", "/a/b/c/d", {}, 400),
        ("GET", "/_inference/nope", {"accept": compat(7)}, 400),
    ],
)
def test_every_answer_but_401_and_403_carries_the_product_header(
    emulator: Factory, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    """RestController adds it to every answer; RestResponse.filterHeaders takes it off a 401 and a 403."""
    answer = call(emulator(V91), method, path, **kwargs)  # type: ignore[arg-type]
    assert answer.status == status
    expected = [] if status in (401, 403) else ["Elasticsearch"]
    assert answer.header_values("X-elastic-product") == expected


# --- compatibility media types (§6.2) ------------------------------------------------------------------------

EIGHT_REFUSES_NINE = {
    "error": {
        "root_cause": [
            {
                "type": "media_type_header_exception",
                "reason": "Invalid media-type value on headers [Accept, Content-Type]",
            }
        ],
        "type": "media_type_header_exception",
        "reason": "Invalid media-type value on headers [Accept, Content-Type]",
        "caused_by": {
            "type": "status_exception",
            "reason": "Accept version must be either version 8 or 7, but found 9. "
            "Accept=application/vnd.elasticsearch+json; compatible-with=9",
        },
    },
    "status": 400,
}


@pytest.mark.parametrize("version", [V815, V819])
def test_8x_server_refuses_compatible_with_9_exactly_as_the_reference_shows(emulator: Factory, version: str) -> None:
    answer = call(emulator(version), "GET", "/_inference", accept=compat(9))
    assert answer.status == 400
    assert answer.json == EIGHT_REFUSES_NINE
    assert answer.headers["X-elastic-product"] == "Elasticsearch"


def test_9x_client_against_8x_profile_fails_with_bad_request(emulator: Factory) -> None:
    es = client(emulator(V819))
    with pytest.raises(BadRequestError) as caught:
        es.inference.get()
    err = caught.value
    assert err.status_code == 400
    assert err.message == "media_type_header_exception"
    assert err.body == EIGHT_REFUSES_NINE
    assert str(err) == (
        "BadRequestError(400, 'media_type_header_exception', "
        "'Invalid media-type value on headers [Accept, Content-Type]', "
        "Accept version must be either version 8 or 7, but found 9. "
        "Accept=application/vnd.elasticsearch+json; compatible-with=9)"
    )


@pytest.mark.parametrize(("version", "accepted"), [(V819, [7, 8]), (V91, [8, 9])])
def test_server_accepts_current_and_previous_major(emulator: Factory, version: str, accepted: list[int]) -> None:
    srv = emulator(version)
    for major in accepted:
        answer = call(
            srv, "PUT", "/_ingest/pipeline/p", {"processors": []}, accept=compat(major), content_type=compat(major)
        )
        assert answer.status == 200, answer.raw
        assert answer.headers["Content-Type"] == f"application/vnd.elasticsearch+json;compatible-with={major}"


def test_9x_server_refuses_compatible_with_7(emulator: Factory) -> None:
    answer = call(emulator(V91), "GET", "/_inference", accept=compat(7))
    assert answer.status == 400
    assert answer.json["error"]["caused_by"]["reason"] == (
        "Accept version must be either version 9 or 8, but found 7. "
        "Accept=application/vnd.elasticsearch+json; compatible-with=7"
    )


def test_content_type_version_is_checked_only_with_a_body(emulator: Factory) -> None:
    srv = emulator(V819)
    # No body: a compatible-with=9 Content-Type is ignored.
    assert call(srv, "GET", "/_inference", content_type=compat(9), raw_body=b"").status == 200
    answer = call(srv, "PUT", "/_ingest/pipeline/p", {"processors": []}, accept=JSON, content_type=compat(9))
    assert answer.status == 400
    assert answer.json["error"]["type"] == "media_type_header_exception"
    assert answer.json["error"]["reason"] == "Invalid media-type value on headers [Accept, Content-Type]"
    assert answer.json["error"]["caused_by"] == {
        "type": "status_exception",
        "reason": "Content-Type version must be either version 8 or 7, but found 9. "
        "Content-Type=application/vnd.elasticsearch+json; compatible-with=9",
    }


def test_versions_on_both_headers_must_match(emulator: Factory) -> None:
    answer = call(
        emulator(V91), "PUT", "/_ingest/pipeline/p", {"processors": []}, accept=compat(9), content_type=compat(8)
    )
    assert answer.status == 400
    assert answer.json["error"]["caused_by"]["reason"] == (
        "A compatible version is required on both Content-Type and Accept headers if either one has requested a "
        "compatible version and the compatible versions must match. "
        "Accept=application/vnd.elasticsearch+json; compatible-with=9, "
        "Content-Type=application/vnd.elasticsearch+json; compatible-with=8"
    )


def test_plain_json_works_on_every_profile(emulator: Factory) -> None:
    for version in ALL:
        answer = call(emulator(version), "GET", "/_inference/_all")
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/json"


def test_body_needs_a_json_content_type(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "PUT", "/_ingest/pipeline/p", {"processors": []}, content_type="text/plain")
    assert (answer.status, answer.json) == (
        406,
        {"error": "Content-Type header [text/plain] is not supported", "status": 406},
    )
    answer = call(srv, "PUT", "/_ingest/pipeline/p", {"processors": []}, content_type=None)
    assert (answer.status, answer.json) == (406, {"error": "Content-Type header is missing", "status": 406})


def test_unknown_path_and_wrong_method(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "GET", "/a/b/c/d?x=1")
    # RestController.handleBadRequest writes the text alone, without "status" (8.x and 9.x alike).
    assert (answer.status, answer.json) == (400, {"error": "no handler found for uri [/a/b/c/d?x=1] and method [GET]"})
    answer = call(srv, "POST", "/_ingest/pipeline/p")
    assert answer.status == 405
    assert answer.json == {
        "error": "Incorrect HTTP method for uri [/_ingest/pipeline/p] and method [POST], allowed: [DELETE, GET, PUT]",
        "status": 405,
    }
    assert answer.headers["Allow"] == "DELETE,GET,PUT"


def test_pretty_output(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "GET", "/?pretty")
    assert answer.raw.startswith(b'{\n  "name" : "es-emulator",\n  "cluster_name" : "es-emulator",')
    assert answer.raw.endswith(b"}\n")
    assert call(srv, "GET", "/_inference/completion/_all?pretty").raw == b'{\n  "endpoints" : [ ]\n}\n'
    call(srv, "PUT", "/_ingest/pipeline/p", {"processors": [{"set": {"field": "a", "value": 1}}]})
    assert call(srv, "GET", "/_ingest/pipeline/p?pretty=true").raw == (
        b'{\n  "p" : {\n    "processors" : [\n      {\n        "set" : {\n          "field" : "a",\n'
        b'          "value" : 1\n        }\n      }\n    ]\n  }\n}\n'
    )


def test_invalid_json_body(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/_inference/text_embedding/x", raw_body=b"{nope")
    assert answer.status == 400
    assert answer.json["error"]["type"] == "parse_exception"


def test_unauthenticated_request_is_not_reached_by_version_check_first(emulator: Factory) -> None:
    # Media-type versions are checked while the request is built, before authentication.
    answer = call(emulator(V819), "GET", "/_inference", auth=None, accept=compat(9))
    assert answer.status == 400
    assert call(emulator(V819), "GET", "/_inference", auth=ELASTIC, accept=compat(8)).status == 200
