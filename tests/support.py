"""What the end-to-end test folders share (e2e, argocd, deploy, policies): kubectl in a namespace, the operator
under test with its Elasticsearch, and manifests."""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from testbed.controlplane import ControlPlane
from testbed.stack import OperatorProcess, es_request, free_port, operator_env, wait_for

if TYPE_CHECKING:
    from es_emulator import EmulatorServer

ES_USER = ("elastic", "changeme")

# Operator settings for tests: short intervals so that tests run in seconds. The blocked-deletion re-check is
# deliberately longer than any force test waits, so that those tests prove the force annotation wakes the
# deletion.
FAST_OPERATOR_SETTINGS = {
    "OPERATOR_RESYNC_SECONDS": "2",
    "OPERATOR_REFERENCES_SECONDS": "2",
    "OPERATOR_BLOCKED_RECHECK_SECONDS": "30",
    "OPERATOR_RETRY_BASE_SECONDS": "0.5",
    "OPERATOR_RETRY_CAP_SECONDS": "2",
}


@dataclass
class Kube:
    """kubectl in one namespace, the way a user types it."""

    cp: ControlPlane
    namespace: str
    user: str | None = None

    def run(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60) -> Any:
        return self.cp.kubectl("-n", self.namespace, *args, user=self.user, check=check, input=input, timeout=timeout)

    def apply(self, manifest: dict[str, Any] | str, check: bool = True) -> Any:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.run("apply", "-f", "-", input=text, check=check)

    def get(self, name: str, kind: str = "inferenceendpoint") -> dict[str, Any]:
        return dict(json.loads(self.run("get", kind, name, "-o", "json").stdout))

    def exists(self, name: str, kind: str = "inferenceendpoint") -> bool:
        return bool(self.run("get", kind, name, "--ignore-not-found", "-o", "name").stdout.strip())

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        conditions = self.get(name).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == type_), None)

    def wait_condition(
        self, name: str, type_: str, status: str = "True", timeout: float = 30, reason: str | None = None
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            cond = self.condition(name, type_)
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason):
                return cond
            return None

        return wait_for(
            f"{name}: {type_}={status}" + (f" ({reason})" if reason else ""), check, timeout=timeout, interval=0.1
        )

    def wait_gone(self, name: str, timeout: float = 30) -> None:
        wait_for(f"{name} to be gone", lambda: not self.exists(name), timeout=timeout, interval=0.05)

    def events(self, name: str) -> list[dict[str, Any]]:
        items = json.loads(
            self.run("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json").stdout
        )["items"]
        return list(items)


def endpoint_manifest(name: str, **spec: Any) -> dict[str, Any]:
    """An InferenceEndpoint for the in-cluster `elasticsearch` service (needs no Secret)."""
    return {
        "apiVersion": "inference.es-operator.dev/v1alpha1",
        "kind": "InferenceEndpoint",
        "metadata": {"name": name},
        "spec": {
            "taskType": "text_embedding",
            "service": "elasticsearch",
            "serviceSettings": {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1},
            **spec,
        },
    }


def pipeline_using(inference_id: str) -> dict[str, Any]:
    return {
        "description": "embeds the body",
        "processors": [
            {"inference": {"model_id": inference_id, "input_output": {"input_field": "body", "output_field": "v"}}}
        ],
    }


# The label by which a Secret opts in to use by InferenceEndpoints (README "Security"): without it, the operator
# refuses to read a Secret that a resource names.
ALLOW_REFERENCE = {"inference.es-operator.dev/allow-reference": "true"}


def secret(name: str, *, opted_in: bool = True, **data: str) -> dict[str, Any]:
    """A Secret with `data`; `opted_in` (as the tests' Secrets are meant for the operator) adds ALLOW_REFERENCE."""
    metadata: dict[str, Any] = {"name": name}
    if opted_in:
        metadata["labels"] = dict(ALLOW_REFERENCE)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


@dataclass
class Stack:
    """The operator under test with its Elasticsearch, and helpers to start it again or differently."""

    cp: ControlPlane
    namespace: str
    es: EmulatorServer
    log_dir: Path
    operator: OperatorProcess | None = None
    metrics_port: int = 0

    def start_operator(
        self, user: str | None = None, *, also_watch: tuple[str, ...] = (), **settings: str
    ) -> OperatorProcess:
        """The operator, watching this test's namespace (and `also_watch`), with `settings` over the fast ones."""
        self.metrics_port = free_port()
        env = operator_env(
            self.cp.env(user),
            es_url=self.es.url,
            username=ES_USER[0],
            password=ES_USER[1],
            **{**FAST_OPERATOR_SETTINGS, "OPERATOR_METRICS_PORT": str(self.metrics_port), **settings},
        )
        count = len(list(self.log_dir.glob("operator-*.log")))
        self.operator = OperatorProcess(
            env=env, log_path=self.log_dir / f"operator-{count}.log", namespaces=(self.namespace, *also_watch)
        ).start()
        return self.operator

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def reconciles(self) -> float:
        """How many reconciles the operator has run (es_inference_operator_reconciles_total, all labels)."""
        prefix = "es_inference_operator_reconciles_total{"
        return sum(float(line.rsplit(" ", 1)[1]) for line in self.metrics().splitlines() if line.startswith(prefix))

    def wait_for_reconciles(self, count: int, timeout: float = 30) -> None:
        """Until `count` more reconciles (of any resource) have run: the drift checks of a steady state."""
        start = self.reconciles()
        wait_for(f"{count} more reconciles", lambda: self.reconciles() >= start + count, timeout=timeout)

    def es_call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return es_request(self.es.url, method, path, body, auth=ES_USER)

    def endpoint(self, inference_id: str) -> dict[str, Any] | None:
        status, body = self.es_call("GET", f"/_inference/{inference_id}")
        return dict(body["endpoints"][0]) if status == 200 else None
