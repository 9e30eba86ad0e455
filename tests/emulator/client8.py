"""The 8.x official client, installed on first use into a cache folder outside the repository.

The project's environment has the 9.x client; an 8.x client cannot share its site-packages, so it lives in its
own ``pip install --target`` folder and runs in a subprocess with ``PYTHONPATH`` pointing there. The same
install, for a setup step:

    python -m pip install --upgrade --target "${XDG_CACHE_HOME:-$HOME/.cache}/es-inference-operator/es-client-8" \
        'elasticsearch==8.19.3' 'elastic-transport<9'
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REQUIREMENTS = ("elasticsearch==8.19.3", "elastic-transport<9")
VERSION = "8.19.3"
INSTALL_TIMEOUT = 300


def install_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "es-inference-operator" / "es-client-8"


def _installed(target: Path) -> bool:
    version_file = target / "elasticsearch" / "_version.py"
    return version_file.is_file() and f'"{VERSION}"' in version_file.read_text()


def ensure_client8() -> Path:
    """The folder holding the 8.x client, installing it first if needed (one installer at a time)."""
    target = install_dir()
    if _installed(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".es-client-8.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(target):
            return target
        staging = Path(tempfile.mkdtemp(prefix="es-client-8-", dir=target.parent))
        try:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--target",
                    str(staging),
                    *REQUIREMENTS,
                ],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
            if result.returncode != 0:
                raise RuntimeError(f"installing the 8.x client failed:\n{result.stdout}\n{result.stderr}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def run_with_client8(script: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with the 8.x client importable as ``elasticsearch``."""
    env = {**os.environ, "PYTHONPATH": str(ensure_client8())}
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=timeout
    )
