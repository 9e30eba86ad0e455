"""A real Kubernetes control plane (etcd + kube-apiserver, plus kubectl) for tests, envtest style.

    from testbed.controlplane import ControlPlane

    with ControlPlane() as cp:
        cp.install_crds("crds")
        cp.kubectl("get", "namespaces")
        subprocess.run([...], env=cp.env())  # KUBECONFIG etc. for another process

What it does, following controller-runtime's envtest (sigs.k8s.io/controller-runtime/pkg/envtest), split as
envtest is: ``binaries`` finds the binaries, ``certificates`` mints credentials, ``process`` supervises one
process, and this module composes them; ``python -m testbed`` starts one from the shell.

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
collection of owned objects, no default ServiceAccount, no ClusterRole aggregation and no pods running.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from testbed.binaries import BUILD_SCRIPT, REPO_ROOT, find_binaries, versions
from testbed.certificates import KeyPair, TinyCA, service_account_key_pair
from testbed.errors import ControlPlaneError
from testbed.process import LOG_TAIL_LINES, Process, poll_until, read_tail

__all__ = [
    "BUILD_SCRIPT",
    "REPO_ROOT",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "find_binaries",
    "versions",
]


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; ``str()`` shows the command, the exit code and stderr."""

    def __str__(self) -> str:
        command = " ".join(str(part) for part in self.cmd)
        stderr = (self.stderr or "").strip() or "(no stderr)"
        return f"kubectl failed with exit code {self.returncode}: {command}\n{stderr}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


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


# ----------------------------------------------------------------------------------------------------
# The control plane


@dataclass
class _User:
    name: str
    groups: tuple[str, ...]
    kubeconfig: Path


@dataclass
class _Timings:
    etcd: float = 0.0
    apiserver: float = 0.0
    total: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)


