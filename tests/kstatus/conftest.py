"""The status tests need testbed/statuscheck: found or built once after collection, outside any test's timeout
(a cold build takes minutes), like the control plane in tests/conftest.py."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from .statuscheck import find_statuscheck

HERE = Path(__file__).resolve().parent


@pytest.fixture
def es_version() -> str:
    # What the operator writes does not depend on the server's version: one profile is enough.
    return "9.1.0"


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any(HERE in Path(str(item.path)).parents for item in session.items):
        capture = session.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            find_statuscheck()
