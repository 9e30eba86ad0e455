"""The node's build and fetch scripts find their assets like build-controlplane.sh does: what the user brings
first (TEST_ASSET_*, NODE_PACKAGES_ROOT, OPERATOR_IMAGE_DIR), then a complete cache entry, building or fetching
nothing when they need not; an incomplete entry is built again."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

TESTBED = Path(__file__).resolve().parents[2] / "testbed"
NODE_BINARIES = ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
TEST_ASSETS = {
    "kubelet": "TEST_ASSET_KUBELET",
    "kube-controller-manager": "TEST_ASSET_KUBE_CONTROLLER_MANAGER",
    "kube-scheduler": "TEST_ASSET_KUBE_SCHEDULER",
    "kube-proxy": "TEST_ASSET_KUBE_PROXY",
}


def fake(path: Path, output: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)
    return path


def run(script: str, env: dict[str, str], path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    # No real `go` or `apt-get` unless the test puts a fake one first on PATH: a build or fetch fails loudly.
    base = {"PATH": path, "HOME": "/nonexistent"}
    return subprocess.run(
        ["bash", str(TESTBED / script)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )


def fake_go(folder: Path) -> Path:
    fake(folder / "go", "go1.26.8")
    return folder


def path_with_fake_apt(tmp_path: Path) -> str:
    apt_get = fake(tmp_path / "bin" / "apt-get")
    apt_get.write_text("#!/bin/sh\necho apt-get was run >&2; exit 9\n")
    return f"{apt_get.parent}:/usr/bin:/bin"


def test_build_node_links_the_test_assets(tmp_path: Path) -> None:
    env = {var: str(fake(tmp_path / "mine" / name)) for name, var in TEST_ASSETS.items()}
    result = run("build-node.sh", {**env, "ES_OPERATOR_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    for name in NODE_BINARIES:
        assert (folder / name).resolve() == tmp_path / "mine" / name


def test_build_node_uses_a_complete_cache_entry_and_builds_an_incomplete_one(tmp_path: Path) -> None:
    versions = dict(
        line.split("=", 1) for line in (TESTBED / "versions.env").read_text().splitlines() if line[:1].isupper()
    )
    entry = tmp_path / "cache" / "node" / f"k8s-{versions['KUBERNETES_VERSION']}_go1.26.8_cgo0-trimpath-sw-pgooff"
    for name in NODE_BINARIES:
        fake(entry / name)
    path = f"{fake_go(tmp_path / 'bin')}:/usr/bin:/bin"
    result = run("build-node.sh", {"ES_OPERATOR_CACHE": str(tmp_path / "cache")}, path)
    assert result.returncode != 0 and "Building the node's binaries" in result.stderr  # no .complete yet
    (entry / ".complete").touch()
    result = run("build-node.sh", {"ES_OPERATOR_CACHE": str(tmp_path / "cache")}, path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [str(entry)]


def test_fetch_node_packages_honours_node_packages_root_and_the_cache(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    tools = ("usr/bin/containerd", "usr/sbin/runc", "usr/lib/cni/bridge", "usr/sbin/nft", "usr/bin/catatonit")
    for tool in tools[:-1]:
        fake(mine / tool)
    result = run("fetch-node-packages.sh", {"NODE_PACKAGES_ROOT": str(mine)})
    assert result.returncode == 1 and "lacks usr/bin/catatonit" in result.stderr
    fake(mine / tools[-1])
    result = run("fetch-node-packages.sh", {"NODE_PACKAGES_ROOT": str(mine)})
    assert result.returncode == 0 and result.stdout.strip() == str(mine), result.stderr

    # The cache entry is keyed by the pinned list: a complete one is used as it is (apt-get is not run), a
    # missing one is fetched.
    result = run("fetch-node-packages.sh", {"ES_OPERATOR_CACHE": str(tmp_path / "cache")}, path_with_fake_apt(tmp_path))
    assert result.returncode != 0 and "apt-get was run" in result.stderr
    pinned = [
        line for line in (TESTBED / "node/debian-packages.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    key = hashlib.sha256("".join(f"{line}\n" for line in pinned).encode()).hexdigest()[:12]
    entry = tmp_path / "cache" / "debian" / key
    (entry / "root").mkdir(parents=True)
    (entry / ".complete").touch()
    result = run("fetch-node-packages.sh", {"ES_OPERATOR_CACHE": str(tmp_path / "cache")}, path_with_fake_apt(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(entry / "root")


def test_build_image_honours_operator_image_dir(tmp_path: Path) -> None:
    (tmp_path / "operator.tar").touch()
    result = run("build-image.sh", {"OPERATOR_IMAGE_DIR": str(tmp_path)})
    assert result.returncode == 1 and "lacks next.tar" in result.stderr
    (tmp_path / "next.tar").touch()
    result = run("build-image.sh", {"OPERATOR_IMAGE_DIR": str(tmp_path)})
    assert result.returncode == 1 and "lacks names.txt" in result.stderr
    (tmp_path / "names.txt").write_text("mine:1\nmine:2\n")
    result = run("build-image.sh", {"OPERATOR_IMAGE_DIR": str(tmp_path)})
    assert result.returncode == 0 and result.stdout.strip() == str(tmp_path), result.stderr
