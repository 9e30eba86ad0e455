"""The admission policies of ``policies/`` on the real kube-apiserver: who may set the force annotation, and
refusing a deletion while ``status.references`` lists pipelines or indexes.

No operator runs here. The tests write ``status`` themselves (as admin, through the status subresource) to
play the operator's part, and act as four client-certificate identities:

* ``alice``: in the group ``inference-admins``, allowed by the shipped policy's ``groups`` list;
* ``bob``: no special group, allowed by name through the policy's ``users`` list (set for the test);
* ``carol``: in the group ``team-a``, not allowed;
* the operator: ``system:serviceaccount:...``, not allowed to force, but its own patches must always pass.

The control plane is shared by the whole session, and policies are cluster-scoped. So the policies are
installed once for this module from ``kubectl kustomize policies/<name>``, renamed with a run id, and bound
only to namespaces that carry this run's label (``matchResources.namespaceSelector``); each test labels its
own namespace. Everything cluster-scoped is deleted at the end of the module.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from testbed.controlplane import REPO_ROOT, ControlPlane
from testbed.stack import wait_for
from tests.support import Kube, Stack, endpoint_manifest, pipeline_using

POLICIES = REPO_ROOT / "policies"
FORCE = "inference.es-operator.dev/force"
FORCE_KEYS = [FORCE, "force"]
FINALIZER = "inference.es-operator.dev/finalizer"
RUN_LABEL = "policy-test.inference.es-operator.dev/run"
WAIT_SECONDS = 30.0

FORCE_POLICY = "inference-endpoint-force-annotation"
DELETE_POLICY = "inference-endpoint-refuse-delete-while-referenced"


def _poll(what: str, condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Call ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while not condition():
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def endpoint(name: str, annotations: dict[str, str] | None = None, finalizers: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    if finalizers:
        metadata["finalizers"] = [FINALIZER]
    return {
        "apiVersion": "inference.es-operator.dev/v1alpha1",
        "kind": "InferenceEndpoint",
        "metadata": metadata,
        "spec": {"taskType": "text_embedding", "service": "elasticsearch", "serviceSettings": {"model_id": "e5"}},
    }


def denial(result: subprocess.CompletedProcess[str], policy: str) -> str:
    """Assert that ``policy`` refused the request and return its message."""
    assert result.returncode != 0, f"accepted, expected a refusal by {policy}: {result.stdout}"
    assert f"ValidatingAdmissionPolicy '{policy}'" in result.stderr, result.stderr
    return result.stderr.split("denied request: ", 1)[1].strip()


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"refused, expected to pass: {result.stderr}"
    return result


@dataclass
class Users:
    alice: str
    bob: str
    carol: str
    operator: str


@dataclass
class Installed:
    """The module's copies of the two policies, bound to namespaces labelled ``RUN_LABEL=run``."""

    cp: ControlPlane
    run: str
    users: Users
    home_namespace: str
    cluster_role: str

    @property
    def force_policy(self) -> str:
        return f"{FORCE_POLICY}-{self.run}"

    @property
    def delete_policy(self) -> str:
        return f"{DELETE_POLICY}-{self.run}"

    def grant(self, namespace: str) -> None:
        """Let the four identities work with InferenceEndpoints in ``namespace`` (explicit RBAC: without
        kube-controller-manager the aggregated roles are empty)."""
        u = self.users
        self.cp.kubectl(
            "-n",
            namespace,
            "create",
            "rolebinding",
            "policy-test-endpoints",
            f"--clusterrole={self.cluster_role}",
            f"--user={u.alice}",
            f"--user={u.bob}",
            f"--user={u.carol}",
            f"--user={u.operator}",
        )

    def wait_force_guard(self, namespace: str) -> None:
        """Wait until the force guard refuses carol in ``namespace`` (policy, binding, namespace label and
        RoleBinding all seen by the API server's informers)."""
        manifest = json.dumps(endpoint("probe", {FORCE: "true"}))

        def refused() -> bool:
            result = self.cp.kubectl(
                "-n",
                namespace,
                "create",
                "--dry-run=server",
                "-f",
                "-",
                input=manifest,
                user=self.users.carol,
                check=False,
            )
            # The policy's own message, not a transient configuration error ("paramKind ... not yet synced").
            return (
                f"ValidatingAdmissionPolicy '{self.force_policy}'" in result.stderr and "may not set" in result.stderr
            )

        _poll(f"the force guard to refuse {self.users.carol} in {namespace}", refused)

    def wait_delete_guard(self, namespace: str, name: str) -> None:
        """Wait until the delete guard refuses deleting ``name`` (which must list references)."""

        def refused() -> bool:
            result = self.cp.kubectl("-n", namespace, "delete", "iep", name, "--dry-run=server", check=False)
            return (
                f"ValidatingAdmissionPolicy '{self.delete_policy}'" in result.stderr and "is used by" in result.stderr
            )

        _poll(f"the delete guard to refuse deleting {namespace}/{name}", refused)

    def set_lists(self, groups: str, users: str) -> None:
        """Edit who may force in the policy itself, as `kubectl edit validatingadmissionpolicy` would."""
        policy = self.cp.kubectl_json("get", "validatingadmissionpolicy", self.force_policy)
        set_lists(policy, groups, users)
        self.cp.kubectl("replace", "-f", "-", input=json.dumps(policy))


