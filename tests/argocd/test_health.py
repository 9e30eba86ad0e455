"""The Argo CD health check (resource_customizations/.../InferenceEndpoint/health.lua), run in a real Lua 5.1
sandboxed like Argo CD's: against every case of health_test.yaml (objects captured from the operator by
`python -m tests.argocd.capture`), and against live objects the operator writes now."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest, pipeline_using, secret

from .lua_health import HEALTH_LUA, HEALTH_TEST, TESTDATA, evaluate

CASES = yaml.safe_load(HEALTH_TEST.read_text())["tests"]


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}


# --- health_test.yaml, as Argo CD's `go test ./util/lua/` runs it -------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[Path(c["inputPath"]).stem for c in CASES])
def test_health_test_yaml_case(case: dict[str, Any]) -> None:
    obj = load(HEALTH_LUA.parent / case["inputPath"])
    expected = (case["healthStatus"]["status"], case["healthStatus"]["message"])
    assert evaluate(obj) == expected


def test_every_testdata_file_is_a_case_and_every_case_has_its_file() -> None:
    files = {f"testdata/{p.name}" for p in TESTDATA.glob("*.yaml")}
    assert files == {c["inputPath"] for c in CASES}


def test_testdata_is_captured_from_the_operator() -> None:
    """Real objects: written by the API server (uid, resourceVersion, managedFields), the finalizer in place,
    and a status written by the operator wherever there is one."""
    for path in TESTDATA.glob("*.yaml"):
        obj = load(path)
        meta = obj["metadata"]
        assert meta["uid"] and meta["resourceVersion"] and meta["managedFields"], path.name
        if "status" in obj:
            assert meta["finalizers"] == ["inference.es-operator.dev/finalizer"], path.name
            status_managers = {m["manager"] for m in meta["managedFields"] if m.get("subresource") == "status"}
            # The operator's one status writer (kube_writer.ResourceWriter), under its name; kopf writes nothing.
            assert status_managers == {"es-inference-operator"}, path.name


def test_every_health_status_is_covered() -> None:
    assert {c["healthStatus"]["status"] for c in CASES} == {"Healthy", "Progressing", "Degraded"}


# --- Rules the captured objects do not reach ----------------------------------------------------------------


def test_a_spec_change_not_yet_observed_wins_over_a_stalled_status() -> None:
    obj = load(TESTDATA / "degraded_rejected.yaml")
    obj["metadata"]["generation"] = 2  # the user fixed the spec; the operator has not looked yet
    assert evaluate(obj) == ("Progressing", "waiting for the operator to observe generation 2")


def ready_at_an_older_generation() -> dict[str, Any]:
    """The issue-14 state as an operator before 0.2.0 wrote it (Elasticsearch down during an edit): the top-level
    observedGeneration at 2, Ready=True still decided for generation 1, Synced and Reconciling at 2 saying why."""
    obj = load(TESTDATA / "healthy.yaml")
    obj["metadata"]["generation"] = 2
    obj["status"]["observedGeneration"] = 2
    down = "Elasticsearch at http://127.0.0.1:9200: unreachable (checked again within 5 s)"
    for cond in obj["status"]["conditions"]:
        if cond["type"] in ("Synced", "Reconciling"):
            status = "True" if cond["type"] == "Reconciling" else "False"
            cond.update(observedGeneration=2, status=status, reason="ElasticsearchUnavailable", message=down)
    return obj


def test_ready_for_an_older_generation_is_not_healthy() -> None:
    obj = ready_at_an_older_generation()
    ready = conditions(obj)["Ready"]
    assert (ready["status"], ready["observedGeneration"]) == ("True", 1)
    status, message = evaluate(obj)
    assert status == "Progressing"
    assert message.startswith("generation 2 is not applied yet: Elasticsearch at http://127.0.0.1:9200: unreachable")


def test_deletion_wins_over_everything_else() -> None:
    obj = load(TESTDATA / "degraded_conflict.yaml")
    obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert evaluate(obj) == ("Progressing", "deleting")


def test_ready_false_without_kstatus_conditions_is_progressing() -> None:
    obj = load(TESTDATA / "progressing_secret_missing.yaml")
    obj["status"]["conditions"] = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    assert evaluate(obj) == ("Progressing", next(c["message"] for c in obj["status"]["conditions"]))


def test_a_condition_without_message_falls_back_to_its_reason() -> None:
    obj = load(TESTDATA / "degraded_rejected.yaml")
    for cond in obj["status"]["conditions"]:
        cond["message"] = ""
    assert evaluate(obj) == ("Degraded", "ElasticsearchRejected")


def test_unknown_condition_types_are_ignored() -> None:
    obj = load(TESTDATA / "healthy.yaml")
    obj["status"]["conditions"].append({"type": "SomethingNew", "status": "True", "reason": "X", "message": "y"})
    assert evaluate(obj)[0] == "Healthy"


def test_the_script_needs_no_open_libraries() -> None:
    """Argo CD runs argocd-cm health scripts without useOpenLibs: only base and table (and a reduced os)."""
    code = re.sub(r'"[^"]*"', '""', HEALTH_LUA.read_text())  # string literals out
    code = "\n".join(line.split("--", 1)[0] for line in code.splitlines())  # comments out
    for library in ("string.", "math.", "os.", "io.", "debug.", "coroutine.", "require"):
        assert library not in code, library
    assert not re.search(r"\w:\w+\(", code), "a method call on a string needs the string library"


# --- Live objects: what the operator writes today -----------------------------------------------------------


class Watch:
    """`kubectl get -w -o json` on the InferenceEndpoints of a namespace: every version the API server sends."""

    def __init__(self, kube: Kube) -> None:
        cmd = [
            str(kube.cp.kubectl_path),
            f"--kubeconfig={kube.cp.kubeconfig}",
            "-n",
            kube.namespace,
            "get",
            "inferenceendpoints",
            "--watch",
            "--output-watch-events",
            "-o",
            "json",
        ]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.text = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.text += line

    def started(self, kube: Kube) -> Watch:
        """Once the watch sees a marker resource (kubectl prints nothing while a namespace has none): every
        version of what is applied next is seen from its first one on."""
        kube.apply(endpoint_manifest("watch-started", deletionPolicy="Orphan"))
        wait_for("the watch to start", lambda: '"watch-started"' in self.text, timeout=30)
        return self

    def stop(self) -> list[dict[str, Any]]:
        self.process.terminate()
        self.process.wait(10)
        self.reader.join(10)
        decoder, events, pos = json.JSONDecoder(), [], 0
        text = self.text.strip()
        while pos < len(text):
            event, end = decoder.raw_decode(text, pos)
            events.append(event)
            pos = end
            while pos < len(text) and text[pos].isspace():
                pos += 1
        return [e["object"] for e in events if e.get("type") in ("ADDED", "MODIFIED")]


def history(objects: list[dict[str, Any]], name: str) -> list[tuple[str, str | None]]:
    """The health of each version of `name` seen, consecutive repeats dropped."""
    seen: list[tuple[str, str | None]] = []
    for obj in objects:
        if obj["metadata"]["name"] == name:
            health = evaluate(obj)
            if not seen or seen[-1] != health:
                seen.append(health)
    return seen


def statuses(objects: list[dict[str, Any]], name: str) -> list[str]:
    """The health statuses `name` went through, consecutive repeats dropped."""
    seen: list[str] = []
    for status, _ in history(objects, name):
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


def test_live_objects_are_classified_as_their_conditions_say(stack: Stack, kube: Kube) -> None:
    watch = Watch(kube).started(kube)
    try:
        kube.apply(endpoint_manifest("e5"))
        kube.apply(endpoint_manifest("bad", service="no-such-service", serviceSettings={"model_id": "x"}))
        kube.apply(
            endpoint_manifest(
                "waiting",
                service="openai",
                serviceSettings={"model_id": "text-embedding-3-small"},
                serviceSettingsSecretRefs={"api_key": {"name": "openai", "key": "api-key"}},
            )
        )

        kube.wait_condition("e5", "Ready")
        obj = kube.get("e5")
        assert evaluate(obj) == ("Healthy", conditions(obj)["Ready"]["message"])

        kube.wait_condition("bad", "Ready", "False", reason="ElasticsearchRejected")
        obj = kube.get("bad")
        status, message = evaluate(obj)
        assert status == "Degraded" and message == conditions(obj)["Stalled"]["message"]
        assert "Unknown service [no-such-service]" in message

        kube.wait_condition("waiting", "Ready", "False", reason="ConfigurationError")
        obj = kube.get("waiting")
        assert evaluate(obj) == ("Progressing", conditions(obj)["Reconciling"]["message"])

        # The Secret arrives (as in an Argo CD sync that applies it later): Healthy without a spec change.
        kube.apply(secret("openai", **{"api-key": "sk-late"}))
        kube.wait_condition("waiting", "Ready", timeout=30)
        assert evaluate(kube.get("waiting"))[0] == "Healthy"

        # A pipeline uses e5; deleting the resource waits, and the health says by what.
        assert stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))[0] == 200
        kube.run("delete", "iep", "e5", "--wait=false")
        kube.wait_condition("e5", "DeletionBlocked")
        status, message = evaluate(kube.get("e5"))
        assert status == "Progressing"
        assert message is not None and message.startswith("deletion blocked: ") and "embed-docs" in message
    finally:
        objects = watch.stop()

    # Every version the API server sent, from the first (no status) on: no flapping through Degraded on the
    # way to Healthy, and Healthy stays until the deletion.
    assert statuses(objects, "e5") == ["Progressing", "Healthy", "Progressing"], history(objects, "e5")
    assert statuses(objects, "waiting") == ["Progressing", "Healthy"], history(objects, "waiting")
    assert statuses(objects, "bad") == ["Progressing", "Degraded"], history(objects, "bad")
