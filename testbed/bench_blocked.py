"""`make bench BLOCKED=500 N=1000`: do deletions that wait hold anything? It measures; it asserts nothing.

With one control plane, one emulator (answers after `--latency`), the operator as its least-privilege identity and
policies/finalizer-at-creation:

1. create N at once -> all Ready (the time without waiting deletions), then delete them;
2. create B, reference each from an ingest pipeline, delete them: B deletions wait (DeletionBlocked);
3. create N at once again -> all Ready, beside the first time (the ratio: 1.0 means the waiting deletions cost
   nothing);
4. force one of the B -> gone.

A waiting deletion holds no worker: it is a key in the work queue until its re-check time or an event.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

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
    grant_least_privilege,
    in_parallel,
    manifest,
    row,
)
from testbed.bench_scale import _force, _wait, _wait_for_finalizer_policy
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, free_port, operator_env, repo_root


def blocked_now(api: k8s.CustomObjectsApi) -> int:
    """How many deletions say DeletionBlocked=True now (one LIST)."""
    found = cast(dict[str, Any], api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL))
    return sum(
        any(c["type"] == "DeletionBlocked" and c["status"] == "True" for c in i.get("status", {}).get("conditions", []))
        for i in found["items"]
    )


def run(n: int, blocked: int, es_version: str, latency: float, concurrency: int) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    facts: dict[str, Any] = {"creates": n, "blocked_deletions": blocked, "latency_s": latency}
    with (
        tempfile.TemporaryDirectory() as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=es_version, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        cp.install_crds(repo_root() / "crds")
        cp.kubectl("apply", "-k", str(repo_root() / "policies" / "finalizer-at-creation"))
        cp.kubectl("create", "namespace", NAMESPACE)
        cp.kubectl("create", "namespace", "bench-bare")  # where the finalizer policy's probe goes
        grant_least_privilege(cp)
        api = k8s.CustomObjectsApi(cp.api_client())
        _wait_for_finalizer_policy(api)
        watcher = Watcher(api)
        watcher.start()
        env = operator_env(
            cp.env(OPERATOR_USER),
            es_url=es.url,
            username=ES_USER[0],
            password=ES_USER[1],
            OPERATOR_METRICS_PORT=str(free_port()),
            ELASTICSEARCH_MAX_CONCURRENT_REQUESTS=str(concurrency),
        )
        operator = OperatorProcess(env=env, log_path=Path(workdir) / "operator.log", namespaces=(NAMESPACE,)).start()
        es.faults.latency(latency)
        create = lambda name: api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, manifest(name))  # noqa: E731
        delete = lambda name: api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)  # noqa: E731
        try:
            # 1. Without waiting deletions.
            first = [f"a{i:05d}" for i in range(n)]
            print(f"create {n} (no deletion waits) ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            in_parallel(create, first)
            watcher.wait(lambda w: len(w.ready) >= n, timeout=max(600.0, n))
            alone = time.monotonic() - started
            facts["create_alone_s"] = round(alone, 2)
            in_parallel(delete, first)
            watcher.wait(lambda w: not w.present, timeout=max(600.0, n))

            # 2. B deletions that wait for their pipelines.
            waiting = [f"w{i:05d}" for i in range(blocked)]
            print(f"{blocked} deletions blocked by pipelines ...", file=sys.stderr, flush=True)
            in_parallel(create, waiting)
            watcher.wait(lambda w: len(w.ready) >= blocked, timeout=max(600.0, blocked))
            es.faults.latency(0)
            for name in waiting:
                pipeline = {"processors": [{"inference": {"model_id": name}}]}
                es_request(es.url, "PUT", f"/_ingest/pipeline/uses-{name}", pipeline, auth=ES_USER)
            es.faults.latency(latency)
            in_parallel(delete, waiting)
            _wait(lambda: blocked_now(api) == blocked, 600)

            # 3. The same creates beside them.
            second = [f"b{i:05d}" for i in range(n)]
            print(f"create {n} beside {blocked} waiting deletions ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            in_parallel(create, second)
            watcher.wait(lambda w: len(set(second) & w.ready) >= n, timeout=max(600.0, n))
            beside = time.monotonic() - started
            results.append(row(f"create {n} -> all Ready, beside {blocked} waiting deletions", beside, alone))

            # 4. One of them forced.
            started = time.monotonic()
            _force(api, waiting[blocked // 2])
            watcher.wait(lambda w: waiting[blocked // 2] not in w.present, timeout=120)
            results.append(row(f"force annotation -> gone, 1 of {blocked} waiting", time.monotonic() - started, 2.0))
        finally:
            watcher.stop.set()
            operator.stop()
    return {"elasticsearch": es_version, "facts": facts, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=1000, help="N: endpoints created, alone and beside")
    parser.add_argument("--blocked", type=int, default=500, help="B: deletions that wait")
    parser.add_argument("--es-version", default="9.1.0")
    parser.add_argument("--latency", type=float, default=0.01, help="seconds the emulator adds to each answer")
    parser.add_argument("--concurrency", type=int, default=10, help="ELASTICSEARCH_MAX_CONCURRENT_REQUESTS")
    args = parser.parse_args(argv)
    report = run(args.creates, args.blocked, args.es_version, args.latency, args.concurrency)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
