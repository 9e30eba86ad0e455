"""The suite looks for (or builds) the control plane only when a selected test needs it: `make test-fast` relies
on that to build nothing on a fresh machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from testbed.controlplane import REPO_ROOT

E2E_FILE = "tests/testbed/test_controlplane.py"
NO_CONTROL_PLANE_TEST = "tests/testbed/test_build_controlplane.py::test_kubebuilder_assets_is_used_as_it_is"


def run_pytest(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a fresh process on a machine with no binaries: an empty cache, no overrides and no `go`, so
    that any attempt to find or build them fails at once instead of building for minutes."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "KUBEBUILDER_ASSETS" and not key.startswith("TEST_ASSET_")
    }
    env.update(HOME=str(home), ES_OPERATOR_CACHE=str(home / "cache"), PATH="/usr/bin:/bin")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deselecting_the_e2e_tests_finds_no_binaries(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "-m", "not e2e", E2E_FILE, NO_CONTROL_PLANE_TEST)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
    assert "Building the control plane" not in result.stdout + result.stderr


def test_selecting_an_e2e_test_looks_for_the_binaries(tmp_path: Path) -> None:
    """The control for the test above: the same machine fails as soon as a selected test needs the binaries."""
    result = run_pytest(tmp_path, f"{E2E_FILE}::test_server_is_the_pinned_kubernetes")
    assert result.returncode != 0
    assert "build-controlplane.sh failed" in result.stdout + result.stderr
