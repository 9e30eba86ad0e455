"""What the tests on the node share: the operator's pods as the kubelet runs them, and the usual story run
through them against the emulator."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from testbed.node.node import NODE_IP, Node
from testbed.stack import es_request, wait_for
from tests.deploy.support import NAMESPACE, SERVICE_ACCOUNT
from tests.support import ES_USER, Kube, endpoint_manifest, pipeline_using

from .conftest import ES_PORT_ON_NODE

if TYPE_CHECKING:
    from .conftest import NodeEmulator

SELECTOR = "app.kubernetes.io/name=es-inference-operator"
CONNECTION_SECRET = "elasticsearch-connection"
NONROOT = 65532
ES_URL_FOR_PODS = f"http://{NODE_IP}:{ES_PORT_ON_NODE}"


def create_connection_secret(node: Node) -> None:
    """The Secret the README says to create, pointing at the emulator as pods reach it."""
    node.control_plane.kubectl(
        "create", "secret", "generic", CONNECTION_SECRET, "-n", NAMESPACE, f"--from-literal=url={ES_URL_FOR_PODS}",
        f"--from-literal=username={ES_USER[0]}", f"--from-literal=password={ES_USER[1]}",
    )  # fmt: skip


def operator_pods(node: Node) -> list[dict[str, Any]]:
    pods = node.control_plane.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", SELECTOR)["items"]
    return [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_rolled_out(node: Node, *, image: str, timeout: float = 180) -> list[dict[str, Any]]:
    """`kubectl rollout status`, then the Deployment's pods: every one Ready, running ``image``."""
    cp = node.control_plane
    cp.kubectl(
        "rollout", "status", "deployment/es-inference-operator", "-n", NAMESPACE, f"--timeout={timeout:.0f}s",
        timeout=timeout + 10,
    )  # fmt: skip

    def settled() -> list[dict[str, Any]] | None:
        pods = operator_pods(node)
        wanted = cp.kubectl_json("get", "deployment", "es-inference-operator", "-n", NAMESPACE)["spec"]["replicas"]
        images = {c["image"] for pod in pods for c in pod["spec"]["containers"]}
        return pods if len(pods) == wanted and images == {image} and all(map(ready, pods)) else None

    return wait_for(f"the operator's pods Ready on {image}", settled, timeout=60, interval=0.5)


def check_pod_as_deployed(node: Node, pod: dict[str, Any]) -> None:
    """Ready as uid 65532 with a read-only root filesystem, probes passing, metrics answering, and the
    in-cluster ServiceAccount token the only credential."""
    cp = node.control_plane
    name = pod["metadata"]["name"]
    container = pod["spec"]["containers"][0]
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] and status["restartCount"] == 0, status
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"] and container["readinessProbe"], "the kubelet probes it"

    # The process itself, seen from the node: its uid and gid, and no capabilities.
    pid = node.container_pid(status["containerID"])
    proc_status = dict(
        line.split(":", 1) for line in node.run("cat", f"/proc/{pid}/status").splitlines() if ":" in line
    )
    assert proc_status["Uid"].split() == [str(NONROOT)] * 4, proc_status["Uid"]
    assert proc_status["Gid"].split() == [str(NONROOT)] * 4, proc_status["Gid"]
    assert int(proc_status["CapEff"], 16) == 0 and int(proc_status["CapBnd"], 16) == 0
    assert "es-inference-operator" in node.run("cat", f"/proc/{pid}/cmdline")

    # The root filesystem refuses writes.
    write = cp.kubectl(
        "exec", "-n", NAMESPACE, name, "--", "python3", "-c", "open('/written', 'w')", check=False
    )  # fmt: skip
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr

    # Metrics answer on the pod's address, as Prometheus scrapes them (from the node).
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "metrics")
    fetch = f"import urllib.request; print(urllib.request.urlopen('http://{pod['status']['podIP']}:{port}/metrics').read().decode())"
    metrics = node.run("python3", "-c", fetch)
    assert "es_inference_operator_" in metrics, metrics[:500]

    # The credential is the projected ServiceAccount token (no kubeconfig in the pod), and it names the
    # chart's/manifests' ServiceAccount.
    env = cp.kubectl("exec", "-n", NAMESPACE, name, "--", "env").stdout
    assert "KUBECONFIG" not in env and "KUBERNETES_SERVICE_HOST=10.0.0.1" in env
    token = cp.kubectl(
        "exec", "-n", NAMESPACE, name, "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ).stdout  # fmt: skip
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}", claims
    assert claims["kubernetes.io"]["pod"]["name"] == name


def run_story(node: Node, emulator: NodeEmulator, namespace: str, name: str) -> None:
    """Create -> Ready; a pipeline uses it -> the deletion is blocked, naming it; force -> gone."""
    cp = node.control_plane
    cp.kubectl("create", "namespace", namespace)
    kube = Kube(cp, namespace)
    kube.apply(endpoint_manifest(name))
    kube.wait_condition(name, "Ready", timeout=60)
    assert es_request(emulator.url, "GET", f"/_inference/{name}", auth=ES_USER)[0] == 200

    pipeline = f"{name}-pipeline"
    assert (
        es_request(emulator.url, "PUT", f"/_ingest/pipeline/{pipeline}", pipeline_using(name), auth=ES_USER)[0] == 200
    )
    kube.run("delete", "iep", name, "--wait=false")
    blocked = kube.wait_condition(name, "DeletionBlocked", timeout=60)
    assert blocked["reason"] == "InUse" and pipeline in blocked["message"], blocked

    kube.run("annotate", "iep", name, "inference.es-operator.dev/force=true")
    kube.wait_gone(name, timeout=60)
    assert es_request(emulator.url, "GET", f"/_inference/{name}", auth=ES_USER)[0] == 404
