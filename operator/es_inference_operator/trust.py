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
* The operator's default Elasticsearch (no `elasticsearchRef`) serves the namespaces its administrator lists in
  OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES (default `*`: all).
* A Service named by `elasticsearchRef.serviceName` receives the credentials: it is used only when it sends its
  traffic to that Elasticsearch's pods (its selector has ECK's labels for it), never an ExternalName.
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


DEFAULT_NAMESPACES_SETTING = "OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES"
DEFAULT_NAMESPACES_CHART_VALUE = "elasticsearch.allowedNamespaces"


def default_elasticsearch_refusal(namespace: str, allowed: frozenset[str]) -> Refusal | None:
    """Why a resource in `namespace` that names no elasticsearchRef may not use the operator's default
    Elasticsearch (None: it may). The administrator's list is not shown: it names other tenants."""
    if "*" in allowed or namespace in allowed:
        return None
    return Refusal(
        f"namespace {namespace} may not use the operator's default Elasticsearch (the resource names no "
        f"spec.elasticsearchRef), so nothing is sent to Elasticsearch",
        f"Name an Elasticsearch of your own in spec.elasticsearchRef (name, or secretName), or ask the operator's "
        f"administrator to add {namespace} to the setting {DEFAULT_NAMESPACES_SETTING} (with the Helm chart, "
        f"the value {DEFAULT_NAMESPACES_CHART_VALUE})",
    )


# The labels ECK puts on every Elasticsearch's pods, and selects them by in the HTTP Service it creates
# (label.NewLabels in ECK's pkg/controller/elasticsearch/label): a Service with both in its selector sends its
# traffic to that Elasticsearch's pods, as the Services of ECK's "Traffic splitting" guide do.
ECK_CLUSTER_NAME_LABEL = "elasticsearch.k8s.elastic.co/cluster-name"
ECK_TYPE_LABEL = "common.k8s.elastic.co/type"
ECK_TYPE_ELASTICSEARCH = "elasticsearch"


def eck_selector(es_name: str) -> dict[str, str]:
    return {ECK_CLUSTER_NAME_LABEL: es_name, ECK_TYPE_LABEL: ECK_TYPE_ELASTICSEARCH}


def service_refusal(
    es_namespace: str, es_name: str, service_name: str, service_type: str, selector: Mapping[str, str] | None
) -> Refusal | None:
    """Why the Service `es_namespace/service_name` that elasticsearchRef.serviceName names may not receive the
    credentials of Elasticsearch `es_name` (None: it may). It may when it sends its traffic to that Elasticsearch's
    pods: its selector has ECK's labels for it (more keys only narrow it down to some of them), and it is no
    ExternalName (a DNS alias to anywhere, whatever its selector says). TLS settings change nothing: with TLS off or
    unverified, the password would reach whatever answers."""
    wanted = eck_selector(es_name)
    selected = dict(selector or {})
    if service_type != "ExternalName" and all(selected.get(key) == value for key, value in wanted.items()):
        return None
    labels = " and ".join(f"{key}={value}" for key, value in wanted.items())
    why = "is an ExternalName" if service_type == "ExternalName" else f"does not select its pods by {labels}"
    return Refusal(
        f"Service {es_namespace}/{service_name} (elasticsearchRef.serviceName) is not one of Elasticsearch "
        f"{es_namespace}/{es_name}'s: it {why}, so the operator sends it no credentials and nothing else",
        f"Leave serviceName out to use ECK's {es_name}-es-http, or name a Service whose spec.selector has "
        f"{labels} (ECK's labels on that Elasticsearch's pods)",
    )
