"""The health endpoints' address (--liveness): liveness at its path, readiness at /readyz beside it."""

from __future__ import annotations

import pytest

from es_inference_operator.health import parse_address


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://0.0.0.0:8081/healthz", ("0.0.0.0", 8081, "/healthz")),
        ("http://127.0.0.1:9000/live", ("127.0.0.1", 9000, "/live")),
        ("http://:8081", ("0.0.0.0", 8081, "/healthz")),
    ],
)
def test_parse_address(url: str, expected: tuple[str, int, str]) -> None:
    assert parse_address(url) == expected


@pytest.mark.parametrize(
    "url", ["https://0.0.0.0:8081/healthz", "http://0.0.0.0/healthz", "http://0.0.0.0:8081/readyz"]
)
def test_refused(url: str) -> None:
    with pytest.raises(ValueError, match="liveness"):
        parse_address(url)
