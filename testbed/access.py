"""Reaching the control plane as one of its users: kubeconfigs, the built kubectl, an environment for other
processes, the Python client and a stdlib GET (part of :class:`testbed.controlplane.ControlPlane`)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from testbed.certificates import KeyPair, TinyCA
from testbed.errors import ControlPlaneError

__all__ = ["ClusterAccess", "KubectlError"]


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


@dataclass
class _User:
    name: str
    groups: tuple[str, ...]
    kubeconfig: Path


class ClusterAccess:
    """The users, kubectl and API access of a control plane; :class:`ControlPlane` sets these attributes."""

    workdir: Path | None
    _server: str | None
    _users: dict[str, _User]
    _serving_ca: TinyCA | None
    _client_ca: TinyCA | None
    _ssl: ssl.SSLContext | None

    if TYPE_CHECKING:  # provided by ControlPlane and Servers

        @property
        def bin_dir(self) -> Path: ...

        @property
        def internal_server(self) -> str: ...

    @property
    def kubectl_path(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def server(self) -> str:
        """The API server's URL for this process, ``https://127.0.0.1:<port>``."""
        if self._server is None:
            raise ControlPlaneError("the control plane is not started")
        return self._server

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (user ``admin`` in ``system:masters``, credentials embedded)."""
        return self.user_kubeconfig("admin")

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

    def _require_workdir(self) -> Path:
        if self.workdir is None:
            raise ControlPlaneError("the control plane is not started")
        return self.workdir

    def _kubectl_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"):
            env.pop(key, None)
        return env

    def component_kubeconfig(self, name: str, groups: Iterable[str] = ()) -> Path:
        """A kubeconfig for a component beside the API server (kube-controller-manager, a kubelet, ...): a
        client certificate for ``name`` in ``groups``, and the server as the component reaches it."""
        if self._client_ca is None:
            raise ControlPlaneError("start the control plane before adding components")
        pair = self._client_ca.issue(name, organizations=tuple(groups), client=True)
        file_name = name.replace(":", "-")
        return self._write_kubeconfig(file_name, tuple(groups), pair, server=self.internal_server, keep=False)

    def _write_kubeconfig(
        self, name: str, groups: tuple[str, ...], pair: KeyPair, *, server: str | None = None, keep: bool = True
    ) -> Path:
        assert self._serving_ca is not None
        path = self._require_workdir() / "kubeconfigs" / f"{name}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testbed",
                    "cluster": {
                        "server": server or self.server,
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
        if keep:
            self._users[name] = _User(name, groups, path)
        return path
