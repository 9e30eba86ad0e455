"""Who claims which inference id: a registry kept from the watch, so that two resources never fight over one
endpoint.

Filled by one paginated LIST at startup, before any handler runs, and kept current by an event handler. It
replaces a kopf index: kopf holds every handler until an index has seen every object and then wakes each
waiting worker at every object indexed, which made a restart cost grow with the square of the resources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, cast

import kubernetes

from . import contract
from .decisions import Claim, Ownership
from .reconciler import ClaimEntry
from .spec import desired_endpoint, inference_id_of

LIST_PAGE = 500


def claim_entry(body: Mapping[str, Any]) -> tuple[str, ClaimEntry]:
    """The inference id a resource claims, and what the registry keeps of it."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    name = str(meta.get("name"))
    ownership = Ownership.from_status(body.get("status") or {})
    claim = Claim(
        created=str(meta.get("creationTimestamp", "")),
        uid=str(meta.get("uid")),
        namespace=str(meta.get("namespace")),
        name=name,
        managed=ownership is not None and not ownership.pending,
    )
    entry = ClaimEntry(
        claim, desired_endpoint(name, spec).elasticsearch_ref, owned_cluster=ownership.cluster if ownership else None
    )
    return inference_id_of(name, spec), entry


def trimmed(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the operator keeps of a resource between events: no managedFields, which are most of an object, nor
    kubectl's copy of the last applied manifest."""
    meta = body.get("metadata") or {}
    kept_meta = {k: meta[k] for k in _KEPT_METADATA if k in meta}
    if kept_meta.get("annotations"):
        kept_meta["annotations"] = {k: v for k, v in kept_meta["annotations"].items() if k != _LAST_APPLIED}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": kept_meta,
        "spec": dict(body.get("spec") or {}),
        "status": dict(body.get("status") or {}),
    }


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_KEPT_METADATA = ("name", "namespace", "uid", "generation", "creationTimestamp", "deletionTimestamp", "annotations")


class ClaimRegistry:
    """Every resource the operator serves, as last seen (trimmed), and who claims which inference id."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, ClaimEntry]] = {}
        self._id_of: dict[str, str] = {}  # uid -> the inference id it claims
        self.bodies: dict[str, dict[str, Any]] = {}  # uid -> the resource as last seen, for the periodic check

    def __len__(self) -> int:
        return len(self._id_of)

    def observe(self, body: Mapping[str, Any]) -> None:
        inference_id, entry = claim_entry(body)
        uid = entry.claim.uid
        previous = self._id_of.get(uid)
        if previous is not None and previous != inference_id:
            self.forget(uid)
        self._by_id.setdefault(inference_id, {})[uid] = entry
        self._id_of[uid] = inference_id
        self.bodies[uid] = trimmed(body)

    def forget(self, uid: str) -> None:
        self.bodies.pop(uid, None)
        inference_id = self._id_of.pop(uid, None)
        if inference_id is not None:
            claimants = self._by_id.get(inference_id, {})
            claimants.pop(uid, None)
            if not claimants:
                self._by_id.pop(inference_id, None)

    def claims_on(self, inference_id: str) -> list[ClaimEntry]:
        return list(self._by_id.get(inference_id, {}).values())

    async def fill(self, api_client: kubernetes.client.ApiClient, namespaces: Iterable[str]) -> None:
        """Every InferenceEndpoint the operator serves, by pages (all namespaces when `namespaces` is empty)."""
        for body in await asyncio.to_thread(_list_all, api_client, list(namespaces)):
            self.observe(body)


def _list_all(api_client: kubernetes.client.ApiClient, namespaces: list[str]) -> list[dict[str, Any]]:
    """Every resource, trimmed page by page: the registry's LIST never holds more than a page of whole objects
    (kopf's own listing at a restart still queues every whole object; see the README's sizing)."""
    api = kubernetes.client.CustomObjectsApi(api_client)
    items: list[dict[str, Any]] = []
    scopes: list[str | None] = list(namespaces) or [None]
    for namespace in scopes:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"limit": LIST_PAGE, **({"_continue": token} if token else {})}
            if namespace is None:
                found = api.list_cluster_custom_object(contract.GROUP, contract.VERSION, contract.PLURAL, **args)
            else:
                found = api.list_namespaced_custom_object(
                    contract.GROUP, contract.VERSION, namespace, contract.PLURAL, **args
                )
            page = cast(dict[str, Any], found)
            items.extend(trimmed(item) for item in page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
    return items
