"""Starting etcd and kube-apiserver (part of :class:`testbed.controlplane.ControlPlane`): free loopback ports
with retries on "address already in use", readiness polls, the start failure with the log's tail; or, in a
node's sandbox, fixed ports inside its network namespace reached through a relay."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.errors import ControlPlaneError
from testbed.node.sandbox import NODE_IP
from testbed.process import Process, poll_until

if TYPE_CHECKING:
    from testbed.node.relay import Relays
    from testbed.node.sandbox import Sandbox

__all__ = ["APISERVER_PORT", "Servers"]

APISERVER_PORT = 6443  # in a node's sandbox


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _has_default_route() -> bool:
    """Whether the kernel has an IPv4 or IPv6 default route (kube-apiserver needs one to pick an advertise
    address when ``--advertise-address`` is unset; notes §12)."""
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "00000000":
                return True
        for line in Path("/proc/net/ipv6_route").read_text().splitlines():
            fields = line.split()
            if fields and fields[0] == "0" * 32 and fields[1] == "00" and fields[-1] != "lo":
                return True
    except OSError:
        return True  # Not Linux, or no procfs: assume a normal machine, as envtest does.
    return False


class _RetryWithNewPorts(Exception):
    pass


@dataclass
class _Timings:
    etcd: float = 0.0
    apiserver: float = 0.0
    total: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)


class Servers:
    """The processes' start and readiness; :class:`ControlPlane` sets these attributes."""

    workdir: Path | None
    etcd_url: str | None
    _server: str | None
    _etcd: Process | None
    _apiserver: Process | None
    sandbox: Sandbox | None
    relays: Relays | None
    timings: _Timings
    port_attempts: int
    start_timeout: float
    stop_timeout: float
    die_with_parent: bool
    advertise_loopback: bool | None
    controller_manager: bool
    etcd_args: list[str]
    apiserver_args: list[str]

    if TYPE_CHECKING:  # provided by ControlPlane and ClusterAccess

        @property
        def bin_dir(self) -> Path: ...

        def _require_workdir(self) -> Path: ...

        def api_get(self, path: str, *, timeout: float = 5.0) -> tuple[int, bytes]: ...

    @property
    def internal_server(self) -> str:
        """The API server's URL for the processes beside it: in a node's sandbox its address there (the
        kubelet's, the controllers'), otherwise the same as ``server``."""
        if self.sandbox is not None:
            return f"https://{NODE_IP}:{APISERVER_PORT}"
        if self._server is None:
            raise ControlPlaneError("the control plane is not started")
        return self._server

    def _node_addresses(self) -> tuple[str, ...]:
        return (NODE_IP,) if self.sandbox is not None else ()

    def _process(self, name: str, args: list[str]) -> Process:
        process = Process(name, args, self._require_workdir() / f"{name}.log")
        if self.sandbox is not None:
            process.launcher = self.sandbox.command
        process.start(die_with_parent=self.die_with_parent)
        return process

    def _reach(self, host: str, port: int) -> tuple[str, int]:
        """Where this process connects to reach ``host:port`` of the servers' network namespace."""
        if self.sandbox is None:
            return host, port
        assert self.relays is not None, "a sandboxed control plane needs relays"
        return "127.0.0.1", self.relays.into_node((host, port))

    def _start_with_port_retries(self, name: str, start: Callable[[], None]) -> None:
        began = time.monotonic()
        for attempt in range(1, self.port_attempts + 1):
            self.timings.attempts[name] = attempt
            try:
                start()
                break
            except _RetryWithNewPorts:
                if attempt == self.port_attempts:
                    process = self._etcd if name == "etcd" else self._apiserver
                    assert process is not None
                    raise process.failure(f"could not bind a free port in {attempt} attempts") from None
        elapsed = time.monotonic() - began
        if name == "etcd":
            self.timings.etcd = elapsed
        else:
            self.timings.apiserver = elapsed

    def _start_etcd(self) -> None:
        workdir = self._require_workdir()
        data = workdir / "etcd-data"
        shutil.rmtree(data, ignore_errors=True)
        # Inside a sandbox every port is free: its network namespace is the node's own.
        client_port, peer_port = (2379, 2380) if self.sandbox is not None else (_free_port(), _free_port())
        client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        args = [
            str(self.bin_dir / "etcd"),
            "--name=testbed",
            f"--data-dir={data}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=testbed={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
            *self.etcd_args,
        ]
        self._etcd = process = self._process("etcd", args)
        health_host, health_port = self._reach("127.0.0.1", client_port)

        def healthy() -> bool:
            conn = http.client.HTTPConnection(health_host, health_port, timeout=2)
            try:
                conn.request("GET", "/health")
                response = conn.getresponse()
                body = response.read()
                return response.status == 200 and json.loads(body).get("health") == "true"
            except (OSError, ValueError, http.client.HTTPException):
                return False
            finally:
                conn.close()

        self._wait_process(process, healthy, "/health")
        self.etcd_url = client

    def _start_apiserver(self) -> None:
        workdir = self._require_workdir()
        pki = workdir / "pki"
        port = APISERVER_PORT if self.sandbox is not None else _free_port()
        bind = NODE_IP if self.sandbox is not None else "127.0.0.1"
        self._server = "https://{}:{}".format(*self._reach(bind, port))
        advertise_loopback = self.advertise_loopback
        if advertise_loopback is None:
            advertise_loopback = not _has_default_route()
        args = [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--bind-address={bind}",
            f"--secure-port={port}",
            f"--client-ca-file={pki / 'client-ca.crt'}",
            "--authorization-mode=" + ("Node,RBAC" if self.sandbox is not None else "RBAC"),
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # Without kube-controller-manager no ServiceAccount exists for the admission plugin to find.
            *(["--enable-admission-plugins=NodeRestriction"] if self.sandbox is not None else []),
            *([] if self.controller_manager else ["--disable-admission-plugins=ServiceAccount"]),
            f"--service-account-issuer={self.internal_server}/",
            f"--service-account-key-file={pki / 'sa-signer.pub'}",
            f"--service-account-signing-key-file={pki / 'sa-signer.key'}",
            "--profiling=false",
        ]
        if self.sandbox is not None:
            # Pods reach it through the kubernetes Service; `kubectl logs` reaches the kubelet by its address.
            args += [f"--advertise-address={NODE_IP}", "--kubelet-preferred-address-types=InternalIP"]
        elif advertise_loopback:
            args += ["--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"]
        args += self.apiserver_args
        self._apiserver = process = self._process("kube-apiserver", args)
        last = {"readyz": "no response yet"}

        def detail() -> str:
            lines = last["readyz"].splitlines()
            failed = [line for line in lines if "failed" in line or line.startswith("HTTP")]
            return "\nlast /readyz?verbose answer:\n" + ("\n".join(failed) or last["readyz"])

        def ready() -> bool:
            try:
                status, body = self.api_get("/readyz?verbose", timeout=3)
            except (OSError, http.client.HTTPException) as error:
                last["readyz"] = f"{type(error).__name__}: {error}"
                return False
            last["readyz"] = f"HTTP {status}\n" + body.decode(errors="replace")
            return status == 200

        self._wait_process(process, ready, "/readyz", detail=detail)

    def _wait_process(
        self,
        process: Process,
        ready: Callable[[], bool],
        endpoint: str,
        detail: Callable[[], str] = str,
    ) -> None:
        def check() -> None:
            code = process.exited()
            if code is None:
                return
            process.stop(self.stop_timeout)
            if process.address_in_use():
                raise _RetryWithNewPorts()
            raise process.failure(f"exited with code {code} before {endpoint} answered")

        def on_timeout() -> Exception:
            error = process.failure(f"not ready ({endpoint}) after {self.start_timeout:.0f} s{detail()}")
            process.stop(self.stop_timeout)
            return error

        poll_until(ready, timeout=self.start_timeout, check=check, on_timeout=on_timeout)

    def _wait_for_default_namespace(self) -> None:
        assert self._apiserver is not None
        apiserver = self._apiserver

        def exists() -> bool:
            try:
                return self.api_get("/api/v1/namespaces/default")[0] == 200
            except (OSError, http.client.HTTPException):
                return False

        def check() -> None:
            if apiserver.exited() is not None:
                raise apiserver.failure("exited while waiting for the default namespace")

        poll_until(
            exists,
            timeout=30,
            check=check,
            on_timeout=lambda: apiserver.failure("never created the default namespace (30 s)"),
        )
