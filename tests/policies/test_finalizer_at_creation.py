"""policies/finalizer-at-creation on the real kube-apiserver: a MutatingAdmissionPolicy gives each new
InferenceEndpoint the operator's finalizer as it is created, so that the operator's first write is its
ownership intent, not the finalizer: two writes per create instead of three (issue 9).

Installed once for this module from ``kubectl kustomize``, renamed with a run id and bound only to namespaces
that carry this run's label (the control plane is shared by the whole session)."""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch

from es_inference_operator.contract import FINALIZER
from testbed.controlplane import REPO_ROOT, ControlPlane
from tests.policies.test_policies import as_documents
from tests.support import Kube, Stack, endpoint_manifest

POLICY = "inference-endpoint-finalizer-at-creation"
RUN_LABEL = "policy-test.inference.es-operator.dev/finalizer-run"
GROUP, VERSION, PLURAL = "inference.es-operator.dev", "v1alpha1", "inferenceendpoints"


def _rendered(cp: ControlPlane) -> list[dict[str, Any]]:
    text = cp.kubectl("kustomize", str(REPO_ROOT / "policies" / "finalizer-at-creation")).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def run_label(control_plane: ControlPlane) -> Iterator[str]:
    """The shipped policy, renamed for this run and bound to namespaces labelled RUN_LABEL=<run>."""
    run = uuid.uuid4().hex[:6]
    docs = _rendered(control_plane)
    assert {d["kind"] for d in docs} == {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}
    for doc in docs:
        doc["metadata"]["name"] += f"-{run}"
        if doc["kind"] == "MutatingAdmissionPolicyBinding":
            assert doc["spec"]["policyName"] == POLICY
            assert "matchResources" not in doc["spec"]  # shipped: every namespace
            doc["spec"]["policyName"] += f"-{run}"
            doc["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {RUN_LABEL: run}}}
    control_plane.kubectl("apply", "-f", "-", input=as_documents(docs))
    try:
        yield run
    finally:
        result = control_plane.kubectl(
            "delete",
            "--ignore-not-found",
            "--wait=false",
            f"mutatingadmissionpolicybinding/{POLICY}-{run}",
            f"mutatingadmissionpolicy/{POLICY}-{run}",
            check=False,
            timeout=30,
        )
        if result.returncode != 0:
            warnings.warn(f"could not remove the test policy: {result.stderr}", stacklevel=1)


def _bind(kube: Kube, run: str) -> None:
    """Label the test's namespace for the policy and wait until the API server applies it (a server-side dry run
    goes through mutating admission)."""
    kube.cp.kubectl("label", "namespace", kube.namespace, f"{RUN_LABEL}={run}")
    probe = json.dumps(endpoint_manifest("probe"))
    deadline = time.monotonic() + 30
    while True:
        result = kube.run("create", "--dry-run=server", "-o", "json", "-f", "-", input=probe)
        if FINALIZER in (json.loads(result.stdout)["metadata"].get("finalizers") or []):
            return
        if time.monotonic() > deadline:
            pytest.fail("the finalizer policy did not take effect within 30 s")
        time.sleep(0.2)


def test_a_new_resource_is_born_with_the_finalizer_and_keeps_its_own(
    control_plane: ControlPlane, run_label: str, namespace: str
) -> None:
    kube = Kube(control_plane, namespace)
    _bind(kube, run_label)
    manifest = endpoint_manifest("e5")
    manifest["metadata"]["finalizers"] = ["example.com/keep-me"]  # type: ignore[index]
    kube.run("create", "-f", "-", input=json.dumps(manifest))
    assert sorted(kube.get("e5")["metadata"]["finalizers"]) == ["example.com/keep-me", FINALIZER]


def test_only_creates_are_mutated(control_plane: ControlPlane, run_label: str, namespace: str) -> None:
    """A finalizer taken off later (a person letting a resource go without the operator) is not put back."""
    kube = Kube(control_plane, namespace)
    _bind(kube, run_label)
    kube.run("create", "-f", "-", input=json.dumps(endpoint_manifest("e5")))
    kube.run("patch", "iep", "e5", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    kube.run("label", "iep", "e5", "touched=yes")
    assert not kube.get("e5")["metadata"].get("finalizers")


class _Writes:
    """Every change of one object, from a watch started before it exists."""

    def __init__(self, cp: ControlPlane, namespace: str, name: str) -> None:
        self.api = k8s.CustomObjectsApi(cp.api_client())
        self.namespace, self.name = namespace, name
        self.events: list[dict[str, Any]] = []
        self.stopped = False
        self.watch = k8s_watch.Watch()  # type: ignore[no-untyped-call]
        listing = self.api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        self.version = listing["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        try:
            self._stream()
        except Exception:
            if not self.stopped:  # stop() closes the connection under the stream: that is no failure
                raise

    def _stream(self) -> None:
        for event in self.watch.stream(
            self.api.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            resource_version=self.version,
            field_selector=f"metadata.name={self.name}",
            timeout_seconds=60,
        ):
            self.events.append(event)

    def stop(self) -> list[dict[str, Any]]:
        self.stopped = True
        self.watch.stop()  # type: ignore[no-untyped-call]
        self.thread.join(timeout=65)
        return self.events


def _writes_to_ready(stack: Stack, kube: Kube, name: str) -> list[dict[str, Any]]:
    writes = _Writes(kube.cp, kube.namespace, name)
    kube.apply(endpoint_manifest(name))
    kube.wait_condition(name, "Ready")
    # Nothing more comes once it is Ready (no write after the outcome): give a straggler a moment to show.
    time.sleep(1.0)
    return writes.stop()


def test_with_the_policy_a_create_takes_two_writes(stack: Stack, run_label: str) -> None:
    """The finalizer at admission; then the operator's intent (before Elasticsearch is asked) and its outcome."""
    kube = Kube(stack.cp, stack.namespace)
    _bind(kube, run_label)
    events = _writes_to_ready(stack, kube, "e5")
    kinds = [e["type"] for e in events]
    assert kinds == ["ADDED", "MODIFIED", "MODIFIED"], kinds
    added = events[0]["object"]
    assert added["metadata"]["finalizers"] == [FINALIZER]
    intent = events[1]["object"]["status"]
    assert intent["ownership"]["state"] == "CreatePending"
    assert events[2]["object"]["status"]["ownership"]["state"] == "Created"
    assert stack.endpoint("e5") is not None


def test_without_the_policy_the_operator_adds_the_finalizer_itself(stack: Stack) -> None:
    kube = Kube(stack.cp, stack.namespace)
    events = _writes_to_ready(stack, kube, "e5")
    kinds = [e["type"] for e in events]
    assert kinds == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED"], kinds
    assert not events[0]["object"]["metadata"].get("finalizers")
    assert events[1]["object"]["metadata"]["finalizers"] == [FINALIZER]
