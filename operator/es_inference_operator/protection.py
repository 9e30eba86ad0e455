"""Connection Secrets in use are protected, as Kubernetes protects a PersistentVolumeClaim in use: while a resource
owns an endpoint reached through a Secret of its namespace (`elasticsearchRef.secretName`, `credentialsSecretName`),
that Secret carries the finalizer `inference.es-operator.dev/secret-in-use`. Deleted meanwhile (`kubectl delete
namespace` deletes everything in it at once), it stays readable, Terminating, until the resources that need it
have deleted their endpoints; the finalizer then goes and the Secret with it. Without this, a namespace deleted with
its Secret left the deletions with no way to reach Elasticsearch: they waited for ever, and the namespace with them.

The finalizer goes on before anything is created through the Secret (a JSON patch that tests what it changes), and
comes off (another) when the last resource in the store that owns an endpoint through it no longer names it: that
resource is gone, or its spec now names another Secret. So that a Secret named before is let go whatever happened
since (a restart, a status write refused), a resource's status records the Secrets protected for it
(`status.protectedSecrets`: a name the spec newly gives is written there before its Secret is protected, or with
the intent of a create): when a resource protects the Secrets it names now, those it recorded and no longer names
are let go unless another resource needs them, and its deletion lets go of both. In steady state that costs
nothing: a cached read of each Secret, no write.

The operator may not list Secrets (RBAC `get` only), so a protection whose record went with its resource (the
process killed between the resource's finalizer and the Secret's) is not found again: the namespace's status names
the finalizer that holds it, and removing it by hand lets the Secret go.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from . import contract
from .errors import KubernetesUnavailable, NotFound
from .kube import KUBE_REQUEST_TIMEOUT, KubeReader
from .kube_writer import StaleObject
from .spec import ElasticsearchRef
from .store import Key, Resource, ResourceStore

log = logging.getLogger(__name__)

RECORD = "protectedSecrets"  # status field: the Secrets protected for the resource (names, sorted)
_RELEASE_ATTEMPTS = 3  # a Secret that changed under the release (another finalizer came or went) is read again


# --- Decisions (pure) ---------------------------------------------------------------------------------------------


def recorded(status: Mapping[str, Any]) -> frozenset[str]:
    """The Secrets the status records as protected for the resource (none: nothing protected yet, or by an
    operator older than the record)."""
    names = status.get(RECORD)
    return frozenset(str(n) for n in names if n) if isinstance(names, list) else frozenset()


def record_of(ref: ElasticsearchRef) -> list[str] | None:
    """What status.protectedSecrets says once the Secrets the spec names are protected (None: no such field)."""
    return sorted(set(ref.connection_secrets())) or None


def record_before_protecting(status: Mapping[str, Any], ref: ElasticsearchRef) -> list[str] | None:
    """The record to write before protecting the Secrets `ref` names, when it lacks one of them (None: it has them
    all, nothing to write): what was recorded stays, so that nothing protected is ever missing from it."""
    before = recorded(status)
    named = set(ref.connection_secrets())
    return None if named <= before else sorted(before | named)


def no_longer_named(status: Mapping[str, Any], ref: ElasticsearchRef, unrecorded: Iterable[str] = ()) -> list[str]:
    """The Secrets protected for the resource that its spec no longer names, to let go of: those its status records,
    and those protected for it that no status write has recorded yet (`unrecorded`: the write was refused)."""
    return sorted((recorded(status) | set(unrecorded)) - set(ref.connection_secrets()))


def needed_by_others(secret: str, but: Resource, resources: Iterable[Resource]) -> bool:
    """Does a resource of `but`'s namespace other than `but` own (or create) an endpoint through `secret`, and not
    let go of it yet? (One whose finalizer went is as good as gone: deletions that run side by side each see the
    others'.) What a resource names now counts, not what it named: a deletion connects through the spec it has."""
    return any(
        other.key != but.key
        and other.namespace == but.namespace
        and secret in other.desired.elasticsearch_ref.connection_secrets()
        and other.ownership is not None
        and not (other.deleting and contract.FINALIZER not in other.finalizers)
        for other in resources
    )


# --- Effects ------------------------------------------------------------------------------------------------------


class SecretProtection:
    def __init__(self, api_client: kubernetes.client.ApiClient, store: ResourceStore, kube: KubeReader) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._store = store
        self._kube = kube
        # Secrets protected for a resource that its status does not record yet: the write that records them comes
        # after (the intent before a create); refused (the spec changed meanwhile), the next protect lets them go.
        self._unrecorded: dict[Key, frozenset[str]] = {}

    async def protect(self, obj: Resource) -> None:
        """Before `obj` creates or takes over an endpoint, and while it owns one: its connection Secrets carry the
        finalizer. Then the Secrets its status records and its spec no longer names lose it, if nothing else needs
        them (the caller records the new ones first: managed.ManagedReconciler._protect). Nothing to let go, and
        the Secrets protected already: one cached read each, no write."""
        ref = obj.desired.elasticsearch_ref
        named, earlier = frozenset(ref.connection_secrets()), self._unrecorded.get(obj.key, frozenset())
        self._remember(obj.key, earlier | (named - recorded(obj.status)))
        for name in ref.connection_secrets():
            secret, _ = await self._kube.read_secret_with_labels(obj.namespace, name)
            if contract.SECRET_IN_USE_FINALIZER in secret.finalizers:
                continue
            add: dict[str, Any] = (
                {"op": "add", "path": "/metadata/finalizers/-", "value": contract.SECRET_IN_USE_FINALIZER}
                if secret.finalizers
                else {"op": "add", "path": "/metadata/finalizers", "value": [contract.SECRET_IN_USE_FINALIZER]}
            )
            test = {"op": "test", "path": "/metadata/resourceVersion", "value": secret.resource_version}
            await self._patch(obj.namespace, name, [test, add], "protecting")
            self._kube.forget_secret(obj.namespace, name)  # the next read sees the finalizer
        why = "its spec no longer names Secret %s, and no other endpoint needs it: its protection goes"
        await self._release(obj, no_longer_named(obj.status, ref, earlier), why)
        self._remember(obj.key, named - recorded(obj.status))

    def _remember(self, key: Key, unrecorded: frozenset[str]) -> None:
        if unrecorded:
            self._unrecorded[key] = unrecorded
        else:
            self._unrecorded.pop(key, None)

    async def release_unused(self, gone: Resource) -> None:
        """`gone` let go of its endpoint: the Secrets it names, and those its status records, lose the finalizer if
        nothing else needs them."""
        unrecorded = self._unrecorded.pop(gone.key, frozenset())
        names = sorted(recorded(gone.status) | unrecorded | set(gone.desired.elasticsearch_ref.connection_secrets()))
        await self._release(gone, names, "no endpoint needs Secret %s any more: its protection goes")

    async def _release(self, obj: Resource, names: Iterable[str], why: str) -> None:
        for name in names:
            if self._needed(obj, name):
                continue
            for attempt in range(_RELEASE_ATTEMPTS):
                try:
                    if await self._release_one(obj.namespace, name):
                        log.info("%s/%s: " + why, obj.namespace, obj.name, name)
                    break
                except StaleObject:
                    if attempt == _RELEASE_ATTEMPTS - 1:
                        raise

    async def _release_one(self, namespace: str, name: str) -> bool:
        """The finalizer off Secret `name`, read now (False: it had none, or the Secret is gone)."""
        fresh = self._kube.read_after(time.monotonic())
        try:
            secret, _ = await fresh.read_secret_with_labels(namespace, name)
        except NotFound:
            return False  # deleted already: nothing to release
        if contract.SECRET_IN_USE_FINALIZER not in secret.finalizers:
            return False
        path = f"/metadata/finalizers/{secret.finalizers.index(contract.SECRET_IN_USE_FINALIZER)}"
        ops = [
            {"op": "test", "path": path, "value": contract.SECRET_IN_USE_FINALIZER},
            {"op": "remove", "path": path},
        ]
        try:
            await self._patch(namespace, name, ops, "releasing")
        finally:
            self._kube.forget_secret(namespace, name)  # a later protect must not take the read above for now
        return True

    def _needed(self, gone: Resource, secret: str) -> bool:
        return needed_by_others(secret, gone, self._store)

    async def _patch(self, namespace: str, name: str, ops: list[dict[str, Any]], doing: str) -> None:
        try:
            await asyncio.to_thread(
                self._core.patch_namespaced_secret,
                name,
                namespace,
                ops,
                field_manager="es-inference-operator",
                _content_type="application/json-patch+json",
                _request_timeout=KUBE_REQUEST_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:
                return  # gone already: nothing to protect or release
            if err.status in (409, 422):  # a JSON patch test failed: the Secret changed since it was read
                raise StaleObject(f"{doing} Secret {namespace}/{name}: it changed meanwhile") from None
            raise KubernetesUnavailable(
                f"{doing} Secret {namespace}/{name} failed: {err.status} {err.reason}"
                + (" (the operator's RBAC lacks patch on secrets)" if err.status == 403 else "")
            ) from None
        except urllib3.exceptions.HTTPError as err:
            raise KubernetesUnavailable(f"{doing} Secret {namespace}/{name} failed: {err}") from None
