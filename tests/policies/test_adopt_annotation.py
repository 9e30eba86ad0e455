"""policies/adopt-annotation on the real kube-apiserver: who may set the adopt annotation, the twin of the force
policy (tests/policies/test_policies.py) with lists of its own.

The annotation ``inference.es-operator.dev/adopt: "true"`` lets a resource take over an endpoint that exists in
Elasticsearch and that it did not create: the operator then writes the resource's spec and secrets into it and
deletes it with the resource. No operator runs here; the tests act as four client-certificate identities:

* ``alice``: in the group ``inference-admins``, allowed by the shipped policy's ``groups`` list;
* ``bob``: no special group, allowed by name through the policy's ``users`` list (set for the test);
* ``carol``: in the group ``team-a``, not allowed;
* the operator: ``system:serviceaccount:...``, not allowed to adopt, but its own patches must always pass.

The policy is installed once for this module from ``kubectl kustomize policies/adopt-annotation``, renamed with a
run id and bound only to namespaces that carry this run's label.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.controlplane import ControlPlane
from tests.policies.test_policies import (
    FINALIZER,
    Kubectl,
    Users,
    _poll,
    _rendered,
    as_documents,
    denial,
    endpoint,
    ok,
    set_lists,
)

ADOPT = "inference.es-operator.dev/adopt"
ADOPT_POLICY = "inference-endpoint-adopt-annotation"
RUN_LABEL = "policy-test.inference.es-operator.dev/adopt-run"


@dataclass
class Installed:
    cp: ControlPlane
    run: str
    users: Users
    cluster_role: str

    @property
    def policy(self) -> str:
        return f"{ADOPT_POLICY}-{self.run}"

    def guard(self, namespace: str) -> None:
        """Bind the policy in ``namespace``, give the four identities RBAC there, and wait until carol is refused
        (policy, binding, namespace label and RoleBinding all seen by the API server's informers)."""
        self.cp.kubectl("label", "namespace", namespace, f"{RUN_LABEL}={self.run}")
        u = self.users
        self.cp.kubectl(
            "-n", namespace, "create", "rolebinding", "policy-test-endpoints", f"--clusterrole={self.cluster_role}",
            f"--user={u.alice}", f"--user={u.bob}", f"--user={u.carol}", f"--user={u.operator}",
        )  # fmt: skip
        manifest = json.dumps(endpoint("probe", {ADOPT: "true"}))

        def refused() -> bool:
            result = self.cp.kubectl(
                "-n", namespace, "create", "--dry-run=server", "-f", "-", input=manifest, user=u.carol, check=False
            )
            return f"ValidatingAdmissionPolicy '{self.policy}'" in result.stderr and "may not set" in result.stderr

        _poll(f"the adopt guard to refuse {u.carol} in {namespace}", refused)


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane) -> Iterator[Installed]:
    cp = control_plane
    run = uuid.uuid4().hex[:6]
    users = Users(
        alice=f"adopt-alice-{run}",
        bob=f"adopt-bob-{run}",
        carol=f"adopt-carol-{run}",
        operator=f"system:serviceaccount:es-inference-operator:op-{run}",
    )
    cp.add_user(users.alice, groups=["inference-admins"])
    cp.add_user(users.bob)
    cp.add_user(users.carol, groups=["team-a"])
    cp.add_user(users.operator, groups=["system:serviceaccounts", "system:serviceaccounts:es-inference-operator"])
    docs = _rendered(cp, "adopt-annotation")
    assert {d["kind"] for d in docs} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for doc in docs:
        doc["metadata"]["name"] += f"-{run}"
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] += f"-{run}"
            doc["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {RUN_LABEL: run}}}
        else:
            set_lists(doc, None, f" {users.bob} , ")  # the shipped groups stay; bob by name, typed with blanks
    cluster_role = f"adopt-test-endpoints-{run}"
    cluster_scoped = [
        f"validatingadmissionpolicybinding/{ADOPT_POLICY}-{run}",
        f"validatingadmissionpolicy/{ADOPT_POLICY}-{run}",
        f"clusterrole/{cluster_role}",
    ]
    try:
        cp.kubectl(
            "create", "clusterrole", cluster_role,
            "--verb=get,list,watch,create,update,patch,delete",
            "--resource=inferenceendpoints.inference.es-operator.dev,inferenceendpoints.inference.es-operator.dev/status",
        )  # fmt: skip
        cp.kubectl("apply", "-f", "-", input=as_documents(docs))
        yield Installed(cp, run, users, cluster_role)
    finally:
        result = cp.kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, check=False, timeout=30)
        if result.returncode != 0:
            warnings.warn(f"could not remove the test policy: {result.stderr}", stacklevel=1)


@pytest.fixture
def k(installed: Installed, namespace: str, control_plane: ControlPlane) -> Kubectl:
    installed.guard(namespace)
    return Kubectl(control_plane, namespace)


def adopt_message(inst: Installed, user: str, namespace: str, name: str, inference_id: str | None = None) -> str:
    return (
        f"{user} may not set the adopt annotation inference.es-operator.dev/adopt=true on inference endpoint "
        f"{namespace}/{name}: adopting takes over the endpoint {inference_id or name} that already exists in "
        f"Elasticsearch and that this resource did not create (the operator then writes the spec and its secrets "
        f"into it, and deletes it with the resource), so only members of [inference-admins, system:masters] and "
        f"the users [{inst.users.bob}] may set it. Ask one of them, or use an inferenceId of your own"
    )


def with_id(manifest: dict[str, Any], inference_id: str) -> dict[str, Any]:
    manifest["spec"]["inferenceId"] = inference_id
    return manifest


