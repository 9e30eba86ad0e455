"""A real Kubernetes control plane (etcd + kube-apiserver, plus kubectl) for tests, envtest style.

    from testbed.controlplane import ControlPlane

    with ControlPlane() as cp:
        cp.install_crds("crds")
        cp.kubectl("get", "namespaces")
        subprocess.run([...], env=cp.env())  # KUBECONFIG etc. for another process

What it does, following controller-runtime's envtest (see /work/shared/reference/envtest-notes.md):

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
import collections
import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import shutil
import signal
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
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "BUILD_SCRIPT",
    "REPO_ROOT",
    "ControlPlane",
    "ControlPlaneError",
    "KubectlError",
    "find_binaries",
    "versions",
]

TESTBED = Path(__file__).resolve().parent
REPO_ROOT = TESTBED.parent
BUILD_SCRIPT = TESTBED / "build-controlplane.sh"
VERSIONS_FILE = TESTBED / "versions.env"

LOG_TAIL_LINES = 40
_ADDRESS_IN_USE = "address already in use"


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used; the message carries the relevant log tail."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; ``str()`` shows the command, the exit code and stderr."""

    def __str__(self) -> str:
        command = " ".join(str(part) for part in self.cmd)
        stderr = (self.stderr or "").strip() or "(no stderr)"
        return f"kubectl failed with exit code {self.returncode}: {command}\n{stderr}"


# ----------------------------------------------------------------------------------------------------
# Binaries and versions


def versions() -> dict[str, str]:
    """The pinned versions from ``testbed/versions.env`` (``KUBERNETES_VERSION``, ``ETCD_VERSION``)."""
    result: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            result[key.strip()] = value.strip().strip("\"'")
    return result


_bin_dir_cache: Path | None = None


def find_binaries(*, echo: IO[str] | None = None) -> Path:
    """Run ``build-controlplane.sh`` (a cache hit takes well under a second) and return the binaries' folder.

    A cold build takes 15-25 minutes on 2 cores; its progress goes to ``echo`` (default: stderr). The result
    is memoised for the life of the process.
    """
    global _bin_dir_cache
    if _bin_dir_cache is not None:
        return _bin_dir_cache
    echo = sys.stderr if echo is None else echo
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
    with subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            # Echo everything but the final line (the folder), which is only known at the end.
            if len(tail) > 1:
                echo.write(tail[-2] + "\n")
                echo.flush()
        returncode = proc.wait()
    if returncode != 0 or not tail:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {returncode}; last output:\n" + "\n".join(tail))
    bin_dir = Path(tail[-1].strip())
    missing = [name for name in ("etcd", "kube-apiserver", "kubectl") if not (bin_dir / name).exists()]
    if missing:
        raise ControlPlaneError(f"{BUILD_SCRIPT} printed {bin_dir}, which lacks {', '.join(missing)}")
    _bin_dir_cache = bin_dir
    return bin_dir


# ----------------------------------------------------------------------------------------------------
# Credentials


@dataclass(frozen=True)
class _KeyPair:
    cert_pem: bytes
    key_pem: bytes


class _TinyCA:
    """A throw-away certificate authority (ECDSA P-256, valid for a week), like envtest's TinyCA."""

    def __init__(self, common_name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "es-inference-operator testbed"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self._cert = (
            self._builder(self._name, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self.key_pem = _private_pem(self._key)

    def _builder(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
        )

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        client: bool = False,
    ) -> _KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            self._builder(x509.Name(attributes), key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return _KeyPair(cert.public_bytes(serialization.Encoding.PEM), _private_pem(key))


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    return path


# ----------------------------------------------------------------------------------------------------
# Processes


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


def die_with_parent_preexec() -> None:
    """preexec_fn: ask the kernel to SIGKILL the child when the thread that started it dies (Linux only).

    SIGKILL, not SIGTERM: both processes would get it at once, and kube-apiserver's graceful shutdown hangs
    once etcd is gone. Everything is disposable anyway.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except Exception:  # pragma: no cover - best effort
        pass


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open(errors="replace") as handle:
            return "".join(collections.deque(handle, maxlen=lines)).rstrip("\n")
    except OSError as error:
        return f"(no log: {error})"


@dataclass
class _Process:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started_at: float = 0.0

    def start(self, *, die_with_parent: bool) -> None:
        self.log = self.log_path.open("ab")
        self.log.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(self.args)}\n".encode())
        self.log.flush()
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C goes to Python, which then stops us in order
            preexec_fn=die_with_parent_preexec if die_with_parent and sys.platform == "linux" else None,
        )

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def failure(self, what: str) -> ControlPlaneError:
        return ControlPlaneError(
            f"{self.name} {what}; last {LOG_TAIL_LINES} lines of {self.log_path}:\n{_tail(self.log_path)}"
        )

    def address_in_use(self) -> bool:
        return _ADDRESS_IN_USE in _tail(self.log_path, 200)

    def stop(self, timeout: float) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(10)
        if self.log is not None:
            self.log.close()
            self.log = None

    def peak_rss_mib(self) -> float | None:
        """VmHWM (peak resident set size) while running, from /proc (Linux)."""
        if self.popen is None or self.popen.poll() is not None:
            return None
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


def _poll(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    max_interval: float = 0.5,
    on_timeout: Callable[[], Exception],
    check: Callable[[], None] | None = None,
) -> None:
    """Call ``condition`` until true, ``check`` (which may raise) before each try; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        if condition():
            return
        if time.monotonic() >= deadline:
            raise on_timeout()
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)


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
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._users: dict[str, _User] = {}
        self._serving_ca: _TinyCA | None = None
        self._client_ca: _TinyCA | None = None
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
        return _tail(self.log_path(name), lines)

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

        _poll(
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
        self._serving_ca = _TinyCA("testbed serving CA")
        serving = self._serving_ca.issue(
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.0.0.1"),
        )
        self._client_ca = _TinyCA("testbed client CA")
        self._admin = self._client_ca.issue("admin", organizations=("system:masters",), client=True)
        # kube-apiserver reads the signing key as an "EC PRIVATE KEY" and the verification key as a public key.
        sa_key = ec.generate_private_key(ec.SECP256R1())
        sa_private = sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        sa_public = sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

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

    def _write_kubeconfig(self, name: str, groups: tuple[str, ...], pair: _KeyPair) -> Path:
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
        self._etcd = process = _Process("etcd", args, workdir / "etcd.log")
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
        self._apiserver = process = _Process("kube-apiserver", args, workdir / "kube-apiserver.log")
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
        process: _Process,
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

        _poll(ready, timeout=self.start_timeout, check=check, on_timeout=on_timeout)

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

        _poll(
            exists,
            timeout=30,
            check=check,
            on_timeout=lambda: apiserver.failure("never created the default namespace (30 s)"),
        )


def _main(argv: Sequence[str]) -> int:
    """``python -m testbed.controlplane``: start a control plane, print how to reach it, wait for Ctrl-C."""
    crds = Path(argv[0]) if argv else REPO_ROOT / "crds"
    with ControlPlane() as cp:
        installed = cp.install_crds(crds)
        print(f"server:     {cp.server}")
        print(f"kubeconfig: {cp.kubeconfig}")
        print(f"kubectl:    {cp.kubectl_path}")
        print(f"CRDs:       {', '.join(installed) or '(none)'}")
        print(f"started in {cp.timings.total:.1f} s; Ctrl-C stops it")
        print(f"export KUBECONFIG={cp.kubeconfig} PATH={cp.bin_dir}:$PATH")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            while cp.running:
                time.sleep(1)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
