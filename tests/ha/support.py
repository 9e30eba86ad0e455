"""Two operator replicas with leader election against one API server and one Elasticsearch, and what the
tests read of them: the Lease, each replica's /readyz and metrics, and the emulator's request log by replica."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, free_port, operator_env, wait_for
from tests.support import FAST_OPERATOR_SETTINGS, Kube, endpoint_manifest

if TYPE_CHECKING:
    from es_emulator import EmulatorServer, TimedRequest

# Each replica's pod name (POD_NAME) and Elasticsearch user, which the emulator's request log records.
REPLICAS = ("replica-a", "replica-b")
LEASE = "es-inference-operator"
# client-go's timings, the operator's defaults: the tests run with them.
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 15.0, 10.0, 2.0


@dataclass
class Replicas:
    cp: ControlPlane
    namespace: str
    es: EmulatorServer
    log_dir: Path
    started: list[OperatorProcess] = field(default_factory=list)

    def start(self, name: str, *, kubeconfig: Path | None = None, **settings: str) -> OperatorProcess:
        """A replica as the Deployment runs it (--leader-elect, POD_NAME and POD_NAMESPACE from the downward
        API), watching the test's namespace, with its own Elasticsearch user; ready (as a standby at least)."""
        env = operator_env(
            self.cp.env(),
            es_url=self.es.url,
            username=name,
            password=name,
            **{**FAST_OPERATOR_SETTINGS, "OPERATOR_METRICS_PORT": str(free_port()), **settings},
        )
        env.update(POD_NAME=name, POD_NAMESPACE=self.namespace)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        log = self.log_dir / f"{name}-{len(self.started)}.log"
        process = OperatorProcess(
            env=env, log_path=log, namespaces=(self.namespace,), extra_args=("--leader-elect", "--log-format=full")
        )
        self.started.append(process)
        return process.start()

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()

    def lease(self) -> dict[str, Any]:
        return dict(self.cp.kubectl_json("get", "lease", LEASE, "-n", self.namespace))

    def holder(self) -> str | None:
        return self.lease()["spec"].get("holderIdentity")

    def requests_by(self, name: str) -> list[TimedRequest]:
        return [entry for entry in self.es.requests.timeline() if entry.user == name]


def wait_leading(standby: OperatorProcess, timeout: float) -> tuple[float, float]:
    """Poll the standby's /readyz until it leads (and kopf has started): (the last moment it was seen standing
    by, the first moment it was seen leading), on time.monotonic()."""
    last_standby = time.monotonic()

    def leading() -> float | None:
        nonlocal last_standby
        state = standby.readiness()
        now = time.monotonic()
        if not state["leading"]:
            last_standby = now
            return None
        return now if state["started"] else None

    led = wait_for("the standby to lead", leading, timeout=timeout, interval=0.05)
    return last_standby, led


# --- Elasticsearch writes, from the emulator's request log ---------------------------------------------------


def is_write(entry: TimedRequest) -> bool:
    request = entry.request
    return (
        request.path.startswith("/_inference/")
        and request.method in ("PUT", "POST", "DELETE")
        and request.query.get("dry_run") != "true"
    )


def inference_id(path: str) -> str:
    parts = [p for p in path.split("/") if p and p != "_update"]
    return parts[-1]


def write_counts(entries: list[TimedRequest], method: str) -> Counter[str]:
    """How many writes of `method` each inference id received."""
    return Counter(inference_id(e.request.path) for e in entries if is_write(e) and e.request.method == method)


# --- resources -------------------------------------------------------------------------------------------------


def endpoints(prefix: str, count: int) -> str:
    """`count` InferenceEndpoints in one manifest (one kubectl apply)."""
    return yaml.safe_dump_all([endpoint_manifest(f"{prefix}-{i}") for i in range(count)])


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(count)]


def wait_all_ready(kube: Kube, wanted: list[str], timeout: float) -> None:
    def ready() -> bool:
        items = json.loads(kube.run("get", "iep", "-o", "json").stdout)["items"]
        by_name = {i["metadata"]["name"]: i for i in items}
        return all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in by_name[n].get("status", {}).get("conditions", [])
            )
            for n in wanted
            if n in by_name
        ) and all(n in by_name for n in wanted)

    wait_for(f"{len(wanted)} endpoints Ready", ready, timeout=timeout, interval=0.25)


def wait_all_gone(kube: Kube, gone: list[str], timeout: float) -> None:
    def absent() -> bool:
        items = json.loads(kube.run("get", "iep", "-o", "json").stdout)["items"]
        return not {i["metadata"]["name"] for i in items} & set(gone)

    wait_for(f"{len(gone)} endpoints gone", absent, timeout=timeout, interval=0.25)


# --- metrics -----------------------------------------------------------------------------------------------------


def samples(text: str, name: str) -> list[tuple[str, float]]:
    """(labels, value) of each sample of `name` in a Prometheus text exposition."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+(\S+)$")
    return [(m.group(1) or "", float(m.group(2))) for line in text.splitlines() if (m := pattern.match(line))]


def rss_mib(process: OperatorProcess) -> float:
    """The process's resident memory now (Linux), 0 elsewhere."""
    status = Path(f"/proc/{process.pid}/status")
    if not status.exists():
        return 0.0
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def admin_kubeconfig_via(cp: ControlPlane, port: int, path: Path) -> Path:
    """The admin kubeconfig with the API server's address replaced by 127.0.0.1:`port` (a TcpProxy)."""
    config = json.loads(cp.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path
