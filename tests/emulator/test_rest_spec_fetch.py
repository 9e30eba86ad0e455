"""testbed/fetch-rest-api-spec.sh: REST_API_SPEC_DIR first, then a complete cache entry, else the pinned jar from
Maven Central, kept only when its SHA-256 is the pinned one. Offline: a stand-in curl serves the jar."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

TESTBED = Path(__file__).resolve().parents[2] / "testbed"
SCRIPT = TESTBED / "fetch-rest-api-spec.sh"


def pinned() -> dict[str, str]:
    lines = (TESTBED / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(
        ["bash", str(script)], env={**base, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def a_jar() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("rest-api-spec/api/_common.json", '{"params": {}}')
        jar.writestr("rest-api-spec/api/inference.delete.json", "{}")
        jar.writestr("rest-api-spec/test/inference/10_basic.yml", "---\n")
    return buffer.getvalue()


def offline_testbed(tmp_path: Path, jar: bytes, sha256: str) -> tuple[Path, dict[str, str]]:
    """A copy of the script with its versions.env pinning ``sha256``, and a curl on PATH that serves ``jar`` and
    logs the URL it was asked for."""
    testbed = tmp_path / "testbed"
    testbed.mkdir()
    shutil.copy(SCRIPT, testbed)
    env_lines = [
        f"REST_API_SPEC_SHA256={sha256}" if line.startswith("REST_API_SPEC_SHA256=") else line
        for line in (TESTBED / "versions.env").read_text().splitlines()
    ]
    (testbed / "versions.env").write_text("\n".join(env_lines) + "\n")
    (tmp_path / "served.jar").write_bytes(jar)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(
        "#!/bin/bash\n"
        'while [ $# -gt 0 ]; do case "$1" in --output) out=$2; shift 2;; http*) url=$1; shift;; *) shift;; esac; done\n'
        f'echo "$url" >> {tmp_path}/urls\n'
        f'cp {tmp_path}/served.jar "$out"\n'
    )
    curl.chmod(0o755)
    return testbed / SCRIPT.name, {"PATH": f"{bin_dir}:/usr/bin:/bin", "ES_OPERATOR_CACHE": str(tmp_path / "cache")}


def test_rest_api_spec_dir_is_used_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "_common.json").write_text("{}")
    (tmp_path / "inference.delete.json").write_text("{}")
    result = run(SCRIPT, {"REST_API_SPEC_DIR": str(tmp_path), "ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path)
    result = run(SCRIPT, {"REST_API_SPEC_DIR": str(tmp_path / "cache")})
    assert result.returncode == 1 and "has no _common.json" in result.stderr


def test_a_complete_cache_entry_is_used_without_fetching(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "rest-api-spec" / pinned()["REST_API_SPEC_VERSION"]
    (entry / "api").mkdir(parents=True)
    (entry / "api" / "_common.json").write_text("{}")
    (entry / ".complete").touch()
    result = run(SCRIPT, {"ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip().splitlines() == [str(entry / "api")]


def test_the_pinned_jar_is_fetched_checked_and_only_its_api_files_kept(tmp_path: Path) -> None:
    jar = a_jar()
    script, env = offline_testbed(tmp_path, jar, hashlib.sha256(jar).hexdigest())
    result = run(script, env)
    assert result.returncode == 0, result.stderr
    version = pinned()["REST_API_SPEC_VERSION"]
    api = tmp_path / "cache" / "rest-api-spec" / version / "api"
    assert result.stdout.strip().splitlines()[-1] == str(api)
    assert sorted(p.name for p in api.iterdir()) == ["_common.json", "inference.delete.json"]
    assert (api.parent / ".complete").exists()
    assert (tmp_path / "urls").read_text().split() == [
        f"https://repo1.maven.org/maven2/org/elasticsearch/rest-api-spec/{version}/rest-api-spec-{version}.jar"
    ]
    assert "2 API files" in result.stderr and " ms" in result.stderr  # what it kept, and how long it took
    # Once complete, the entry is used as it is.
    assert run(script, env).stderr == ""


def test_a_jar_with_another_checksum_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    script, env = offline_testbed(tmp_path, a_jar(), pinned()["REST_API_SPEC_SHA256"])
    result = run(script, env)
    assert result.returncode == 1
    assert "but testbed/versions.env pins" in result.stderr and "refused" in result.stderr
    assert not any((tmp_path / "cache").rglob("*.json"))
