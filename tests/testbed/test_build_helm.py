"""testbed/build-helm.sh finds helm like build-controlplane.sh finds the control plane: TEST_ASSET_HELM first,
then a complete cache entry, and builds nothing when it need not."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "testbed" / "build-helm.sh"


def fake_helm(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No `go` on PATH: any attempt to build would fail loudly.
    base = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(
        ["bash", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )


def helm_version() -> str:
    versions = dict(
        line.split("=", 1)
        for line in (SCRIPT.parent / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return versions["HELM_VERSION"]


def test_test_asset_helm_is_used_as_it_is(tmp_path: Path) -> None:
    helm = fake_helm(tmp_path / "mine" / "helm")
    result = run({"TEST_ASSET_HELM": str(helm), "ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(helm)


def test_test_asset_helm_that_is_not_an_executable_file_is_an_error(tmp_path: Path) -> None:
    for wrong in (tmp_path / "missing", tmp_path):  # a folder is "executable" too
        result = run({"TEST_ASSET_HELM": str(wrong)})
        assert result.returncode == 1 and "is not an executable file" in result.stderr, wrong


def test_a_complete_cache_entry_is_used_without_building(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "helm" / helm_version()
    helm = fake_helm(entry / "helm")
    (entry / ".complete").touch()
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [str(helm)]


def test_an_incomplete_cache_entry_is_built_again(tmp_path: Path) -> None:
    """Without the .complete stamp (an interrupted build), the script builds: here it fails, having no Go."""
    fake_helm(tmp_path / "cache" / "helm" / helm_version() / "helm")
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode != 0 and "Building helm" in result.stderr
