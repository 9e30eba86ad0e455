"""The end-to-end fixtures of tests/e2e (operator, emulator, kubectl), on one Elasticsearch profile only: the
health check reads what the operator writes, which does not depend on the server's version."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import emulator, kube, pytest_runtest_makereport, stack

__all__ = ["emulator", "es_version", "kube", "pytest_runtest_makereport", "stack"]


@pytest.fixture
def es_version() -> str:
    return "9.1.0"
