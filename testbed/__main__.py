"""``python -m testbed [CRD folder or file]``: start a control plane with the CRDs (default: the repository's
``crds/``), print how to reach it, and wait for Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from testbed.binaries import REPO_ROOT
from testbed.controlplane import ControlPlane


def main(argv: Sequence[str]) -> int:
    """``python -m testbed``: start a control plane, print how to reach it, wait for Ctrl-C."""
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
    raise SystemExit(main(sys.argv[1:]))
