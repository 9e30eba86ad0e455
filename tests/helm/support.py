"""The helm CLI for the chart's tests, and the chart's renders."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from testbed.controlplane import REPO_ROOT, ControlPlane

CHART = REPO_ROOT / "charts" / "es-inference-operator"
BUILD_SCRIPT = REPO_ROOT / "testbed" / "build-helm.sh"
RELEASE = "es-inference-operator"

_helm_binary: Path | None = None


def find_helm() -> Path:
    """Run testbed/build-helm.sh (TEST_ASSET_HELM, else the cache, else a build from testbed/helm) and return
    the binary it prints last. Its progress goes to stderr."""
    global _helm_binary
    if _helm_binary is None:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, check=False
        )
        lines = result.stdout.strip().splitlines()
        assert result.returncode == 0 and lines, f"{BUILD_SCRIPT} failed with exit code {result.returncode}"
        binary = Path(lines[-1])
        assert os.access(binary, os.X_OK), f"{BUILD_SCRIPT} printed {binary}, which is not executable"
        _helm_binary = binary
    return _helm_binary


@dataclass
class Helm:
    """helm with folders of its own (no user's repositories, plugins or cache), first on PATH so that a README
    command typed as `helm ...` finds it."""

    binary: Path
    home: Path

    def env(self, cp: ControlPlane | None = None) -> dict[str, str]:
        """The environment for helm: the control plane's (admin KUBECONFIG, the built kubectl on PATH) if
        given, helm's folders under `home`, helm first on PATH."""
        env = cp.env() if cp is not None else dict(os.environ)
        for name in ("CACHE", "CONFIG", "DATA"):
            env[f"HELM_{name}_HOME"] = str(self.home / name.lower())
        env["PATH"] = f"{self.binary.parent}{os.pathsep}{env.get('PATH', '')}"
        if cp is None:
            env.pop("KUBECONFIG", None)
        return env

    def run(
        self, *args: str, cp: ControlPlane | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), *args],
            cwd=REPO_ROOT,
            env=self.env(cp),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"helm {' '.join(args)}\nexit {result.returncode}\n{result.stderr}"
        return result

    def template_text(self, *args: str, namespace: str = RELEASE, release: str = RELEASE) -> str:
        return self.run("template", release, str(CHART), "--namespace", namespace, *args).stdout

    def template(self, *args: str, namespace: str = RELEASE, release: str = RELEASE) -> list[dict[str, Any]]:
        """`helm template` of the chart, parsed."""
        text = self.template_text(*args, namespace=namespace, release=release)
        return [doc for doc in yaml.safe_load_all(text) if doc]
