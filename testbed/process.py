"""One supervised process of the test bed (etcd, kube-apiserver, a node component): started with its output in a log
file, dying with its parent, stopped with SIGTERM then SIGKILL, and a bounded poll for its readiness."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from testbed.errors import ControlPlaneError

__all__ = ["LOG_TAIL_LINES", "Process", "die_with_parent_preexec", "poll_until", "read_tail"]

LOG_TAIL_LINES = 40
_ADDRESS_IN_USE = "address already in use"


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


def read_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open(errors="replace") as handle:
            return "".join(collections.deque(handle, maxlen=lines)).rstrip("\n")
    except OSError as error:
        return f"(no log: {error})"


@dataclass
class Process:
    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started_at: float = 0.0
    # What the process is started through (e.g. ``Sandbox.command``: nsenter into the node's namespaces).
    # Signals go to the whole process group, so that they reach the program behind such a launcher.
    launcher: Callable[[list[str]], list[str]] | None = None

    def start(self, *, die_with_parent: bool) -> None:
        self.log = self.log_path.open("ab")
        self.log.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(self.args)}\n".encode())
        self.log.flush()
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.launcher(self.args) if self.launcher else self.args,
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
            f"{self.name} {what}; last {LOG_TAIL_LINES} lines of {self.log_path}:\n{read_tail(self.log_path)}"
        )

    def address_in_use(self) -> bool:
        return _ADDRESS_IN_USE in read_tail(self.log_path, 200)

    def stop(self, timeout: float) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(10)
        if self.log is not None:
            self.log.close()
            self.log = None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the process's group (it leads one: ``start_new_session``)."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

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


def poll_until(
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
