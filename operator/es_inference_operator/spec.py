"""The resource's spec read into plain values: what the user asked for, with no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import contract


@dataclass(frozen=True)
class SecretKeyRef:
    """A key in a Secret of the resource's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class ElasticsearchRef:
    """spec.elasticsearchRef, ECK's ObjectSelector: a connection Secret (`secret_name`), an ECK-managed
    Elasticsearch (`name`, `namespace` defaulting to the resource's, `service_name`), or neither: the operator's
    default. The CRD refuses secretName together with the others."""

    secret_name: str | None = None
    name: str | None = None
    namespace: str | None = None
    service_name: str | None = None
    credentials_secret_name: str | None = None  # with name: a Secret of the user's instead of ECK's elastic user

    def connection_secrets(self) -> tuple[str, ...]:
        """The Secrets of the resource's namespace that a connection to its Elasticsearch reads (a deletion needs
        them too): the connection Secret, or the credentials for an ECK Elasticsearch."""
        return tuple(name for name in (self.secret_name, self.credentials_secret_name) if name)

    def lane(self, namespace: str) -> str:
        """Which Elasticsearch this names, as far as the spec tells without reading anything: the work queue's
        lane (a cluster that hangs holds only its own lane's workers)."""
        if self.secret_name:
            return f"secret:{namespace}/{self.secret_name}"
        if self.name:
            return f"eck:{self.namespace or namespace}/{self.name}"
        return "default"


@dataclass(frozen=True)
class DesiredEndpoint:
    """The inference endpoint a resource declares. Secret values are not here, only references to them."""

    inference_id: str
    task_type: str
    service: str
    service_settings: Mapping[str, Any]
    secret_refs: Mapping[str, SecretKeyRef] = field(default_factory=dict)
    task_settings: Mapping[str, Any] | None = None
    chunking_settings: Mapping[str, Any] | None = None
    elasticsearch_ref: ElasticsearchRef = field(default_factory=ElasticsearchRef)
    deletion_policy: str | None = None

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(ref.name for ref in self.secret_refs.values())

    def request_body(self, secret_values: Mapping[str, str]) -> dict[str, Any]:
        """The body of PUT /_inference/<task_type>/<inference_id>, with the secrets filled in."""
        body: dict[str, Any] = {
            "service": self.service,
            "service_settings": {**self.service_settings, **secret_values},
        }
        if self.task_settings:
            body["task_settings"] = dict(self.task_settings)
        if self.chunking_settings:
            body["chunking_settings"] = dict(self.chunking_settings)
        return body


def inference_id_of(name: str, spec: Mapping[str, Any]) -> str:
    """spec.inferenceId, defaulting to metadata.name (the CRD refuses names that cannot serve)."""
    return str(spec.get("inferenceId") or name)


def desired_endpoint(name: str, spec: Mapping[str, Any]) -> DesiredEndpoint:
    refs = {
        key: SecretKeyRef(name=str(ref["name"]), key=str(ref["key"]))
        for key, ref in (spec.get("serviceSettingsSecretRefs") or {}).items()
    }
    es_ref = spec.get("elasticsearchRef") or {}
    return DesiredEndpoint(
        inference_id=inference_id_of(name, spec),
        task_type=str(spec["taskType"]),
        service=str(spec["service"]),
        service_settings=dict(spec.get("serviceSettings") or {}),
        secret_refs=refs,
        task_settings=spec.get("taskSettings"),
        chunking_settings=spec.get("chunkingSettings"),
        elasticsearch_ref=ElasticsearchRef(
            secret_name=es_ref.get("secretName"),
            name=es_ref.get("name"),
            namespace=es_ref.get("namespace"),
            service_name=es_ref.get("serviceName"),
            credentials_secret_name=es_ref.get("credentialsSecretName"),
        ),
        deletion_policy=spec.get("deletionPolicy"),
    )


def effective_deletion_policy(
    spec_policy: str | None,
    namespace_annotations: Mapping[str, str] | None,
    operator_default: str,
) -> str:
    """The resource's own field wins, then its namespace's annotation, then the operator's default."""
    if spec_policy in contract.DELETION_POLICIES:
        return spec_policy
    from_namespace = (namespace_annotations or {}).get(contract.NAMESPACE_DELETION_POLICY_ANNOTATION)
    if from_namespace in contract.DELETION_POLICIES:
        return from_namespace
    return operator_default


def is_forced(annotations: Mapping[str, str] | None) -> bool:
    """The force annotation under either key, with the value "true" exactly; anything else is not forced."""
    annotations = annotations or {}
    return any(annotations.get(key) == "true" for key in contract.FORCE_ANNOTATIONS)


def adopts(annotations: Mapping[str, str] | None) -> bool:
    """The adopt annotation with the value "true" exactly."""
    return (annotations or {}).get(contract.ADOPT_ANNOTATION) == "true"
