"""Fixtures for the operator's end-to-end tests: an Elasticsearch emulator, the operator as a process, and a
namespace-bound kubectl.

Each test gets its own namespace, emulator and operator (watching only that namespace), so that tests never
see each other's resources; the control plane is shared by the session.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, free_port, operator_env

from .support import ES_USER, FAST_OPERATOR_SETTINGS, Kube

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

# An 8.x and a 9.x server: the 9.x client the operator uses must cope with both (see the gateway).
PROFILES = ["8.19.0", "9.1.0"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(params=PROFILES)
def es_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emulator(es_version: str) -> Iterator[EmulatorServer]:
    from es_emulator import EmulatorServer, User

    with EmulatorServer(
        version=es_version,
        security=True,
        users=[User(*ES_USER, roles=["superuser"]), User("viewer", "viewer-pw", roles=["inference_user"])],
    ) as srv:
        yield srv


@pytest.fixture
def kube(control_plane: ControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


@dataclass
class Stack:
    """The operator under test with its Elasticsearch, and helpers to start it again or differently."""

    cp: ControlPlane
    namespace: str
    es: EmulatorServer
    log_dir: Path
    operator: OperatorProcess | None = None
    metrics_port: int = 0

    def start_operator(self, user: str | None = None, **settings: str) -> OperatorProcess:
        self.metrics_port = free_port()
        env = operator_env(
            self.cp.env(user),
            es_url=self.es.url,
            username=ES_USER[0],
            password=ES_USER[1],
            **{**FAST_OPERATOR_SETTINGS, "OPERATOR_METRICS_PORT": str(self.metrics_port), **settings},
        )
        count = len(list(self.log_dir.glob("operator-*.log")))
        self.operator = OperatorProcess(
            env=env, log_path=self.log_dir / f"operator-{count}.log", namespaces=(self.namespace,)
        ).start()
        return self.operator

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def es_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return es_request(self.es.url, method, path, body, auth=ES_USER)

    def endpoint(self, inference_id: str) -> dict[str, Any] | None:
        status, body = self.es_call("GET", f"/_inference/{inference_id}")
        return dict(body["endpoints"][0]) if status == 200 else None


@pytest.fixture
def stack(
    control_plane: ControlPlane,
    namespace: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    """The operator running against `emulator`, watching this test's namespace only."""
    stack = Stack(control_plane, namespace, emulator, tmp_path)
    stack.start_operator()
    yield stack
    if stack.operator is not None:
        stack.operator.stop()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            print(f"--- operator log ({stack.operator.log_path}) ---\n{stack.operator.log_tail(120)}")
