"""README's "Try it locally", run as written: the commands are taken from README.md (each block follows an
`<!-- try-locally: terminal-N -->` comment), not copied here, so that the section cannot rot.

Terminals 1 to 3 run in the background (process groups of their own, stopped as Ctrl-C would); terminal 4's
commands run one after the other, each bounded, and must all succeed. Only what would collide with another run on
the same machine is changed: the emulator's port (README's `9200`; `ES_PORT` for `make es-emulator`), the file
terminal 1 writes (README's `.testbed/env`; `LOCAL_ENV` for `make controlplane`), and the operator's metrics and
liveness ports, which README leaves at their defaults (set in the environment, as a user could).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from testbed.controlplane import REPO_ROOT
from testbed.stack import es_request, free_port

pytestmark = pytest.mark.e2e
T = TypeVar("T")

README = REPO_ROOT / "README.md"
MARKED_BLOCK = re.compile(r"<!-- try-locally: (terminal-\d) -->\n```sh\n(.*?)```", re.S)
ES_PORT = "9200"
ENV_FILE = ".testbed/env"


def readme_blocks() -> dict[str, list[str]]:
    """README's marked blocks, by terminal: their command lines."""
    blocks = {
        name: [line for line in body.splitlines() if line.strip()]
        for name, body in MARKED_BLOCK.findall(README.read_text())
    }
    assert list(blocks) == ["terminal-1", "terminal-2", "terminal-3", "terminal-4"], list(blocks)
    return blocks


@dataclass
class Terminals:
    tmp: Path
    es_port: str = field(default_factory=lambda: str(free_port()))
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def env_file(self) -> Path:
        return self.tmp / "env"

    def localize(self, command: str) -> str:
        """The command with this run's port and env file (see the module's docstring)."""
        return command.replace(f":{ES_PORT}", f":{self.es_port}").replace(ENV_FILE, str(self.env_file))

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "ELASTICSEARCH_URL")}
        return {
            **env,
            "ES_PORT": self.es_port,
            "LOCAL_ENV": str(self.env_file),
            "OPERATOR_METRICS_PORT": str(free_port()),
            "OPERATOR_LIVENESS": f"http://127.0.0.1:{free_port()}/healthz",
        }

    def start(self, name: str, lines: list[str]) -> Path:
        """A terminal whose last command runs until stopped; its output goes to a log."""
        log = self.tmp / f"{name}.log"
        script = "set -e\n" + "\n".join(self.localize(line) for line in lines) + "\n"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", script], cwd=REPO_ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self.processes.append((name, process))
        return log

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                log = (self.tmp / f"{name}.log").read_text(errors="replace")
                raise AssertionError(f"{name} ended with {process.returncode}:\n{log[-3000:]}")

    def stop(self) -> None:
        """Ctrl-C in each terminal, last started first; then bounded waits, SIGKILL as a last resort."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


def poll(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Call `check` until it returns something; a terminal that ended (AssertionError) fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def terminals(tmp_path: Path) -> Iterator[Terminals]:
    t = Terminals(tmp_path)
    try:
        yield t
    finally:
        t.stop()


def test_try_it_locally_as_written(terminals: Terminals) -> None:
    blocks = readme_blocks()
    # What the section promises: the three terminals and the story's steps, in these words.
    assert blocks["terminal-1"] == ["make controlplane"]
    assert blocks["terminal-2"] == ["make es-emulator"]
    assert blocks["terminal-3"][-1].endswith("make run")
    assert "ELASTICSEARCH_URL=http://127.0.0.1:9200" in blocks["terminal-3"][-1]
    assert "kubectl apply --server-side -k crds/" in blocks["terminal-3"]
    story = blocks["terminal-4"]
    assert any(line.startswith("curl") and "_ingest/pipeline" in line for line in story)
    assert any("--wait=false" in line for line in story)
    assert any("inference.es-operator.dev/force=true" in line for line in story)

    terminals.start("terminal-1", blocks["terminal-1"])
    poll("terminal 1 to write its env file", lambda: terminals.check_alive() or terminals.env_file.exists(), 300)
    terminals.start("terminal-2", blocks["terminal-2"])

    def emulator_up() -> bool:
        terminals.check_alive()
        try:
            return (
                es_request(f"http://127.0.0.1:{terminals.es_port}", "GET", "/", auth=("elastic", "changeme"))[0] == 200
            )
        except OSError:
            return False

    poll("the emulator of terminal 2", emulator_up, 120)
    operator_log = terminals.start("terminal-3", blocks["terminal-3"])

    def operator_says() -> str | None:
        terminals.check_alive()
        text = operator_log.read_text(errors="replace")
        return next((line for line in text.splitlines() if "(the operator's default) is reachable" in line), None)

    line = poll("the operator of terminal 3 to check Elasticsearch", operator_says, 120)
    assert line.startswith(
        f"Elasticsearch at http://127.0.0.1:{terminals.es_port} (the operator's default) is reachable"
    )

    # Terminal 4: each command as written, in one shell (it sources the env file), each bounded.
    outputs = []
    shell = subprocess.Popen(
        ["bash"], cwd=REPO_ROOT, env=terminals.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert shell.stdin is not None and shell.stdout is not None
        for command in story:
            marker = f"__done_{len(outputs)}__"
            shell.stdin.write(f"{terminals.localize(command)}\necho; echo {marker} $?\n")
            shell.stdin.flush()
            output, started = [], time.monotonic()
            while True:
                assert time.monotonic() - started < 120, f"{command!r} did not finish: {''.join(output)}"
                got = shell.stdout.readline()
                assert got, f"the shell ended during {command!r}: {''.join(output)}"
                if got.startswith(marker):
                    status = int(got.split()[1])
                    break
                output.append(got)
            text = "".join(output)
            assert status == 0, f"{command!r} exited {status}:\n{text}"
            outputs.append((command, text))
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait(5)

    said = dict(outputs)
    assert "openai-embeddings" in said["kubectl get iep -o wide"] and "REASON" in said["kubectl get iep -o wide"]
    assert "InUse" in said["kubectl get iep -o wide"]  # the DELETION column: why the deletion waits
    assert '"status":404' in said[story[-1]].replace(" ", "")  # the endpoint is gone from Elasticsearch
    print("".join(f"$ {command}\n{text}" for command, text in outputs))
