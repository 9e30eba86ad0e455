"""The test control plane is a real one: versioned kube-apiserver, etcd-backed storage, RBAC, CRDs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import testbed.servers
from testbed.controlplane import (
    REPO_ROOT,
    ControlPlane,
    ControlPlaneError,
    KubectlError,
    find_binaries,
    versions,
)

pytestmark = pytest.mark.e2e

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.testbed.example.com"},
    "spec": {
        "group": "testbed.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["color"],
                                "properties": {
                                    "color": {"type": "string", "enum": ["red", "blue"]},
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
                                },
                                "x-kubernetes-validations": [
                                    {"rule": "self.color == 'red' || self.size <= 5", "message": "big is red"}
                                ],
                            },
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


def eventually(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    interval = 0.05
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)
        interval = min(interval * 2, 0.5)


def install_widget_crd(cp: ControlPlane, folder: Path) -> list[str]:
    path = folder / "widget-crd.yaml"
    path.write_text(yaml.safe_dump(WIDGET_CRD))
    return cp.install_crds(path)


def test_server_is_the_pinned_kubernetes(control_plane: ControlPlane) -> None:
    version = control_plane.kubectl_json("version")
    expected = versions()["KUBERNETES_VERSION"]
    assert expected == "v1.37.2"
    assert version["serverVersion"]["gitVersion"] == expected
    assert version["clientVersion"]["gitVersion"] == expected
    assert control_plane.server.startswith("https://127.0.0.1:")


def test_configmap_round_trip(control_plane: ControlPlane, namespace: str) -> None:
    data = {"greeting": "hello", "lines": "one\ntwo\n"}
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "round-trip", "namespace": namespace},
        "data": data,
    }
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(manifest))
    first = control_plane.kubectl_json("get", "configmap", "round-trip", "-n", namespace, "--show-managed-fields")
    assert first["data"] == data
    assert first["metadata"]["uid"] and first["metadata"]["creationTimestamp"]
    assert first["metadata"]["managedFields"][0]["operation"] == "Apply"

    control_plane.kubectl(
        "patch",
        "configmap",
        "round-trip",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"data":{"greeting":"bye"}}',
    )
    second = control_plane.kubectl_json("get", "configmap", "round-trip", "-n", namespace)
    assert second["data"] == {**data, "greeting": "bye"}
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])

    control_plane.kubectl("delete", "configmap", "round-trip", "-n", namespace, "--wait=true")
    with pytest.raises(KubectlError) as excinfo:
        control_plane.kubectl("get", "configmap", "round-trip", "-n", namespace)
    message = str(excinfo.value)
    assert "NotFound" in message and "exit code 1" in message and "get configmap round-trip" in message


def test_rbac_is_enforced_for_a_minted_user(control_plane: ControlPlane, namespace: str) -> None:
    user = f"alice-{uuid.uuid4().hex[:6]}"
    kubeconfig = control_plane.add_user(user, groups=["testbed:readers"])
    assert kubeconfig.exists()

    whoami = control_plane.kubectl_json("auth", "whoami", user=user)
    assert whoami["status"]["userInfo"]["username"] == user
    assert set(whoami["status"]["userInfo"]["groups"]) >= {"testbed:readers", "system:authenticated"}

    denied = control_plane.kubectl("get", "secrets", "-n", namespace, user=user, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower() and user in denied.stderr

    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "secret-reader", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "secret-readers", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "testbed:readers"}],
        },
    ]
    control_plane.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac}))

    eventually(
        lambda: control_plane.kubectl("get", "secrets", "-n", namespace, user=user, check=False).returncode == 0,
        what=f"{user} may list secrets",
    )
    # Only what was granted, only where it was granted.
    create = control_plane.kubectl(
        "create", "secret", "generic", "s", "-n", namespace, "--from-literal=a=b", user=user, check=False
    )
    assert create.returncode != 0 and "forbidden" in create.stderr.lower()
    elsewhere = control_plane.kubectl("get", "secrets", "-n", "default", user=user, check=False)
    assert elsewhere.returncode != 0 and "forbidden" in elsewhere.stderr.lower()


def test_auth_can_i_with_impersonation(control_plane: ControlPlane, namespace: str) -> None:
    def can_i(*args: str) -> str:
        result = control_plane.kubectl("auth", "can-i", *args, check=False)
        assert result.returncode in (0, 1), result.stderr
        return result.stdout.strip()

    user = f"bob-{uuid.uuid4().hex[:6]}"
    assert can_i("*", "*") == "yes"  # admin is in system:masters
    assert can_i("list", "configmaps", "-n", namespace, f"--as={user}") == "no"
    assert can_i("list", "configmaps", "-n", namespace, "--as=someone", "--as-group=system:masters") == "yes"

    control_plane.kubectl("create", "role", "cm-reader", "-n", namespace, "--verb=get,list", "--resource=configmaps")
    control_plane.kubectl("create", "rolebinding", "cm-reader", "-n", namespace, "--role=cm-reader", f"--user={user}")
    eventually(
        lambda: can_i("list", "configmaps", "-n", namespace, f"--as={user}") == "yes",
        what=f"{user} may list configmaps",
    )
    assert can_i("delete", "configmaps", "-n", namespace, f"--as={user}") == "no"
    assert can_i("list", "configmaps", "-n", "default", f"--as={user}") == "no"


def test_crds_are_served(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> None:
    """The repository's CRDs (or, while crds/ is empty, a small inline one) are established and served."""
    names = control_plane.install_crds(REPO_ROOT / "crds")  # already installed by the fixture: idempotent
    if not names:
        names = install_widget_crd(control_plane, tmp_path)
    assert names

    for name in names:
        crd = control_plane.kubectl_json("get", "crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", conditions
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        listed = control_plane.kubectl("api-resources", f"--api-group={group}", "-o", "name").stdout.split()
        assert f"{plural}.{group}" in listed
        scope = ["-n", namespace] if crd["spec"]["scope"] == "Namespaced" else []
        for version in (v["name"] for v in crd["spec"]["versions"] if v["served"]):
            items = control_plane.kubectl_json("get", f"{plural}.{version}.{group}", *scope)
            assert items["items"] == []


def test_custom_resources_are_validated_and_defaulted(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    assert install_widget_crd(control_plane, tmp_path) == ["widgets.testbed.example.com"]

    def widget(name: str, **spec: Any) -> str:
        return json.dumps(
            {
                "apiVersion": "testbed.example.com/v1",
                "kind": "Widget",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            }
        )

    control_plane.kubectl("create", "-f", "-", input=widget("small", color="blue"))
    small = control_plane.kubectl_json("get", "widget", "small", "-n", namespace)
    assert small["spec"] == {"color": "blue", "size": 3}  # schema default applied by the apiserver
    assert small["metadata"]["generation"] == 1

    too_big = control_plane.kubectl("create", "-f", "-", input=widget("huge", color="red", size=11), check=False)
    assert too_big.returncode != 0 and "less than or equal to 10" in too_big.stderr
    cel = control_plane.kubectl("create", "-f", "-", input=widget("odd", color="blue", size=8), check=False)
    assert cel.returncode != 0 and "big is red" in cel.stderr
    wrong = control_plane.kubectl("create", "-f", "-", input=widget("green", color="green"), check=False)
    assert wrong.returncode != 0 and "Unsupported value" in wrong.stderr


def test_env_lets_other_processes_reach_the_cluster(control_plane: ControlPlane) -> None:
    env = control_plane.env()
    assert shutil.which("kubectl", path=env["PATH"]) == str(control_plane.kubectl_path)
    result = subprocess.run(
        ["kubectl", "get", "namespace", "default", "-o", "jsonpath={.metadata.name}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout == "default"

    # The Python client (what kopf and the operator use) reads the same KUBECONFIG.
    script = (
        "from kubernetes import client, config\n"
        "config.load_kube_config()\n"
        "print(client.VersionApi().get_code().git_version)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == versions()["KUBERNETES_VERSION"]

    from kubernetes import client

    with control_plane.api_client() as api:
        metadata = client.CoreV1Api(api).read_namespace("default").metadata
        assert metadata is not None and metadata.name == "default"


@pytest.mark.parametrize("component", ["etcd", "kube-apiserver"])
def test_start_failure_reports_the_log_tail_and_cleans_up(component: str) -> None:
    bogus = "--testbed-no-such-flag=1"
    extra = {"etcd_args": [bogus]} if component == "etcd" else {"apiserver_args": [bogus]}
    cp = ControlPlane(bin_dir=find_binaries(), start_timeout=60, **extra)  # type: ignore[arg-type]
    with pytest.raises(ControlPlaneError) as excinfo, cp:
        pytest.fail("start should have failed")
    message = str(excinfo.value)
    assert message.startswith(f"{component} exited with code")
    assert "testbed-no-such-flag" in message.split("last 40 lines of", 1)[1]

    assert cp.workdir is not None and not cp.workdir.exists()
    assert cp.pids, "the processes were started"
    for pid in cp.pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize(("busy_call", "component"), [(1, "etcd"), (3, "kube-apiserver")])
def test_start_retries_when_a_port_is_taken(busy_call: int, component: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Port choice races with other processes: a start that hits "address already in use" picks new ports.

    Ports are drawn in this order: etcd client, etcd peer, kube-apiserver; ``busy_call`` gets a taken one.
    """
    real_free_port = testbed.servers._free_port
    calls = 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: the port is taken, connections are refused at once

        def free_port(host: str = "127.0.0.1") -> int:
            nonlocal calls
            calls += 1
            return int(taken.getsockname()[1]) if calls == busy_call else real_free_port(host)

        monkeypatch.setattr(testbed.servers, "_free_port", free_port)
        with ControlPlane(bin_dir=find_binaries()) as cp:
            assert cp.timings.attempts[component] == 2
            assert "address already in use" in cp.log_tail(component, 400)
            assert cp.kubectl("get", "namespace", "default").returncode == 0
