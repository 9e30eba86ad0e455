"""testbed/build-statuscheck.sh finds statuscheck like build-controlplane.sh finds the control plane:
TEST_ASSET_STATUSCHECK first, then a complete cache entry keyed by the module's sources, and builds nothing when
it need not."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "testbed" / "build-statuscheck.sh"


def fake_binary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No `go` on PATH: any attempt to build fails loudly.
    base = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(
        ["bash", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )


def cache_entry(cache: Path) -> Path:
    """The folder the script would build into (it says so before it tries, and fails here without Go)."""
    result = run({"ES_OPERATOR_CACHE": str(cache)})
    assert result.returncode != 0
    found = re.search(r"Building statuscheck into (\S+)", result.stderr)
    assert found, result.stderr
    return Path(found.group(1))


def test_test_asset_statuscheck_is_used_as_it_is(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path / "mine" / "statuscheck")
    result = run({"TEST_ASSET_STATUSCHECK": str(binary), "ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(binary)


def test_test_asset_statuscheck_that_is_not_an_executable_file_is_an_error(tmp_path: Path) -> None:
    for wrong in (tmp_path / "missing", tmp_path):
        result = run({"TEST_ASSET_STATUSCHECK": str(wrong)})
        assert result.returncode == 1 and "is not an executable file" in result.stderr, wrong


def test_the_cache_entry_is_keyed_by_toolchain_and_sources_outside_the_tree(tmp_path: Path) -> None:
    entry = cache_entry(tmp_path / "cache")
    assert entry.parent == tmp_path / "cache" / "statuscheck"
    assert re.fullmatch(r"go1\.\d+\.\d+_[0-9a-f]{12}", entry.name), entry.name


def test_a_complete_cache_entry_is_used_without_building(tmp_path: Path) -> None:
    entry = cache_entry(tmp_path / "cache")
    binary = fake_binary(entry / "statuscheck")
    (entry / ".complete").touch()
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [str(binary)]


def test_an_incomplete_cache_entry_is_built_again(tmp_path: Path) -> None:
    """Without the .complete stamp (an interrupted build), the script builds: here it fails, having no Go."""
    entry = cache_entry(tmp_path / "cache")
    fake_binary(entry / "statuscheck")
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode != 0 and "Building statuscheck" in result.stderr
