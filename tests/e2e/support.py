"""Helpers for the end-to-end tests: kubectl in a namespace, and manifests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import yaml

from testbed.controlplane import ControlPlane
from testbed.stack import wait_for

ES_USER = ("elastic", "changeme")

# Operator settings for tests: short intervals so that tests run in seconds. The blocked-deletion re-check is
# deliberately longer than any force test waits, so that those tests prove the force annotation wakes the
# deletion.
FAST_OPERATOR_SETTINGS = {
    "OPERATOR_RESYNC_SECONDS": "2",
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


def secret(name: str, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
