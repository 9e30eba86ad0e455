"""Authentication and authorization (reference §5.2, §5.3)."""

from __future__ import annotations

import base64

import pytest
from elasticsearch import AuthenticationException, AuthorizationException

from .conftest import V91, Factory
from .support import call, client, error, put_openai

WWW = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]


def unauthenticated(reason: str, **extra: str) -> dict[str, object]:
    cause = {"type": "security_exception", "reason": reason, **extra, "header": {"WWW-Authenticate": WWW}}
    return {"error": {"root_cause": [dict(cause)], **cause}, "status": 401}


def api_key(key_id: str, secret: str) -> str:
    return "ApiKey " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()


def test_missing_credentials(emulator: Factory) -> None:
    answer = call(emulator(V91), "DELETE", "/_inference/ep?force=true", auth=None)
    assert answer.status == 401
    assert answer.json == unauthenticated(
        "missing authentication credentials for REST request [/_inference/ep?force=true]"
    )
    assert answer.header_values("WWW-Authenticate") == WWW
    # RestResponse.filterHeaders drops the product header from a 401 and a 403.
    assert answer.header_values("X-elastic-product") == []


def test_head_401_has_headers_but_no_body(emulator: Factory) -> None:
    answer = call(emulator(V91), "HEAD", "/", auth=None)
    assert (answer.status, answer.raw) == (401, b"")
    assert answer.header_values("WWW-Authenticate") == WWW


def test_wrong_password_and_unknown_user(emulator: Factory) -> None:
    srv = emulator(V91)
    for user in (("elastic", "nope"), ("who", "x")):
        answer = call(srv, "GET", "/_inference", auth=user)
        assert answer.json == unauthenticated(f"unable to authenticate user [{user[0]}] for REST request [/_inference]")


def test_wrong_password_with_official_client(emulator: Factory) -> None:
    with pytest.raises(AuthenticationException) as caught:
        client(emulator(V91), auth=("elastic", "nope")).inference.get()
    assert caught.value.status_code == 401
    assert caught.value.message == "security_exception"


def test_api_keys(emulator: Factory) -> None:
    srv = emulator(V91)
    assert call(srv, "GET", "/_inference", authorization=api_key("key-all", "secret-all")).status == 200
    es = client(srv, auth=None, api_key=("key-all", "secret-all"))
    assert es.inference.get().body["endpoints"]
    fixed = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    answer = call(srv, "GET", "/_inference", authorization=api_key("key-all", "wrong"))
    assert answer.json == unauthenticated(
        fixed, additional_unsuccessful_credentials="API key: invalid credentials for API key [key-all]"
    )
    answer = call(srv, "GET", "/_inference", authorization=api_key("nope", "x"))
    assert answer.json == unauthenticated(
        fixed, additional_unsuccessful_credentials="API key: unable to find apikey with id nope"
    )
    assert call(srv, "GET", "/_inference", authorization="Bearer abc").json == unauthenticated(fixed)


INFERENCE_ADMIN_ACTIONS = [
    ("PUT", "/_inference/text_embedding/new", "cluster:admin/xpack/inference/put"),
    ("DELETE", "/_inference/ep", "cluster:admin/xpack/inference/delete"),
]


@pytest.mark.parametrize(("method", "path", "action"), INFERENCE_ADMIN_ACTIONS)
def test_inference_user_cannot_manage(emulator: Factory, method: str, path: str, action: str) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    body = {"service": "openai", "service_settings": {"api_key": "k", "model_id": "m"}} if method == "PUT" else None
    answer = call(srv, method, path, body, auth=("viewer", "viewer-pw"))
    assert (answer.status, answer.json) == (
        403,
        error(
            f"action [{action}] is unauthorized for user [viewer] with effective roles [inference_user], this action "
            "is granted by the cluster privileges [manage_inference,manage,all]",
            "security_exception",
            403,
        ),
    )
    assert srv.state.endpoint("ep") is not None
    assert call(srv, method, path, body, auth=("admin", "admin-pw")).status == 200


def test_get_needs_monitor_inference(emulator: Factory) -> None:
    srv = emulator(V91)
    assert call(srv, "GET", "/_inference", auth=("viewer", "viewer-pw")).status == 200
    assert call(srv, "GET", "/_inference", auth=("admin", "admin-pw")).status == 200
    answer = call(srv, "GET", "/_inference", auth=("nobody", "nobody-pw"))
    assert answer.json == error(
        "action [cluster:monitor/xpack/inference/get] is unauthorized for user [nobody] with effective roles [], "
        "this action is granted by the cluster privileges [monitor_inference,manage_inference,monitor,manage,all]",
        "security_exception",
        403,
    )


