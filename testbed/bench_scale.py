"""`make bench N=10000`: the operator with N endpoints, each figure beside the bound physics sets. It measures;
it asserts nothing.

Phases (one control plane, one emulator answering every request after `--latency` seconds, the operator as a
least-privilege identity bound to the project's ClusterRole, and policies/finalizer-at-creation installed unless
`--no-finalizer-policy`):

1. the API server's bound: a bare client makes the minimal writes of a create (create the object, add a
   finalizer, patch a status) and of a delete (delete, remove the finalizer) for N objects, with as many threads;
2. create N at once -> all Ready, with the API writes (object changes seen by a watch, and Events) and the
   Elasticsearch requests it took;
3. idle for one resync period: Elasticsearch requests and API writes;
4. restart (SIGKILL, start): to the first Elasticsearch request, to the first reconcile, to the whole first
   round (every resource reconciled once), and the writes it made;
5. a force annotation on one blocked deletion among N -> gone;
6. F forced deletions at once -> all gone;
7. delete the rest at once (nothing references them) -> all gone.

The Elasticsearch bound is its latency x the requests needed / the configured concurrency; the API bound is the
bare client's time for the same writes. Each result is given with the larger bound and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from kubernetes import client as k8s

from es_emulator import EmulatorServer, User
from testbed.bench_pieces import (
    BARE_NAMESPACE,
    ES_USER,
    GROUP,
    NAMESPACE,
    OPERATOR_USER,
    PLURAL,
    VERSION,
    CpuMeter,
    Watcher,
    event_count,
    grant_least_privilege,
    in_parallel,
    manifest,
    metrics_series,
    process_cpu_seconds,
    process_rss_mib,
    reconciles,
    row,
)
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, free_port, operator_env, repo_root

__all__ = ["manifest", "run"]  # manifest: bench.py's too


def run(
    n: int, forced: int, es_version: str, latency: float, concurrency: int, resync: float, finalizer_policy: bool
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"endpoints": n, "latency_s": latency, "concurrency": concurrency, "resync_s": resync}
    names = [f"e{i:05d}" for i in range(n)]
    with (
        tempfile.TemporaryDirectory() as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=es_version, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        cp.install_crds(repo_root() / "crds")
        if finalizer_policy:  # the finalizer at admission (policies/finalizer-at-creation): one write less per create
            cp.kubectl("apply", "-k", str(repo_root() / "policies" / "finalizer-at-creation"))
        facts["finalizer_policy"] = finalizer_policy
        for ns in (NAMESPACE, BARE_NAMESPACE):
            cp.kubectl("create", "namespace", ns)
        grant_least_privilege(cp)
        admin = cp.api_client()
        api, core = k8s.CustomObjectsApi(admin), k8s.CoreV1Api(admin)
        if finalizer_policy:
            _wait_for_finalizer_policy(api)

        # 1. The API server's bound: the minimal writes, by a bare client.
        def bare_create(name: str) -> None:
            api.create_namespaced_custom_object(GROUP, VERSION, BARE_NAMESPACE, PLURAL, manifest(name))
            api.patch_namespaced_custom_object(
                GROUP, VERSION, BARE_NAMESPACE, PLURAL, name, {"metadata": {"finalizers": ["bench/finalizer"]}}
            )
            api.patch_namespaced_custom_object_status(
                GROUP, VERSION, BARE_NAMESPACE, PLURAL, name, {"status": {"observedGeneration": 1}}
            )

        def bare_delete(name: str) -> None:
            api.delete_namespaced_custom_object(GROUP, VERSION, BARE_NAMESPACE, PLURAL, name)
            api.patch_namespaced_custom_object(
                GROUP, VERSION, BARE_NAMESPACE, PLURAL, name, {"metadata": {"finalizers": None}}
            )

        print(f"bound: {n} creates by a bare client ...", file=sys.stderr, flush=True)
        api_create_bound = in_parallel(bare_create, names)
        api_delete_bound = in_parallel(bare_delete, names)
        facts["api_bound_create_s"], facts["api_bound_delete_s"] = (
            round(api_create_bound, 2),
            round(api_delete_bound, 2),
        )

        watcher = Watcher(api)
        watcher.start()
        metrics_port = free_port()
        env = operator_env(
            cp.env(OPERATOR_USER),
            es_url=es.url,
            username=ES_USER[0],
            password=ES_USER[1],
            OPERATOR_RESYNC_SECONDS=str(resync),
            OPERATOR_METRICS_PORT=str(metrics_port),
            ELASTICSEARCH_MAX_CONCURRENT_REQUESTS=str(concurrency),
        )
        log = Path(workdir) / "operator.log"
        operator = OperatorProcess(env=env, log_path=log, namespaces=(NAMESPACE,)).start()
        es.faults.latency(latency)
        try:
            # 2. Create N at once.
            es.requests.clear()
            meter = CpuMeter({**cp.pids, "operator": operator.pid, "bench and emulator": os.getpid()})
            meter.begin()
            print(f"create {n} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            in_parallel(
                lambda name: api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, manifest(name)),
                names,
            )
            watcher.wait(lambda w: len(w.ready) >= n, timeout=max(600.0, n * 0.5))
            to_ready = time.monotonic() - started
            facts["create_cpu_seconds"] = meter.end()
            es_bound = latency * n / concurrency  # one PUT per endpoint is all Elasticsearch needs
            results.append(row(f"create {n} -> all Ready", to_ready, max(es_bound, api_create_bound)))
            facts["create_es_requests_per_endpoint"] = round(len(es.requests) / n, 2)
            facts["create_api_writes_per_endpoint"] = round((watcher.writes - n) / n, 2)  # less the create itself
            facts["create_events_per_endpoint"] = round(event_count(core) / n, 2)
            facts["create_es_max_requests_in_flight"] = es.requests.max_in_flight  # the cap is --concurrency

            # 3. Idle for one resync period (after one settling period, so every first tick has passed).
            print("idle ...", file=sys.stderr, flush=True)
            time.sleep(2 * resync)
            es.requests.clear()
            writes0, events0, cpu0 = watcher.writes, event_count(core), process_cpu_seconds(operator.pid)
            time.sleep(resync)
            facts["idle_es_requests_per_period"] = len(es.requests)
            facts["idle_es_requests_by_kind"] = _by_kind(es)
            facts["idle_api_writes_per_period"] = watcher.writes - writes0 + event_count(core) - events0
            facts["idle_operator_cpu_s_per_period"] = round(process_cpu_seconds(operator.pid) - cpu0, 1)
            facts["operator_peak_rss_mib"] = round(process_rss_mib(operator.pid), 1)
            facts["metrics_series"] = metrics_series(metrics_port)
            facts["es_max_requests_in_flight"] = es.requests.max_in_flight
            print(f"  facts so far: {json.dumps(facts)}", file=sys.stderr, flush=True)

            # 4. Restart.
            print("restart ...", file=sys.stderr, flush=True)
            operator.kill()
            es.requests.clear()
            writes0, events0 = watcher.writes, event_count(core)
            started = time.monotonic()
            operator.start()
            first_request = _wait(lambda: len(es.requests) > 0, 600) - started
            first_reconcile = _wait(lambda: reconciles(metrics_port) >= 1, 600) - started
            first_round = _wait(lambda: reconciles(metrics_port) >= n, 1800) - started
            results.append(row("restart -> first Elasticsearch request", first_request, 30.0))
            results.append(row("restart -> first reconcile", first_reconcile, 30.0))
            results.append(row(f"restart -> all {n} reconciled once", first_round, 120.0))
            facts["restart_api_writes"] = watcher.writes - writes0 + event_count(core) - events0
            facts["restart_peak_rss_mib"] = round(process_rss_mib(operator.pid), 1)  # the new process, so far
            facts["restart_es_requests"] = len(es.requests)
            facts["operator_peak_rss_mib"] = max(
                facts["operator_peak_rss_mib"], round(process_rss_mib(operator.pid), 1)
            )

            # 5. One blocked deletion among N, then forced.
            blocked = names[0]
            es.faults.latency(0)
            es_request(
                es.url,
                "PUT",
                "/_ingest/pipeline/uses-it",
                {"processors": [{"inference": {"model_id": blocked}}]},
                auth=ES_USER,
            )
            es.faults.latency(latency)
            api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, blocked)
            _wait(lambda: _blocked(api, blocked), 120)
            started = time.monotonic()
            _force(api, blocked)
            watcher.wait(lambda w: blocked not in w.present, timeout=120)
            results.append(row(f"force annotation -> gone, 1 blocked among {n}", time.monotonic() - started, 2.0))

            # 6. Forced deletions at once.
            chosen = names[1 : 1 + forced]
            in_parallel(lambda name: _force(api, name), chosen)
            print(f"{forced} forced deletions ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            in_parallel(
                lambda name: api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name), chosen
            )
            watcher.wait(lambda w: not (set(chosen) & w.present), timeout=max(600.0, forced))
            bound = max(latency * forced / concurrency, api_delete_bound * forced / n)
            results.append(row(f"{forced} forced deletions -> all gone", time.monotonic() - started, bound))

            # 7. Delete the rest at once.
            rest = names[1 + forced :]
            print(f"delete {len(rest)} ...", file=sys.stderr, flush=True)
            meter = CpuMeter({**cp.pids, "operator": operator.pid, "bench and emulator": os.getpid()})
            meter.begin()
            started = time.monotonic()
            # One DELETE each, as kubectl or Argo CD sends them (a deletecollection of thousands times out).
            in_parallel(lambda name: api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name), rest)
            watcher.wait(lambda w: not w.present, timeout=max(600.0, n * 0.5))
            bound = max(latency * 2 * len(rest) / concurrency, api_delete_bound * len(rest) / n)  # dry run + DELETE
            results.append(row(f"delete {len(rest)} at once -> all gone", time.monotonic() - started, bound))
            facts["delete_cpu_seconds"] = meter.end()
            facts["operator_peak_rss_mib"] = max(
                facts["operator_peak_rss_mib"], round(process_rss_mib(operator.pid), 1)
            )
        finally:
            watcher.stop.set()
            operator.stop()
    return {"elasticsearch": es_version, "facts": facts, "results": results}


def _wait_for_finalizer_policy(api: k8s.CustomObjectsApi) -> None:
    """Until the API server applies the policy (a server-side dry run goes through admission): just after the CRD
    is installed, the policy's apply configuration cannot be computed yet and creates are answered 503."""

    def applied() -> bool:
        try:
            probe = api.create_namespaced_custom_object(
                GROUP, VERSION, BARE_NAMESPACE, PLURAL, manifest("probe"), dry_run="All"
            )
        except k8s.ApiException:
            return False
        finalizers = cast(dict[str, Any], probe)["metadata"].get("finalizers") or []
        return "inference.es-operator.dev/finalizer" in finalizers

    _wait(applied, 60)


