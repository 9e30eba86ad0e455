"""docs/policies.md's first command, as written, on a fresh control plane of its own (nothing created before it:
no namespace of the operator's), and then the operator's own writes and a user's, as the operator would make
them.

0.1.0's force policy took its lists from a ConfigMap in the namespace es-inference-operator: on a fresh cluster
that ConfigMap failed (no such namespace) while the policy and binding were created, and since kube-apiserver
resolves a binding's parameters before it evaluates matchConditions, every create and update of an
InferenceEndpoint was then refused ("no params found"), the operator's finalizer writes included. The policies
now take no parameters (the lists are in the policy): the shipped bindings have no paramRef
(tests/policies/test_policies.py checks the rendered kustomizations), so nothing can go missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from testbed.controlplane import REPO_ROOT, ControlPlane
from tests.policies.test_policies import FINALIZER, FORCE, FORCE_POLICY, _poll, denial, endpoint, ok, set_references

pytestmark = pytest.mark.e2e

DOC = REPO_ROOT / "docs" / "policies.md"
OPERATOR = "system:serviceaccount:es-inference-operator:operator"  # a client certificate's CN: at most 64
CAROL = "carol"
ADOPT = "inference.es-operator.dev/adopt"


def first_commands() -> list[str]:
    """The first ```sh block of docs/policies.md, one command a line, comments dropped."""
    block = re.search(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "docs/policies.md has no sh block"
    commands = [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c and not c.startswith("#")]


@pytest.fixture(scope="module")
def fresh() -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        cp.install_crds(REPO_ROOT / "crds")
        yield cp


def test_the_first_command_works_on_a_fresh_cluster_and_never_blocks_the_operator(fresh: ControlPlane) -> None:
    cp = fresh
    commands = first_commands()
    assert commands[0] == "kubectl apply -k policies/force-annotation", commands
    assert "kubectl apply -k policies/adopt-annotation" in commands
    assert "kubectl apply -k policies/inference-id-prefix" in commands
    env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig), "PATH": f"{cp.bin_dir}:{os.environ['PATH']}"}
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert "error" not in result.stderr.lower(), result.stderr

    # The operator's ServiceAccount (its namespace as manifests/ name it) and a user without a special group.
    cp.add_user(OPERATOR, groups=["system:serviceaccounts", "system:serviceaccounts:es-inference-operator"])
    cp.add_user(CAROL, groups=["team-a"])
    cp.kubectl("create", "namespace", "team-a")
    cp.kubectl(
        "create", "clusterrole", "endpoints",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=inferenceendpoints.inference.es-operator.dev,inferenceendpoints.inference.es-operator.dev/status",
    )  # fmt: skip
    cp.kubectl(
        "create", "clusterrolebinding", "endpoints", "--clusterrole=endpoints", f"--user={OPERATOR}", f"--user={CAROL}"
    )

    def run(
        *args: str, user: str | None = None, manifest: dict[str, object] | None = None
    ) -> subprocess.CompletedProcess[str]:
        stdin = json.dumps(manifest) if manifest is not None else None
        return cp.kubectl("-n", "team-a", *args, user=user, input=stdin, check=False)

    # The guard is in force (policy informer: about a second): carol may not force...
    forced = endpoint("forced", {FORCE: "true"})
    _poll(
        "the force guard to refuse carol",
        lambda: (
            "may not set the force annotation"
            in run("create", "--dry-run=server", "-f", "-", user=CAROL, manifest=forced).stderr
        ),
    )
    message = denial(run("create", "-f", "-", user=CAROL, manifest=forced), FORCE_POLICY)
    assert message.startswith(f"{CAROL} may not set the force annotation")
    assert "only members of [inference-admins, system:masters] may set it" in message

    # ...and everything else passes: her plain create, and every write the operator makes.
    ok(run("create", "-f", "-", user=CAROL, manifest=endpoint("e5")))
    add_finalizer = json.dumps({"metadata": {"finalizers": [FINALIZER]}})
    ok(run("patch", "iep", "e5", "--type=merge", "-p", add_finalizer, user=OPERATOR))
    status = json.dumps(
        {"status": {"observedGeneration": 1, "conditions": [], "references": {"pipelines": [], "indexes": []}}}
    )
    ok(run("patch", "iep", "e5", "--subresource=status", "--type=merge", "-p", status, user=OPERATOR))
    ok(run("delete", "iep", "e5", "--wait=false", user=CAROL))
    ok(run("annotate", "iep", "e5", f"{FORCE}=true"))  # the cluster admin (system:masters) forces
    ok(run("patch", "iep", "e5", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]', user=OPERATOR))
    assert not run("get", "iep", "e5", "--ignore-not-found", "-o", "name").stdout.strip()

    # The second command's policy holds a deletion while the last check saw references.
    ok(run("create", "-f", "-", user=CAROL, manifest=endpoint("used")))
    set_references(cp, "team-a", "used", pipelines=["embed-docs"])
    _poll("the delete guard to refuse", lambda: "is used by" in run("delete", "iep", "used", "--dry-run=server").stderr)
    assert "ingest pipelines [embed-docs]" in denial(
        run("delete", "iep", "used", user=CAROL), "inference-endpoint-refuse-delete-while-referenced"
    )

    # Who may adopt, and a namespace's prefix: what carol sees is what docs/policies.md shows.
    adopting = endpoint("prod-e5", {ADOPT: "true"})
    _poll(
        "the adopt guard to refuse carol",
        lambda: (
            "may not set the adopt"
            in run("create", "--dry-run=server", "-f", "-", user=CAROL, manifest=adopting).stderr
        ),
    )
    refused = run("create", "-f", "-", user=CAROL, manifest=adopting)
    assert refused.returncode != 0 and refused.stderr.strip() == doc_text_block("Who may adopt")
    ok(run("create", "-f", "-", manifest=adopting))  # the cluster admin (system:masters) may

    cp.kubectl("label", "namespace", "team-a", "inference.es-operator.dev/id-prefix=team-a")
    _poll(
        "the prefix policy to see the label",
        lambda: "does not start with" in run("create", "--dry-run=server", "-f", "-", manifest=endpoint("e5")).stderr,
    )
    refused = run("create", "-f", "-", user=CAROL, manifest=endpoint("e5"))
    assert refused.returncode != 0 and refused.stderr.strip() == doc_text_block("A prefix per namespace")
    ok(run("create", "-f", "-", user=CAROL, manifest=endpoint("team-a-e5")))


def doc_text_block(section: str) -> str:
    """The first ```text block of the docs/policies.md section whose title starts with `section`, unwrapped."""
    part = DOC.read_text().split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", part, re.S)
    assert block is not None, f"no text block in {section}"
    return " ".join(line.strip() for line in block.group(1).splitlines() if line.strip())
