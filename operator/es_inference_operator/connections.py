"""Where a resource's Elasticsearch is and how to log in: `spec.elasticsearchRef` resolved into a Connection.

Three forms, as ECK's ObjectSelector has them:

* `secretName`: a connection Secret in the resource's namespace (`url`, `api-key` or `username`/`password`,
  optional `ca.crt`), used only when it opts in (trust.py).
* `name` (`namespace`, `serviceName`): an Elasticsearch that ECK manages. What ECK creates for it gives the rest:
  the Service `<name>-es-http` (or `serviceName`, when its selector has ECK's labels for it: trust.py) on port
  9200, HTTPS unless the Elasticsearch turns TLS off, the CA in `<name>-es-http-certs-public` (`ca.crt`, TLS is
  verified against it), the `elastic` user's password in `<name>-es-elastic-user`. Until the Elasticsearch
  exists and its `status.phase` is `Ready`, ElasticsearchNotReady.
* neither: the operator's default (ELASTICSEARCH_URL), for the namespaces OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES
  lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import OperatorConfig
from .elasticsearch_connection import SECRET_KEYS, Connection, refuse_two_kinds
from .errors import ConfigurationError, KindNotInstalled, NotFound
from .kube import KubeReader, SecretData
from .spec import ElasticsearchRef
from .trust import default_elasticsearch_refusal, elasticsearch_refusal, secret_refusal, service_refusal

ECK_READY_PHASE = "Ready"
ECK_ELASTIC_USER = "elastic"


class ElasticsearchNotReady(ConfigurationError):
    """The ECK Elasticsearch a resource names does not exist yet, or is not Ready: a wait, not a connection error.
    Nothing was sent to it; a deletion of an endpoint never created there may go ahead."""


@dataclass(frozen=True)
class EckElasticsearch:
    """What ECK creates for an Elasticsearch, as far as the operator needs it."""

    namespace: str
    name: str
    service: str
    tls: bool
    elastic_user_disabled: bool = False

    @property
    def ca_secret(self) -> str:
        return f"{self.name}-es-http-certs-public"

    @property
    def elastic_user_secret(self) -> str:
        return f"{self.name}-es-elastic-user"

    def url(self, template: str) -> str:
        return template.format(scheme="https" if self.tls else "http", service=self.service, namespace=self.namespace)


def eck_elasticsearch(
    namespace: str, name: str, service_name: str | None, found: Mapping[str, Any] | None
) -> EckElasticsearch:
    """The Elasticsearch `namespace/name` as ECK serves it, from the object (None: it does not exist). Raises
    ElasticsearchNotReady until it exists and ECK says it is Ready."""
    if found is None:
        raise ElasticsearchNotReady(f"Elasticsearch {namespace}/{name} does not exist (yet): waiting for it")
    phase = (found.get("status") or {}).get("phase")
    if phase != ECK_READY_PHASE:
        raise ElasticsearchNotReady(
            f"Elasticsearch {namespace}/{name} is not ready yet (phase {phase or 'not reported'}): waiting for ECK"
        )
    spec = found.get("spec") or {}
    tls = (spec.get("http") or {}).get("tls") or {}
    # ECK's TLSOptions.Enabled(): TLS stays on with a certificate of the user's, even with the self-signed one off.
    self_signed_disabled = bool((tls.get("selfSignedCertificate") or {}).get("disabled"))
    user_certificate = bool((tls.get("certificate") or {}).get("secretName"))
    return EckElasticsearch(
        namespace=namespace,
        name=name,
        service=service_name or f"{name}-es-http",
        tls=not self_signed_disabled or user_certificate,
        elastic_user_disabled=bool((spec.get("auth") or {}).get("disableElasticUser")),
    )


async def read_allowed_secret(kube: KubeReader, namespace: str, name: str, used_for: str) -> SecretData:
    """Secret `namespace/name` if it opted in to use by InferenceEndpoints, else ReferenceNotAllowed."""
    secret, labels = await kube.read_secret_with_labels(namespace, name)
    refusal = secret_refusal(namespace, name, labels, used_for)
    if refusal is not None:
        raise refusal.error()
    return secret


async def resolve_connection(
    kube: KubeReader, config: OperatorConfig, namespace: str, ref: ElasticsearchRef
) -> Connection:
    """The Connection for a resource in `namespace` with this elasticsearchRef."""
    if ref.secret_name:
        secret = await read_allowed_secret(kube, namespace, ref.secret_name, "elasticsearchRef.secretName")
        return Connection(
            url=secret.value("url"),
            source=f"Secret {namespace}/{ref.secret_name}",
            api_key=secret.get("api-key"),
            username=secret.get("username"),
            password=secret.get("password"),
            ca_pem=secret.get("ca.crt"),
            verify_certs=config.verify_certs,
        )
    if ref.name:
        return await _eck_connection(
            kube,
            config,
            namespace,
            ref.name,
            ref.namespace or namespace,
            ref.service_name,
            ref.credentials_secret_name,
        )
    if ref.namespace or ref.service_name:  # the CRD refuses this; a resource from before the rule still may
        raise ConfigurationError("spec.elasticsearchRef sets namespace or serviceName without name")
    refusal = default_elasticsearch_refusal(namespace, config.default_namespaces)
    if refusal is not None:
        raise refusal.error()
    if config.default_connection is None:
        raise ConfigurationError(
            "no Elasticsearch to talk to: set spec.elasticsearchRef (name for an ECK Elasticsearch, or secretName), "
            "or ELASTICSEARCH_URL in the operator's configuration"
        )
    return config.default_connection


async def _eck_connection(
    kube: KubeReader,
    config: OperatorConfig,
    resource_namespace: str,
    name: str,
    es_namespace: str,
    service_name: str | None,
    credentials_secret: str | None = None,
) -> Connection:
    try:
        found = await kube.read_elasticsearch(es_namespace, name)
    except KindNotInstalled:
        raise ElasticsearchNotReady(
            f"ECK's Elasticsearch CRD (elasticsearches.elasticsearch.k8s.elastic.co) is not installed in this "
            f"cluster, so there is no Elasticsearch {es_namespace}/{name}: install ECK, or point "
            f"spec.elasticsearchRef at a connection Secret (secretName) instead of an ECK Elasticsearch (name)"
        ) from None
    if found is not None:
        # The other side decides first: a refused reference learns nothing more about that Elasticsearch.
        annotations = (found.get("metadata") or {}).get("annotations")
        refusal = elasticsearch_refusal(resource_namespace, es_namespace, name, annotations)
        if refusal is not None:
            raise refusal.error()
    es = eck_elasticsearch(es_namespace, name, service_name, found)
    if service_name:
        await _check_service(kube, es_namespace, name, service_name)
    source = f"Elasticsearch {es_namespace}/{name}"
    if credentials_secret is None and es.elastic_user_disabled:
        raise ConfigurationError(
            f"{source} disables its elastic user (spec.auth.disableElasticUser), whose credentials the operator "
            f"uses: name a Secret of your own credentials with elasticsearchRef.credentialsSecretName"
        )
    ca_pem = None
    if es.tls:
        ca = await _read_eck_secret(kube, es_namespace, es.ca_secret)
        ca_pem = ca.get("ca.crt")  # absent with a certificate of the user's from a public CA: system CAs then
    if credentials_secret is not None:
        # The user's own credentials (a user or API key with only the privileges the operator needs), from a
        # Secret in the resource's namespace that opted in; ECK's elastic user is not read at all.
        own = await read_allowed_secret(
            kube, resource_namespace, credentials_secret, "elasticsearchRef.credentialsSecretName"
        )
        credentials: dict[str, str | None] = {
            "api_key": own.get("api-key"),
            "username": own.get("username"),
            "password": own.get("password"),
        }
        where = f"Secret {resource_namespace}/{credentials_secret}"
        if not credentials["api_key"] and not credentials["username"]:
            raise ConfigurationError(f"{where} has neither 'api-key' nor 'username' and 'password'{own.keys_listed}")
        refuse_two_kinds(where, SECRET_KEYS, api_key=credentials["api_key"], username=credentials["username"])
    else:
        user = await _read_eck_secret(kube, es_namespace, es.elastic_user_secret)
        credentials = {"username": ECK_ELASTIC_USER, "password": user.value(ECK_ELASTIC_USER)}
        where = f"Secret {es_namespace}/{es.elastic_user_secret}"
    return Connection(
        url=es.url(config.eck_url_template),
        source=source,
        ca_pem=ca_pem,
        verify_certs=config.verify_certs,
        credentials_source=where,
        **credentials,
    )


async def _check_service(kube: KubeReader, es_namespace: str, es_name: str, service_name: str) -> None:
    """The Service `serviceName` names must send its traffic to that Elasticsearch (trust.py): it receives the
    credentials. ReferenceNotAllowed otherwise; NotFound while it does not exist."""
    try:
        service = await kube.read_service(es_namespace, service_name)
    except NotFound:
        raise NotFound(f"Service {es_namespace}/{service_name} (elasticsearchRef.serviceName) not found") from None
    refusal = service_refusal(es_namespace, es_name, service_name, service.type, service.selector)
    if refusal is not None:
        raise refusal.error()


async def _read_eck_secret(kube: KubeReader, namespace: str, name: str) -> SecretData:
    """A Secret ECK creates (no opt-in label: the Elasticsearch reference rule covers it). Missing: ECK has not
    made it yet."""
    try:
        return await kube.read_secret(namespace, name)
    except NotFound:
        raise ElasticsearchNotReady(f"Secret {namespace}/{name}, which ECK creates, does not exist (yet)") from None
