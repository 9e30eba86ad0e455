"""Fixtures of the high-availability tests: one Elasticsearch profile (leader election does not change what the
operator says to Elasticsearch; tests/e2e covers the versions), with a user of its own for each replica, so that
the emulator's request log says which replica sent what."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testbed.controlplane import ControlPlane
from tests.support import ES_USER

from .support import REPLICAS, Replicas

if TYPE_CHECKING:
    from es_emulator import EmulatorServer


@pytest.fixture
def es_version() -> str:
    return "9.1.0"


@pytest.fixture
def emulator(es_version: str) -> Iterator[EmulatorServer]:
    from es_emulator import EmulatorServer, User

    users = [User(*ES_USER, roles=["superuser"]), *(User(name, name, roles=["superuser"]) for name in REPLICAS)]
    with EmulatorServer(version=es_version, security=True, users=users) as srv:
        yield srv


@pytest.fixture
def replicas(
    control_plane: ControlPlane,
    namespace: str,
    emulator: EmulatorServer,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Replicas]:
    """Replicas started by the test (`replicas.start(name)`), all stopped at the end; their logs shown when the
    test failed."""
    started = Replicas(control_plane, namespace, emulator, tmp_path)
    yield started
    started.stop_all()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for process in started.started:
            print(f"--- {process.log_path} ---\n{process.log_tail(80)}")
