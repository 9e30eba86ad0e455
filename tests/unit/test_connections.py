"""Table tests of what the operator derives from an ECK Elasticsearch: the Service, the scheme, the Secrets, and
when it must wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from es_inference_operator.config import DEFAULT_ECK_URL_TEMPLATE, OperatorConfig
from es_inference_operator.connections import ElasticsearchNotReady, eck_elasticsearch, resolve_connection
from es_inference_operator.kube import SecretData
from es_inference_operator.spec import ElasticsearchRef, desired_endpoint
from es_inference_operator.trust import ReferenceNotAllowed


def es_object(phase: str | None = "Ready", **spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "quickstart", "namespace": "search"},
        "spec": {"version": "9.1.0", **spec},
        "status": {"phase": phase} if phase is not None else {},
    }


def test_what_eck_creates_for_an_elasticsearch() -> None:
    es = eck_elasticsearch("search", "quickstart", None, es_object())
    assert es.service == "quickstart-es-http"
    assert es.ca_secret == "quickstart-es-http-certs-public"
    assert es.elastic_user_secret == "quickstart-es-elastic-user"
    assert es.url(DEFAULT_ECK_URL_TEMPLATE) == "https://quickstart-es-http.search.svc:9200"


def test_service_name_replaces_the_http_service() -> None:
    es = eck_elasticsearch("search", "quickstart", "quickstart-coordinating", es_object())
    assert es.url(DEFAULT_ECK_URL_TEMPLATE) == "https://quickstart-coordinating.search.svc:9200"
    assert es.ca_secret == "quickstart-es-http-certs-public"  # the certificates stay the Elasticsearch's


@pytest.mark.parametrize(
    ("tls", "scheme"),
    [
        (None, "https"),
        ({}, "https"),
        ({"selfSignedCertificate": {"disabled": False}}, "https"),
        ({"selfSignedCertificate": {"disabled": True}}, "http"),
        # ECK's TLSOptions.Enabled(): a certificate of the user's keeps TLS on.
        ({"selfSignedCertificate": {"disabled": True}, "certificate": {"secretName": "my-cert"}}, "https"),
    ],
)
def test_https_unless_eck_turns_tls_off(tls: dict[str, Any] | None, scheme: str) -> None:
    es = eck_elasticsearch(
        "search", "quickstart", None, es_object(http={"tls": tls}) if tls is not None else es_object()
    )
    assert es.url(DEFAULT_ECK_URL_TEMPLATE).startswith(f"{scheme}://")


@pytest.mark.parametrize(
    ("found", "says"),
    [
        (None, "does not exist (yet)"),
        (es_object(phase=None), "not ready yet (phase not reported)"),
        (es_object(phase="ApplyingChanges"), "not ready yet (phase ApplyingChanges)"),
        (es_object(phase="Invalid"), "not ready yet (phase Invalid)"),
    ],
)
def test_waits_until_the_elasticsearch_exists_and_is_ready(found: dict[str, Any] | None, says: str) -> None:
    with pytest.raises(ElasticsearchNotReady, match=r"Elasticsearch search/quickstart") as caught:
        eck_elasticsearch("search", "quickstart", None, found)
    assert says in str(caught.value)


def test_the_elastic_user_may_be_disabled() -> None:
    es = eck_elasticsearch("search", "quickstart", None, es_object(auth={"disableElasticUser": True}))
    assert es.elastic_user_disabled


def test_the_url_template_is_a_development_setting_with_known_placeholders() -> None:
    config = OperatorConfig.from_env({"OPERATOR_ECK_URL_TEMPLATE": "https://localhost:9443"})
    assert config.eck_url_template == "https://localhost:9443"
    assert OperatorConfig.from_env({}).eck_url_template == DEFAULT_ECK_URL_TEMPLATE
    with pytest.raises(ValueError, match="OPERATOR_ECK_URL_TEMPLATE"):
        OperatorConfig.from_env({"OPERATOR_ECK_URL_TEMPLATE": "https://{host}:9200"})


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (None, ElasticsearchRef()),
        ({"secretName": "search-cluster"}, ElasticsearchRef(secret_name="search-cluster")),
        ({"name": "quickstart"}, ElasticsearchRef(name="quickstart")),
        (
            {"name": "quickstart", "namespace": "search", "serviceName": "coordinating"},
            ElasticsearchRef(name="quickstart", namespace="search", service_name="coordinating"),
        ),
    ],
)
def test_the_spec_reads_eck_object_selector(ref: dict[str, str] | None, expected: ElasticsearchRef) -> None:
    spec: dict[str, Any] = {"taskType": "text_embedding", "service": "elasticsearch"}
    if ref is not None:
        spec["elasticsearchRef"] = ref
    assert desired_endpoint("e5", spec).elasticsearch_ref == expected


class _Kube:
    """Just enough of KubeReader: one ECK Elasticsearch, its Secrets, and Secrets of the resource's namespace."""

    def __init__(self, es: dict[str, Any], secrets: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]]):
        self.es, self.secrets = es, secrets

    async def read_elasticsearch(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.es

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        return (await self.read_secret_with_labels(namespace, name))[0]

    async def read_secret_with_labels(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        data, labels = self.secrets[namespace, name]
        return SecretData(namespace, name, "1", {k: v.encode() for k, v in data.items()}), labels


OPTED_IN = {"inference.es-operator.dev/allow-reference": "true"}


@pytest.mark.parametrize("disabled", [False, True])
def test_credentials_of_the_users_own_replace_the_elastic_user(disabled: bool) -> None:
    """`credentialsSecretName` names a Secret of the user's (opted in): ECK's elastic user is not read, and a
    disabled elastic user is no obstacle."""
    kube = _Kube(
        es_object(auth={"disableElasticUser": disabled}),
        {
            ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
            ("search", "inference-writer"): ({"username": "inference", "password": "s3cret"}, OPTED_IN),
        },
    )
    ref = ElasticsearchRef(name="quickstart", credentials_secret_name="inference-writer")
    connection = asyncio.run(resolve_connection(kube, OperatorConfig(default_connection=None), "search", ref))  # type: ignore[arg-type]
    assert (connection.username, connection.password, connection.ca_pem) == ("inference", "s3cret", "PEM")


def test_credentials_of_the_users_own_must_opt_in() -> None:
    kube = _Kube(
        es_object(),
        {
            ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
            ("search", "inference-writer"): ({"api-key": "abc"}, {}),
        },
    )
    ref = ElasticsearchRef(name="quickstart", credentials_secret_name="inference-writer")
    with pytest.raises(ReferenceNotAllowed, match="kubectl label secret -n search inference-writer"):
        asyncio.run(resolve_connection(kube, OperatorConfig(default_connection=None), "search", ref))  # type: ignore[arg-type]
