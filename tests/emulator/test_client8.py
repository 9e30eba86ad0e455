"""The 8.x official client works against both an 8.x and a 9.x profile (reference §6.2): it sends
``compatible-with=8``, which 8.x takes as current and 9.x as the previous major."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .client8 import run_with_client8
from .conftest import V91, V819, Factory

PROBE = Path(__file__).with_name("client8_probe.py")


@pytest.mark.parametrize("version", [V819, V91])
def test_8x_client_against_profile(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    result = run_with_client8(PROBE, srv.url)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    reason = (
        "Inference endpoint probe is referenced by pipelines: [probe-pipeline]. Ensure that no pipelines are using "
        "this inference endpoint, or use force to ignore this warning and delete the inference endpoint."
    )
    assert seen == {
        "client": "8.19.3",
        "server": version,
        "get": ["probe"],
        "conflict": f"ConflictError(409, 'status_exception', {reason!r})",
        "dry_run": {"acknowledged": False, "pipelines": ["probe-pipeline"], "indexes": [], "error_message": reason},
        "force": {"acknowledged": True, "pipelines": [], "indexes": []},
    }
    sent = {r.path for r in srv.requests.snapshot()}
    assert "/_inference/text_embedding/probe" in sent
