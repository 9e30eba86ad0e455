"""Fixtures for the tests on the node: an Elasticsearch emulator listening inside the node's network namespace,
on the node's address (pods reach it there, and it sees each pod's address as the peer: the request log tells
replicas apart), reached from this process through a relay; and helm."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testbed.binaries import REPO_ROOT
from testbed.node.node import NODE_IP, Node
from tests.helm.support import Helm, find_helm
from tests.support import ES_USER

if TYPE_CHECKING:
    from es_emulator import EmulatorServer
    from es_emulator.faults import RequestLog

ES_PORT_ON_NODE = 9200
CRD = "inferenceendpoints.inference.es-operator.dev"


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


@pytest.fixture
def clean_node(node: Node, node_helm: Helm, node_emulator: NodeEmulator) -> Iterator[None]:
    """After the test, the node as it was found (whether the test passed or not)."""
    yield
    reset_node(node, node_helm, node_emulator)


@pytest.fixture(scope="session")
def node_helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(find_helm(), Path(tmp_path_factory.mktemp("helm-home")))


def reset_node(node: Node, helm: Helm, emulator: NodeEmulator) -> None:
    """Leave the node as a test found it: no release, no operator, no CRD (the resources' finalizers taken off
    first: no operator is left to), none of the tests' namespaces; the emulator empty."""
    cp = node.control_plane
    helm.run("uninstall", "es-inference-operator", "-n", "es-inference-operator", "--wait", cp=cp, check=False)
    if cp.kubectl("get", "crd", CRD, "--ignore-not-found", "-o", "name").stdout.strip():
        listed = cp.kubectl_json("get", "inferenceendpoints", "--all-namespaces")["items"]
        for item in listed:
            meta = item["metadata"]
            cp.kubectl(
                "patch", "inferenceendpoint", meta["name"], "-n", meta["namespace"], "--type=merge",
                "-p", '{"metadata":{"finalizers":null}}', check=False,
            )  # fmt: skip
        cp.kubectl("delete", "crd", CRD, "--timeout=60s", check=False)
    manifests = REPO_ROOT / "manifests" / "default"
    cp.kubectl("delete", "-k", str(manifests), "--ignore-not-found", "--timeout=60s", check=False)
    names = cp.kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    ours = [n for n in names if n not in ("default", "kube-system", "kube-public", "kube-node-lease")]
    if ours:
        cp.kubectl("delete", "namespace", *ours, "--timeout=120s", timeout=130)
    emulator.server.requests.clear()
    emulator.server.state.reset()
