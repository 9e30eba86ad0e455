"""testbed/build-controlplane.sh finds binaries the way envtest does, and builds nothing when it need not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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
