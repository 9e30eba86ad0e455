"""The operator's reads from Kubernetes besides its own resources: Secrets and namespaces.

The official client is synchronous, so every call runs in a thread and never blocks kopf's event loop.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass

import kubernetes
from kubernetes.client.exceptions import ApiException

from .errors import ConfigurationError


@dataclass(frozen=True)
class SecretData:
    name: str
    resource_version: str
    data: dict[str, str]

    def __repr__(self) -> str:  # never show the values
        return f"SecretData(name={self.name!r}, resource_version={self.resource_version!r})"

    def value(self, key: str, namespace: str) -> str:
        if key not in self.data:
            raise ConfigurationError(f"Secret {namespace}/{self.name} has no key {key!r}")
        return self.data[key]


class KubeReader:
    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._core = kubernetes.client.CoreV1Api(api_client)

    @classmethod
    def from_environment(cls) -> KubeReader:
        """In-cluster credentials when running in a pod, else the current kubeconfig."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        return cls(kubernetes.client.ApiClient(configuration))

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        try:
            secret = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as err:
            raise _explained(err, f"Secret {namespace}/{name}", "get secrets") from None
        data = {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}
        return SecretData(
            name=name, resource_version=str(secret.metadata.resource_version) if secret.metadata else "", data=data
        )

    async def namespace_annotations(self, namespace: str) -> dict[str, str]:
        try:
            ns = await asyncio.to_thread(self._core.read_namespace, namespace)
        except ApiException as err:
            raise _explained(err, f"namespace {namespace}", "get namespaces") from None
        return dict((ns.metadata.annotations if ns.metadata else None) or {})


def _explained(err: ApiException, what: str, permission: str) -> ConfigurationError:
    """A failed read as a status message a person can act on (the handlers retry it with backoff)."""
    if err.status == 404:
        return ConfigurationError(f"{what} not found")
    if err.status == 403:
        return ConfigurationError(f"the operator may not read {what}: its RBAC lacks {permission}")
    return ConfigurationError(f"reading {what} failed: {err.status} {err.reason}")
