"""Which resources still need a connection Secret (protection.SecretProtection._needed): the race of deletions
that run side by side, each of which must see the others' finalizer gone. Which Secrets a resource lets go of when
its spec names others (the record in its status), and the patches that follow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from es_inference_operator import contract, protection
from es_inference_operator.errors import NotFound
from es_inference_operator.kube import SecretData
from es_inference_operator.protection import SecretProtection
from es_inference_operator.spec import ElasticsearchRef
from es_inference_operator.store import ResourceStore

OWNED = {"ownership": {"clusterUUID": "c1", "inferenceId": "x", "state": "Created"}}


def body(name: str, *, secret: str = "search", deleting: bool = False, finalizer: bool = True, **status: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": "team", "uid": name, "resourceVersion": "1", "generation": 1}
    if finalizer:
        meta["finalizers"] = [contract.FINALIZER]
    if deleting:
        meta["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    spec = {"taskType": "text_embedding", "service": "elasticsearch", "elasticsearchRef": {"secretName": secret}}
    return {"metadata": meta, "spec": spec, "status": status}


def needed(*bodies: dict, gone: str = "a") -> bool:
    store = ResourceStore()
    for b in bodies:
        store.observe(b)
    protection = SecretProtection.__new__(SecretProtection)
    protection._store = store
    resource = store.get(("team", gone))
    assert resource is not None
    return protection._needed(resource, "search")


def test_another_owner_through_the_secret_keeps_it() -> None:
    assert needed(body("a", deleting=True, **OWNED), body("b", **OWNED))
    assert needed(body("a", deleting=True, **OWNED), body("b", deleting=True, **OWNED))  # its deletion needs it


def test_nothing_else_needs_it() -> None:
    assert not needed(body("a", deleting=True, **OWNED))
    assert not needed(body("a", deleting=True, **OWNED), body("b"))  # owns nothing
    assert not needed(body("a", deleting=True, **OWNED), body("b", secret="other", **OWNED))
    # A deletion that already let go (its finalizer gone) counts for nothing: two deletions side by side release.
    assert not needed(body("a", deleting=True, **OWNED), body("b", deleting=True, finalizer=False, **OWNED))


# --- A resource's spec names another Secret: the one it named before is let go ----------------------------------


def ref(*, secret: str | None = None, eck: str | None = None, credentials: str | None = None) -> ElasticsearchRef:
    return ElasticsearchRef(secret_name=secret, name=eck, credentials_secret_name=credentials)


def record(*names: str) -> dict[str, Any]:
    return {protection.RECORD: list(names)}


def later(b: dict[str, Any], version: str) -> dict[str, Any]:
    b["metadata"]["resourceVersion"] = version
    return b


@pytest.mark.parametrize(
    ("status", "now", "let_go"),
    [
        (record("a"), ref(secret="a"), []),  # steady state: nothing to do
        (record("a"), ref(secret="b"), ["a"]),  # secretName changed
        (record("creds-a"), ref(eck="es", credentials="creds-b"), ["creds-a"]),  # credentialsSecretName changed
        (record("a"), ref(eck="es"), ["a"]),  # ECK's own elastic user now: no Secret of the namespace
        (record("a"), ref(), ["a"]),  # the operator's default Elasticsearch now
        (record("a", "b"), ref(secret="b"), ["a"]),  # recorded before a new one was protected, not yet trimmed
        ({}, ref(secret="b"), []),  # no record (nothing protected yet, or an older operator): nothing known
        ({protection.RECORD: "a"}, ref(secret="b"), []),  # not a list: ignored
    ],
)
def test_the_secrets_no_longer_named_are_let_go(
    status: dict[str, Any], now: ElasticsearchRef, let_go: list[str]
) -> None:
    assert protection.no_longer_named(status, now) == let_go


def test_secrets_protected_but_not_yet_recorded_are_let_go_too() -> None:
    # Protected before a create, whose intent (which records it) the API server refused: the spec changed meanwhile.
    assert protection.no_longer_named({}, ref(secret="c"), {"b"}) == ["b"]
    assert protection.no_longer_named(record("a"), ref(secret="c"), {"b", "c"}) == ["a", "b"]


@pytest.mark.parametrize(
    ("status", "now", "before", "after"),
    [
        ({}, ref(), None, None),  # no Secret of the namespace: no field
        ({}, ref(secret="a"), ["a"], ["a"]),  # first protection (or an older operator's): recorded first
        (record("a"), ref(secret="a"), None, ["a"]),  # steady state: no write
        (record("a"), ref(secret="b"), ["a", "b"], ["b"]),  # the old one stays recorded until it is let go
        (record("a"), ref(eck="es", credentials="c"), ["a", "c"], ["c"]),
        (record("a", "b"), ref(secret="b"), None, ["b"]),
        (record("a"), ref(), None, None),  # nothing new to protect; the field goes once "a" is let go
    ],
)
def test_the_record_holds_every_protected_secret(
    status: dict[str, Any], now: ElasticsearchRef, before: list[str] | None, after: list[str] | None
) -> None:
    assert protection.record_before_protecting(status, now) == before
    assert protection.record_of(now) == after


def test_the_resource_itself_does_not_keep_the_secret_it_no_longer_names() -> None:
    """The spec-change case: `a` (live, not deleting) let go of "search"; only the others count."""
    store = ResourceStore()
    store.observe(body("a", secret="new", **OWNED))
    store.observe(body("b", secret="search", **OWNED))
    a = store.get(("team", "a"))
    assert a is not None
    assert protection.needed_by_others("search", a, store)
    store.observe(later(body("b", secret="other", **OWNED), "2"))
    assert not protection.needed_by_others("search", a, store)
    # Another namespace's Secret of the same name is another Secret.
    elsewhere = body("c", secret="search", **OWNED)
    elsewhere["metadata"]["namespace"] = "other-team"
    store.observe(elsewhere)
    assert not protection.needed_by_others("search", a, store)


class Secrets:
    """The API server's Secrets (their finalizers only) behind KubeReader's reads and CoreV1Api's JSON patches."""

    def __init__(self, **finalizers: list[str]) -> None:
        self.finalizers = finalizers
        self.versions = dict.fromkeys(finalizers, 1)
        self.conflicts = 0  # the next patches that find the Secret changed (422: a test op failed)

    # KubeReader
    def read_after(self, moment: float) -> Secrets:
        return self

    def forget_secret(self, namespace: str, name: str) -> None:
        pass

    async def read_secret_with_labels(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        if name not in self.finalizers:
            raise NotFound(f"Secret {namespace}/{name} not found")
        data = SecretData(namespace, name, str(self.versions[name]), {}, tuple(self.finalizers[name]))
        return data, {}

    # CoreV1Api
    def patch_namespaced_secret(self, name: str, namespace: str, ops: list[dict[str, Any]], **_: Any) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise ApiException(status=422, reason="Unprocessable Entity")
        finalizers = list(self.finalizers[name])
        for op in ops:
            path = op["path"]
            if op["op"] == "test":
                assert path == "/metadata/resourceVersion" or finalizers[int(path.rsplit("/", 1)[1])] == op["value"]
            elif op["op"] == "add":
                finalizers = [*finalizers, op["value"]] if path.endswith("/-") else list(op["value"])
            elif op["op"] == "remove":
                del finalizers[int(path.rsplit("/", 1)[1])]
        self.finalizers[name] = finalizers
        self.versions[name] += 1


IN_USE = contract.SECRET_IN_USE_FINALIZER


def protector(secrets: Secrets, *bodies: dict[str, Any]) -> tuple[SecretProtection, ResourceStore]:
    store = ResourceStore()
    for b in bodies:
        store.observe(b)
    found = SecretProtection.__new__(SecretProtection)
    found._core, found._store, found._kube, found._unrecorded = secrets, store, secrets, {}  # type: ignore[assignment]
    return found, store


def resource(store: ResourceStore, name: str) -> Any:
    found = store.get(("team", name))
    assert found is not None
    return found


def test_protecting_the_secret_now_named_lets_the_old_one_go() -> None:
    secrets = Secrets(old=[IN_USE], new=["other.example/keep"])
    moved = body("a", secret="new", **OWNED, **record("old", "new"))
    prot, store = protector(secrets, moved)
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers == {"old": [], "new": ["other.example/keep", IN_USE]}


def test_the_old_secret_stays_protected_while_another_resource_needs_it() -> None:
    secrets = Secrets(old=[IN_USE], new=[])
    prot, store = protector(
        secrets, body("a", secret="new", **OWNED, **record("old", "new")), body("b", secret="old", **OWNED)
    )
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers == {"old": [IN_USE], "new": [IN_USE]}


def test_a_deletion_lets_go_of_the_secret_named_and_those_recorded() -> None:
    secrets = Secrets(old=[IN_USE], new=[IN_USE])
    prot, store = protector(secrets, body("a", secret="new", deleting=True, finalizer=False, **OWNED, **record("old")))
    asyncio.run(prot.release_unused(resource(store, "a")))
    assert secrets.finalizers == {"old": [], "new": []}


def test_a_recorded_secret_deleted_since_is_nothing_to_let_go() -> None:
    secrets = Secrets(new=[])
    prot, store = protector(secrets, body("a", secret="new", **OWNED, **record("gone", "new")))
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers == {"new": [IN_USE]}


def test_a_secret_that_changed_under_the_release_is_read_again() -> None:
    secrets = Secrets(old=["other.example/keep", IN_USE], new=[IN_USE])
    prot, store = protector(secrets, body("a", secret="new", **OWNED, **record("old", "new")))
    secrets.conflicts = 2
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers["old"] == ["other.example/keep"]


def test_a_secret_protected_before_a_refused_intent_is_let_go_at_the_next_pass() -> None:
    """_create protects, then writes its intent (which records the Secret); that write refused because the spec
    changed meanwhile, the next pass, on the new spec, lets the Secret go: the process remembers it."""
    secrets = Secrets(first=[], second=[])
    prot, store = protector(secrets, body("a", secret="first"))
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers == {"first": [IN_USE], "second": []}
    store.observe(later(body("a", secret="second"), "2"))
    asyncio.run(prot.protect(resource(store, "a")))
    assert secrets.finalizers == {"first": [], "second": [IN_USE]}
    assert prot._unrecorded == {("team", "a"): frozenset({"second"})}  # until a status write records it
    store.observe(later(body("a", secret="second", **record("second")), "3"))
    asyncio.run(prot.protect(resource(store, "a")))
    assert prot._unrecorded == {}
