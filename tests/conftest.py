"""Shared pytest fixtures for the whole suite.

* ``control_plane`` (session): a real etcd + kube-apiserver with the repository's ``crds/`` installed,
  started the first time a test asks for it. Tests that use it (directly or through another fixture) are
  marked ``e2e``.
* ``namespace`` (function): a fresh namespace ``t-<8 hex>`` per test. Namespaces are never deleted: without
  kube-controller-manager a deleted namespace stays ``Terminating`` forever, and the control plane is thrown
  away at the end of the session anyway.

When the selected tests need the control plane, its binaries are found (or built, 15-25 min when cold) once
after collection, outside any test's timeout.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator

import pytest

from testbed.controlplane import REPO_ROOT, ControlPlane, find_binaries

CRDS_DIR = REPO_ROOT / "crds"


def _uses_control_plane(item: pytest.Item) -> bool:
    return "control_plane" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_control_plane(item):
            item.add_marker(pytest.mark.e2e)


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


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """A started control plane (admin kubeconfig, built kubectl) with the repository's CRDs installed."""
    with ControlPlane() as cp:
        cp.install_crds(CRDS_DIR)
        yield cp


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
