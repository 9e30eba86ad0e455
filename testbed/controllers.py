"""kube-controller-manager and kube-scheduler beside the API server (part of
:class:`testbed.controlplane.ControlPlane`), built by ``testbed/build-node.sh`` from the same pinned module.

kube-controller-manager runs every default controller (namespace deletion, garbage collection, ServiceAccounts
and ``kube-root-ca.crt``, Deployments, ReplicaSets, EndpointSlices, ...), each with its own ServiceAccount's
credentials as in a kubeadm cluster; kube-scheduler places pods on the node. Neither serves HTTPS (a node's
sandbox or the machine may run several control planes), and neither elects a leader (there is one of each).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.process import Process, poll_until

__all__ = ["Controllers"]


class Controllers:
    """Starts the controllers the control plane was asked for, after the API server is ready."""

    controller_manager: bool
    scheduler: bool
    _controllers: list[Process]
    start_timeout: float

    if TYPE_CHECKING:  # provided by ControlPlane, Servers and ClusterAccess

        def _require_workdir(self) -> Path: ...

        def _process(self, name: str, args: list[str]) -> Process: ...

        def component_kubeconfig(self, name: str, groups: Iterable[str] = ()) -> Path: ...

        def api_get(self, path: str, *, timeout: float = 5.0) -> tuple[int, bytes]: ...

    def _start_controllers(self) -> None:
        if not (self.controller_manager or self.scheduler):
            return
        from testbed.node.assets import find_node_binaries  # the node's build: only those who ask pay for it

        binaries = find_node_binaries()
        pki = self._require_workdir() / "pki"
        if self.controller_manager:
            kubeconfig = self.component_kubeconfig("system:kube-controller-manager")
            args = [
                str(binaries / "kube-controller-manager"),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={pki / 'sa-signer.key'}",
                f"--root-ca-file={pki / 'serving-ca.crt'}",
                "--leader-elect=false",
                "--secure-port=0",
                "--controllers=*",
                "--concurrent-namespace-syncs=5",
                "--v=1",
            ]
            self._controllers.append(self._process("kube-controller-manager", args))
            self._wait_for_default_service_account()
        if self.scheduler:
            kubeconfig = self.component_kubeconfig("system:kube-scheduler")
            args = [
                str(binaries / "kube-scheduler"),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
                "--v=1",
            ]
            self._controllers.append(self._process("kube-scheduler", args))

    def _wait_for_default_service_account(self) -> None:
        """The controller manager is at work once the ``default`` namespace has its ServiceAccount."""
        manager = self._controllers[-1]
        began = time.monotonic()

        def created() -> bool:
            try:
                return self.api_get("/api/v1/namespaces/default/serviceaccounts/default")[0] == 200
            except OSError:
                return False

        def check() -> None:
            if manager.exited() is not None:
                raise manager.failure(f"exited with code {manager.exited()}")

        poll_until(
            created,
            timeout=self.start_timeout,
            check=check,
            on_timeout=lambda: manager.failure(f"made no default ServiceAccount in {time.monotonic() - began:.0f} s"),
        )
