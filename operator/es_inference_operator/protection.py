"""Connection Secrets in use are protected, as Kubernetes protects a PersistentVolumeClaim in use: while a resource
owns an endpoint reached through a Secret of its namespace (`elasticsearchRef.secretName`, `credentialsSecretName`),
that Secret carries the finalizer `inference.es-operator.dev/secret-in-use`. Deleted meanwhile (`kubectl delete
namespace` deletes everything in it at once), it stays readable, Terminating, until the resources that need it
have deleted their endpoints; the finalizer then goes and the Secret with it. Without this, a namespace deleted with
its Secret left the deletions with no way to reach Elasticsearch: they waited for ever, and the namespace with them.

The finalizer goes on before anything is created through the Secret, and comes off when the last resource in the
store that owns an endpoint through it is gone. Both are JSON patches that test what they change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from . import contract
from .errors import KubernetesUnavailable
from .kube import KUBE_REQUEST_TIMEOUT, KubeReader
from .kube_writer import StaleObject
from .store import Resource, ResourceStore

log = logging.getLogger(__name__)


class SecretProtection:
    def __init__(self, api_client: kubernetes.client.ApiClient, store: ResourceStore, kube: KubeReader) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._store = store
        self._kube = kube

    async def protect(self, obj: Resource) -> None:
        """Before `obj` creates or takes over an endpoint: its connection Secrets carry the finalizer."""
        for name in obj.desired.elasticsearch_ref.connection_secrets():
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

    async def release_unused(self, gone: Resource) -> None:
        """`gone` let go of its endpoint: its connection Secrets lose the finalizer if nothing else needs them."""
        for name in gone.desired.elasticsearch_ref.connection_secrets():
            if self._needed(gone, name):
                continue
            fresh = self._kube.read_after(time.monotonic())
            secret, _ = await fresh.read_secret_with_labels(gone.namespace, name)
            if contract.SECRET_IN_USE_FINALIZER not in secret.finalizers:
                continue
            path = f"/metadata/finalizers/{secret.finalizers.index(contract.SECRET_IN_USE_FINALIZER)}"
            ops = [
                {"op": "test", "path": path, "value": contract.SECRET_IN_USE_FINALIZER},
                {"op": "remove", "path": path},
            ]
            await self._patch(gone.namespace, name, ops, "releasing")
            log.info(
                "%s/%s: no endpoint needs Secret %s any more: its protection goes", gone.namespace, gone.name, name
            )

    def _needed(self, gone: Resource, secret: str) -> bool:
        """Does another resource of the namespace own (or create) an endpoint through `secret`, and not let go of it
        yet? (One whose finalizer went is as good as gone: deletions that run side by side each see the others'.)"""
        return any(
            other.key != gone.key
            and other.namespace == gone.namespace
            and secret in other.desired.elasticsearch_ref.connection_secrets()
            and other.ownership is not None
            and not (other.deleting and contract.FINALIZER not in other.finalizers)
            for other in self._store
        )

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
