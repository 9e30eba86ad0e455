"""Finding kube-apiserver, etcd and kubectl, the way envtest looks them up (``TEST_ASSET_*``,
``KUBEBUILDER_ASSETS``, then a cache outside the tree), by running ``testbed/build-controlplane.sh``.

That script builds them from the pinned Go modules when the cache lacks them; its last stdout line is the folder.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from testbed.errors import ControlPlaneError

__all__ = ["BUILD_SCRIPT", "REPO_ROOT", "TESTBED", "VERSIONS_FILE", "find_binaries", "run_build_script", "versions"]

TESTBED = Path(__file__).resolve().parent
REPO_ROOT = TESTBED.parent
BUILD_SCRIPT = TESTBED / "build-controlplane.sh"
VERSIONS_FILE = TESTBED / "versions.env"

_BUILD_TAIL_LINES = 40  # lines of the build's output kept for an error message


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


def run_build_script(script: Path, *, echo: IO[str] | None = None) -> str:
    """Run one of the testbed's build or fetch scripts, echoing its progress (stderr) to ``echo`` (default:
    stderr) as it comes, and return the last line of its stdout (the path it built or found)."""
    echo = sys.stderr if echo is None else echo
    tail: collections.deque[str] = collections.deque(maxlen=_BUILD_TAIL_LINES)
    stdout: list[str] = []
    with subprocess.Popen(
        ["bash", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        reader = threading.Thread(target=stdout.extend, args=(proc.stdout,), daemon=True)
        reader.start()
        for line in proc.stderr:
            tail.append(line.rstrip("\n"))
            echo.write(tail[-1] + "\n")
            echo.flush()
        reader.join()
        returncode = proc.wait()
    if returncode != 0 or not stdout:
        output = "\n".join([*tail, *(line.rstrip("\n") for line in stdout)])
        raise ControlPlaneError(f"{script} failed with exit code {returncode}; last output:\n{output}")
    return stdout[-1].strip()


def find_binaries(*, echo: IO[str] | None = None) -> Path:
    """Run ``build-controlplane.sh`` (a cache hit takes well under a second) and return the binaries' folder.

    A cold build (empty Go caches) compiles for about 22 CPU-minutes, so at least 11 minutes on 2 idle cores
    (the README has the measured numbers); its progress goes to ``echo`` (default: stderr) as it comes. The
    result is memoised for the life of the process.
    """
    global _bin_dir_cache
    if _bin_dir_cache is not None:
        return _bin_dir_cache
    bin_dir = Path(run_build_script(BUILD_SCRIPT, echo=echo))
    missing = [name for name in ("etcd", "kube-apiserver", "kubectl") if not (bin_dir / name).exists()]
    if missing:
        raise ControlPlaneError(f"{BUILD_SCRIPT} printed {bin_dir}, which lacks {', '.join(missing)}")
    _bin_dir_cache = bin_dir
    return bin_dir
