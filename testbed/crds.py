"""Installing CRDs and waiting until they are served (part of :class:`testbed.controlplane.ControlPlane`)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from testbed.errors import ControlPlaneError
from testbed.process import poll_until

__all__ = ["CrdInstaller"]


class CrdInstaller:
    """``install_crds`` and ``wait_for_crds``, over the control plane's kubectl and ``api_get``."""

    if TYPE_CHECKING:  # provided by ClusterAccess

        def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]: ...

        def api_get(self, path: str, *, timeout: float = 5.0) -> tuple[int, bytes]: ...

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
