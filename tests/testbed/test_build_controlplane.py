"""testbed/build-controlplane.sh finds binaries the way envtest does, builds nothing when it need not, and shows
a build's progress as it goes."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

import testbed.binaries

SCRIPT = Path(__file__).resolve().parents[2] / "testbed" / "build-controlplane.sh"
NAMES = ("kube-apiserver", "etcd", "kubectl")


def fake_binaries(folder: Path, names: tuple[str, ...] = NAMES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return folder


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # No `go` on PATH: any attempt to build would fail loudly.
    base = {"PATH": "/usr/bin:/bin", "HOME": env.pop("HOME", "/nonexistent")}
    return subprocess.run(
        ["bash", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )


def test_kubebuilder_assets_is_used_as_it_is(tmp_path: Path) -> None:
    assets = fake_binaries(tmp_path / "assets")
    result = run({"KUBEBUILDER_ASSETS": str(assets)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(assets)


def test_kubebuilder_assets_missing_a_binary_is_an_error(tmp_path: Path) -> None:
    assets = fake_binaries(tmp_path / "assets", ("kube-apiserver", "etcd"))
    result = run({"KUBEBUILDER_ASSETS": str(assets)})
    assert result.returncode == 1
    assert "lacks one of: kube-apiserver etcd kubectl" in result.stderr


def test_test_asset_variables_win_and_are_linked_into_one_folder(tmp_path: Path) -> None:
    spread = {name: fake_binaries(tmp_path / name, (name,)) / name for name in NAMES}
    result = run(
        {
            "TEST_ASSET_KUBE_APISERVER": str(spread["kube-apiserver"]),
            "TEST_ASSET_ETCD": str(spread["etcd"]),
            "TEST_ASSET_KUBECTL": str(spread["kubectl"]),
            "KUBEBUILDER_ASSETS": str(tmp_path / "ignored"),
            "ES_OPERATOR_CACHE": str(tmp_path / "cache"),
        }
    )
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert {name: os.path.realpath(folder / name) for name in NAMES} == {
        name: os.path.realpath(path) for name, path in spread.items()
    }


def test_a_complete_cache_entry_is_used_without_building(tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "the control plane is built with Go, which must be on PATH"
    go_version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    versions = dict(
        line.split("=", 1)
        for line in (SCRIPT.parent / "versions.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    entry = (
        tmp_path
        / "cache"
        / "controlplane"
        / f"k8s-{versions['KUBERNETES_VERSION']}_etcd-{versions['ETCD_VERSION']}_{go_version}_cgo0-trimpath-sw-pgooff"
    )
    fake_binaries(entry)
    (entry / ".complete").touch()
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache"), "PATH": f"{Path(go).parent}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(entry)
    assert "Building" not in result.stderr


FAKE_GO = """#!/bin/sh
# Stands in for `go`: downloads one module, lists three packages, compiles two, writes a binary that has a version.
case "$1" in
  env) echo go1.99.0 ;;
  list)
    echo "go: downloading example.com/module v1.0.0" >&2
    printf 'internal/abi\\nexample.com/a\\nexample.com/b\\n' ;;
  build)
    while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
    case "$out" in */kube-apiserver) sleep "${FAKE_GO_APISERVER_SECONDS:-0}" ;; esac
    if [ -n "${FAKE_GO_FAIL:-}" ]; then echo "cmd/kube-apiserver: undefined: boom" >&2; exit 2; fi
    printf 'internal/abi\\nexample.com/a\\n' >&2
    printf '#!/bin/sh\\necho "$(basename "$0") v9.9.9"\\n' >"$out"
    chmod +x "$out" ;;
