"""A real Kubernetes control plane (etcd + kube-apiserver, plus kubectl) for tests, envtest style.

    from testbed.controlplane import ControlPlane

    with ControlPlane() as cp:
        cp.install_crds("crds")
        cp.kubectl("get", "namespaces")
        subprocess.run([...], env=cp.env())  # KUBECONFIG etc. for another process

What it does, following controller-runtime's envtest (sigs.k8s.io/controller-runtime/pkg/envtest), split as
envtest is: ``binaries`` finds the binaries, ``certificates`` mints credentials, ``process`` supervises one
process, ``servers`` starts etcd and kube-apiserver, ``controllers`` kube-controller-manager and kube-scheduler,
``access`` reaches the API as a user (kubeconfigs, kubectl), ``crds`` installs CRDs, and this module composes
them; ``python -m testbed`` starts one from the shell. :class:`testbed.node.Node` runs one inside a node's
namespaces (``sandbox``), with a kubelet.

* binaries come from ``testbed/build-controlplane.sh`` (``TEST_ASSET_*``, ``KUBEBUILDER_ASSETS``, or a
  cache outside the tree, built from the pinned Go modules when missing); its last stdout line is the folder;
* credentials are minted with ``cryptography`` in a temporary folder: a serving CA and a serving certificate
  for 127.0.0.1/localhost, a service-account signing key, a client CA, an ``admin`` user in
  ``system:masters``, and any further users through :meth:`ControlPlane.add_user`;
* etcd listens on free loopback ports (``--unsafe-no-fsync``, temporary data folder), kube-apiserver on a free
  loopback port with RBAC; a start that hits "address already in use" is retried with new ports;
* start failures raise :class:`ControlPlaneError` with the tail of the failing process's log;
* on exit (also after a failed start) both processes get SIGTERM, then SIGKILL, and the folder is removed.
  The processes also die (SIGKILL) with the Python process that started them (``PR_SET_PDEATHSIG``, Linux);
  only the temporary folder is left behind then.

Without kube-controller-manager there is no namespace deletion (namespaces stay ``Terminating``), no garbage
collection of owned objects, no default ServiceAccount, no ClusterRole aggregation and no pods running:
``ControlPlane(controller_manager=True)`` starts one (built by ``testbed/build-node.sh``), with the
ServiceAccount admission plugin on, and ``kubectl delete namespace`` completes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from testbed.access import ClusterAccess, KubectlError, _User, _write
from testbed.binaries import BUILD_SCRIPT, REPO_ROOT, find_binaries, versions
from testbed.certificates import TinyCA, service_account_key_pair
from testbed.controllers import Controllers
from testbed.crds import CrdInstaller
from testbed.errors import ControlPlaneError
from testbed.process import LOG_TAIL_LINES, Process, read_tail
from testbed.servers import Servers, _Timings

if TYPE_CHECKING:
    from testbed.node.relay import Relays
    from testbed.node.sandbox import Sandbox

__all__ = [
    "BUILD_SCRIPT",
    "REPO_ROOT",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "find_binaries",
    "versions",
]


class ControlPlane(Servers, Controllers, ClusterAccess, CrdInstaller):
    """etcd + kube-apiserver on loopback, with an admin kubeconfig and the built kubectl.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`). The constructor starts nothing.

    :param bin_dir: folder with ``etcd``, ``kube-apiserver`` and ``kubectl``; default: :func:`find_binaries`.
    :param start_timeout: bound, in seconds, for each of etcd and kube-apiserver to become ready.
    :param etcd_args: extra etcd flags (appended; a later flag wins).
    :param apiserver_args: extra kube-apiserver flags (appended; a later flag wins), e.g.
        ``["--runtime-config=...", "--feature-gates=..."]``.
    :param advertise_loopback: pass ``--advertise-address=127.0.0.1 --endpoint-reconciler-type=none``; default
        (``None``): only when the machine has no default route (notes §12).
    :param keep_workdir: keep the temporary folder (certificates, logs, etcd data) after stop; also
        enabled by the environment variable ``CONTROLPLANE_KEEP_WORKDIR=1``.
    :param die_with_parent: have the kernel SIGKILL etcd and kube-apiserver when the thread that started them
        exits (Linux). Start from the main thread, or turn this off when starting from a short-lived thread.
    :param controller_manager: also run kube-controller-manager (namespace deletion, garbage collection,
        ServiceAccounts and their tokens, Deployments and ReplicaSets); ``scheduler``: also kube-scheduler.
    :param sandbox: run every process inside this node sandbox (:class:`testbed.node.sandbox.Sandbox`), the API
        server on the node's address; ``relays`` carries this process's connections in.
    """

    def __init__(
        self,
        *,
        bin_dir: str | os.PathLike[str] | None = None,
        start_timeout: float = 90.0,
        stop_timeout: float = 10.0,
        etcd_args: Sequence[str] = (),
        apiserver_args: Sequence[str] = (),
        advertise_loopback: bool | None = None,
        keep_workdir: bool | None = None,
        die_with_parent: bool = True,
        port_attempts: int = 3,
        controller_manager: bool = False,
        scheduler: bool = False,
        sandbox: Sandbox | None = None,
        relays: Relays | None = None,
    ) -> None:
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.etcd_args = list(etcd_args)
        self.apiserver_args = list(apiserver_args)
        self.advertise_loopback = advertise_loopback
        if keep_workdir is None:
            keep_workdir = os.environ.get("CONTROLPLANE_KEEP_WORKDIR", "") not in ("", "0", "false")
        self.keep_workdir = keep_workdir
        self.die_with_parent = die_with_parent
        self.port_attempts = port_attempts
        self.controller_manager = controller_manager
        self.scheduler = scheduler
        self.sandbox = sandbox
        self.relays = relays

        self.workdir: Path | None = None
        self.etcd_url: str | None = None
        self._server: str | None = None
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._controllers: list[Process] = []
        self._users: dict[str, _User] = {}
        self._serving_ca: TinyCA | None = None
        self._client_ca: TinyCA | None = None
        self._ssl: ssl.SSLContext | None = None
        self._started = False
        self.timings = _Timings()

    # -- lifecycle -------------------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        """Start etcd and kube-apiserver and wait until the API serves the ``default`` namespace.

        On failure everything started so far is stopped and removed before the error propagates.
        """
        if self._started:
            raise ControlPlaneError("this ControlPlane was already started; make a new one")
        self._started = True
        begin = time.monotonic()
        atexit.register(self.stop)
        try:
            if self._bin_dir is None:
                self._bin_dir = find_binaries()
            self.workdir = Path(tempfile.mkdtemp(prefix="controlplane-"))
            self._make_credentials()
            self._start_with_port_retries("etcd", self._start_etcd)
            self._start_with_port_retries("kube-apiserver", self._start_apiserver)
            self._write_kubeconfig("admin", ("system:masters",), self._admin)
            self._wait_for_default_namespace()
            self._start_controllers()
        except BaseException:
            self.stop()
            raise
        self.timings.total = time.monotonic() - begin
        return self

    def stop(self) -> None:
        """Stop the controllers, kube-apiserver, then etcd (SIGTERM, wait, SIGKILL), and remove the temporary
        folder.

        Idempotent; safe after a failed or partial start.
        """
        errors: list[BaseException] = []
        for process in (*self._controllers, self._apiserver, self._etcd):
            if process is not None:
                try:
                    process.stop(self.stop_timeout)
                except BaseException as error:  # keep going: the other process must stop too
                    errors.append(error)
        if self.workdir is not None and self.workdir.exists():
            if self.keep_workdir:
                print(f"control plane workdir kept: {self.workdir}", file=sys.stderr)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if errors:
            raise errors[0]

    @property
    def running(self) -> bool:
        return all(p is not None and p.exited() is None for p in (self._etcd, self._apiserver, *self._controllers))

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of etcd, kube-apiserver and the controllers (for diagnostics and tests)."""
        processes = (self._etcd, self._apiserver, *self._controllers)
        return {p.name: p.pid for p in processes if p is not None and p.pid is not None}

    def peak_rss_mib(self) -> dict[str, float | None]:
        """Peak resident memory so far of etcd and kube-apiserver, in MiB (Linux)."""
        return {p.name: p.peak_rss_mib() for p in (self._etcd, self._apiserver) if p is not None}

    def log_path(self, name: str) -> Path:
        """The log file of ``etcd``, ``kube-apiserver``, ... (inside the workdir, so gone after stop)."""
        return self._require_workdir() / f"{name}.log"

    def log_tail(self, name: str, lines: int = LOG_TAIL_LINES) -> str:
        return read_tail(self.log_path(name), lines)

    # -- public attributes -----------------------------------------------------------------------------

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_binaries()
        return self._bin_dir

    @property
    def ca_path(self) -> Path:
        """PEM of the CA that signed the API server's serving certificate."""
        return self._require_workdir() / "pki" / "serving-ca.crt"

    # -- internals -------------------------------------------------------------------------------------

    def _make_credentials(self) -> None:
        pki = self._require_workdir() / "pki"
        self._serving_ca = TinyCA("testbed serving CA")
        serving = self._serving_ca.issue(
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.0.0.1", *self._node_addresses()),
        )
        self._client_ca = TinyCA("testbed client CA")
        self._admin = self._client_ca.issue("admin", organizations=("system:masters",), client=True)
        sa_private, sa_public = service_account_key_pair()

        _write(pki / "serving-ca.crt", self._serving_ca.cert_pem, 0o644)
        _write(pki / "apiserver.crt", serving.cert_pem + self._serving_ca.cert_pem, 0o644)
        _write(pki / "apiserver.key", serving.key_pem)
        _write(pki / "client-ca.crt", self._client_ca.cert_pem, 0o644)
        _write(pki / "sa-signer.key", sa_private)
        _write(pki / "sa-signer.pub", sa_public, 0o644)
        _write(pki / "admin.crt", self._admin.cert_pem)
        _write(pki / "admin.key", self._admin.key_pem)

        context = ssl.create_default_context(cafile=str(pki / "serving-ca.crt"))
        context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self._ssl = context


if __name__ == "__main__":  # ``python -m testbed.controlplane`` still works; ``python -m testbed`` is the CLI
    from testbed.__main__ import main

    raise SystemExit(main(sys.argv[1:]))
