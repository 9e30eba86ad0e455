"""The operator's two replicas on the node, as the chart runs them: who holds the Lease, each pod's /readyz
(reached from this process through a relay to the pod's address), the emulator's request log by pod (the
emulator listens inside the node: each request's peer is the pod's address), a stream of creates and
deletions, and a watch of the Lease's holder."""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from testbed.node.node import Node
from testbed.stack import wait_for
from tests.deploy.support import NAMESPACE
from tests.ha.support import is_write
from tests.support import Kube, endpoint_manifest

from .support import operator_pods

if TYPE_CHECKING:
    from es_emulator import TimedRequest

    from .conftest import NodeEmulator

LEASE = "es-inference-operator"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 15.0, 10.0, 2.0
HEALTH_PORT = 8081


@dataclass
class NodeReplicas:
    node: Node
    emulator: NodeEmulator
    _relays: dict[str, str] = field(default_factory=dict)

    def pods(self) -> dict[str, dict[str, Any]]:
        return {pod["metadata"]["name"]: pod for pod in operator_pods(self.node)}

    def ip(self, pod: str) -> str:
        return str(self.pods()[pod]["status"]["podIP"])

    def lease(self) -> dict[str, Any]:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/{LEASE}"
        status, body = self.node.control_plane.api_get(path)
        return dict(json.loads(body)) if status == 200 else {}

    def holder(self) -> str:
        """The identity of the process that holds the Lease, `<pod name>_<random>` ("" when none)."""
        return str(self.lease().get("spec", {}).get("holderIdentity") or "")

    def holder_pod(self) -> str | None:
        """The pod whose process holds the Lease."""
        return self.holder().rsplit("_", 1)[0] or None

    def wait_new_leader(self, other_than: str, timeout: float) -> tuple[str, float]:
        """(the pod, when it was first seen leading with kopf started) once a process other than ``other_than``
        holds the Lease. Either candidate may win after a kill: the standby, or the killed pod's container the
        kubelet restarted within a second (a new process, a new identity)."""

        def led() -> tuple[str, float] | None:
            holder = self.holder()
            if holder in ("", other_than):
                return None
            pod = holder.rsplit("_", 1)[0]
            state = self.readiness(pod)
            return (pod, time.monotonic()) if state.get("leading") and state.get("started") else None

        return wait_for(f"a process other than {other_than} leading", led, timeout=timeout, interval=0.05)

    def readiness(self, pod: str) -> dict[str, Any]:
        ip = self.ip(pod)
        if ip not in self._relays:
            self._relays[ip] = self.node.reach(ip, HEALTH_PORT)
        try:
            with urllib.request.urlopen(f"http://{self._relays[ip]}/readyz", timeout=2) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:  # 503: not ready, the body still says why
            return dict(json.loads(error.read() or b"{}"))

    def wait_standing_by(self, pod: str, timeout: float = 60) -> None:
        def standing_by() -> bool:
            state = self.readiness(pod)
            return bool(state.get("ready") and state.get("leaderElection") and not state.get("leading"))

        wait_for(f"{pod} standing by", standing_by, timeout=timeout, interval=0.2)

    def wait_leading(self, pod: str, timeout: float) -> float:
        """When ``pod`` was first seen leading with kopf started (time.monotonic())."""

        def leading() -> float | None:
            state = self.readiness(pod)
            return time.monotonic() if state.get("leading") and state.get("started") else None

        return wait_for(f"{pod} leading", leading, timeout=timeout, interval=0.05)

    def container_started(self, pod: str) -> float:
        """When the pod's container (re)started, on time.monotonic() (the kubelet says it to the second: the
        moment returned is at most a second early)."""
        started = self.pods()[pod]["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        wall = datetime.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
        return wall.timestamp() - (time.time() - time.monotonic())

    def container_pid(self, pod: str) -> int:
        status = self.pods()[pod]["status"]["containerStatuses"][0]
        return self.node.container_pid(status["containerID"])

    def writes_from(self, ip: str, after: float = 0.0, before: float = float("inf")) -> list[TimedRequest]:
        return [e for e in self.emulator.requests.timeline() if e.peer == ip and is_write(e) and after < e.at < before]

    def writes_between(self, after: float, before: float) -> list[TimedRequest]:
        return [e for e in self.emulator.requests.timeline() if is_write(e) and after < e.at < before]


def lease_time_to_monotonic(micro_time: str) -> float:
    """A Lease's renewTime (the holder's wall clock, this machine's) on this process's time.monotonic()."""
    wall = datetime.datetime.strptime(micro_time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
    return wall.timestamp() - (time.time() - time.monotonic())


@dataclass
class Stream:
    """Creates (one every `interval` seconds) and deletions (each resource `keep` creates later) in a thread,
    until stopped; what it created and deleted."""

    kube: Kube
    prefix: str
    interval: float = 0.3
    keep: int = 4
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Stream:
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.prefix}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set() and index < 2000:
            name = f"{self.prefix}-{index}"
            self.kube.apply(endpoint_manifest(name))
            self.created.append(name)
            if index >= self.keep and index % 2 == 0:  # every other one is deleted a few creates later
                old = f"{self.prefix}-{index - self.keep}"
                self.kube.run("delete", "iep", old, "--wait=false")
                self.deleted.append(old)
            index += 1
            self._stop.wait(self.interval)

    @property
    def kept(self) -> list[str]:
        return [name for name in self.created if name not in self.deleted]


@dataclass
class LeaseWatch:
    """The Lease's holder and renewTime every `interval` seconds in a thread:
    [(time.monotonic(), holder identity or "", renewTime or "")]."""

    replicas: NodeReplicas
    interval: float = 0.05
    seen: list[tuple[float, str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LeaseWatch:
        self._thread = threading.Thread(target=self._run, name="lease-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                spec = self.replicas.lease().get("spec", {})
                self.seen.append((time.monotonic(), spec.get("holderIdentity") or "", spec.get("renewTime") or ""))
            except OSError:
                pass
            self._stop.wait(self.interval)

    def handovers(self) -> list[tuple[str, str, float]]:
        """Each change of holder: (from, to, seconds from the last moment the old one was seen holding to the
        first moment the new one was)."""
        result: list[tuple[str, str, float]] = []
        last_holder, last_at = "", 0.0
        for at, holder, _ in self.seen:
            if holder and holder != last_holder:
                if last_holder:
                    result.append((last_holder, holder, at - last_at))
                last_holder = holder
            if holder == last_holder and holder:
                last_at = at
        return result

    def last_renewal(self, pod: str, before: float = float("inf")) -> float:
        """The last renewTime ``pod``'s process wrote (seen before ``before``), on time.monotonic()."""
        times = [
            renewed for at, holder, renewed in self.seen if holder.rsplit("_", 1)[0] == pod and renewed and at < before
        ]
        assert times, f"{pod} was never seen holding the Lease"
        return lease_time_to_monotonic(max(times))


def check_nothing_lost_or_doubled(replicas: NodeReplicas, kube: Kube, stream: Stream, *, timeout: float = 120) -> None:
    """Every kept resource Ready and in Elasticsearch, every deleted one gone from both; no endpoint created or
    deleted in Elasticsearch twice (a resource deleted before it was created there has no write at all)."""
    from tests.ha.support import wait_all_gone, wait_all_ready, write_counts

    wait_all_ready(kube, stream.kept, timeout=timeout)
    wait_all_gone(kube, stream.deleted, timeout=timeout)
    log = replicas.emulator.requests.timeline()
    puts, deletes = write_counts(log, "PUT"), write_counts(log, "DELETE")
    twice = {name: (puts[name], deletes[name]) for name in stream.created if puts[name] > 1 or deletes[name] > 1}
    assert not twice, f"written twice (PUTs, DELETEs): {twice}"
    assert all(puts[name] == 1 for name in stream.kept)
    in_es = set(replicas.emulator.server.state.endpoints)
    assert set(stream.kept) <= in_es and not in_es & set(stream.deleted), in_es & set(stream.deleted)
