"""The node's sandbox: network, mount and PID namespaces of the test bed's own, with no route out.

``unshare --pid --fork --kill-child --mount-proc --net --mount --propagation private`` starts catatonit as the
namespaces' PID 1 (it reaps the orphans containerd's shims leave), which runs ``sandbox-init.sh``: loopback up
with the node's address (``NODE_IP``/32 on ``lo``: the API server will not advertise a loopback address), tmpfs
over /run, the work folder's own /var/lib and /var/log (the kubelet, libcni and the shims hard-code paths
there), the packages' libraries overlaid on the system's (so nft and buildah find them whoever runs them), and
the three kernel settings the kubelet insists on (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops)
answered by files bind-mounted over their /proc/sys entries: the machine's own values stay as they are.

Processes join with ``nsenter`` (:meth:`Sandbox.command`). Nothing is routed out of the network namespace:
it has ``lo``, the pods' bridge and nothing else; the test process reaches addresses in it through
:mod:`testbed.node.relay`. On :meth:`Sandbox.stop` PID 1 is killed (the kernel then kills every process of
the namespace), the mounts go with the mount namespace, and the pods' cgroups (which outlive their processes)
are removed depth-first.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from testbed.errors import ControlPlaneError
from testbed.process import die_with_parent_preexec, poll_until, read_tail

__all__ = ["NODE_IP", "POD_CIDR", "Sandbox", "remove_cgroup_tree", "setns_net"]

NODE_IP = "10.123.0.2"
POD_CIDR = "10.88.0.0/24"
CGROUP_ROOT = Path("/sys/fs/cgroup")
INIT_SCRIPT = Path(__file__).with_name("sandbox-init.sh")
_CLONE_NEWNET = 0x40000000


def setns_net(fd: int) -> None:
    """Move the calling thread into the network namespace open as ``fd`` (Python 3.11 has no os.setns)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def remove_cgroup_tree(path: Path) -> list[str]:
    """rmdir ``path`` and everything under it, deepest first; returns what could not be removed."""
    if not path.is_dir():
        return []
    failed: list[str] = []
    for folder, _, _ in sorted(os.walk(path), key=lambda entry: -entry[0].count("/")):
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            pass
        except OSError as error:
            failed.append(f"{folder}: {error.strerror}")
    return failed


class Sandbox:
    """The namespaces, their PID 1 and their work folder; :meth:`command` runs a program inside them."""

    def __init__(self, workdir: Path, packages_root: Path, *, cgroup_name: str) -> None:
        self.workdir = workdir
        self.packages_root = packages_root
        self.cgroup_name = cgroup_name  # the pods' cgroup root under each hierarchy (the kubelet's cgroupRoot)
        self._holder: subprocess.Popen[bytes] | None = None
        self.init_pid: int | None = None  # PID 1 of the namespaces, as the machine numbers it

    @property
    def path(self) -> str:
        root = self.packages_root
        return f"{root}/usr/bin:{root}/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    def start(self, timeout: float = 30) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ready = self.workdir / "sandbox.ready"
        log = self.workdir / "sandbox.log"
        env = {
            "PATH": self.path,
            "NODE_IP": NODE_IP,
            "WORKDIR": str(self.workdir),
            "PACKAGES_LIB": str(self.packages_root / "usr/lib/x86_64-linux-gnu"),
        }
        with log.open("ab") as out:
            unshare = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--mount"]
            init = [str(self.packages_root / "usr/bin/catatonit"), "--", "bash", str(INIT_SCRIPT)]
            self._holder = subprocess.Popen(
                [*unshare, "--propagation", "private", *init],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent_preexec,  # the test process gone: unshare dies, and kills PID 1
            )

        def check() -> None:
            assert self._holder is not None
            if self._holder.poll() is not None:
                raise ControlPlaneError(f"the sandbox exited ({self._holder.returncode}):\n{read_tail(log)}")

        poll_until(
            ready.exists,
            timeout=timeout,
            check=check,
            on_timeout=lambda: ControlPlaneError(f"the sandbox did not set up in {timeout} s:\n{read_tail(log)}"),
        )
        children = Path(f"/proc/{self._holder.pid}/task/{self._holder.pid}/children").read_text().split()
        self.init_pid = int(children[0])
        for name in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"):
            hierarchy = CGROUP_ROOT / name
            if hierarchy.is_dir():
                (hierarchy / self.cgroup_name).mkdir(exist_ok=True)

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run inside the namespaces (``nsenter`` forks into the PID namespace; its process group
        carries signals to the program, see :class:`testbed.process.Process`)."""
        if self.init_pid is None:
            raise ControlPlaneError("the sandbox is not started")
        enter = ["nsenter", f"--target={self.init_pid}", "--net", "--mount", "--pid", "--"]
        return [*enter, "env", f"PATH={self.path}", *args]

    def run(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a short command inside and capture its output."""
        result = subprocess.run(
            self.command(args), capture_output=True, text=True, timeout=timeout, check=False, env={"PATH": self.path}
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr or result.stdout}")
        return result

    @contextlib.contextmanager
    def network(self) -> Iterator[None]:
        """The calling thread inside the sandbox's network namespace for the block: sockets made there stay
        there, whichever thread uses them later."""
        if self.init_pid is None:
            raise ControlPlaneError("the sandbox is not started")
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/proc/{self.init_pid}/ns/net", os.O_RDONLY)
        try:
            setns_net(target)
            try:
                yield
            finally:
                setns_net(own)
        finally:
            os.close(own)
            os.close(target)

    def stop(self, timeout: float = 20) -> list[str]:
        """Kill PID 1 (and with it every process inside), then remove the cgroups; returns leftovers."""
        if self._holder is not None:
            if self.init_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signal.SIGKILL)
            try:
                self._holder.wait(timeout)  # unshare reaps PID 1 and exits
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._holder.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._holder.wait(5)
            self._holder = None
        return self.remove_cgroups(timeout)

    def remove_cgroups(self, timeout: float = 20) -> list[str]:
        """Remove the pods' cgroups under every hierarchy, retrying while the last processes die."""
        deadline = time.monotonic() + timeout
        while True:
            failed = [
                problem
                for hierarchy in sorted(CGROUP_ROOT.iterdir())
                for problem in remove_cgroup_tree(hierarchy / self.cgroup_name)
            ]
            if not failed or time.monotonic() > deadline:
                return failed
            time.sleep(0.2)
