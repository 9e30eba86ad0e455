"""`kubectl apply -k manifests/default` on the node, the README's install command verbatim: the Pod the kubelet
starts from the image built from the Dockerfile is what the manifests promise, the usual story runs through
it, and the README's uninstall commands remove it all (namespace included: the node runs
kube-controller-manager)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from testbed.node.node import Node
from testbed.stack import wait_for
from tests.deploy.support import NAMESPACE, install_command, install_section, run_shell, shell_commands

from .support import check_pod_as_deployed, create_connection_secret, run_story, wait_rolled_out

if TYPE_CHECKING:
    from .conftest import NodeEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_node")]


def test_kustomize_install_runs_the_story_on_the_node(node: Node, node_emulator: NodeEmulator) -> None:
    cp = node.control_plane
    assert node.images is not None
    run_shell(cp, install_command())
    create_connection_secret(node)
    for pod in wait_rolled_out(node, image=node.images.name):
        check_pod_as_deployed(node, pod)
    run_story(node, node_emulator, "kustomize-story", "kustomize-story")

    # The README's uninstall, in its order: the resources while the operator runs (the prompt back at once), their
    # listing until none is left, as the README says to watch them go, then the rest.
    uninstall = [c for c in shell_commands(install_section()) if c.startswith(("kubectl delete", "kubectl get"))]
    assert uninstall == [
        "kubectl delete inferenceendpoints --all --all-namespaces --wait=false",
        "kubectl get inferenceendpoints --all-namespaces -o wide",
        "kubectl delete -k manifests/default",
    ], uninstall
    delete_resources, watch_them, delete_the_rest = uninstall
    run_shell(cp, delete_resources, timeout=60)

    def none_left() -> bool:
        listed = run_shell(cp, watch_them, timeout=30)
        return "No resources found" in listed.stdout + listed.stderr

    wait_for("no InferenceEndpoint left", none_left, timeout=120, interval=1)
    run_shell(cp, delete_the_rest, timeout=180)

    def gone() -> bool:
        listed = cp.kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").stdout
        return not listed.strip()

    wait_for(f"namespace {NAMESPACE} gone", gone, timeout=120, interval=1)
    assert not cp.kubectl("get", "crd", "--ignore-not-found", "-o", "name").stdout.strip()