def test_the_shipped_kustomization_binds_cluster_wide_without_parameters(control_plane: ControlPlane) -> None:
    """As the force policy: every namespace, nothing that can go missing and refuse every write."""
    docs = {d["kind"]: d for d in _rendered(control_plane, "adopt-annotation")}
    assert docs["ValidatingAdmissionPolicyBinding"]["spec"] == {
        "policyName": ADOPT_POLICY,
        "validationActions": ["Deny"],
    }
    policy = docs["ValidatingAdmissionPolicy"]
    assert policy["metadata"]["name"] == ADOPT_POLICY and "paramKind" not in policy["spec"]
    lists = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    assert (lists["groups"], lists["users"]) == ("'inference-admins, system:masters'", "''")


def test_create_with_adopt_needs_an_allowed_identity(installed: Installed, k: Kubectl) -> None:
    u = installed.users
    manifest = with_id(endpoint("by-carol", {ADOPT: "true"}), "prod-e5")
    message = denial(k.create(manifest, user=u.carol), installed.policy)
    assert message == adopt_message(installed, u.carol, k.namespace, "by-carol", inference_id="prod-e5")
    assert not k.exists("by-carol")
    # The operator's identity is not in the lists either: it never adopts anything by itself.
    denial(k.create(endpoint("by-operator", {ADOPT: "true"}), user=u.operator), installed.policy)

    ok(k.create(endpoint("by-alice", {ADOPT: "true"}), user=u.alice))  # by group
    ok(k.create(endpoint("by-bob", {ADOPT: "true"}), user=u.bob))  # by user name
    assert k.annotations("by-bob") == {ADOPT: "true"}


def test_update_setting_adopt_needs_an_allowed_identity(installed: Installed, k: Kubectl) -> None:
    """An existing resource that reports AlreadyExists: its message's command (`kubectl annotate ...`), or the
    annotation added in Git and synced by Argo CD (a patch), only by an allowed identity."""
    u = installed.users
    ok(k.create(endpoint("e5", {"team": "search"}), user=u.carol))

    message = denial(k.annotate("e5", f"{ADOPT}=true", user=u.carol), installed.policy)
    assert message == adopt_message(installed, u.carol, k.namespace, "e5")
    patch = json.dumps({"metadata": {"annotations": {ADOPT: "true"}}})
    denial(k("patch", "iep", "e5", "--type=merge", "-p", patch, user=u.carol), installed.policy)
    applied = endpoint("e5", {"team": "search", ADOPT: "true"})
    denial(k("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(applied), user=u.carol),
           installed.policy)  # fmt: skip
    assert k.annotations("e5") == {"team": "search"}

    ok(k.annotate("e5", f"{ADOPT}=true", user=u.alice))
    assert k.annotations("e5") == {"team": "search", ADOPT: "true"}


def test_writes_that_do_not_turn_adopt_on_pass(installed: Installed, k: Kubectl) -> None:
    """The guard fires only on the transition from not adopting to adopting; carol does everything else."""
    u = installed.users
    ok(k.create(endpoint("e5"), user=u.carol))
    ok(k.annotate("e5", "team=search", user=u.carol))  # unrelated annotation
    ok(k("label", "iep", "e5", "tier=gold", user=u.carol))
    ok(k("patch", "iep", "e5", "--type=merge", "-p", '{"spec":{"taskSettings":{"x":1}}}', user=u.carol))
    # Not "true" exactly, or the bare key: the operator does not adopt on them (no alias), so nothing to guard.
    for value in ("false", "True", "yes", ""):
        ok(k.annotate("e5", f"{ADOPT}={value}", user=u.carol))
    ok(k.annotate("e5", "adopt=true", user=u.carol))
    ok(k.annotate("e5", f"{ADOPT}-", "adopt-", user=u.carol))

    # A resource alice let adopt: carol may edit it and remove the annotation...
    ok(k.annotate("e5", f"{ADOPT}=true", user=u.alice))
    ok(k.annotate("e5", "team=ranking", user=u.carol))
    ok(k("patch", "iep", "e5", "--type=merge", "-p", '{"spec":{"taskSettings":{"x":2}}}', user=u.carol))
    ok(k.annotate("e5", f"{ADOPT}-", user=u.carol))
    assert k.annotations("e5") == {"team": "ranking"}
    # ...but not put it back.
    assert denial(k.annotate("e5", f"{ADOPT}=true", user=u.carol), installed.policy) == adopt_message(
        installed, u.carol, k.namespace, "e5"
    )


@pytest.mark.parametrize("adopting", [False, True], ids=["not-adopting", "adopting"])
def test_operator_writes_always_pass(installed: Installed, k: Kubectl, adopting: bool) -> None:
    """What the operator writes (its finalizer, status, the finalizer's removal) never turns adoption on, so it
    passes on resources with and without the annotation, also while they are deleted."""
    op = installed.users.operator
    annotations = {ADOPT: "true"} if adopting else {"team": "search"}
    ok(k.create(endpoint("e5", annotations), user=installed.users.alice))
    ok(k("patch", "iep", "e5", "--type=merge", "-p", json.dumps({"metadata": {"finalizers": [FINALIZER]}}), user=op))
    ownership = {"clusterUUID": "c1", "inferenceId": "e5", "state": "Adopted"}
    status = {"status": {"observedGeneration": 1, "ownership": ownership}}
    ok(k("patch", "iep", "e5", "--subresource=status", "--type=merge", "-p", json.dumps(status), user=op))
    k.start_deletion("e5")
    ok(k("patch", "iep", "e5", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]', user=op))
    assert not k.exists("e5")