def _by_kind(es: EmulatorServer) -> dict[str, int]:
    """The requests Elasticsearch got, by method and kind (a dry run, the list, one endpoint, ...)."""
    kinds: dict[str, int] = {}
    for r in es.requests:
        if r.query.get("dry_run") == "true":
            kind = "DELETE ?dry_run"
        elif r.path == "/_inference/_all":
            kind = f"{r.method} /_inference/_all"
        else:
            kind = f"{r.method} {re.sub(r'/_inference/.*', '/_inference/<id>', r.path)}"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _wait(check: Callable[[], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return time.monotonic()
        except OSError:
            pass  # the metrics port is not up yet
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark phase timed out")
        time.sleep(0.05)


def _blocked(api: k8s.CustomObjectsApi, name: str) -> bool:
    obj = cast(dict[str, Any], api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name))
    return any(
        c["type"] == "DeletionBlocked" and c["status"] == "True" for c in obj.get("status", {}).get("conditions", [])
    )


def _force(api: k8s.CustomObjectsApi, name: str) -> None:
    body = {"metadata": {"annotations": {"inference.es-operator.dev/force": "true"}}}
    api.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name, body)


def print_table(report: dict[str, Any]) -> None:
    print("\n| what | measured | bound | ratio |\n|---|---|---|---|", file=sys.stderr)
    for r in report["results"]:
        print(
            f"| {r['what']} | {r['measured']} {r['unit']} | {r['bound']} {r['unit']} | {r['ratio']} |", file=sys.stderr
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, required=True, help="N: the number of endpoints")
    parser.add_argument("--forced", type=int, default=0, help="forced deletions at once (default N/10, at most 1000)")
    parser.add_argument("--es-version", default="9.1.0")
    parser.add_argument("--latency", type=float, default=0.01, help="seconds the emulator adds to each answer")
    parser.add_argument("--concurrency", type=int, default=10, help="ELASTICSEARCH_MAX_CONCURRENT_REQUESTS")
    parser.add_argument("--resync", type=float, default=60.0, help="OPERATOR_RESYNC_SECONDS")
    parser.add_argument(
        "--no-finalizer-policy",
        dest="finalizer_policy",
        action="store_false",
        help="without policies/finalizer-at-creation: the operator writes the finalizer itself",
    )
    args = parser.parse_args(argv)
    forced = args.forced or min(1000, max(1, args.scale // 10))
    report = run(
        args.scale, forced, args.es_version, args.latency, args.concurrency, args.resync, args.finalizer_policy
    )
    print(json.dumps(report, indent=2))
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
