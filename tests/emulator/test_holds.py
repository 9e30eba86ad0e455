"""Holding one request without an answer, before or after it takes effect, so that a crash test can kill a
client at an exact point (``srv.faults.hold``, ``/_emulator/holds``)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import ConnectionTimeout

from es_emulator import EmulatorServer

from .conftest import V91, Factory
from .support import Answer, call, client, openai_body, put_openai

HOLD_WAIT = 5.0


def in_background(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``work`` in a thread; its result (or exception) lands in the returned list."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:  # handed to the test
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def put_ep(srv: EmulatorServer, inference_id: str = "held") -> Answer:
    return call(srv, "PUT", f"/_inference/text_embedding/{inference_id}", openai_body(None), timeout=20)


def test_hold_before_apply_then_release(emulator: Factory) -> None:
    srv = emulator(V91)
    hold = srv.faults.hold(method="PUT", path_regex=r"/_inference/text_embedding/held")
    assert hold.state == "pending"
    thread, result = in_background(lambda: put_ep(srv))
    assert hold.wait_held(HOLD_WAIT)
    assert hold.state == "held"
    assert hold.request is not None and hold.request.path == "/_inference/text_embedding/held"
    assert srv.state.endpoint("held") is None  # not applied while held
    assert not result  # no answer yet
    hold.release()
    thread.join(HOLD_WAIT)
    assert result[0].status == 200
    assert srv.state.endpoint("held") is not None
    assert hold.wait_finished(HOLD_WAIT) and hold.state == "answered"


def test_hold_after_apply_then_release(emulator: Factory) -> None:
    srv = emulator(V91)
    hold = srv.faults.hold("PUT", r"/_inference/.*", after_apply=True)
    thread, result = in_background(lambda: put_ep(srv))
    assert hold.wait_held(HOLD_WAIT)
    assert srv.state.endpoint("held") is not None  # applied, answer held
    time.sleep(0.1)  # the answer really is held, not merely slow
    assert not result
    hold.release()
    thread.join(HOLD_WAIT)
    assert result[0].status == 200


def held_socket(srv: EmulatorServer, method: str, path: str, body: bytes) -> socket.socket:
    """A raw client that sends one request and can then vanish (closed like a killed process's socket)."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ZWxhc3RpYzpjaGFuZ2VtZQ==\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


@pytest.mark.parametrize(("after_apply", "applied"), [(False, False), (True, True)])
def test_a_client_that_goes_away_ends_the_hold(emulator: Factory, after_apply: bool, applied: bool) -> None:
    srv = emulator(V91)
    hold = srv.faults.hold("PUT", r"/_inference/text_embedding/held", after_apply=after_apply)
    sock = held_socket(srv, "PUT", "/_inference/text_embedding/held", json.dumps(openai_body(None)).encode())
    assert hold.wait_held(HOLD_WAIT)
    sock.close()  # what SIGKILL does to the client's connection
    assert hold.wait_finished(HOLD_WAIT)
    assert hold.state == "disconnected"
    assert (srv.state.endpoint("held") is not None) is applied
    # The emulator carries on: the next request is served.
    assert call(srv, "GET", "/_inference/held").status == (200 if applied else 404)


def test_only_the_matching_request_is_held_and_only_once(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "other")
    hold = srv.faults.hold("DELETE", r"/_inference/target")
    assert call(srv, "DELETE", "/_inference/other").status == 200  # another path
    assert call(srv, "GET", "/_inference/target").status == 404  # another method
    assert hold.state == "pending"
    thread, result = in_background(lambda: call(srv, "DELETE", "/_inference/target", timeout=20))
    assert hold.wait_held(HOLD_WAIT)
    assert call(srv, "DELETE", "/_inference/target").status == 404  # a second request is not held
    hold.release()
    thread.join(HOLD_WAIT)
    assert result[0].status == 404


def test_the_official_client_times_out_on_a_held_request(emulator: Factory) -> None:
    srv = emulator(V91)
    hold = srv.faults.hold("PUT", r"/_inference/.*", after_apply=True)
    with pytest.raises(ConnectionTimeout):
        client(srv, request_timeout=0.5).inference.put(
            inference_id="ep", task_type="text_embedding", inference_config=openai_body(None)
        )
    assert hold.wait_finished(HOLD_WAIT) and hold.state == "disconnected"
    assert srv.state.endpoint("ep") is not None  # it took effect; the client never heard


def test_clearing_faults_releases_held_and_cancels_pending(emulator: Factory) -> None:
    srv = emulator(V91)
    held = srv.faults.hold("PUT", r"/_inference/.*")
    pending = srv.faults.hold("GET", r"/never")
    thread, result = in_background(lambda: put_ep(srv))
    assert held.wait_held(HOLD_WAIT)
    srv.faults.clear()
    thread.join(HOLD_WAIT)
    assert result[0].status == 200
    assert pending.state == "cancelled" and pending.wait_finished(0)
    assert srv.faults.holds() == []


def test_holds_through_the_admin_api(emulator: Factory) -> None:
    srv = emulator(V91)
    answer = call(srv, "POST", "/_emulator/holds", {"method": "PUT", "path_regex": "/_inference/.*"}, auth=None)
    assert answer.status == 200
    hold_id = answer.json["id"]
    assert answer.json == {
        "id": hold_id,
        "method": "PUT",
        "path_regex": "/_inference/.*",
        "after_apply": False,
        "query": {},
        "state": "pending",
        "request": None,
    }
    thread, result = in_background(lambda: put_ep(srv))
    deadline = time.monotonic() + HOLD_WAIT
    while call(srv, "GET", f"/_emulator/holds/{hold_id}", auth=None).json["state"] != "held":
        assert time.monotonic() < deadline, "never held"
        time.sleep(0.02)
    listed = call(srv, "GET", "/_emulator/holds", auth=None).json["holds"]
    assert [(h["id"], h["state"], h["request"]["path"]) for h in listed] == [
        (hold_id, "held", "/_inference/text_embedding/held")
    ]
    assert srv.state.endpoint("held") is None
    assert call(srv, "POST", f"/_emulator/holds/{hold_id}/_release", auth=None).status == 200
    thread.join(HOLD_WAIT)
    assert result[0].status == 200
    assert call(srv, "GET", f"/_emulator/holds/{hold_id}", auth=None).json["state"] == "answered"
    assert call(srv, "GET", "/_emulator/holds/h999", auth=None).status == 404
    assert call(srv, "POST", "/_emulator/holds", {"path_regex": "("}, auth=None).status == 400
    assert call(srv, "POST", "/_emulator/holds", {"when": "now"}, auth=None).status == 400
    assert call(srv, "DELETE", "/_emulator/holds", auth=None).status == 200
    assert call(srv, "GET", "/_emulator/holds", auth=None).json == {"holds": []}


@pytest.mark.parametrize(("after_apply", "applied"), [(False, False), (True, True)])
def test_sigkill_of_a_held_client(emulator: Factory, after_apply: bool, applied: bool) -> None:
    # The crash matrix's use: a client process killed at an exact point of its request.
    srv = emulator(V91)
    hold = srv.faults.hold("PUT", r"/_inference/text_embedding/killed", after_apply=after_apply)
    script = (
        "import sys\n"
        "from elasticsearch import Elasticsearch\n"
        "es = Elasticsearch(sys.argv[1], basic_auth=('elastic', 'changeme'), max_retries=0, request_timeout=60)\n"
        "es.inference.put(inference_id='killed', task_type='text_embedding', inference_config="
        f"{openai_body(None)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, srv.url])
    try:
        assert hold.wait_held(20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert hold.wait_finished(HOLD_WAIT)
        assert hold.state == "disconnected"
        assert (srv.state.endpoint("killed") is not None) is applied
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(("after_apply", "applied"), [(False, False), (True, True)])
def test_released_right_after_the_client_died(emulator: Factory, after_apply: bool, applied: bool) -> None:
    # A crash test kills the client, then releases at once: the hold must still see the client gone, so that a
    # request held before Elasticsearch acted is never applied.
    srv = emulator(V91)
    body = json.dumps(openai_body(None)).encode()
    for attempt in range(20):
        inference_id = f"raced-{attempt}"
        hold = srv.faults.hold("PUT", rf"/_inference/text_embedding/{inference_id}", after_apply=after_apply)
        sock = held_socket(srv, "PUT", f"/_inference/text_embedding/{inference_id}", body)
        assert hold.wait_held(HOLD_WAIT)
        sock.close()
        hold.release()
        assert hold.wait_finished(HOLD_WAIT)
        assert hold.state == "disconnected", attempt
        assert (srv.state.endpoint(inference_id) is not None) is applied, attempt


def test_query_parameters_tell_a_dry_run_from_a_delete(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    real_delete = srv.faults.hold("DELETE", r"/_inference/ep", query={"dry_run": None}, after_apply=True)
    dry_run = srv.faults.hold("DELETE", r"/_inference/ep", query={"dry_run": "true"})
    thread, result = in_background(lambda: call(srv, "DELETE", "/_inference/ep?dry_run=true", timeout=20))
    assert dry_run.wait_held(HOLD_WAIT)
    assert real_delete.state == "pending"  # the dry run did not take it
    dry_run.release()
    thread.join(HOLD_WAIT)
    assert result[0].json["acknowledged"] is False
    thread, result = in_background(lambda: call(srv, "DELETE", "/_inference/ep", timeout=20))
    assert real_delete.wait_held(HOLD_WAIT)
    assert srv.state.endpoint("ep") is None  # deleted, answer held
    real_delete.release()
    thread.join(HOLD_WAIT)
    assert result[0].json["acknowledged"] is True
    answer = call(srv, "POST", "/_emulator/holds", {"method": "DELETE", "query": {"force": "true"}}, auth=None)
    assert answer.json["query"] == {"force": "true"}
    assert call(srv, "POST", "/_emulator/holds", {"query": {"force": True}}, auth=None).status == 400
