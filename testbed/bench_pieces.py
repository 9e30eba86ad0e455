"""The pieces of the scale benchmark (``testbed/bench_scale.py``) that measure: the benchmark's resources, a
watch that counts who is Ready or gone and how many writes they took, CPU and memory of the processes, the
operator's reconcile counter, the least-privilege identity, and a result row beside its bound. The failover
benchmark (``testbed/bench_failover.py``) uses them too."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from testbed.controlplane import ControlPlane
from testbed.stack import repo_root

GROUP, VERSION, PLURAL = "inference.es-operator.dev", "v1alpha1", "inferenceendpoints"
NAMESPACE, BARE_NAMESPACE = "bench", "bench-bare"
ES_USER = ("elastic", "changeme")
OPERATOR_USER = "es-inference-operator"
THREADS = 8


def manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceEndpoint",
        "metadata": {"name": name},
        "spec": {
            "taskType": "text_embedding",
            "service": "elasticsearch",
            "serviceSettings": {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1},
        },
    }


def in_parallel(work: Callable[[str], Any], names: Iterable[str]) -> float:
    """Seconds to run `work` on every name with THREADS threads."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, names))
    return time.monotonic() - started


@dataclass
class Watcher:
    """Every change of the benchmark's InferenceEndpoints, from one watch: who is Ready, who is gone, and how
    many writes the objects took (each write is one event)."""

    api: k8s.CustomObjectsApi
    ready: set[str] = field(default_factory=set)
    present: set[str] = field(default_factory=set)
    writes: int = 0
    version: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._follow()
            except Exception as err:  # a dropped watch (the API server under load): follow again from there
                print(f"watch restarted after: {err}", file=sys.stderr, flush=True)
                time.sleep(0.5)

    def _follow(self) -> None:
        """Follow the watch from the last version seen until it ends."""
        stream = k8s_watch.Watch().stream(  # type: ignore[no-untyped-call]
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            NAMESPACE,
            PLURAL,
            resource_version=self.version,
            timeout_seconds=30,
            allow_watch_bookmarks=True,
        )
        for event in stream:
            obj = event["object"]
            meta = obj.get("metadata", {})
            self.version = meta.get("resourceVersion", self.version)
            if event["type"] == "BOOKMARK":
                continue
            name = meta.get("name")
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in obj.get("status", {}).get("conditions", [])
            )
            with self.lock:
                self.writes += 1
                if event["type"] == "DELETED":
                    self.present.discard(name)
                    self.ready.discard(name)
                else:
                    self.present.add(name)
                    (self.ready.add if ready else self.ready.discard)(name)

    def wait(self, check: Callable[[Watcher], bool], timeout: float) -> float:
        started = time.monotonic()
        while True:
            with self.lock:
                if check(self):
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError("benchmark phase timed out")
            time.sleep(0.05)


def event_count(core: k8s.CoreV1Api) -> int:
    return len(core.list_namespaced_event(NAMESPACE).items)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 1/100 s


def machine_cpu_seconds() -> float:
    """CPU time spent by the whole machine (all cores, not idle), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / 100.0


@dataclass
class CpuMeter:
    """Who used the machine's CPU during one phase: the operator, the API server, etcd, this process (the
    emulator, the watch, the client threads) and the machine in all; beside the wall time."""

    pids: dict[str, int]
    start: dict[str, float] = field(default_factory=dict)
    started: float = 0.0

    def begin(self) -> None:
        self.start = {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
        self.start["machine"] = machine_cpu_seconds()
        self.started = time.monotonic()

    def end(self) -> dict[str, float]:
        used = {name: round(process_cpu_seconds(pid) - self.start[name], 1) for name, pid in self.pids.items()}
        used["machine"] = round(machine_cpu_seconds() - self.start["machine"], 1)
        used["wall"] = round(time.monotonic() - self.started, 1)
        used["cores"] = os.cpu_count() or 1
        return used


def process_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak
            return int(line.split()[1]) / 1024
    return 0.0


def reconciles(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    pattern = r'es_inference_operator_reconciles_total\{operation="(?:reconcile|resync)",outcome="[a-z]+"\} ([0-9.e+]+)'
    return sum(float(v) for v in re.findall(pattern, text))


def metrics_series(metrics_port: int) -> dict[str, int]:
    """How many series one scrape of the operator holds: all of them, and the operator's own (the rest are
    prometheus_client's process and Python ones). It must not grow with the number of endpoints."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as resp:
        lines = [line for line in resp.read().decode().splitlines() if line and not line.startswith("#")]
    return {
        "all": len(lines),
        "es_inference_operator": sum(line.startswith("es_inference_operator_") for line in lines),
    }


def grant_least_privilege(cp: ControlPlane) -> None:
    """The operator's identity with exactly the project's ClusterRole (manifests/base/rbac.yaml)."""
    cp.add_user(OPERATOR_USER)
    docs = list(yaml.safe_load_all((repo_root() / "manifests/base/rbac.yaml").read_text()))
    role = next(d for d in docs if d and d["kind"] == "ClusterRole")
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "bench-operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
    }
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [role, binding]}))


def row(what: str, measured: float, bound: float, unit: str = "s") -> dict[str, Any]:
    # Said at once too: a long run that fails late keeps what it measured.
    print(
        f"  {what}: {measured:.2f} {unit} (bound {bound:.2f}, ratio {measured / bound if bound else 0:.2f})",
        file=sys.stderr,
        flush=True,
    )
    return {
        "what": what,
        "measured": round(measured, 2),
        "bound": round(bound, 2),
        "ratio": round(measured / bound, 2) if bound > 0 else None,
        "unit": unit,
    }
