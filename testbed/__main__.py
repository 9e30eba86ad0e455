"""``python -m testbed [CRD folder or file] [--env-file FILE]``: start a control plane with the CRDs (default: the
repository's ``crds/``), print how to reach it, and wait for Ctrl-C (or SIGTERM).

``--env-file FILE`` also writes the two lines other terminals ``source`` to reach it (``KUBECONFIG`` and the built
kubectl on ``PATH``), and removes the file when the control plane stops (``make controlplane`` uses
``.testbed/env``; README, "Try it locally")."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from testbed.binaries import REPO_ROOT
from testbed.controlplane import ControlPlane


def main(argv: Sequence[str]) -> int:
    """``python -m testbed``: start a control plane, print how to reach it, wait for Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m testbed", description=__doc__.split("\n\n")[0])
    parser.add_argument("crds", nargs="?", type=Path, default=REPO_ROOT / "crds", help="CRD folder or file")
    parser.add_argument("--env-file", type=Path, help="write `export KUBECONFIG=... PATH=...` here while it runs")
    args = parser.parse_args(argv)
    with ControlPlane() as cp:
        installed = cp.install_crds(args.crds)
        exports = f"export KUBECONFIG={shlex.quote(str(cp.kubeconfig))} PATH={shlex.quote(str(cp.bin_dir))}:$PATH"
        print(f"server:     {cp.server}")
        print(f"kubeconfig: {cp.kubeconfig}")
        print(f"kubectl:    {cp.kubectl_path}")
        print(f"CRDs:       {', '.join(installed) or '(none)'}")
        print(f"started in {cp.timings.total:.1f} s; Ctrl-C stops it")
        print(exports)
        if args.env_file is not None:
            args.env_file.parent.mkdir(parents=True, exist_ok=True)
            partial = args.env_file.with_name(args.env_file.name + ".partial")
            partial.write_text(exports + "\n")
            partial.replace(args.env_file)  # whole or not at all: another terminal may be waiting for it
            print(f"other terminals: source {args.env_file}")
        sys.stdout.flush()
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            with contextlib.suppress(KeyboardInterrupt):
                while cp.running:
                    time.sleep(1)
        finally:
            if args.env_file is not None:
                args.env_file.unlink(missing_ok=True)
    return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
