"""Shared pytest fixtures for the whole suite.

* ``control_plane`` (session): a real etcd + kube-apiserver with the repository's ``crds/`` installed,
  started the first time a test asks for it. Tests that use it (directly or through another fixture) are
  marked ``e2e``.
* ``control_plane_with_controllers`` (session): another control plane, with kube-controller-manager (namespace
  deletion completes, garbage collection, ServiceAccounts) and no kubelet.
* ``node`` (session): a one-node cluster (control plane, kube-controller-manager, kube-scheduler, containerd,
  kubelet, kube-proxy) in namespaces of its own, with the operator's image built from the Dockerfile imported
  (``testbed/node``). Tests that use it are marked ``e2e`` and ``node``.
* ``namespace`` (function): a fresh namespace ``t-<8 hex>`` per test. Namespaces are never deleted: without
  kube-controller-manager a deleted namespace stays ``Terminating`` forever, and the control plane is thrown
  away at the end of the session anyway.

* ``es_version`` (parametrized over an 8.x and a 9.x profile; a folder or test may override it), ``emulator``
  (an Elasticsearch emulator of that version), ``kube`` (kubectl in the test's namespace) and ``stack`` (the
  operator as a process, watching only the test's namespace, against the emulator): so that tests never see
  each other's resources.

When the selected tests need the control plane, its binaries are found (or built: with empty Go caches at
least 11 minutes on 2 idle cores, see the README) once after collection, outside any test's timeout.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testbed.controlplane import REPO_ROOT, ControlPlane, find_binaries
from testbed.node.images import OperatorImages, find_operator_images
from testbed.node.node import Node

from .support import ES_USER, Kube, Stack

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

CRDS_DIR = REPO_ROOT / "crds"

# An 8.x and a 9.x server: the 9.x client the operator uses must cope with both (see the gateway).
PROFILES = ["8.19.0", "9.1.0"]


_CONTROL_PLANES = ("control_plane", "control_plane_with_controllers", "node")


def _uses_control_plane(item: pytest.Item) -> bool:
    return any(name in getattr(item, "fixturenames", ()) for name in _CONTROL_PLANES)


def _uses(item: pytest.Item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_control_plane(item):
            item.add_marker(pytest.mark.e2e)
        if _uses(item, "node"):
            item.add_marker(pytest.mark.node)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Build (or find in the cache) the binaries before the first test runs, so that a cold build is not
    # charged to that test's timeout. Only when a selected test needs them.
    if session.config.option.collectonly:
        return
    if any(_uses_control_plane(item) or item.get_closest_marker("e2e") for item in session.items):
        # Show a build's progress on the terminal rather than capturing it.
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            find_binaries()
            if any(_uses(item, "node") or _uses(item, "control_plane_with_controllers") for item in session.items):
                from testbed.node.assets import find_node_assets

                find_node_assets()
            if any(_uses(item, "node") or _uses(item, "operator_images") for item in session.items):
                find_operator_images()


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A started control plane (admin kubeconfig, built kubectl) with the repository's CRDs installed."""
    with ControlPlane() as cp:
        cp.install_crds(CRDS_DIR)
        yield cp


@pytest.fixture(scope="session")
def control_plane_with_controllers() -> Iterator[ControlPlane]:
    """A control plane with kube-controller-manager (no kubelet): `kubectl delete namespace` completes."""
    with ControlPlane(controller_manager=True) as cp:
        cp.install_crds(CRDS_DIR)
        yield cp


@pytest.fixture(scope="session")
def operator_images() -> OperatorImages:
    """The operator's image built from the Dockerfile by testbed/build-image.sh (OCI archives, two tags)."""
    return find_operator_images()


@pytest.fixture(scope="session")
def node() -> Iterator[Node]:
    """A one-node cluster with the operator's images in containerd (nothing of the repository installed)."""
    with Node() as started:
        yield started
    assert not started.leftovers, f"the node left behind: {started.leftovers}"


@pytest.fixture(scope="session")
def eck_crds(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> None:
    """ECK's Elasticsearch CRD (v3.5.0, pinned in testbed/eck; fetched once into the cache) in the control plane,
    as in a cluster that runs ECK."""
    from testbed.eck import ELASTICSEARCH_CRD, eck_crd_file

    control_plane.install_crds(eck_crd_file(tmp_path_factory.mktemp("eck"), ELASTICSEARCH_CRD))


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> str:
    """A new, uniquely named namespace for this test (left in place afterwards)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"testbed/test": "true"},
            "annotations": {"testbed/nodeid": request.node.nodeid},
        },
    }
    control_plane.kubectl("create", "-f", "-", input=json.dumps(manifest))
    return name


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
    from testbed.restspec import held_to_spec

    with EmulatorServer(
        version=es_version,
        security=True,
        users=[User(*ES_USER, roles=["superuser"]), User("viewer", "viewer-pw", roles=["inference_user"])],
    ) as srv:
        # Every request it receives (the operator's, the test's own) must be in Elasticsearch's REST spec for this
        # version: else the test errors at teardown, naming the requests.
        yield from held_to_spec(srv)


@pytest.fixture
def kube(control_plane: ControlPlane, namespace: str) -> Kube:
    return Kube(control_plane, namespace)


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
