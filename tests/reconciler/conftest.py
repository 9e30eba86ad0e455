"""Fixtures of the fast reconciler tests: an emulator per test, no control plane."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from es_emulator import EmulatorServer, User

from .world import ES_USER


@pytest.fixture(params=["8.19.0", "9.1.0"])
def es_version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def es(es_version: str) -> Iterator[EmulatorServer]:
    from testbed.restspec import held_to_spec

    with EmulatorServer(version=es_version, users=[User(*ES_USER, roles=["superuser"])]) as server:
        yield from held_to_spec(server)  # every request the reconciler sends is in Elasticsearch's REST spec