def _rendered(cp: ControlPlane, name: str) -> list[dict[str, Any]]:
    """``kubectl kustomize policies/<name>``: what ``kubectl apply -k`` would apply."""
    return [doc for doc in yaml.safe_load_all(cp.kubectl("kustomize", str(POLICIES / name)).stdout) if doc]


def as_documents(docs: list[dict[str, Any]]) -> str:
    """Manifests for `kubectl apply -f -`, as JSON documents: every string stays a string. (yaml.safe_dump leaves a
    run id such as 5e1234 unquoted, which kubectl's YAML 1.2 reads as a number, and the API server refuses.)"""
    return "".join(f"---\n{json.dumps(doc)}\n" for doc in docs)


def cel_string(text: str) -> str:
    """A CEL string literal (JSON's escapes are CEL's)."""
    return json.dumps(text)


def set_lists(policy: dict[str, Any], groups: str | None, users: str) -> None:
    """Set the force policy's lists of who may force (the variables `groups` and `users`); groups None: keep."""
    for variable in policy["spec"]["variables"]:
        if variable["name"] == "groups" and groups is not None:
            variable["expression"] = cel_string(groups)
        elif variable["name"] == "users":
            variable["expression"] = cel_string(users)


def _scoped(docs: list[dict[str, Any]], run: str, users: Users) -> list[dict[str, Any]]:
    """The shipped manifests, renamed with the run id and bound to this run's namespaces only."""
    for doc in docs:
        doc["metadata"]["name"] += f"-{run}"
        kind = doc["kind"]
        if kind == "ValidatingAdmissionPolicyBinding":
            spec = doc["spec"]
            spec["policyName"] += f"-{run}"
            spec["matchResources"] = {"namespaceSelector": {"matchLabels": {RUN_LABEL: run}}}
        elif kind == "ValidatingAdmissionPolicy" and doc["metadata"]["name"].startswith(FORCE_POLICY):
            # The shipped groups stay; bob is allowed by name (with blanks, as a person would type it).
            set_lists(doc, None, f" {users.bob} , ")
    return docs


