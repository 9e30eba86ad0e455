"""Fixtures for the tests on the node: an Elasticsearch emulator listening inside the node's network namespace,
on the node's address (pods reach it there, and it sees each pod's address as the peer: the request log tells
replicas apart), reached from this process through a relay; and helm."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testbed.node.node import NODE_IP, Node
from tests.helm.support import Helm, find_helm
from tests.support import ES_USER

if TYPE_CHECKING:
    from es_emulator import EmulatorServer
    from es_emulator.faults import RequestLog

ES_PORT_ON_NODE = 9200


@dataclass
class NodeEmulator:
    """The emulator in the node, and the URL this process reaches it at."""

    server: EmulatorServer
    url: str

    @property
    def requests(self) -> RequestLog:
        return self.server.requests


@pytest.fixture(scope="session")
def node_emulator(node: Node) -> Iterator[NodeEmulator]:
    """An emulator (9.1.0, security on) for the whole session, at ``http://<node address>:9200`` for pods."""
    from es_emulator import EmulatorServer, User

    server = EmulatorServer(
        version="9.1.0", host=NODE_IP, port=ES_PORT_ON_NODE, security=True, users=[User(*ES_USER, roles=["superuser"])]
    )
    node.inside(server.start)
    try:
        yield NodeEmulator(server, f"http://{node.reach(NODE_IP, ES_PORT_ON_NODE)}")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def node_helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(find_helm(), Path(tmp_path_factory.mktemp("helm-home")))
