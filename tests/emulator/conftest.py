"""Emulators for the conformance tests: one per (version, security) for the whole session, reset before each
test that asks for one."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from es_emulator import ApiKey, EmulatorServer, Role, User
from es_emulator.restspec import RestSpec
from testbed.restspec import rest_api_spec

# One version per profile (reference §0); ALL covers every profile.
V815, V816, V817, V818, V819, V90, V91, V95 = (
    "8.15.0",
    "8.16.0",
    "8.17.0",
    "8.18.0",
    "8.19.0",
    "9.0.0",
    "9.1.0",
    "9.5.0",
)
ALL = [V815, V816, V817, V818, V819, V90, V91, V95]
# Profiles that differ from 9.1 only in chunking rules (§10.1): no upper chunk size from 9.2, new wording from 9.3.
V92, V93 = "9.2.0", "9.3.0"

USERS = [
    User("elastic", "changeme", roles=["superuser"]),
    User("admin", "admin-pw", roles=["inference_admin"]),
    User("viewer", "viewer-pw", roles=["inference_user"]),
    User("nobody", "nobody-pw", roles=[]),
    User("ghost", "ghost-pw", roles=["inference_user", "no_such_role"]),
    User("piper", "piper-pw", roles=["pipelines"]),
    User("reader", "reader-pw", roles=["pipeline_reader"]),
]
ROLES = [Role("pipelines", cluster=["manage_ingest_pipelines"]), Role("pipeline_reader", cluster=["read_pipeline"])]
API_KEYS = [
    ApiKey(id="key-all", key="secret-all", owner="elastic"),
    ApiKey(id="key-view", key="secret-view", owner="elastic", roles=["inference_user"]),
]

Factory = Callable[..., EmulatorServer]


@pytest.fixture(scope="session")
def _servers() -> Iterator[dict[tuple[str, bool], EmulatorServer]]:
    servers: dict[tuple[str, bool], EmulatorServer] = {}
    yield servers
    for srv in servers.values():
        srv.stop()


@pytest.fixture
def emulator(_servers: dict[tuple[str, bool], EmulatorServer]) -> Factory:
    """``emulator(version, security=True)``: a started emulator with empty state, no faults, empty log."""

    def get(version: str = V91, security: bool = True) -> EmulatorServer:
        srv = _servers.get((version, security))
        if srv is None:
            srv = EmulatorServer(version=version, security=security, users=USERS, api_keys=API_KEYS, roles=ROLES)
            _servers[(version, security)] = srv.start()
        if not srv.is_up:
            srv.up()
        srv.state.reset()
        srv.cluster_formed = True
        srv.faults.clear()
        srv.requests.clear()
        return srv

    return get


@pytest.fixture(scope="session")
def spec() -> RestSpec:
    """Elasticsearch's published REST API spec at the pinned version (testbed/fetch-rest-api-spec.sh)."""
    return rest_api_spec()
