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
    """The kubelet sets three machine-wide settings; inside the node they are set, the machine's are as they
    were when the node started."""
    assert node.sandbox is not None
    kubelets = {"vm/overcommit_memory": "1", "kernel/panic": "10", "kernel/panic_on_oops": "1"}
    for entry, value in kubelets.items():
        assert node.run("cat", f"/proc/sys/{entry}").strip() == value, entry
        machine = (node.sandbox.workdir / "sysctl" / f"{entry.replace('/', '.')}.machine").read_text().strip()
        assert Path(f"/proc/sys/{entry}").read_text().strip() == machine, entry


def test_pods_cgroups_are_under_the_nodes_own_root(node: Node) -> None:
    assert node.sandbox is not None
    root = Path("/sys/fs/cgroup/memory") / node.sandbox.cgroup_name
    assert (root / "kubepods").is_dir()
    assert not Path("/sys/fs/cgroup/memory/kubepods").exists()
