"""policies/inference-id-prefix on the real kube-apiserver: in a namespace labelled
``inference.es-operator.dev/id-prefix=P``, an InferenceEndpoint may be created only with an inference id
(``spec.inferenceId``, else ``metadata.name``) that starts with P. Namespaces without the label are not
restricted; resources made before the label stay editable and deletable; the operator's writes always pass.

The policy reads the namespace through CEL's ``namespaceObject``. It is installed once for this module from
``kubectl kustomize policies/inference-id-prefix``, renamed with a run id and bound only to namespaces that carry
this run's label. A tenant (``carol``) may manage InferenceEndpoints in the namespace, not the namespace itself.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from testbed.controlplane import ControlPlane
from tests.policies.test_policies import FINALIZER, Kubectl, _poll, _rendered, as_documents, denial, endpoint, ok

PREFIX_LABEL = "inference.es-operator.dev/id-prefix"
PREFIX_POLICY = "inference-endpoint-id-prefix"
RUN_LABEL = "policy-test.inference.es-operator.dev/prefix-run"


@dataclass
class Installed:
    cp: ControlPlane
    run: str
    carol: str
    operator: str
    cluster_role: str

    @property
    def policy(self) -> str:
        return f"{PREFIX_POLICY}-{self.run}"

    def bind(self, namespace: str) -> None:
        """Bind the policy in ``namespace`` and give carol and the operator RBAC for InferenceEndpoints there."""
        self.cp.kubectl("label", "namespace", namespace, f"{RUN_LABEL}={self.run}")
        self.cp.kubectl(
            "-n", namespace, "create", "rolebinding", "policy-test-endpoints", f"--clusterrole={self.cluster_role}",
            f"--user={self.carol}", f"--user={self.operator}",
        )  # fmt: skip

    def set_prefix(self, namespace: str, prefix: str | None) -> None:
        """The administrator labels the namespace (None: removes the label), then waits until admission sees it."""
        change = f"{PREFIX_LABEL}={prefix}" if prefix is not None else f"{PREFIX_LABEL}-"
        self.cp.kubectl("label", "namespace", namespace, "--overwrite", change)
        k = Kubectl(self.cp, namespace)
        probe = f"probe-{uuid.uuid4().hex[:6]}"  # an id no prefix of these tests starts

        def refused() -> bool:
            result = k("create", "--dry-run=server", "-f", "-", input=json.dumps(endpoint(probe)), user=self.carol)
            return f"ValidatingAdmissionPolicy '{self.policy}'" in result.stderr

        wanted: Callable[[], bool] = refused if prefix is not None else (lambda: not refused())
        _poll(f"the id-prefix policy to see namespace {namespace} with prefix {prefix}", wanted)


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane) -> Iterator[Installed]:
    cp = control_plane
    run = uuid.uuid4().hex[:6]
    carol, operator = f"prefix-carol-{run}", f"system:serviceaccount:es-inference-operator:op-{run}"
    cp.add_user(carol, groups=["team-a"])
    cp.add_user(operator, groups=["system:serviceaccounts", "system:serviceaccounts:es-inference-operator"])
    docs = _rendered(cp, "inference-id-prefix")
    assert {d["kind"] for d in docs} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for doc in docs:
        doc["metadata"]["name"] += f"-{run}"
        if doc["kind"] == "ValidatingAdmissionPolicyBinding":
            doc["spec"]["policyName"] += f"-{run}"
            doc["spec"]["matchResources"] = {"namespaceSelector": {"matchLabels": {RUN_LABEL: run}}}
    cluster_role = f"prefix-test-endpoints-{run}"
    cluster_scoped = [
        f"validatingadmissionpolicybinding/{PREFIX_POLICY}-{run}",
        f"validatingadmissionpolicy/{PREFIX_POLICY}-{run}",
        f"clusterrole/{cluster_role}",
    ]
    try:
        cp.kubectl(
            "create", "clusterrole", cluster_role,
            "--verb=get,list,watch,create,update,patch,delete",
            "--resource=inferenceendpoints.inference.es-operator.dev,inferenceendpoints.inference.es-operator.dev/status",
        )  # fmt: skip
        cp.kubectl("apply", "-f", "-", input=as_documents(docs))
        yield Installed(cp, run, carol, operator, cluster_role)
    finally:
        result = cp.kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, check=False, timeout=30)
        if result.returncode != 0:
            warnings.warn(f"could not remove the test policy: {result.stderr}", stacklevel=1)


@pytest.fixture
def k(installed: Installed, namespace: str, control_plane: ControlPlane) -> Kubectl:
    installed.bind(namespace)
    return Kubectl(control_plane, namespace)


def with_id(name: str, inference_id: str) -> dict[str, Any]:
    manifest = endpoint(name)
    manifest["spec"]["inferenceId"] = inference_id
    return manifest


def prefix_message(namespace: str, name: str, inference_id: str, prefix: str) -> str:
    return (
        f"inference id {inference_id} of inference endpoint {namespace}/{name} does not start with {prefix}, the "
        f"prefix of namespace {namespace} (its label inference.es-operator.dev/id-prefix): inference ids are shared "
        f"by every namespace that uses the same Elasticsearch, and this namespace's start with its prefix. Set "
        f"spec.inferenceId, for example to {prefix}-{inference_id}"
    )


def test_the_shipped_kustomization_binds_cluster_wide_and_matches_creates_only(control_plane: ControlPlane) -> None:
    docs = {d["kind"]: d for d in _rendered(control_plane, "inference-id-prefix")}
    assert docs["ValidatingAdmissionPolicyBinding"]["spec"] == {
        "policyName": PREFIX_POLICY,
        "validationActions": ["Deny"],
    }
    policy = docs["ValidatingAdmissionPolicy"]["spec"]
    assert "paramKind" not in policy
    assert [rule["operations"] for rule in policy["matchConstraints"]["resourceRules"]] == [["CREATE"]]


def test_a_labelled_namespace_accepts_only_ids_with_its_prefix(installed: Installed, k: Kubectl) -> None:
    installed.set_prefix(k.namespace, "team-a")
    carol = installed.carol

    # The id is metadata.name when spec.inferenceId is unset.
    message = denial(k.create(endpoint("e5"), user=carol), installed.policy)
    assert message == prefix_message(k.namespace, "e5", "e5", "team-a")
    assert not k.exists("e5")
    # spec.inferenceId decides when it is set, whatever the name.
    message = denial(k.create(with_id("team-a-e5", "prod-e5"), user=carol), installed.policy)
    assert message == prefix_message(k.namespace, "team-a-e5", "prod-e5", "team-a")
    # Another team's prefix is refused too; the rule binds everybody, cluster administrators included.
    denial(k.create(endpoint("team-b-e5"), user=carol), installed.policy)
    denial(k.create(endpoint("e6")), installed.policy)

    ok(k.create(endpoint("team-a-e5"), user=carol))
    ok(k.create(with_id("embeddings", "team-a-embeddings"), user=carol))
    # The message's suggestion is accepted as it stands.
    ok(k.create(with_id("e5", "team-a-e5-suggested"), user=carol))


def test_a_namespace_without_the_label_is_not_restricted(installed: Installed, k: Kubectl) -> None:
    installed.set_prefix(k.namespace, "team-a")
    installed.set_prefix(k.namespace, None)  # and taken off again
    ok(k.create(endpoint("e5"), user=installed.carol))
    ok(k.create(with_id("anything", "team-b-e5"), user=installed.carol))


def test_resources_from_before_the_label_stay_editable_and_the_operators_writes_pass(
    installed: Installed, k: Kubectl
) -> None:
    """Only CREATE is matched (the id cannot change afterwards): an endpoint created before its namespace got a
    prefix is edited, finalized, given a status and deleted as before."""
    carol, op = installed.carol, installed.operator
    ok(k.create(endpoint("legacy"), user=carol))
    installed.set_prefix(k.namespace, "team-a")

    ok(k.annotate("legacy", "team=search", user=carol))
    ok(k("patch", "iep", "legacy", "--type=merge", "-p", '{"spec":{"taskSettings":{"x":1}}}', user=carol))
    ok(
        k(
            "patch",
            "iep",
            "legacy",
            "--type=merge",
            "-p",
            json.dumps({"metadata": {"finalizers": [FINALIZER]}}),
            user=op,
        )
    )
    status = json.dumps({"status": {"observedGeneration": 2, "inferenceId": "legacy"}})
    ok(k("patch", "iep", "legacy", "--subresource=status", "--type=merge", "-p", status, user=op))
    k.start_deletion("legacy")
    ok(k("patch", "iep", "legacy", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]', user=op))
    assert not k.exists("legacy")


def test_a_new_prefix_takes_effect_within_seconds(installed: Installed, k: Kubectl) -> None:
    installed.set_prefix(k.namespace, "team-a")
    ok(k.create(endpoint("team-a-e5"), user=installed.carol))
    installed.set_prefix(k.namespace, "search")
    message = denial(k.create(endpoint("team-a-e6"), user=installed.carol), installed.policy)
    assert message == prefix_message(k.namespace, "team-a-e6", "team-a-e6", "search")
    ok(k.create(endpoint("search-e6"), user=installed.carol))


def test_match_conditions_get_no_namespace_object(installed: Installed, k: Kubectl) -> None:
    """Why the policy reads namespaceObject in a variable and not in matchConditions (its comment): kube-apiserver
    gives matchConditions no namespaceObject, so a condition on the namespace's label would never match."""
    name = f"prefix-probe-{installed.run}"
    probe = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["inference.es-operator.dev"],
                        "apiVersions": ["*"],
                        "operations": ["CREATE"],
                        "resources": ["inferenceendpoints"],
                    }
                ],
            },
            "matchConditions": [{"name": "no-namespace", "expression": "namespaceObject == null"}],
            "validations": [{"expression": "namespaceObject == null", "message": "seen in validations too"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": k.namespace}}},
        },
    }
    k.cp.kubectl("apply", "-f", "-", input=as_documents([probe, binding]))
    try:

        def refused() -> bool:
            result = k("create", "--dry-run=server", "-f", "-", input=json.dumps(endpoint("e5")))
            return f"ValidatingAdmissionPolicy '{name}'" in result.stderr

        # Matched (namespaceObject is null in matchConditions), then refused (it is not null in validations).
        _poll("the probe policy to refuse", refused)
        assert "seen in validations too" in k("create", "-f", "-", input=json.dumps(endpoint("e5"))).stderr
    finally:
        k.cp.kubectl("delete", "--ignore-not-found", "--wait=false", f"validatingadmissionpolicybinding/{name}",
                     f"validatingadmissionpolicy/{name}", check=False, timeout=30)  # fmt: skip
