"""Requests checked against Elasticsearch's published REST spec: the check itself (es_emulator.restspec,
testbed.restspec.requests_held_to_spec, which the shared ``emulator`` fixture of tests/conftest.py wraps around
every end-to-end test), and the operator's gateway, whose every request must be one the spec documents for the
version it talks to."""

from __future__ import annotations

import asyncio

import pytest

from es_emulator import EmulatorServer, User
from es_emulator.restspec import RestSpec
from es_inference_operator.elasticsearch_gateway import Connection, ElasticsearchGateway
from testbed.restspec import outside_spec, requests_held_to_spec

from .conftest import V91, V816, Factory
from .spec_support import PROFILE_VERSIONS
from .support import call, openai_body


def test_requests_the_spec_documents_pass(spec: RestSpec) -> None:
    for method, path, query in [
        ("GET", "/", {}),
        ("HEAD", "/", {}),
        ("GET", "/_inference/_all", {}),
        ("PUT", "/_inference/text_embedding/e5", {"timeout": "2m"}),
        ("PUT", "/_inference/e5/_update", {}),
        ("GET", "/*/_mapping", {"expand_wildcards": "all"}),
        ("DELETE", "/_inference/sparse_embedding/e5", {"dry_run": "true", "error_trace": ""}),
        ("PUT", "/_ingest/pipeline/p", {"if_version": "3"}),
    ]:
        assert spec.check(method, path, query) == [], (method, path, query)


@pytest.mark.parametrize(
    ("method", "path", "query", "problem"),
    [
        ("DELETE", "/_inference/e5", {"force": "1"}, "[force] is a boolean: true or false, not [1]"),
        ("DELETE", "/_inference/e5", {"forse": "true"}, "[forse] is not a parameter of inference.delete"),
        ("GET", "/_inference/e5", {"timeout": "5s"}, "[timeout] is not a parameter of inference.get"),
        ("PUT", "/_inference/text_embedding/e5", {"timeout": "5"}, "[timeout] is a time value: failed to parse"),
        ("GET", "/*/_mapping", {"expand_wildcards": "everything"}, "[expand_wildcards] takes"),
        ("POST", "/_inference/e5/a/b", {}, "no API of the spec takes this method and path"),
        ("GET", "/_inference/texts/e5", {}, "{task_type} of inference.get takes"),
    ],
)
def test_requests_outside_the_spec_are_named(
    spec: RestSpec, method: str, path: str, query: dict[str, str], problem: str
) -> None:
    problems = spec.check(method, path, query)
    assert len(problems) == 1 and problem in problems[0], problems


def test_an_api_the_version_lacks_is_outside_its_spec(emulator: Factory) -> None:
    # 8.16 has no update API: a PUT .../_update is outside what that version documents, though 9.5.3 has it.
    srv = emulator(V816)
    call(srv, "PUT", "/_inference/e5/_update", {"task_settings": {}})
    problems = outside_spec(srv.requests.snapshot(), srv.profile.apis)
    assert problems == ["PUT /_inference/e5/_update: {task_type} of inference.put takes " + _put_options(srv)]


def _put_options(srv: EmulatorServer) -> str:
    options = ["chat_completion", "completion", "embedding", "rerank", "sparse_embedding", "text_embedding"]
    return f"{options}, not [e5]"


def test_the_check_sees_every_request_of_the_block(emulator: Factory) -> None:
    srv = emulator(V91)
    with pytest.raises(AssertionError) as raised, requests_held_to_spec(srv):
        call(srv, "GET", "/_inference/_all?forse=true")
        call(srv, "DELETE", "/_inference/ep?dry_run=yes")
        srv.requests.clear()  # a test clearing the log does not hide them
        call(srv, "GET", "/_emulator")  # control routes are not Elasticsearch requests: not recorded, not checked
        call(srv, "GET", "/_inference/_all")
    message = str(raised.value)
    assert message.startswith(
        "2 request(s) to the Elasticsearch emulator (9.1.0) are not in Elasticsearch's published REST API spec "
        "(rest-api-spec 9.5.3, the APIs of the 9.1 profile):\n"
    )
    assert "  - GET /_inference/_all?forse=true: [forse] is not a parameter of inference.get" in message
    assert "  - DELETE /_inference/ep?dry_run=yes: [dry_run] is a boolean: true or false, not [yes]" in message
    with requests_held_to_spec(srv):
        call(srv, "GET", "/_inference/_all")  # fine: nothing raised


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_the_operator_gateway_sends_only_what_the_spec_documents(version: str) -> None:
    """Every call of the gateway, against every profile: each request must match a path, a method and the
    parameters of an API the spec documents and that version serves."""
    with EmulatorServer(version=version, users=[User("elastic", "changeme", roles=["superuser"])]) as srv:
        with requests_held_to_spec(srv):
            asyncio.run(_every_gateway_call(srv))
        assert len(srv.requests) >= 8


async def _every_gateway_call(srv: EmulatorServer) -> None:
    gateway = ElasticsearchGateway(Connection(srv.url, "test", username="elastic", password="changeme"))
    try:
        await gateway.capabilities()
        await gateway.put_endpoint("text_embedding", "ep", openai_body(None))
        await gateway.get_endpoint("ep")
        await gateway.get_endpoint("missing")
        await gateway.list_endpoints()
        if "inference.update" in srv.profile.apis:
            await gateway.update_endpoint("text_embedding", "ep", {"service_settings": {"api_key": "sk-2"}})
        await gateway.semantic_text_indexes("ep")
        await gateway.dry_run_delete("text_embedding", "ep")
        assert await gateway.delete_endpoint("text_embedding", "ep", force=False)
        assert not await gateway.delete_endpoint("text_embedding", "ep", force=True)  # gone already: 404
    finally:
        await gateway.close()