esac
"""


def fake_go(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "go").write_text(FAKE_GO)
    (folder / "go").chmod(0o755)
    return folder


def test_a_build_shows_its_steps_and_says_what_it_built_where_and_how_long(tmp_path: Path) -> None:
    bin_dir = fake_go(tmp_path / "bin")
    result = run({"ES_OPERATOR_CACHE": str(tmp_path / "cache"), "PATH": f"{bin_dir}:/usr/bin:/bin", "CI": "true"})
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert (folder / ".complete").exists() and (folder / "build.log").exists()
    assert not list(folder.parent.glob("*.partial.*")), "no leftovers"
    lines = result.stderr.splitlines()
    assert "1/4 downloading modules: 3 modules downloaded: done in " in result.stderr  # one per `go list`
    for step in ("2/4 building kube-apiserver", "3/4 building kubectl", "4/4 building etcd"):
        assert any(step in line and "2/3 packages compiled: done in" in line for line in lines), step
    assert "\r" not in result.stderr, "plain lines when not on a terminal"
    summary = result.stderr[result.stderr.index("Built in ") :]
    for name in ("kube-apiserver", "kubectl", "etcd"):
        assert f"{name} v9.9.9" in summary
    assert f"in {folder} (Go's output: {folder}/build.log)" in summary


def test_a_failed_step_says_which_and_keeps_go_output(tmp_path: Path) -> None:
    bin_dir = fake_go(tmp_path / "bin")
    cache = tmp_path / "cache"
    result = run({"ES_OPERATOR_CACHE": str(cache), "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_GO_FAIL": "1"})
    assert result.returncode == 2
    assert "2/4 building kube-apiserver: 0/3 packages compiled: FAILED (exit 2)" in result.stderr
    assert "undefined: boom" in result.stderr
    (log,) = (cache / "controlplane").glob("*.partial.*.log")
    assert "undefined: boom" in log.read_text()
    assert [path.name for path in (cache / "controlplane").iterdir()] == [log.name], "no half-built folder"


def test_on_a_terminal_the_progress_line_is_rewritten_in_place(tmp_path: Path) -> None:
    bin_dir = fake_go(tmp_path / "bin")
    controller, terminal = pty.openpty()
    env = {
        "HOME": "/nonexistent",
        "ES_OPERATOR_CACHE": str(tmp_path / "cache"),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_GO_APISERVER_SECONDS": "1.5",  # long enough for the once-a-second refresh to show
    }
    shown = bytearray()

    def read_screen() -> None:
        with contextlib.suppress(OSError):  # EIO once the script, the terminal's last writer, is gone
            while chunk := os.read(controller, 4096):
                shown.extend(chunk)

    reader = threading.Thread(target=read_screen)
    reader.start()
    process = subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    stdout, _ = process.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(controller)
    assert process.returncode == 0, shown.decode(errors="replace")
    assert b"\r\x1b[K[" in shown and b"building kube-apiserver" in shown
    assert stdout.decode().strip().splitlines()[-1].startswith(str(tmp_path / "cache"))


def test_find_binaries_passes_the_progress_on_as_it_comes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite calls find_binaries before the first test: a newcomer must see the build move, not wait for it."""
    for name in ("KUBEBUILDER_ASSETS", "TEST_ASSET_KUBE_APISERVER", "TEST_ASSET_ETCD", "TEST_ASSET_KUBECTL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ES_OPERATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{fake_go(tmp_path / 'bin')}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_GO_APISERVER_SECONDS", "1.5")
    monkeypatch.setattr(testbed.binaries, "_bin_dir_cache", None)
    echoed: list[tuple[float, str]] = []

    class Echo(io.StringIO):
        def write(self, text: str) -> int:
            echoed.append((time.monotonic(), text))
            return len(text)

    folder = testbed.binaries.find_binaries(echo=Echo())
    returned = time.monotonic()
    assert folder.parent == tmp_path / "cache" / "controlplane"
    started = next(at for at, text in echoed if "2/4 building kube-apiserver: 0/3 packages compiled\n" in text)
    assert returned - started >= 1.0, "the step's start was only shown once the build was over"
    assert not any(str(folder) == text.strip() for _, text in echoed), "the folder is the result, not progress"
