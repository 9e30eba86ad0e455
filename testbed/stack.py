"""The operator as a process of its own, and a plain HTTP helper for Elasticsearch, for tests and the demo.

The operator runs exactly as users run it (`python -m es_inference_operator`), configured by environment
variables, against whatever kubeconfig and Elasticsearch it is given.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from testbed.process import die_with_parent_preexec

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], *, timeout: float, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds saying what was awaited."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as err:  # a check may fail while the thing is still coming up
            last_error = err
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}{suffix}")
        time.sleep(interval)


class OperatorProcess:
    """`python -m es_inference_operator` in a subprocess, its output in a log file."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        log_path: Path,
        namespaces: tuple[str, ...] = (),
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.namespaces = namespaces
        self.extra_args = extra_args
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> OperatorProcess:
        """Start it and wait until it is ready (/readyz): alone, once kopf watches; with leader election, as a
        standby already (`wait_leading` waits for the Lease)."""
        args = [
            sys.executable,
            "-m",
            "es_inference_operator",
            "--liveness",
            f"http://127.0.0.1:{self.liveness_port}/healthz",
            *self.extra_args,
        ]
        for namespace in self.namespaces:
            args += ["--namespace", namespace]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Ended by the kernel if the test run or demo that started it dies without cleaning up.
            preexec = die_with_parent_preexec if sys.platform == "linux" else None
            self.process = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec
            )
        try:
            wait_for("the operator's readiness endpoint", self._ready, timeout=timeout, interval=0.1)
        except TimeoutError as err:
            self.stop()
            raise RuntimeError(f"{err}\n--- operator log ---\n{self.log_tail()}") from None
        return self

    def _get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.liveness_port}{path}", timeout=1) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def _running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the operator exited with {self.process.returncode}:\n{self.log_tail()}")

    def _ready(self) -> bool:
        self._running()
        try:
            return self._get("/readyz")[0] == 200
        except OSError:
            return False

    def readiness(self) -> dict[str, Any]:
        """What /readyz says: ready, leaderElection, leading, identity, started (kopf watches)."""
        return dict(self._get("/readyz")[1])

    def wait_leading(self, timeout: float) -> dict[str, Any]:
        """Until this process leads and kopf has started; its /readyz answer."""

        def leading() -> dict[str, Any] | None:
            self._running()
            state = self.readiness()
            return state if state["leading"] and state["started"] else None

        return wait_for("the operator to lead", leading, timeout=timeout, interval=0.05)

    def metrics_text(self) -> str:
        """Its Prometheus metrics (OPERATOR_METRICS_PORT must be set to a port)."""
        port = int(self.env.get("OPERATOR_METRICS_PORT", "0"))
        assert port, "OPERATOR_METRICS_PORT is not set"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def terminate(self) -> None:
        """SIGTERM, as the kubelet sends it; returns at once (`wait_exit` waits)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """An abrupt end, as when a node dies: no cleanup handlers run."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def operator_env(
    base: Mapping[str, str],
    *,
    es_url: str,
    username: str | None = None,
    password: str | None = None,
    **settings: str,
) -> dict[str, str]:
    """The operator's configuration variables on top of `base` (which carries KUBECONFIG)."""
    env = dict(base)
    env["ELASTICSEARCH_URL"] = es_url
    if username:
        env["ELASTICSEARCH_USERNAME"] = username
        env["ELASTICSEARCH_PASSWORD"] = password or ""
    env.setdefault("OPERATOR_METRICS_PORT", "0")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def es_request(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    auth: tuple[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    """One Elasticsearch request as plain JSON over HTTP: (status, parsed body). For test setup and checks
    on both 8.x and 9.x servers, where a 9.x client would be refused by an 8.x server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def python_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) with the repository on PYTHONPATH, so that subprocesses find testbed/."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root()), env.get("PYTHONPATH")]))
    return env
