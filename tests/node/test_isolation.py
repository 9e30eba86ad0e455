"""The node keeps to itself: its network namespace has no route out, the kernel settings the kubelet writes
land on the sandbox's own files, and the pods' cgroups live under a root of the node's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.node.node import Node

pytestmark = pytest.mark.e2e


def test_no_route_leaves_the_node(node: Node) -> None:
    routes = node.run("ip", "-4", "route").splitlines()
    assert not [r for r in routes if r.startswith("default")], routes
    links = {line.split(":")[1].strip().split("@")[0] for line in node.run("ip", "-o", "link").splitlines()}
    assert links <= {"lo", "cni0"} | {name for name in links if name.startswith("veth")}, links
    assert node.sandbox is not None
    attempt = node.sandbox.run(
        "python3", "-c", "import socket; socket.create_connection(('192.0.2.1', 80), timeout=2)", check=False
    )  # fmt: skip
    assert attempt.returncode != 0 and "Network is unreachable" in attempt.stderr, attempt.stderr


def test_the_kubelets_kernel_settings_stay_in_the_node(node: Node) -> None:
    inside = node.run("cat", "/proc/sys/vm/overcommit_memory").strip()
    assert inside == "1"  # what the kubelet sets
    assert Path("/proc/sys/vm/overcommit_memory").read_text().strip() != "1" or inside == "1"
    assert node.sandbox is not None
    own = node.sandbox.workdir / "sysctl" / "vm.overcommit_memory"
    assert own.read_text().strip() == "1"


def test_pods_cgroups_are_under_the_nodes_own_root(node: Node) -> None:
    assert node.sandbox is not None
    root = Path("/sys/fs/cgroup/memory") / node.sandbox.cgroup_name
    assert (root / "kubepods").is_dir()
    assert not Path("/sys/fs/cgroup/memory/kubepods").exists()
