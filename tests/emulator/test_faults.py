"""Fault injection, down/up with data kept, the request log and the ``/_emulator`` admin routes."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest
from elasticsearch import ApiError
from elasticsearch import ConnectionError as EsConnectionError

from es_emulator import EmulatorServer

from .conftest import V91, Factory
from .support import call, client, put_openai


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def refused(srv: EmulatorServer) -> bool:
    try:
        call(srv, "GET", "/", timeout=1)
    except OSError:
        return True
    return False


def test_latency(emulator: Factory) -> None:
    srv = emulator(V91)
    srv.faults.latency(0.5)
    started = time.monotonic()
    assert call(srv, "GET", "/").status == 200
    assert time.monotonic() - started >= 0.5
    srv.faults.latency(0)
    started = time.monotonic()
    call(srv, "GET", "/")
    assert time.monotonic() - started < 0.5


def test_a_run_of_429_with_retry_after(emulator: Factory) -> None:
    srv = emulator(V91)
    srv.faults.fail_next(2, status=429)
    for _ in range(2):
        answer = call(srv, "GET", "/_inference")
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "1"
        assert answer.headers["X-elastic-product"] == "Elasticsearch"
        error = answer.json["error"]
        assert error["type"] == "circuit_breaking_exception"
        assert error["root_cause"][0]["type"] == "circuit_breaking_exception"
        assert error["durability"] == "TRANSIENT"
    assert call(srv, "GET", "/_inference").status == 200


@pytest.mark.parametrize(("status", "type_"), [(500, "status_exception"), (503, "cluster_block_exception")])
def test_server_errors_have_elasticsearch_bodies(emulator: Factory, status: int, type_: str) -> None:
    srv = emulator(V91)
    srv.faults.fail_next(1, status=status, retry_after=7)
    answer = call(srv, "DELETE", "/_inference/x")
    assert (answer.status, answer.json["status"], answer.json["error"]["type"]) == (status, status, type_)
    assert answer.headers["Retry-After"] == "7"
    assert call(srv, "DELETE", "/_inference/x").status == 404  # the run is over; nothing was done


def test_official_client_retries_through_503s(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    srv.requests.clear()
    srv.faults.fail_next(2, status=503)
    assert client(srv, max_retries=3).inference.get(inference_id="ep").body["endpoints"]
    assert len(srv.requests.find(method="GET", path="/_inference/ep")) == 3
    srv.faults.fail_next(1, status=503)
    with pytest.raises(ApiError) as caught:
        client(srv).inference.get(inference_id="ep")
    assert caught.value.status_code == 503


def test_dropped_connections(emulator: Factory) -> None:
    srv = emulator(V91)
    srv.faults.drop_next(2)
    es = client(srv)
    for _ in range(2):
        with pytest.raises(EsConnectionError):
            es.inference.get()
    assert es.inference.get().body["endpoints"]
    srv.faults.drop_next(1)
    assert client(srv, max_retries=2).inference.get().body["endpoints"]  # the client's retry gets through


def test_down_and_up_on_the_same_port_keep_data(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "kept")
    port = srv.port
    srv.down()
    assert not srv.is_up
    assert refused(srv)
    with pytest.raises(EsConnectionError):
        client(srv).inference.get()
    srv.up()
    assert srv.port == port
    assert call(srv, "GET", "/_inference/kept").status == 200
    srv.down()
    srv.down()  # idempotent
    srv.up()
    srv.up()
    assert call(srv, "GET", "/_inference/kept").status == 200


def test_request_log(emulator: Factory) -> None:
    srv = emulator(V91)
    call(srv, "DELETE", "/_inference/ep?force=true")
    call(srv, "GET", "/_emulator/requests")  # admin routes are not logged
    assert srv.requests.snapshot() == [("DELETE", "/_inference/ep", {"force": "true"})]
    entry = srv.requests.snapshot()[0]
    assert (entry.method, entry.path, entry.query) == ("DELETE", "/_inference/ep", {"force": "true"})
    assert len(srv.requests) == 1
    srv.requests.clear()
    assert list(srv.requests) == []


def test_request_log_timeline_says_when_and_who(emulator: Factory) -> None:
    """Each entry's arrival time (this process's monotonic clock) and claimed user: how a test tells two
    clients apart and says that one sent nothing after a moment."""
    srv = emulator(V91)
    before = time.monotonic()
    call(srv, "GET", "/")
    call(srv, "GET", "/", authorization="ApiKey " + base64.b64encode(b"key-id:wrong").decode())
    call(srv, "GET", "/", auth=None)
    after = time.monotonic()
    timeline = srv.requests.timeline()
    assert [entry.request for entry in timeline] == srv.requests.snapshot()
    assert [entry.user for entry in timeline] == ["elastic", "key-id", None]  # claimed, even when refused
    assert all(before <= entry.at <= after for entry in timeline)
    assert [entry.at for entry in timeline] == sorted(entry.at for entry in timeline)
    assert all(entry.peer == "127.0.0.1" for entry in timeline)
    srv.requests.clear()
    assert srv.requests.timeline() == []


def test_admin_routes_drive_faults_without_auth(emulator: Factory) -> None:
    srv = emulator(V91)
    setting = {"latency": 0, "fail_next": {"count": 1, "status": 500}, "drop_next": 0}
    answer = call(srv, "PUT", "/_emulator/faults", setting, auth=None)
    assert answer.json == {"latency": 0.0, "drop_next": 0, "fail_next": 1, "status": 500}
    assert call(srv, "GET", "/").status == 500
    assert call(srv, "GET", "/").status == 200
    call(srv, "POST", "/_emulator/faults", {"drop_next": 5}, auth=None)
    assert call(srv, "GET", "/_emulator/faults", auth=None).json["drop_next"] == 5  # faults skip admin routes
    call(srv, "DELETE", "/_emulator/faults", auth=None)
    assert call(srv, "GET", "/").status == 200
    log = call(srv, "GET", "/_emulator/requests", auth=None).json["requests"]
    assert log[-1] == {"method": "GET", "path": "/", "query": {}}
    assert call(srv, "DELETE", "/_emulator/requests", auth=None).status == 200
    assert srv.requests.snapshot() == []
    info = call(srv, "GET", "/_emulator", auth=None).json
    assert (info["version"], info["profile"], info["security"]) == ("9.1.0", "9.1", True)
    assert call(srv, "PUT", "/_emulator/faults", {"nope": 1}, auth=None).status == 400


def test_admin_outage_and_state_reset(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "kept")
    assert call(srv, "POST", "/_emulator/outage", {"seconds": 1.0}, auth=None).json == {"acknowledged": True}
    wait_until(lambda: refused(srv))
    wait_until(lambda: not refused(srv))
    assert call(srv, "GET", "/_inference/kept").status == 200
    assert call(srv, "DELETE", "/_emulator/state", auth=None).status == 200
    assert call(srv, "GET", "/_inference/kept").status == 404


def test_stop_is_idempotent_and_context_manager() -> None:
    with EmulatorServer(version="8.16.3", security=False) as srv:
        assert call(srv, "GET", "/", auth=None).json["version"]["number"] == "8.16.3"
        url = srv.url
    assert srv.url == url
    srv.stop()
    assert refused(srv)
    with pytest.raises(RuntimeError):
        srv.up()
