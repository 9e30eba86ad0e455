"""`helm install` of the chart on the node, as a user installs it: the README's command, the connection Secret,
and the Pod the kubelet starts from the image built from the Dockerfile. The usual story runs through it; a
`helm upgrade` to another tag of the image rolls the Pod under a stream of creates and deletions without
losing one; `helm uninstall` keeps the CRD and the resources."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from testbed.node.node import Node
from testbed.stack import es_request, wait_for
from tests.deploy.support import NAMESPACE, readme_command, run_shell
from tests.helm.support import Helm
from tests.support import ES_USER, Kube, endpoint_manifest

from .support import (
    check_pod_as_deployed,
    create_connection_secret,
    operator_pods,
    run_story,
    wait_rolled_out,
)

if TYPE_CHECKING:
    from .conftest import NodeEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_node")]

RELEASE = "es-inference-operator"
CRD = "inferenceendpoints.inference.es-operator.dev"


def test_helm_install_upgrade_and_uninstall_on_the_node(
    node: Node, node_emulator: NodeEmulator, node_helm: Helm
) -> None:
    cp = node.control_plane
    assert node.images is not None
    install = run_shell(cp, readme_command("helm install"), env=node_helm.env(cp))
    assert "STATUS: deployed" in install.stdout, install.stdout
    create_connection_secret(node)
    for pod in wait_rolled_out(node, image=node.images.name):
        check_pod_as_deployed(node, pod)
    run_story(node, node_emulator, "helm-story", "helm-story")

    # An upgrade to another tag of the image, while resources come and go: every action is done once the new
    # Pod runs, none lost.
    kube = Kube(cp, "helm-story")
    for index in range(5):
        kube.apply(endpoint_manifest(f"before-{index}"))
    for index in range(5):
        kube.wait_condition(f"before-{index}", "Ready", timeout=60)
    stop = threading.Event()
    created: list[str] = []

    def stream() -> None:
        index = 0
        while not stop.is_set() and index < 200:
            kube.apply(endpoint_manifest(f"during-{index}"))
            created.append(f"during-{index}")
            index += 1
            stop.wait(0.5)

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    try:
        upgrade = node_helm.run(
            "upgrade", RELEASE, "charts/es-inference-operator", "-n", NAMESPACE, "--reuse-values",
            f"--set=image.tag={node.images.next_tag}", cp=cp,
        )  # fmt: skip
        assert "STATUS: deployed" in upgrade.stdout
        for index in range(5):
            kube.run("delete", "iep", f"before-{index}", "--wait=false")
        wait_rolled_out(node, image=node.images.next_name)
    finally:
        stop.set()
        streamer.join(30)
    assert created, "resources were created during the rollout"
    for name in created:
        kube.wait_condition(name, "Ready", timeout=90)
        assert es_request(node_emulator.url, "GET", f"/_inference/{name}", auth=ES_USER)[0] == 200
    for index in range(5):
        kube.wait_gone(f"before-{index}", timeout=90)
        assert es_request(node_emulator.url, "GET", f"/_inference/before-{index}", auth=ES_USER)[0] == 404
    # One PUT per endpoint created: the old Pod and the new one did not both create any.
    puts = [r.path.rsplit("/", 1)[-1] for r in node_emulator.requests if r.method == "PUT" and "during-" in r.path]
    assert sorted(puts) == sorted(created), puts

    # Uninstall: the operator goes, the CRD and the resources stay.
    uninstall = run_shell(cp, readme_command("helm uninstall"), env=node_helm.env(cp))
    assert "kept due to the resource policy" in uninstall.stdout + uninstall.stderr
    wait_for("the operator's pods gone", lambda: not operator_pods(node), timeout=60)
    cp.kubectl("get", "crd", CRD)
    assert kube.exists(created[0])
