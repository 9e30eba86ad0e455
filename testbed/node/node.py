"""A one-node Kubernetes cluster in the test bed's own namespaces: the control plane (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler) and the node (containerd + runc + CNI bridge, kubelet, kube-proxy in
nftables mode), all inside one :class:`Sandbox`; the test process reaches the API server through a relay.

    with Node() as node:
        node.control_plane.kubectl("get", "nodes")
        emulator = EmulatorServer(host=NODE_IP, port=9200)
        node.inside(emulator.start)          # pods reach it at http://10.123.0.2:9200
        url = f"http://{node.reach(NODE_IP, 9200)}"   # and this process at 127.0.0.1:<a relay's port>

Stopping stops the kubelet first (so that it starts no new container), then kills the sandbox's PID 1 (the
kernel kills everything inside, the mounts go with the mount namespace), removes the pods' cgroups
depth-first, and deletes the work folder. :attr:`Node.leftovers` says what could not be removed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from testbed.controlplane import ControlPlane
from testbed.errors import ControlPlaneError
from testbed.node import config
from testbed.node.assets import NodeAssets, find_node_assets
from testbed.node.images import OperatorImages, find_operator_images, import_image, write_pause_image
from testbed.node.relay import Relays
from testbed.node.sandbox import NODE_IP, Sandbox
from testbed.process import Process, poll_until

__all__ = ["NODE_IP", "Node", "NodeTimings"]

T = TypeVar("T")


@dataclass
class NodeTimings:
    """Seconds each step took (finding or building the assets included)."""

    steps: dict[str, float] = field(default_factory=dict)
    total: float = 0.0

    def summary(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.steps.items())


class Node:
    """The cluster; a context manager (or :meth:`start` / :meth:`stop`). The constructor starts nothing.

    :param operator_images: import the operator's images (built from the Dockerfile) into containerd.
    :param start_timeout: bound for each component to become ready.
    """

    def __init__(self, *, operator_images: bool = True, start_timeout: float = 120.0) -> None:
        self.with_operator_images = operator_images
        self.start_timeout = start_timeout
        self.workdir: Path | None = None
        self.assets: NodeAssets | None = None
        self.images: OperatorImages | None = None
        self.sandbox: Sandbox | None = None
        self.relays: Relays | None = None
        self._control_plane: ControlPlane | None = None
        self._processes: dict[str, Process] = {}
        self.timings = NodeTimings()
        self.leftovers: list[str] = []

    def __enter__(self) -> Node:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def control_plane(self) -> ControlPlane:
        if self._control_plane is None:
            raise ControlPlaneError("the node is not started")
        return self._control_plane

    def start(self) -> Node:
        began = time.monotonic()
        atexit.register(self.stop)
        try:
            self._step("assets", self._find_assets)
            self._step("sandbox", self._start_sandbox)
            self._step("control plane", self._start_control_plane)
            self._step("containerd", self._start_containerd)
            self._step("images", self._import_images)
            self._step("kubelet", self._start_kubelet)
            self._step("kube-proxy", self._start_kube_proxy)
        except BaseException:
            self.stop()
            raise
        self.timings.total = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop everything and remove what it made; idempotent. Leftovers are in :attr:`leftovers`."""
        for name in ("kube-proxy", "kubelet"):
            process = self._processes.pop(name, None)
            if process is not None:
                process.stop(10)
        if self._control_plane is not None:
            with contextlib.suppress(Exception):
                self._control_plane.stop()
            self._control_plane = None
        for process in self._processes.values():
            process.stop(5)
        self._processes.clear()
        if self.relays is not None:
            self.relays.close()
            self.relays = None
        if self.sandbox is not None:
            self.leftovers = self.sandbox.stop()
            self.sandbox = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            if self.workdir.exists():
                self.leftovers.append(f"{self.workdir} could not be removed")
            self.workdir = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self.leftovers:
            print(f"node: left behind: {self.leftovers}", file=sys.stderr)

    # -- for tests ----------------------------------------------------------------------------------------

    def inside(self, action: Callable[[], T]) -> T:
        """Run ``action`` in a thread inside the node's network namespace: the sockets it makes, and the
        threads it starts, stay there (a server started so listens on the node's address, and sees pods'
        addresses as its peers)."""
        assert self.sandbox is not None
        sandbox = self.sandbox
        results: list[T] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with sandbox.network():
                    results.append(action())
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=run, name="inside-node")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return results[0]

    def reach(self, host: str, port: int) -> str:
        """``127.0.0.1:<port>`` of this process that leads to ``host:port`` inside the node (a pod's address,
        a server started with :meth:`inside`)."""
        assert self.relays is not None
        return f"127.0.0.1:{self.relays.into_node((host, port))}"

    def run(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        """A command on the node (inside its namespaces); its stdout."""
        assert self.sandbox is not None
        return self.sandbox.run(*args, timeout=timeout, check=check).stdout

    def container_pid(self, container_id: str) -> int:
        """The PID on the node of a container's process (``ctr tasks ls``), from a pod's ``containerID``."""
        wanted = container_id.removeprefix("containerd://")
        for line in self.run("ctr", "--namespace=k8s.io", "tasks", "ls").splitlines()[1:]:
            task, pid, *_ = line.split()
            if task == wanted:
                return int(pid)
        raise ControlPlaneError(f"no task {wanted} in ctr tasks ls")

    # -- steps --------------------------------------------------------------------------------------------

    def _step(self, name: str, action: Callable[[], None]) -> None:
        began = time.monotonic()
        action()
        self.timings.steps[name] = time.monotonic() - began

    def _find_assets(self) -> None:
        self.assets = find_node_assets()
        if self.with_operator_images:
            self.images = find_operator_images()

    def _start_sandbox(self) -> None:
        assert self.assets is not None
        self.workdir = Path(tempfile.mkdtemp(prefix="node-"))
        self.sandbox = Sandbox(self.workdir, self.assets.packages, cgroup_name=f"testbed-{uuid.uuid4().hex[:8]}")
        self.sandbox.start()
        self.relays = Relays(self.sandbox)

    def _start_control_plane(self) -> None:
        self._control_plane = ControlPlane(
            sandbox=self.sandbox, relays=self.relays, controller_manager=True, scheduler=True
        )
        self._control_plane.start()

    def _process(self, name: str, args: list[str]) -> Process:
        assert self.workdir is not None and self.sandbox is not None
        process = Process(name, args, self.workdir / f"{name}.log", launcher=self.sandbox.command)
        process.start(die_with_parent=True)
        self._processes[name] = process
        return process

    def _wait(self, process: Process, ready: Callable[[], bool], what: str) -> None:

        def check() -> None:
            if process.exited() is not None:
                raise process.failure(f"exited with code {process.exited()} before {what}")

        poll_until(
            ready,
            timeout=self.start_timeout,
            check=check,
            on_timeout=lambda: process.failure(f"not {what} after {self.start_timeout:.0f} s"),
        )

    def _start_containerd(self) -> None:
        assert self.workdir is not None and self.assets is not None and self.sandbox is not None
        config.write_cni(self.workdir)
        toml = config.write_containerd(self.workdir, self.assets)
        process = self._process("containerd", ["containerd", f"--config={toml}", "--log-level=warn"])
        sandbox = self.sandbox
        self._wait(process, lambda: sandbox.run("ctr", "version", check=False).returncode == 0, "answering")

    def _import_images(self) -> None:
        assert self.workdir is not None and self.assets is not None and self.sandbox is not None
        pause = write_pause_image(
            self.assets.package_file("usr/bin/catatonit"), self.workdir / "pause.tar", config.PAUSE_IMAGE
        )
        import_image(self.sandbox, pause, config.PAUSE_IMAGE)
        if self.images is not None:
            import_image(self.sandbox, self.images.archive, self.images.name)
            import_image(self.sandbox, self.images.next_archive, self.images.next_name)

    def _start_kubelet(self) -> None:
        assert self.workdir is not None and self.assets is not None and self.sandbox is not None
        cp = self.control_plane
        kubeconfig = cp.component_kubeconfig(f"system:node:{config.NODE_NAME}", ("system:nodes",))
        settings = config.write_kubelet(
            self.workdir, cgroup_root=self.sandbox.cgroup_name, client_ca=cp.ca_path.with_name("client-ca.crt")
        )
        args = [
            str(self.assets.binary("kubelet")),
            f"--config={settings}",
            f"--kubeconfig={kubeconfig}",
            f"--node-ip={NODE_IP}",
            f"--hostname-override={config.NODE_NAME}",
            "--v=1",
        ]
        process = self._process("kubelet", args)
        self._wait(process, self._node_ready, "Ready")

    def _node_ready(self) -> bool:
        status, body = self.control_plane.api_get(f"/api/v1/nodes/{config.NODE_NAME}")
        if status != 200:
            return False
        conditions = json.loads(body).get("status", {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _start_kube_proxy(self) -> None:
        assert self.workdir is not None and self.assets is not None
        kubeconfig = self.control_plane.component_kubeconfig("system:kube-proxy")
        settings = config.write_kube_proxy(self.workdir, kubeconfig)
        process = self._process("kube-proxy", [str(self.assets.binary("kube-proxy")), f"--config={settings}", "--v=1"])

        # Ready once the kubernetes Service is programmed: pods reach the API server by its ClusterIP.
        def programmed() -> bool:
            return "10.0.0.1" in self.run("nft", "list", "table", "ip", "kube-proxy", check=False)

        self._wait(process, programmed, "programming Services")
