"""The operator removed together with its CRD (`kubectl delete -k manifests/default` with resources present): the
CRD stays Terminating while the resources wait for their finalizer. Started again, the operator finishes every
deletion (deleting each endpoint, by its policy), the CRD goes, and no endpoint is left behind (issue 19).

A control plane of its own: deleting the CRD must not touch the other tests' resources."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from es_emulator import EmulatorServer
from testbed.controlplane import REPO_ROOT, ControlPlane
from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest

CRD = "inferenceendpoints.inference.es-operator.dev"


@pytest.fixture
def own_control_plane() -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        cp.install_crds(REPO_ROOT / "crds")
        yield cp


@pytest.mark.parametrize("es_version", ["9.1.0"])
def test_an_operator_restarted_while_its_crd_is_deleted_finishes_the_deletions(
    own_control_plane: ControlPlane, emulator: EmulatorServer, tmp_path: Path
) -> None:
    cp = own_control_plane
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    cp.kubectl("create", "namespace", namespace)
    kube = Kube(cp, namespace)
    stack = Stack(cp, namespace, emulator, tmp_path)
    stack.start_operator()
    names = ["first", "second", "third"]
    kube.apply(endpoint_manifest("kept", deletionPolicy="Orphan"))
    for name in names:
        kube.apply(endpoint_manifest(name))
    for name in [*names, "kept"]:
        kube.wait_condition(name, "Ready")

    # The operator goes first (its Deployment deleted with the CRD), then the CRD.
    assert stack.operator is not None
    stack.operator.kill()
    cp.kubectl("delete", "crd", CRD, "--wait=false")

    def terminating() -> bool:
        crd = json.loads(cp.kubectl("get", "crd", CRD, "-o", "json").stdout)
        return any(c["type"] == "Terminating" and c["status"] == "True" for c in crd["status"]["conditions"])

    wait_for("the CRD to be Terminating", terminating, timeout=30)
    wait_for(
        "the resources to be deleted (and held by their finalizer)",
        lambda: all(kube.get(name)["metadata"].get("deletionTimestamp") for name in names),
        timeout=30,
    )
    assert all(stack.endpoint(name) is not None for name in names)

    stack.start_operator()
    wait_for(
        "the CRD to be gone",
        lambda: not cp.kubectl("get", "crd", CRD, "--ignore-not-found", "-o", "name").stdout.strip(),
        timeout=60,
    )
    assert all(stack.endpoint(name) is None for name in names)  # nothing left behind in Elasticsearch
    assert stack.endpoint("kept") is not None  # but what the policy keeps
    assert stack.operator is not None and "Non-patchable" not in stack.operator.log_text()
    stack.operator.stop()
