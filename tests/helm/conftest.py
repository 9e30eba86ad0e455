"""Fixtures for the Helm chart's tests: the helm CLI built from the pinned Go module (testbed/build-helm.sh),
with its own config, cache and data folders; one Elasticsearch profile (the chart does not change what the
operator says to Elasticsearch, tests/e2e covers the versions)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from .support import Helm, find_helm

HELM_TESTS = Path(__file__).resolve().parent


def pytest_collection_finish(session: pytest.Session) -> None:
    # Build (or find in the cache) helm before the first test runs, so that a cold build is not charged to
    # that test's timeout. Only when a selected test is in this folder.
    if session.config.option.collectonly:
        return
    if any(Path(str(item.path)).is_relative_to(HELM_TESTS) for item in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            find_helm()


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(binary=find_helm(), home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture
def es_version() -> str:
    return "9.1.0"