def test_assigned_roles_not_found(emulator: Factory) -> None:
    answer = call(emulator(V91), "DELETE", "/_inference/ep", auth=("ghost", "ghost-pw"))
    assert answer.json["error"]["reason"] == (
        "action [cluster:admin/xpack/inference/delete] is unauthorized for user [ghost] with effective roles "
        "[inference_user] (assigned roles [no_such_role] were not found), this action is granted by the cluster "
        "privileges [manage_inference,manage,all]"
    )


def test_api_key_denial_names_the_key_and_owner(emulator: Factory) -> None:
    srv = emulator(V91)
    assert call(srv, "GET", "/_inference", authorization=api_key("key-view", "secret-view")).status == 200
    es = client(srv, auth=None, api_key=("key-view", "secret-view"))
    with pytest.raises(AuthorizationException) as caught:
        es.inference.delete(inference_id="ep")
    assert caught.value.body["error"]["reason"] == (
        "action [cluster:admin/xpack/inference/delete] is unauthorized for API key id [key-view] of user [elastic], "
        "this action is granted by the cluster privileges [manage_inference,manage,all]"
    )


def test_authorization_comes_after_request_parsing(emulator: Factory) -> None:
    # REST-level errors (task type, booleans, parameters) come before the transport action's 403.
    srv = emulator(V91)
    viewer = ("viewer", "viewer-pw")
    assert call(srv, "DELETE", "/_inference/bogus/ep", auth=viewer).json == error("Unknown task_type [bogus]")
    assert call(srv, "DELETE", "/_inference/ep?force=maybe", auth=viewer).status == 400
    assert call(srv, "DELETE", "/_inference/ep?x=1", auth=viewer).status == 400
    assert call(srv, "DELETE", "/_inference/ep", auth=viewer).status == 403


def test_pipeline_privileges(emulator: Factory) -> None:
    srv = emulator(V91)
    pipeline: dict[str, list[object]] = {"processors": []}
    admin = ("admin", "admin-pw")
    answer = call(srv, "PUT", "/_ingest/pipeline/p", pipeline, auth=admin)
    assert answer.json["error"]["reason"] == (
        "action [cluster:admin/ingest/pipeline/put] is unauthorized for user [admin] with effective roles "
        "[inference_admin], this action is granted by the cluster privileges "
        "[manage_ingest_pipelines,manage_pipeline,manage,all]"
    )
    assert call(srv, "PUT", "/_ingest/pipeline/p", pipeline, auth=("piper", "piper-pw")).status == 200
    assert call(srv, "GET", "/_ingest/pipeline/p", auth=("reader", "reader-pw")).status == 200
    answer = call(srv, "DELETE", "/_ingest/pipeline/p", auth=("reader", "reader-pw"))
    assert answer.status == 403
    answer = call(srv, "GET", "/_ingest/pipeline/p", auth=admin)
    assert answer.json["error"]["reason"].endswith("[read_pipeline,manage_ingest_pipelines,manage_pipeline,manage,all]")


def test_main_needs_monitor(emulator: Factory) -> None:
    answer = call(emulator(V91), "GET", "/", auth=("admin", "admin-pw"))
    assert answer.json["error"]["reason"] == (
        "action [cluster:monitor/main] is unauthorized for user [admin] with effective roles [inference_admin], "
        "this action is granted by the cluster privileges [monitor,manage,all]"
    )


def test_index_privileges(emulator: Factory) -> None:
    answer = call(emulator(V91), "PUT", "/idx", auth=("admin", "admin-pw"))
    assert answer.json["error"]["reason"] == (
        "action [indices:admin/create] is unauthorized for user [admin] with effective roles [inference_admin] on "
        "indices [idx], this action is granted by the index privileges [create_index,manage,all]"
    )


def test_security_off_needs_no_credentials(emulator: Factory) -> None:
    srv = emulator(V91, security=False)
    assert call(srv, "GET", "/", auth=None).status == 200
    assert (
        call(
            srv,
            "PUT",
            "/_inference/text_embedding/x",
            {"service": "openai", "service_settings": {"api_key": "k", "model_id": "m"}},
            auth=None,
        ).status
        == 200
    )
    assert client(srv, auth=None).inference.delete(inference_id="x").body["acknowledged"] is True