class ControlPlane:
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

        self.workdir: Path | None = None
        self.etcd_url: str | None = None
        self._server: str | None = None
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
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
        except BaseException:
            self.stop()
            raise
        self.timings.total = time.monotonic() - begin
        return self

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (SIGTERM, wait, SIGKILL), and remove the temporary folder.

        Idempotent; safe after a failed or partial start.
        """
        errors: list[BaseException] = []
        for process in (self._apiserver, self._etcd):
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
        return all(p is not None and p.exited() is None for p in (self._etcd, self._apiserver))

    @property
    def pids(self) -> dict[str, int]:
        """Process ids of etcd and kube-apiserver (for diagnostics and tests)."""
        return {p.name: p.pid for p in (self._etcd, self._apiserver) if p is not None and p.pid is not None}

    def peak_rss_mib(self) -> dict[str, float | None]:
        """Peak resident memory so far of etcd and kube-apiserver, in MiB (Linux)."""
        return {p.name: p.peak_rss_mib() for p in (self._etcd, self._apiserver) if p is not None}

    def log_path(self, name: str) -> Path:
        """The log file of ``etcd`` or ``kube-apiserver`` (inside the workdir, so gone after stop)."""
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
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def server(self) -> str:
        """The API server's URL, ``https://127.0.0.1:<port>``."""
        if self._server is None:
            raise ControlPlaneError("the control plane is not started")
        return self._server

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (user ``admin`` in ``system:masters``, credentials embedded)."""
        return self.user_kubeconfig("admin")

    @property
    def ca_path(self) -> Path:
        """PEM of the CA that signed the API server's serving certificate."""
        return self._require_workdir() / "pki" / "serving-ca.crt"

    def user_kubeconfig(self, name: str) -> Path:
        try:
            return self._users[name].kubeconfig
        except KeyError:
            raise ControlPlaneError(
                f"no user {name!r}; known: {sorted(self._users)} (mint one with add_user)"
            ) from None

    # -- users -----------------------------------------------------------------------------------------

    def add_user(self, name: str, groups: Iterable[str] = ()) -> Path:
        """Mint a client certificate (CN=name, O=groups) and return a kubeconfig for that identity.

        The user has no permissions beyond the bootstrap ones for ``system:authenticated`` until a
        (Cluster)RoleBinding grants some. Use the name with ``kubectl(..., user=name)`` and
        ``env(user=name)``.
        """
        if self._client_ca is None or self._server is None:
            raise ControlPlaneError("start the control plane before adding users")
        if name in self._users:
            raise ControlPlaneError(f"user {name!r} already exists")
        groups = tuple(groups)
        pair = self._client_ca.issue(name, organizations=groups, client=True)
        return self._write_kubeconfig(name, groups, pair)

    # -- kubectl and environment -----------------------------------------------------------------------

    def kubectl(
        self,
        *args: str,
        user: str | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster as ``user`` (default ``admin``); output is captured.

        With ``check`` a non-zero exit raises :class:`KubectlError` (command, exit code, stderr).
        """
        cmd = [
            str(self.kubectl_path),
            f"--kubeconfig={self.user_kubeconfig(user or 'admin')}",
            f"--cache-dir={self._require_workdir() / 'kubectl-cache'}",
            *args,
        ]
        result = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self._kubectl_env(),
            check=False,
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, cmd, result.stdout, result.stderr)
        return result

    def kubectl_json(self, *args: str, user: str | None = None, timeout: float = 60) -> Any:
        """``kubectl <args> -o json``, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json", user=user, timeout=timeout).stdout)

    def env(self, user: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess that should talk to this cluster as ``user`` (default ``admin``).

        A copy of ``base`` (default: ``os.environ``) with ``KUBECONFIG`` set, the binaries' folder first on
        ``PATH`` (so ``kubectl`` is the built one), ``KUBEBUILDER_ASSETS`` set, a private kubectl cache folder
        (``KUBECACHEDIR``), and the in-cluster variables (``KUBERNETES_SERVICE_HOST``/``_PORT``) removed so
        that clients such as kopf do not prefer an in-cluster login.
        """
        result = dict(os.environ if base is None else base)
        for key in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONTEXT"):
            result.pop(key, None)
        result["KUBECONFIG"] = str(self.user_kubeconfig(user or "admin"))
        result["KUBECACHEDIR"] = str(self._require_workdir() / "kubectl-cache")
        result["KUBEBUILDER_ASSETS"] = str(self.bin_dir)
        path = result.get("PATH", os.defpath)
        result["PATH"] = f"{self.bin_dir}{os.pathsep}{path}" if path else str(self.bin_dir)
        return result

    def api_client(self, user: str | None = None) -> Any:
        """A ``kubernetes.client.ApiClient`` for ``user`` (default ``admin``); close it when done."""
        from kubernetes import config  # imported lazily: only callers that want it pay

        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.user_kubeconfig(user or "admin"))
        )

    # -- raw API access (stdlib only; used for readiness and CRD discovery) ----------------------------------

    def api_get(self, path: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET ``path`` as admin; returns (status, body). Connection errors propagate as ``OSError``."""
        if self._ssl is None or self._server is None:
            raise ControlPlaneError("the control plane is not started")
        host, port = self._server.removeprefix("https://").rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=self._ssl, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    # -- CRDs ------------------------------------------------------------------------------------------------

    def install_crds(
        self, path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, timeout: float = 60.0
    ) -> list[str]:
        """Apply CRD manifests (``kubectl apply --server-side``) and wait until each is ``Established`` and
        its resource is served in discovery for every served version.

        ``path`` is a file, a folder (every ``*.yaml``/``*.yml``/``*.json`` in it, not recursive,
        ``kustomization.yaml`` skipped), or several of those. A missing or empty folder installs nothing.
        Returns the names of the CRDs applied.
        """
        paths = [path] if isinstance(path, str | os.PathLike) else list(path)
        files: list[Path] = []
        for item in map(Path, paths):
            if item.is_dir():
                files += sorted(
                    f
                    for f in item.iterdir()
                    if f.is_file()
                    and f.suffix in (".yaml", ".yml", ".json")
                    and f.name not in ("kustomization.yaml", "kustomization.yml")
                )
            elif item.is_file():
                files.append(item)
        if not files:
            return []
        args = ["apply", "--server-side", "--force-conflicts", "--field-manager=testbed", "-o", "name"]
        for file in files:
            args += ["-f", str(file)]
        applied = self.kubectl(*args, timeout=timeout).stdout.split()
        names = [
            item.split("/", 1)[1]
            for item in applied
            if item.startswith("customresourcedefinition.apiextensions.k8s.io/")
        ]
        self.wait_for_crds(names, timeout=timeout)
        return names

    def wait_for_crds(self, names: Iterable[str], *, timeout: float = 60.0) -> None:
        """Wait until each named CRD is ``Established`` and served in discovery (bounded)."""
        pending = list(names)
        last: dict[str, str] = {}

        def crd_ready(name: str) -> bool:
            status, body = self.api_get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            if status != 200:
                last[name] = f"GET crd: HTTP {status}"
                return False
            crd = json.loads(body)
            conditions = {c.get("type"): c for c in crd.get("status", {}).get("conditions") or []}
            established = conditions.get("Established", {})
            if established.get("status") != "True":
                last[name] = f"Established={established.get('status')} {established.get('message', '')}"
                return False
            group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
            for version in (v["name"] for v in crd["spec"]["versions"] if v.get("served")):
                status, body = self.api_get(f"/apis/{group}/{version}")
                listed = json.loads(body).get("resources", []) if status == 200 else []
                resources = {r.get("name") for r in listed}
                if plural not in resources:
                    last[name] = f"{plural} not yet in discovery of {group}/{version} (HTTP {status})"
                    return False
            return True

        def all_ready() -> bool:
            pending[:] = [name for name in pending if not crd_ready(name)]
            return not pending

        poll_until(
            all_ready,
            timeout=timeout,
            on_timeout=lambda: ControlPlaneError(
                f"CRDs not ready after {timeout:.0f} s: " + "; ".join(f"{n}: {last.get(n, '?')}" for n in pending)
            ),
        )

    # -- internals -------------------------------------------------------------------------------------

    def _require_workdir(self) -> Path:
        if self.workdir is None:
            raise ControlPlaneError("the control plane is not started")
        return self.workdir

    def _kubectl_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"):
            env.pop(key, None)
        return env

    def _make_credentials(self) -> None:
        pki = self._require_workdir() / "pki"
        self._serving_ca = TinyCA("testbed serving CA")
        serving = self._serving_ca.issue(
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.0.0.1"),
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

    def _write_kubeconfig(self, name: str, groups: tuple[str, ...], pair: KeyPair) -> Path:
        assert self._serving_ca is not None
        path = self._require_workdir() / "kubeconfigs" / f"{name}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testbed",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _b64(self._serving_ca.cert_pem),
                    },
                }
            ],
            "users": [
                {
                    "name": name,
                    "user": {
                        "client-certificate-data": _b64(pair.cert_pem),
                        "client-key-data": _b64(pair.key_pem),
                    },
                }
            ],
            "contexts": [{"name": f"testbed-{name}", "context": {"cluster": "testbed", "user": name}}],
            "current-context": f"testbed-{name}",
            "preferences": {},
        }
        # JSON is YAML: kubectl, client-go and the Python client read it; no YAML library needed here.
        _write(path, json.dumps(config, indent=2).encode())
        self._users[name] = _User(name, groups, path)
        return path

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
        client_port, peer_port = _free_port(), _free_port()
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
        self._etcd = process = Process("etcd", args, workdir / "etcd.log")
        process.start(die_with_parent=self.die_with_parent)

        def healthy() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", client_port, timeout=2)
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
        port = _free_port()
        self._server = f"https://127.0.0.1:{port}"
        advertise_loopback = self.advertise_loopback
        if advertise_loopback is None:
            advertise_loopback = not _has_default_route()
        args = [
            str(self.bin_dir / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--client-ca-file={pki / 'client-ca.crt'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount",
            f"--service-account-issuer={self._server}/",
            f"--service-account-key-file={pki / 'sa-signer.pub'}",
            f"--service-account-signing-key-file={pki / 'sa-signer.key'}",
            "--profiling=false",
        ]
        if advertise_loopback:
            args += ["--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"]
        args += self.apiserver_args
        self._apiserver = process = Process("kube-apiserver", args, workdir / "kube-apiserver.log")
        process.start(die_with_parent=self.die_with_parent)
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


if __name__ == "__main__":  # ``python -m testbed.controlplane`` still works; ``python -m testbed`` is the CLI
    from testbed.__main__ import main

    raise SystemExit(main(sys.argv[1:]))
