"""Small modules, as the issues ask: no file of the operator package or of the test bed over 400 lines (a file
that grows past it holds more than one job; split it by job, as controlplane.py and reconciler.py were)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.controlplane import REPO_ROOT

LIMIT = 400


@pytest.mark.parametrize("folder", ["operator/es_inference_operator", "testbed"])
def test_no_file_over_the_limit(folder: str) -> None:
    files = sorted((REPO_ROOT / folder).rglob("*.py"))
    assert files
    too_long = {str(p.relative_to(REPO_ROOT)): n for p in files if (n := _lines(p)) > LIMIT}
    assert not too_long, f"over {LIMIT} lines: {too_long}"


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())
