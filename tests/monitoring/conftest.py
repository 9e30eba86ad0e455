"""Fixtures for the monitoring tests: promtool and helm (built or found once, before the first test), the
Prometheus Operator's CRDs on the session's control plane, one Elasticsearch profile (what the operator exposes
does not depend on the server's version)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from testbed.controlplane import ControlPlane
from tests.helm.support import Helm, find_helm

from .support import find_promtool, prometheus_operator_crds

MONITORING_TESTS = Path(__file__).resolve().parent


def pytest_collection_finish(session: pytest.Session) -> None:
    # Build (or find in the cache) promtool and helm before the first test runs, so that a cold build is not
    # charged to a test's timeout. Only when a selected test is in this folder.
    if session.config.option.collectonly:
        return
    if any(Path(str(item.path)).is_relative_to(MONITORING_TESTS) for item in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            find_promtool()
            find_helm()


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(binary=find_helm(), home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def monitoring_crds(control_plane: ControlPlane) -> None:
    """ServiceMonitor, PodMonitor and PrometheusRule (monitoring.coreos.com/v1) in the control plane, as in a
    cluster that runs the Prometheus Operator."""
    control_plane.install_crds(prometheus_operator_crds())


@pytest.fixture
def es_version() -> str:
    return "9.1.0"
