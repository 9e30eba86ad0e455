"""The shared end-to-end fixtures (tests/conftest.py) on one Elasticsearch profile only: the health check reads
what the operator writes, which does not depend on the server's version."""

from __future__ import annotations

import pytest


@pytest.fixture
def es_version() -> str:
    return "9.1.0"
