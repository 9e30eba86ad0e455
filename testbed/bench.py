"""`make bench`: how long the operator takes, measured on this machine. It measures; it asserts nothing.

- apply -> Ready: from the create request's answer to the first read that shows Ready=True;
- force -> gone: from the force annotation's patch to the first read that finds the resource gone, on a
  deletion blocked by a pipeline, with the operator's default re-check interval (15 s), so that only the
  wake-up on the annotation can make it quick.

Reads poll the API server every 10 ms with the Python client (no kubectl process start in the timing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from es_emulator import EmulatorServer, User
from testbed.bench_scale import manifest
from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, operator_env, repo_root

GROUP, VERSION, PLURAL = "inference.es-operator.dev", "v1alpha1", "inferenceendpoints"
NAMESPACE = "bench"
ES_USER = ("elastic", "changeme")


def poll(check: Callable[[], bool], timeout: float = 60) -> float:
    """Seconds until `check` holds (polling every 10 ms)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError("timed out")
        time.sleep(0.01)
    return time.monotonic()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "runs": len(samples),
        "median_s": round(statistics.median(ordered), 3),
        "p90_s": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "max_s": round(ordered[-1], 3),
        "min_s": round(ordered[0], 3),
    }


def run(runs: int, es_version: str) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as workdir,
        ControlPlane() as cp,
        EmulatorServer(version=es_version, users=[User(*ES_USER, roles=["superuser"])]) as es,
    ):
        cp.install_crds(repo_root() / "crds")
        cp.kubectl("create", "namespace", NAMESPACE)
        env = operator_env(cp.env(), es_url=es.url, username=ES_USER[0], password=ES_USER[1])
        api = k8s.CustomObjectsApi(cp.api_client())

        def conditions(name: str) -> list[dict[str, str]]:
            obj = cast(dict[str, Any], api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name))
            return list(obj.get("status", {}).get("conditions", []))

        def ready(name: str) -> bool:
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions(name))

        def blocked(name: str) -> bool:
            return any(c["type"] == "DeletionBlocked" and c["status"] == "True" for c in conditions(name))

        def gone(name: str) -> bool:
            try:
                api.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
                return False
            except ApiException as err:
                return bool(err.status == 404)

        to_ready: list[float] = []
        to_gone: list[float] = []
        with OperatorProcess(env=env, log_path=Path(workdir) / "operator.log", namespaces=(NAMESPACE,)):
            for i in range(runs):
                name = f"bench-{i}"
                body = manifest(name)
                api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
                started = time.monotonic()
                to_ready.append(poll(partial(ready, name)) - started)

                es_request(
                    es.url,
                    "PUT",
                    f"/_ingest/pipeline/p-{i}",
                    {"processors": [{"inference": {"model_id": name}}]},
                    auth=ES_USER,
                )
                api.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)
                poll(partial(blocked, name))
                started = time.monotonic()
                api.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    NAMESPACE,
                    PLURAL,
                    name,
                    {"metadata": {"annotations": {"inference.es-operator.dev/force": "true"}}},
                )
                to_gone.append(poll(partial(gone, name)) - started)
                print(
                    f"run {i + 1:2d}: apply->Ready {to_ready[-1]:.3f} s, force->gone {to_gone[-1]:.3f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return {"elasticsearch": es_version, "apply_to_ready": summary(to_ready), "force_to_gone": summary(to_gone)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--es-version", default="9.1.0")
    args = parser.parse_args()
    print(json.dumps(run(args.runs, args.es_version), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