@pytest.fixture(scope="module")
def installed(control_plane: ControlPlane) -> Iterator[Installed]:
    cp = control_plane
    run = uuid.uuid4().hex[:6]
    users = Users(
        alice=f"policy-alice-{run}",
        bob=f"policy-bob-{run}",
        carol=f"policy-carol-{run}",
        operator=f"system:serviceaccount:es-inference-operator:op-{run}",
    )
    cp.add_user(users.alice, groups=["inference-admins"])
    cp.add_user(users.bob)
    cp.add_user(users.carol, groups=["team-a"])
    cp.add_user(users.operator, groups=["system:serviceaccounts", "system:serviceaccounts:es-inference-operator"])

    cluster_role = f"policy-test-endpoints-{run}"
    home_namespace = f"t-policies-{run}"
    force_docs = _scoped(_rendered(cp, "force-annotation"), run, users)
    delete_docs = _scoped(_rendered(cp, "refuse-delete-while-referenced"), run, users)
    assert {d["kind"] for d in force_docs} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert {d["kind"] for d in delete_docs} == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    cluster_scoped = [
        f"validatingadmissionpolicybinding/{FORCE_POLICY}-{run}",
        f"validatingadmissionpolicybinding/{DELETE_POLICY}-{run}",
        f"validatingadmissionpolicy/{FORCE_POLICY}-{run}",
        f"validatingadmissionpolicy/{DELETE_POLICY}-{run}",
        f"clusterrole/{cluster_role}",
    ]
    try:
        cp.kubectl(
            "create",
            "clusterrole",
            cluster_role,
            "--verb=get,list,watch,create,update,patch,delete,deletecollection",
            "--resource=inferenceendpoints.inference.es-operator.dev,inferenceendpoints.inference.es-operator.dev/status",
        )
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": home_namespace, "labels": {"testbed/test": "true", RUN_LABEL: run}},
        }
        cp.kubectl("create", "-f", "-", input=json.dumps(namespace))
        cp.kubectl("apply", "-f", "-", input=as_documents([*force_docs, *delete_docs]))
        inst = Installed(cp, run, users, home_namespace, cluster_role)
        inst.grant(home_namespace)
        # Policies take a moment to become effective (the API server's policy informer): wait until each
        # refuses a request it must refuse.
        cp.kubectl("-n", home_namespace, "create", "-f", "-", input=json.dumps(endpoint("referenced")))
        set_references(cp, home_namespace, "referenced", pipelines=["probe-pipeline"])
        inst.wait_force_guard(home_namespace)
        inst.wait_delete_guard(home_namespace, "referenced")
        yield inst
    finally:
        # Bounded; the namespaces stay (without kube-controller-manager they could not go anyway).
        result = cp.kubectl("delete", "--ignore-not-found", "--wait=false", *cluster_scoped, check=False, timeout=30)
        if result.returncode != 0:
            warnings.warn(f"could not remove the test policies: {result.stderr}", stacklevel=1)


@pytest.fixture
def guarded(installed: Installed, namespace: str) -> str:
    """This test's namespace, with both policies in force and RBAC for the four identities."""
    installed.cp.kubectl("label", "namespace", namespace, f"{RUN_LABEL}={installed.run}")
    installed.grant(namespace)
    installed.wait_force_guard(namespace)
    return namespace


def set_references(
    cp: ControlPlane, namespace: str, name: str, pipelines: list[str] | None = None, indexes: list[str] | None = None
) -> None:
    """Write status.references as the operator does after a dry run (replacing both lists)."""
    patch = {"status": {"references": {"pipelines": pipelines or [], "indexes": indexes or []}}}
    cp.kubectl("-n", namespace, "patch", "iep", name, "--subresource=status", "--type=merge", "-p", json.dumps(patch))


class Kubectl:
    """kubectl in one namespace, as one identity or another."""

    def __init__(self, cp: ControlPlane, namespace: str) -> None:
        self.cp, self.namespace = cp, namespace

    def __call__(self, *args: str, user: str | None = None, input: str | None = None) -> Any:
        return self.cp.kubectl("-n", self.namespace, *args, user=user, input=input, check=False)

    def create(self, manifest: dict[str, Any], user: str | None = None) -> Any:
        return self("create", "-f", "-", input=json.dumps(manifest), user=user)

    def annotate(self, name: str, *changes: str, user: str | None = None) -> Any:
        return self("annotate", "--overwrite", "iep", name, *changes, user=user)

    def get(self, name: str) -> dict[str, Any]:
        return dict(self.cp.kubectl_json("-n", self.namespace, "get", "iep", name))

    def annotations(self, name: str) -> dict[str, str]:
        return dict(self.get(name)["metadata"].get("annotations") or {})

    def exists(self, name: str) -> bool:
        return bool(ok(self("get", "iep", name, "--ignore-not-found", "-o", "name")).stdout.strip())

    def start_deletion(self, name: str) -> None:
        """`kubectl delete` of an object with the finalizer: it stays, with a deletionTimestamp."""
        ok(self("delete", "iep", name, "--wait=false"))
        assert self.get(name)["metadata"].get("deletionTimestamp")


