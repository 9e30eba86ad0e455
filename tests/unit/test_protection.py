"""Which resources still need a connection Secret (protection.SecretProtection._needed): the race of deletions
that run side by side, each of which must see the others' finalizer gone."""

from __future__ import annotations

from typing import Any

from es_inference_operator import contract
from es_inference_operator.protection import SecretProtection
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
