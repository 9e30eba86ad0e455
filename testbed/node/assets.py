"""The node's binaries and packages: ``testbed/build-node.sh`` (kubelet, kube-controller-manager,
kube-scheduler, kube-proxy from the pinned ``k8s.io/kubernetes`` module) and ``testbed/fetch-node-packages.sh``
(containerd, runc, CNI plugins, nftables, catatonit, mmdebstrap, buildah from pinned Debian packages). Each
finds its cache entry in milliseconds, builds or fetches it when missing, and honours a way to bring your own
(``TEST_ASSET_KUBELET`` ..., ``NODE_PACKAGES_ROOT``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from testbed.binaries import TESTBED, run_build_script
from testbed.errors import ControlPlaneError

__all__ = ["BUILD_NODE_SCRIPT", "FETCH_PACKAGES_SCRIPT", "NodeAssets", "find_node_assets", "find_node_binaries"]

BUILD_NODE_SCRIPT = TESTBED / "build-node.sh"
FETCH_PACKAGES_SCRIPT = TESTBED / "fetch-node-packages.sh"
NODE_BINARIES = ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy")
PACKAGE_TOOLS = ("usr/bin/containerd", "usr/bin/ctr", "usr/sbin/runc", "usr/sbin/nft", "usr/bin/catatonit")


@dataclass
class NodeAssets:
    """Where the node's programs are, and how long finding (or building) each took, in seconds."""

    binaries: Path
    packages: Path
    seconds: dict[str, float] = field(default_factory=dict)

    def binary(self, name: str) -> Path:
        return self.binaries / name

    def package_file(self, relative: str) -> Path:
        return self.packages / relative

    @property
    def cni_bin_dir(self) -> Path:
        return self.packages / "usr/lib/cni"


_binaries: Path | None = None
_packages: Path | None = None


def find_node_binaries(*, echo: IO[str] | None = None) -> Path:
    """kubelet, kube-controller-manager, kube-scheduler and kube-proxy's folder (memoised for the process)."""
    global _binaries
    if _binaries is None:
        found = Path(run_build_script(BUILD_NODE_SCRIPT, echo=echo))
        missing = [name for name in NODE_BINARIES if not (found / name).exists()]
        if missing:
            raise ControlPlaneError(f"{BUILD_NODE_SCRIPT} printed {found}, which lacks {', '.join(missing)}")
        _binaries = found
    return _binaries


def find_node_packages(*, echo: IO[str] | None = None) -> Path:
    """The folder the Debian packages are unpacked in (memoised for the process)."""
    global _packages
    if _packages is None:
        found = Path(run_build_script(FETCH_PACKAGES_SCRIPT, echo=echo))
        missing = [tool for tool in PACKAGE_TOOLS if not (found / tool).exists()]
        if missing:
            raise ControlPlaneError(f"{FETCH_PACKAGES_SCRIPT} printed {found}, which lacks {', '.join(missing)}")
        _packages = found
    return _packages


def find_node_assets(*, echo: IO[str] | None = None) -> NodeAssets:
    """Both, timed (a cache hit is a few milliseconds each)."""
    began = time.monotonic()
    binaries = find_node_binaries(echo=echo)
    built = time.monotonic()
    packages = find_node_packages(echo=echo)
    return NodeAssets(binaries, packages, {"node binaries": built - began, "Debian packages": time.monotonic() - built})