@pytest.fixture
def k(guarded: str, control_plane: ControlPlane) -> Kubectl:
    return Kubectl(control_plane, guarded)


def force_message(inst: Installed, user: str, namespace: str, name: str) -> str:
    return (
        f"{user} may not set the force annotation inference.es-operator.dev/force=true (or force=true) on "
        f"inference endpoint {namespace}/{name}: forcing deletes the endpoint in Elasticsearch although ingest "
        f"pipelines or semantic_text indexes may still use it, so only members of [inference-admins, "
        f"system:masters] and the users [{inst.users.bob}] may set it. Ask one of them, or remove the pipelines "
        f"and indexes that use the endpoint and delete it without force"
    )


# --------------------------------------------------------------------------------------------------------
# The shipped kustomizations


def test_shipped_kustomizations_bind_cluster_wide_without_parameters(control_plane: ControlPlane) -> None:
    """What `kubectl apply -k` installs: both bindings cover every namespace, and nothing takes parameters: a
    parameter object that goes missing would make kube-apiserver refuse every write the binding matches (it
    resolves parameters before matchConditions), the operator's finalizer writes included."""
    force = {d["kind"]: d for d in _rendered(control_plane, "force-annotation")}
    assert set(force) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    assert force["ValidatingAdmissionPolicyBinding"]["spec"] == {
        "policyName": FORCE_POLICY,
        "validationActions": ["Deny"],
    }
    assert force["ValidatingAdmissionPolicy"]["metadata"]["name"] == FORCE_POLICY
    assert "paramKind" not in force["ValidatingAdmissionPolicy"]["spec"]
    lists = {v["name"]: v["expression"] for v in force["ValidatingAdmissionPolicy"]["spec"]["variables"]}
    assert (lists["groups"], lists["users"]) == ("'inference-admins, system:masters'", "''")

    delete = {d["kind"]: d for d in _rendered(control_plane, "refuse-delete-while-referenced")}
    assert delete["ValidatingAdmissionPolicyBinding"]["spec"] == {
        "policyName": DELETE_POLICY,
        "validationActions": ["Deny"],
    }
    assert delete["ValidatingAdmissionPolicy"]["metadata"]["name"] == DELETE_POLICY
    assert "paramKind" not in delete["ValidatingAdmissionPolicy"]["spec"]


# --------------------------------------------------------------------------------------------------------
# Who may set the force annotation


@pytest.mark.parametrize("key", FORCE_KEYS)
def test_create_with_force_needs_an_allowed_identity(installed: Installed, k: Kubectl, key: str) -> None:
    u = installed.users
    message = denial(k.create(endpoint("by-carol", {key: "true"}), user=u.carol), installed.force_policy)
    assert message == force_message(installed, u.carol, k.namespace, "by-carol")
    assert not k.exists("by-carol")
    # The operator's identity is not in the lists either: it never forces anything itself.
    denial(k.create(endpoint("by-operator", {key: "true"}), user=u.operator), installed.force_policy)

    ok(k.create(endpoint("by-alice", {key: "true"}), user=u.alice))  # by group
    ok(k.create(endpoint("by-bob", {key: "true"}), user=u.bob))  # by user name
    assert k.annotations("by-bob") == {key: "true"}


@pytest.mark.parametrize("key", FORCE_KEYS)
def test_update_setting_force_needs_an_allowed_identity(installed: Installed, k: Kubectl, key: str) -> None:
    u = installed.users
    ok(k.create(endpoint("e5", {"team": "search"}), user=u.carol))

    message = denial(k.annotate("e5", f"{key}=true", user=u.carol), installed.force_policy)
    assert message == force_message(installed, u.carol, k.namespace, "e5")
    # The same through a JSON merge patch, as a GitOps tool would send it.
    patch = json.dumps({"metadata": {"annotations": {key: "true"}}})
    denial(k("patch", "iep", "e5", "--type=merge", "-p", patch, user=u.carol), installed.force_policy)
    assert k.annotations("e5") == {"team": "search"}

    ok(k.annotate("e5", f"{key}=true", user=u.alice))
    assert k.annotations("e5") == {"team": "search", key: "true"}


