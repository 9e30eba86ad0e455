"""`make bench N=10000 BENCH=failover`: a takeover at N endpoints. It measures; it asserts nothing.

Two replicas of the operator with leader election (client-go's timings: lease 15 s, renew deadline 10 s,
retry 2 s), as local processes against one control plane and one emulator (N endpoints' worth of watch, status
and Elasticsearch traffic is the load; the node's two pods would add only the kubelet): the leader creates N
endpoints until all are Ready, the standby waits; then the leader is killed (SIGKILL) and the figures are those
of the standby taking over, beside the bounds issue 16 sets:

* killed -> the standby leads (the Lease expires: at most the lease duration + a retry period);
* killed -> its first reconcile (bound 30 s) and -> every endpoint reconciled once (bound 2 min);
* the Elasticsearch writes and API writes its first round made (bound: none, everything is in place).

The least-privilege identity (the project's ClusterRole and the leader-election Role) runs both replicas.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from es_emulator import EmulatorServer, User
from testbed.bench_pieces import (
    ES_USER,
    GROUP,
    NAMESPACE,
    OPERATOR_USER,
    PLURAL,
    VERSION,
    Watcher,
    event_count,
    grant_least_privilege,
    in_parallel,
    manifest,
    process_rss_mib,
    reconciles,
    row,
)
from testbed.bench_scale import print_table
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, free_port, operator_env, repo_root

LEASE_DURATION = 15.0
WRITES = ("PUT", "POST", "DELETE")


def grant_leader_election(cp: ControlPlane) -> None:
    """The leader-election Role of manifests/base/rbac.yaml, in the benchmark's namespace, bound to the operator."""
    docs = [d for d in yaml.safe_load_all((repo_root() / "manifests/base/rbac.yaml").read_text()) if d]
    role = next(d for d in docs if d["kind"] == "Role")
    role["metadata"]["namespace"] = NAMESPACE
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "bench-leader-election", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role["metadata"]["name"]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": OPERATOR_USER}],
    }
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [role, binding]}))


def es_writes(es: EmulatorServer) -> int:
    return sum(
        1
        for r in es.requests
        if r.method in WRITES and r.path.startswith("/_inference/") and r.query.get("dry_run") != "true"
    )


def _wait(check: Callable[[], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return time.monotonic()
        except (OSError, RuntimeError, KeyError):
            pass  # the metrics or health port is not up yet
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark phase timed out")
        time.sleep(0.05)


def run(n: int, es_version: str, latency: float, concurrency: int, resync: float) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"endpoints": n, "latency_s": latency, "concurrency": concurrency, "resync_s": resync}
    names = [f"e{i:05d}" for i in range(n)]
    with (
        tempfile.TemporaryDirectory() as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=es_version, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        cp.install_crds(repo_root() / "crds")
        cp.kubectl("apply", "-k", str(repo_root() / "policies" / "finalizer-at-creation"))
        cp.kubectl("create", "namespace", NAMESPACE)
        grant_least_privilege(cp)
        grant_leader_election(cp)
        admin = cp.api_client()
        api, core = k8s.CustomObjectsApi(admin), k8s.CoreV1Api(admin)
        watcher = Watcher(api)
        watcher.start()

        def replica(name: str) -> tuple[OperatorProcess, int]:
            port = free_port()
            env = operator_env(
                cp.env(OPERATOR_USER),
                es_url=es.url,
                username=ES_USER[0],
                password=ES_USER[1],
                OPERATOR_RESYNC_SECONDS=str(resync),
                OPERATOR_METRICS_PORT=str(port),
                ELASTICSEARCH_MAX_CONCURRENT_REQUESTS=str(concurrency),
            )
            env.update(POD_NAME=name, POD_NAMESPACE=NAMESPACE)
            process = OperatorProcess(
                env=env, log_path=Path(workdir) / f"{name}.log", namespaces=(NAMESPACE,), extra_args=("--leader-elect",)
            )
            return process, port

        leader, _ = replica("replica-a")
        standby, standby_port = replica("replica-b")
        leader.start()
        leader.wait_leading(60)
        standby.start()
        es.faults.latency(latency)
        try:
            print(f"create {n} under the leader ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            in_parallel(
                lambda name: api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, manifest(name)),
                names,
            )
            watcher.wait(lambda w: len(w.ready) >= n, timeout=max(600.0, n * 0.5))
            facts["create_to_all_ready_s"] = round(time.monotonic() - started, 1)
            time.sleep(5)  # the last statuses settle
            facts["standby_rss_mib"] = round(process_rss_mib(standby.pid), 1)
            facts["leader_rss_mib"] = round(process_rss_mib(leader.pid), 1)

            print("kill -9 of the leader ...", file=sys.stderr, flush=True)
            es.requests.clear()
            writes0, events0 = watcher.writes, event_count(core)
            killed = time.monotonic()
            leader.kill()
            led = _wait(lambda: bool(standby.readiness().get("leading") and standby.readiness().get("started")), 120)
            first_request = _wait(lambda: len(es.requests) > 0, 600)
            first = _wait(lambda: reconciles(standby_port) >= 1, 600)
            whole = _wait(lambda: reconciles(standby_port) >= n, 1800)
            results.append(row("killed -> the standby leads", led - killed, LEASE_DURATION + 2.0))
            results.append(row("killed -> its first Elasticsearch request", first_request - killed, 30.0))
            results.append(row("killed -> its first reconcile", first - killed, 30.0))
            results.append(row(f"killed -> all {n} reconciled once", whole - killed, 120.0))
            results.append(row("the new leader's first round: Elasticsearch writes", es_writes(es), 0.0, "writes"))
            facts["first_round_es_requests"] = len(es.requests)
            facts["first_round_api_writes"] = watcher.writes - writes0 + event_count(core) - events0
            facts["new_leader_rss_mib"] = round(process_rss_mib(standby.pid), 1)
        finally:
            watcher.stop.set()
            for process in (leader, standby):
                process.stop()
    return {"results": results, "facts": facts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, required=True, help="N: the number of endpoints")
    parser.add_argument("--es-version", default="9.1.0")
    parser.add_argument("--latency", type=float, default=0.01, help="seconds the emulator adds to each answer")
    parser.add_argument("--concurrency", type=int, default=10, help="ELASTICSEARCH_MAX_CONCURRENT_REQUESTS")
    parser.add_argument("--resync", type=float, default=60.0, help="OPERATOR_RESYNC_SECONDS")
    args = parser.parse_args(argv)
    report = run(args.scale, args.es_version, args.latency, args.concurrency, args.resync)
    print(json.dumps(report, indent=2))
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
