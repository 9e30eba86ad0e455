"""Fixtures for the tests on the node: an Elasticsearch emulator that the operator's pods reach at the node's
address (a relay from the node's network namespace to the emulator on this process's loopback), and helm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testbed.node.node import Node
from tests.helm.support import Helm, find_helm
from tests.support import ES_USER

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

ES_PORT_ON_NODE = 9200


@pytest.fixture(scope="session")
def node_emulator(node: Node) -> Iterator[EmulatorServer]:
    """An emulator (9.1.0, security on) for the whole session, at ``http://<node address>:9200`` for pods."""
    from es_emulator import EmulatorServer, User

    with EmulatorServer(version="9.1.0", security=True, users=[User(*ES_USER, roles=["superuser"])]) as server:
        node.expose_to_pods(("127.0.0.1", server.port), port=ES_PORT_ON_NODE)
        yield server


@pytest.fixture(scope="session")
def node_helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(find_helm(), Path(tmp_path_factory.mktemp("helm-home")))