@pytest.mark.parametrize("key", FORCE_KEYS)
def test_force_after_deletion_started_needs_an_allowed_identity(installed: Installed, k: Kubectl, key: str) -> None:
    """The annotation is typically added after `kubectl delete` waited on the finalizer: an UPDATE of an
    object that already has a deletionTimestamp. It is guarded all the same."""
    u = installed.users
    ok(k.create(endpoint("e5", finalizers=True), user=u.carol))
    k.start_deletion("e5")

    message = denial(k.annotate("e5", f"{key}=true", user=u.carol), installed.force_policy)
    assert message == force_message(installed, u.carol, k.namespace, "e5")
    assert k.annotations("e5") == {}

    ok(k.annotate("e5", f"{key}=true", user=u.bob))
    # The operator then deletes the endpoint and removes its finalizer: that write passes, and the resource goes.
    remove = json.dumps([{"op": "remove", "path": "/metadata/finalizers"}])
    ok(k("patch", "iep", "e5", "--type=json", "-p", remove, user=u.operator))
    assert not k.exists("e5")


def test_writes_that_do_not_turn_force_on_pass(installed: Installed, k: Kubectl) -> None:
    """The guard fires only on the transition from not forced to forced; carol does everything else."""
    carol = installed.users.carol
    ok(k.create(endpoint("e5"), user=carol))
    ok(k.annotate("e5", "team=search", user=carol))  # unrelated annotation
    ok(k("label", "iep", "e5", "tier=gold", user=carol))
    ok(k("patch", "iep", "e5", "--type=merge", "-p", '{"spec":{"taskSettings":{"x":1}}}', user=carol))
    # Not "true" exactly: not forced (the operator's contract), so not guarded.
    for value in ("false", "True", "yes", ""):
        ok(k.annotate("e5", f"{FORCE}={value}", f"force={value}", user=carol))
    ok(k.annotate("e5", f"{FORCE}-", "force-", user=carol))

    # An object that alice forced: carol may edit it, switch keys, and remove the annotation...
    ok(k.annotate("e5", "force=true", user=installed.users.alice))
    ok(k.annotate("e5", "team=ranking", user=carol))
    ok(k("patch", "iep", "e5", "--type=merge", "-p", '{"spec":{"taskSettings":{"x":2}}}', user=carol))
    ok(k.annotate("e5", f"{FORCE}=true", user=carol))  # forced before and after
    ok(k.annotate("e5", "force-", user=carol))
    ok(k.annotate("e5", f"{FORCE}-", user=carol))
    assert k.annotations("e5") == {"team": "ranking"}
    # ...but not put it back.
    denial(k.annotate("e5", "force=true", user=carol), installed.force_policy)


