"""The node's sandbox, alone: a process started inside is in its namespaces, and stopping the sandbox leaves
no process, no mount and no cgroup behind."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from testbed.node.assets import find_node_packages
from testbed.node.sandbox import CGROUP_ROOT, NODE_IP, Sandbox

pytestmark = pytest.mark.e2e  # it needs the node's Debian packages (fetched once, about 10 s)


def test_a_sandbox_is_made_and_removed_whole(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox", find_node_packages(), cgroup_name=f"testbed-test-{uuid.uuid4().hex[:8]}")
    sandbox.start()
    try:
        assert NODE_IP in sandbox.run("ip", "-4", "addr", "show", "lo").stdout
        assert sandbox.run("cat", "/proc/1/comm").stdout.strip() == "catatonit"  # its own PID namespace
        assert os.readlink(f"/proc/{sandbox.init_pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert "tmpfs" in sandbox.run("findmnt", "-n", "-o", "FSTYPE", "/run").stdout
        sleeper = subprocess.Popen(sandbox.command(["sleep", "600"]), start_new_session=True)
        time.sleep(0.3)
        for hierarchy in ("memory", "pids"):
            assert (CGROUP_ROOT / hierarchy / sandbox.cgroup_name).is_dir()
        init_pid = sandbox.init_pid
    finally:
        leftovers = sandbox.stop()
    assert leftovers == []
    assert sleeper.wait(10) != 0  # killed with the namespace
    assert not Path(f"/proc/{init_pid}").exists()
    assert not any((CGROUP_ROOT / h / sandbox.cgroup_name).exists() for h in os.listdir(CGROUP_ROOT))
    assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
