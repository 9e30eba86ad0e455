"""Who may make the operator read what: the trust rules for the references in a resource's spec, as plain
functions (table-tested in tests/unit/test_trust.py). README "Security" explains them.

The operator may `get` every Secret and holds credentials to every Elasticsearch it serves. Whoever may create an
InferenceEndpoint must not use it as a deputy to reach more than they could themselves:

* A Secret named by `serviceSettingsSecretRefs` or `elasticsearchRef.secretName` is used only when it carries the
  label `inference.es-operator.dev/allow-reference: "true"`. Labelling needs write access to the Secret, which a
  user who may only create InferenceEndpoints lacks; the Secret's owner opts it in (as cert-manager and External
  Secrets have a Secret or store opt in, and ECK lets a cluster's side decide).
* An ECK Elasticsearch in the resource's own namespace may be used; one in another namespace only when its
  annotation `inference.es-operator.dev/allowed-namespaces` lists the resource's namespace (or is `*`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import contract
from .errors import ConfigurationError


class ReferenceNotAllowed(ConfigurationError):
    """The spec names a Secret or an Elasticsearch that has not opted in: nothing is read from it or sent. A person
    must act (label the Secret, annotate the Elasticsearch); the operator looks again within seconds."""


@dataclass(frozen=True)
class Refusal:
    """Why a reference is refused, and the command its owner runs to allow it."""

    problem: str
    advice: str

    def __str__(self) -> str:
        return f"{self.problem}. {self.advice}"

    def error(self) -> ReferenceNotAllowed:
        return ReferenceNotAllowed(self.problem, advice=self.advice)


def secret_refusal(namespace: str, name: str, labels: Mapping[str, str] | None, used_for: str) -> Refusal | None:
    """Why Secret `namespace/name` may not be used for `used_for` (None: it may)."""
    if (labels or {}).get(contract.ALLOW_REFERENCE_LABEL) == "true":
        return None
    return Refusal(
        f"Secret {namespace}/{name} ({used_for}) has not opted in to use by InferenceEndpoints, so the operator "
        f"neither reads it nor sends anything to Elasticsearch",
        f"If the Secret is meant for this, its owner runs: "
        f"kubectl label secret -n {namespace} {name} {contract.ALLOW_REFERENCE_LABEL}=true",
    )


def allowed_namespaces(annotations: Mapping[str, str] | None) -> frozenset[str]:
    """The namespaces an Elasticsearch accepts references from, besides its own ("*" stands for all)."""
    value = (annotations or {}).get(contract.ALLOWED_NAMESPACES_ANNOTATION, "")
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def elasticsearch_refusal(
    resource_namespace: str, es_namespace: str, es_name: str, annotations: Mapping[str, str] | None
) -> Refusal | None:
    """Why a resource in `resource_namespace` may not use ECK's Elasticsearch `es_namespace/es_name` (None: it
    may)."""
    if es_namespace == resource_namespace:
        return None
    allowed = allowed_namespaces(annotations)
    if "*" in allowed or resource_namespace in allowed:
        return None
    listed = ",".join(sorted(allowed | {resource_namespace}))
    return Refusal(
        f"Elasticsearch {es_namespace}/{es_name} is in another namespace and does not accept references from "
        f"namespace {resource_namespace}",
        f"To allow them, its owner runs: kubectl annotate elasticsearch -n "
        f"{es_namespace} {es_name} --overwrite {contract.ALLOWED_NAMESPACES_ANNOTATION}={listed}",
    )
