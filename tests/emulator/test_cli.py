"""``python -m es_emulator``: foreground server, one line with URL and version, clean stop on signals."""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from es_emulator.__main__ import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError("the emulator printed nothing")
    return proc.stdout.readline().strip()


def get(url: str, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def run_cli() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "es_emulator", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    procs.append(proc)
    return proc


def wait_answering(url: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/_emulator", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_cli_serves_until_sigterm(run_cli: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    proc = start(run_cli, "--port", str(port), "--version", "8.17.0", "--user", "alice:pw:inference_admin")
    url = f"http://127.0.0.1:{port}"
    assert read_line(proc) == f"es-emulator listening on {url} (Elasticsearch 8.17.0, security on)"
    wait_answering(url)
    status, body = get(f"{url}/_inference", auth=("alice", "pw"))
    assert (status, [e["inference_id"] for e in body["endpoints"]]) == (  # type: ignore[attr-defined]
        200,
        [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"],
    )
    assert get(f"{url}/_inference")[0] == 401
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_cli_without_security_stops_on_ctrl_c(run_cli: list[subprocess.Popen[str]]) -> None:
    proc = start(run_cli, "--port", "0", "--no-security", "--cluster-uuid", "cli-cluster-uuid")
    line = read_line(proc)
    assert line.startswith("es-emulator listening on http://127.0.0.1:")
    assert line.endswith("(Elasticsearch 9.1.0, security off)")
    url = line.split()[3]
    wait_answering(url)
    status, body = get(url + "/")
    assert (status, body["tagline"], body["cluster_uuid"]) == (200, "You Know, for Search", "cli-cluster-uuid")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version", "nine"])
    assert caught.value.code == 2
    assert "version must look like X.Y.Z" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--user", "no-password"])


def test_cli_reports_a_busy_port(run_cli: list[subprocess.Popen[str]]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        proc = start(run_cli, "--port", str(sock.getsockname()[1]))
        assert proc.wait(20) == 1
        assert proc.stderr is not None
        assert "cannot listen" in proc.stderr.read()