@pytest.mark.parametrize("forced", [False, True], ids=["not-forced", "forced"])
def test_operator_patches_always_pass(installed: Installed, k: Kubectl, forced: bool) -> None:
    """What the operator writes (its finalizer, kopf's state under operator.inference.es-operator.dev/,
    status) never turns forcing on, so it passes on forced and unforced objects, also while deleting."""
    op = installed.users.operator
    annotations = {FORCE: "true"} if forced else {"team": "search"}
    ok(k.create(endpoint("e5", annotations), user=installed.users.alice))
    add_finalizer = json.dumps({"metadata": {"finalizers": [FINALIZER]}})
    ok(k("patch", "iep", "e5", "--type=merge", "-p", add_finalizer, user=op))

    def kopf_state(value: str) -> str:
        return json.dumps({"metadata": {"annotations": {"operator.inference.es-operator.dev/last-handled": value}}})

    ok(k("patch", "iep", "e5", "--type=merge", "-p", kopf_state("{}"), user=op))
    status = json.dumps({"status": {"observedGeneration": 1, "references": {"pipelines": [], "indexes": []}}})
    ok(k("patch", "iep", "e5", "--subresource=status", "--type=merge", "-p", status, user=op))

    k.start_deletion("e5")
    ok(k("patch", "iep", "e5", "--type=merge", "-p", kopf_state('{"v":2}'), user=op))
    ok(k("patch", "iep", "e5", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]', user=op))
    assert not k.exists("e5")


def test_allowed_lists_are_edited_in_the_policy(installed: Installed, k: Kubectl) -> None:
    """Editing the policy's lists changes who may force, within seconds."""
    carol = installed.users.carol
    forced = json.dumps(endpoint("probe", {FORCE: "true"}))

    def carol_may_force() -> bool:
        return k("create", "--dry-run=server", "-f", "-", input=forced, user=carol).returncode == 0

    try:
        installed.set_lists(groups="inference-admins,team-a", users="")
        _poll("carol's group team-a to be allowed", carol_may_force)
        ok(k.create(endpoint("e5", {"force": "true"}), user=carol))

        # Nobody in the lists: the message says so.
        installed.set_lists(groups="", users="")
        _poll("carol to be refused again", lambda: not carol_may_force())
        message = denial(
            k.create(endpoint("e6", {"force": "true"}), user=installed.users.alice), installed.force_policy
        )
        assert "so only nobody (the allowed lists are empty) may set it" in message
    finally:
        installed.set_lists(groups="inference-admins, system:masters", users=f" {installed.users.bob} , ")
        _poll("the module's lists to be back", lambda: not carol_may_force())
        _poll(
            "bob to be allowed again",
            lambda: k("create", "--dry-run=server", "-f", "-", input=forced, user=installed.users.bob).returncode == 0,
        )


# --------------------------------------------------------------------------------------------------------
# Refusing a deletion while status.references lists pipelines or indexes


def delete_message(namespace: str, name: str, used_by: str, inference_id: str | None = None) -> str:
    return (
        f"inference endpoint {inference_id or name} is used by {used_by} (status.references, from the operator's "
        f"last check); remove them from Elasticsearch, or force the deletion first (they will point at a missing "
        f"endpoint): kubectl annotate -n {namespace} inferenceendpoint {name} inference.es-operator.dev/force=true"
    )


@pytest.mark.parametrize(
    ("pipelines", "indexes", "used_by"),
    [
        (
            ["embed-docs", "embed-faq"],
            ["docs"],
            "ingest pipelines [embed-docs, embed-faq] and semantic_text indexes [docs]",
        ),
        (["embed-docs"], [], "ingest pipelines [embed-docs]"),
        ([], ["docs", "faq"], "semantic_text indexes [docs, faq]"),
    ],
    ids=["both", "pipelines", "indexes"],
)
def test_delete_refused_while_referenced(
    installed: Installed, k: Kubectl, pipelines: list[str], indexes: list[str], used_by: str
) -> None:
    carol = installed.users.carol
    ok(k.create(endpoint("e5"), user=carol))
    set_references(k.cp, k.namespace, "e5", pipelines, indexes)

    message = denial(k("delete", "iep", "e5", user=carol), installed.delete_policy)
    assert message == delete_message(k.namespace, "e5", used_by)
    # The policy binds everybody, cluster admins included (they can remove the binding if they must).
    denial(k("delete", "iep", "e5"), installed.delete_policy)
    assert k.exists("e5")


def test_delete_message_names_the_inference_id(installed: Installed, k: Kubectl) -> None:
    manifest = endpoint("e5")
    manifest["spec"]["inferenceId"] = "my-e5"
    ok(k.create(manifest))
    set_references(k.cp, k.namespace, "e5", indexes=["docs"])
    message = denial(k("delete", "iep", "e5"), installed.delete_policy)
    assert message == delete_message(k.namespace, "e5", "semantic_text indexes [docs]", inference_id="my-e5")


def test_delete_allowed_without_references(installed: Installed, k: Kubectl) -> None:
    carol = installed.users.carol
    ok(k.create(endpoint("never-checked"), user=carol))  # no status at all
    ok(k.create(endpoint("checked"), user=carol))
    set_references(k.cp, k.namespace, "checked", [], [])
    ok(k("delete", "iep", "never-checked", user=carol))
    ok(k("delete", "iep", "checked", user=carol))
    assert not k.exists("never-checked")
    assert not k.exists("checked")


@pytest.mark.parametrize("key", FORCE_KEYS)
def test_delete_allowed_when_forced(installed: Installed, k: Kubectl, key: str) -> None:
    carol = installed.users.carol
    ok(k.create(endpoint("e5"), user=carol))
    set_references(k.cp, k.namespace, "e5", ["embed-docs"], ["docs"])

    ok(k.annotate("e5", f"{key}=false", user=carol))  # not "true": still refused
    denial(k("delete", "iep", "e5", user=carol), installed.delete_policy)

    ok(k.annotate("e5", f"{key}=true", user=installed.users.alice))
    ok(k("delete", "iep", "e5", user=carol))
    assert not k.exists("e5")


def test_the_whole_story_with_both_policies(installed: Installed, k: Kubectl) -> None:
    """A pipeline created since the operator's last reference check: the first delete passes and waits on the
    finalizer; the operator's dry run writes the references; a second delete (a user again, a retried Argo CD
    prune) is refused at once with the reason; carol may not force; alice may; the operator finishes.
    (test_with_the_operator_the_first_delete_is_refused: when the sweep has seen the pipeline, even the first.)"""
    u = installed.users
    ok(k.create(endpoint("e5", finalizers=True), user=u.carol))
    k.start_deletion("e5")
    set_references(k.cp, k.namespace, "e5", ["embed-docs"], [])  # the operator's dry run

    message = denial(k("delete", "iep", "e5", "--wait=false", user=u.carol), installed.delete_policy)
    assert message == delete_message(k.namespace, "e5", "ingest pipelines [embed-docs]")
    message = denial(k.annotate("e5", f"{FORCE}=true", user=u.carol), installed.force_policy)
    assert message == force_message(installed, u.carol, k.namespace, "e5")

    ok(k.annotate("e5", f"{FORCE}=true", user=u.alice))
    ok(k("delete", "iep", "e5", "--wait=false", user=u.carol))  # forced: no longer refused
    ok(k("patch", "iep", "e5", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]', user=u.operator))
    assert not k.exists("e5")


def test_delete_of_several_refuses_only_the_referenced(installed: Installed, k: Kubectl) -> None:
    """`kubectl delete iep --all` deletes one by one: the free ones go, the referenced one stays, with the
    reason, and kubectl fails."""
    for name in ("free", "used"):
        ok(k.create(endpoint(name)))
    set_references(k.cp, k.namespace, "used", ["embed-docs"])
    result = k("delete", "iep", "--all", user=installed.users.carol)
    assert denial(result, installed.delete_policy) == delete_message(
        k.namespace, "used", "ingest pipelines [embed-docs]"
    )
    assert not k.exists("free")
    assert k.exists("used")


def test_with_the_operator_the_first_delete_is_refused(guarded: str, installed: Installed, stack: Stack) -> None:
    """The real operator fills status.references by its reference sweep, before anybody deletes anything: the
    first `kubectl delete` of an endpoint in use is refused at once (docs/policies.md, docs/argocd.md)."""
    assert stack.namespace == guarded
    kube = Kube(stack.cp, guarded)
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready", timeout=60)
    status, _ = stack.es_call("PUT", "/_ingest/pipeline/embed-docs", pipeline_using("e5"))
    assert status == 200
    wait_for(
        "the sweep to record the pipeline",
        lambda: (kube.get("e5").get("status", {}).get("references") or {}).get("pipelines") == ["embed-docs"],
        timeout=30,
    )
    message = denial(kube.run("delete", "iep", "e5", check=False), installed.delete_policy)
    assert message == delete_message(guarded, "e5", "ingest pipelines [embed-docs]")
    assert not kube.get("e5")["metadata"].get("deletionTimestamp")
