"""``python -m testbed.node [--stop]`` (``make node``): build or find what the node needs, start it, say what
was built and how long each step took, print how to reach it, and wait for Ctrl-C (or, with ``--stop``, stop
at once: a smoke test of the whole node)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from testbed.node.node import NODE_IP, Node


def _version(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return (result.stdout or result.stderr).strip().splitlines()[0]


def describe(node: Node) -> str:
    assert node.assets is not None
    binaries, packages = node.assets.binaries, node.assets.packages
    lines = ["Built or found (cached under ~/.cache/es-inference-operator):"]
    for name in ("kubelet", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
        lines.append(f"  {name:24} {_version(str(binaries / name), '--version')}  ({binaries})")
    for relative in ("usr/bin/containerd", "usr/sbin/runc"):
        lines.append(f"  {relative.rsplit('/', 1)[1]:24} {_version(str(packages / relative), '--version')}")
    lines.append(f"  {'nft':24} {node.run('nft', '--version').strip()}")  # its libraries are the node's
    lines.append(f"  {'Debian packages':24} {packages}")
    if node.images is not None:
        lines.append(f"  {'operator image':24} {node.images.name}, {node.images.next_name}  ({node.images.folder})")
    lines.append(f"Started in {node.timings.total:.1f} s: {node.timings.summary()}")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed.node", description=__doc__)
    parser.add_argument("--stop", action="store_true", help="stop once started (a smoke test)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    with Node() as node:
        cp = node.control_plane
        print(describe(node))
        print(cp.kubectl("get", "nodes", "-o", "wide").stdout.rstrip())
        print(f"kubeconfig: {cp.kubeconfig}  (the API server is at {cp.internal_server} inside the node)")
        print(f"export KUBECONFIG={cp.kubeconfig} PATH={cp.bin_dir}:$PATH")
        print(f"node shell: nsenter --target={node.sandbox.init_pid if node.sandbox else '?'} --net --mount --pid")
        print(f"pods reach the node at {NODE_IP}; nothing inside has a route out")
        sys.stdout.flush()
        if not args.stop:
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
            print("Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                while cp.running:
                    time.sleep(1)
    left = node.leftovers or "nothing"
    print(f"stopped and cleaned up ({time.monotonic() - began:.1f} s in all); left behind: {left}")
    return 1 if node.leftovers else 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
