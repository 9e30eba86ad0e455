"""Table tests of what the operator derives from an ECK Elasticsearch: the Service, the scheme, the Secrets, and
when it must wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from es_inference_operator.config import DEFAULT_ECK_URL_TEMPLATE, OperatorConfig
from es_inference_operator.connections import ElasticsearchNotReady, eck_elasticsearch, resolve_connection
from es_inference_operator.elasticsearch_connection import Connection
from es_inference_operator.errors import ConfigurationError, KindNotInstalled, NotFound
from es_inference_operator.kube import SecretData, ServiceData
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
    """Just enough of KubeReader: one ECK Elasticsearch, its Secrets and Services, and Secrets of the resource's
    namespace. `reads` records what was read."""

    def __init__(
        self,
        es: dict[str, Any],
        secrets: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]],
        services: dict[tuple[str, str], ServiceData] | None = None,
    ):
        self.es, self.secrets, self.services = es, secrets, services or {}
        self.reads: list[str] = []

    async def read_service(self, namespace: str, name: str) -> ServiceData:
        self.reads.append(f"service {namespace}/{name}")
        if (namespace, name) not in self.services:
            raise NotFound(f"Service {namespace}/{name} not found")
        return self.services[namespace, name]

    async def read_elasticsearch(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.es

    async def read_secret(self, namespace: str, name: str) -> SecretData:
        return (await self.read_secret_with_labels(namespace, name))[0]

    async def read_secret_with_labels(self, namespace: str, name: str) -> tuple[SecretData, dict[str, str]]:
        self.reads.append(f"secret {namespace}/{name}")
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


# --------------------------------------------------------------------------------------------------------
# One kind of credentials; messages that name what a Secret has and what is missing


def _resolve(kube: object, ref: ElasticsearchRef, namespace: str = "search") -> Connection:
    return asyncio.run(resolve_connection(kube, OperatorConfig(default_connection=None), namespace, ref))  # type: ignore[arg-type]


def test_a_connection_secret_with_both_kinds_of_credentials_is_refused() -> None:
    data = {"url": "https://es:9200", "api-key": "k", "username": "inference", "password": "p"}
    kube = _Kube(es_object(), {("team-a", "search"): (data, OPTED_IN)})
    with pytest.raises(ConfigurationError) as caught:
        _resolve(kube, ElasticsearchRef(secret_name="search"), namespace="team-a")
    assert str(caught.value) == (
        "Secret team-a/search has both api-key and username/password: give one kind of credentials. Remove api-key "
        "to log in as 'inference' with the password, or remove username and password to use the API key"
    )
    assert "'k'" not in str(caught.value) and "'p'" not in str(caught.value)


def test_credentials_of_the_users_own_with_both_kinds_are_refused() -> None:
    kube = _Kube(
        es_object(),
        {
            ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
            ("search", "inference-writer"): ({"api-key": "k", "username": "u", "password": "p"}, OPTED_IN),
        },
    )
    with pytest.raises(ConfigurationError, match=r"^Secret search/inference-writer has both api-key and username"):
        _resolve(kube, ElasticsearchRef(name="quickstart", credentials_secret_name="inference-writer"))


def test_the_operators_environment_with_both_kinds_is_refused() -> None:
    env = {"ELASTICSEARCH_URL": "https://es:9200", "ELASTICSEARCH_API_KEY": "k", "ELASTICSEARCH_USERNAME": "elastic"}
    with pytest.raises(ConfigurationError) as caught:
        OperatorConfig.from_env(env)
    message = str(caught.value)
    assert "has both ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD" in message
    assert "Remove ELASTICSEARCH_API_KEY to log in as 'elastic'" in message
    assert "remove ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD to use the API key" in message


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"uri": "https://es:9200", "api-key": "k"}, "Secret team-a/search has no key 'url' (its keys: api-key, uri)"),
        ({}, "Secret team-a/search has no key 'url' (it has no keys)"),
    ],
)
def test_a_missing_key_lists_the_keys_the_secret_has(data: dict[str, str], says: str) -> None:
    kube = _Kube(es_object(), {("team-a", "search"): (data, OPTED_IN)})
    with pytest.raises(ConfigurationError) as caught:
        _resolve(kube, ElasticsearchRef(secret_name="search"), namespace="team-a")
    assert str(caught.value) == says  # names only: the value "k" is never shown


def test_the_credentials_secret_without_credentials_lists_its_keys() -> None:
    kube = _Kube(
        es_object(),
        {
            ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
            ("search", "inference-writer"): ({"apikey": "k"}, OPTED_IN),
        },
    )
    with pytest.raises(
        ConfigurationError, match=r"has neither 'api-key' nor 'username' and 'password' \(its keys: apikey\)"
    ):
        _resolve(kube, ElasticsearchRef(name="quickstart", credentials_secret_name="inference-writer"))


def test_eck_credentials_name_the_secret_they_came_from() -> None:
    kube = _Kube(
        es_object(),
        {
            ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
            ("search", "quickstart-es-elastic-user"): ({"elastic": "pw"}, {}),
            ("search", "inference-writer"): ({"api-key": "k"}, OPTED_IN),
        },
    )
    elastic = _resolve(kube, ElasticsearchRef(name="quickstart"))
    assert elastic.credentials_description == (
        "the username and password (user 'elastic') from Secret search/quickstart-es-elastic-user"
    )
    own = _resolve(kube, ElasticsearchRef(name="quickstart", credentials_secret_name="inference-writer"))
    assert own.credentials_description == "the API key from Secret search/inference-writer"


class _NoEck(_Kube):
    async def read_elasticsearch(self, namespace: str, name: str) -> dict[str, Any] | None:
        raise KindNotInstalled("the API server does not serve elasticsearches.elasticsearch.k8s.elastic.co/v1")


def test_eck_not_installed_says_so() -> None:
    with pytest.raises(ElasticsearchNotReady) as caught:
        _resolve(_NoEck({}, {}), ElasticsearchRef(name="quickstart"))
    assert str(caught.value).startswith(
        "ECK's Elasticsearch CRD (elasticsearches.elasticsearch.k8s.elastic.co) is not installed in this cluster, "
        "so there is no Elasticsearch search/quickstart"
    )
    assert "does not exist (yet)" not in str(caught.value)


# --------------------------------------------------------------------------------------------------------
# Which namespaces may use the operator's default Elasticsearch (OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES)

DEFAULT = {"ELASTICSEARCH_URL": "https://es.example:9200", "ELASTICSEARCH_API_KEY": "k"}


@pytest.mark.parametrize(
    ("value", "namespaces"),
    [
        (None, {"*"}),  # unset: every namespace, as before the setting
        ("", {"*"}),
        ("*", {"*"}),
        ("team-a", {"team-a"}),
        (" team-a , team-b ,, ", {"team-a", "team-b"}),
    ],
)
def test_the_default_elasticsearch_namespaces_setting(value: str | None, namespaces: set[str]) -> None:
    env = {"OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES": value} if value is not None else {}
    assert OperatorConfig.from_env(env).default_namespaces == namespaces


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (",", "must list namespaces separated by commas, or be *: ','"),
        ("team-a team-b", "('team-a team-b' is not a namespace name)"),  # blanks instead of commas
        ("team-*", "('team-*' is not a namespace name)"),  # no globs but "*" alone
        ("Team-A", "('Team-A' is not a namespace name)"),
    ],
)
def test_a_default_elasticsearch_namespaces_setting_that_is_no_list_stops_the_start(value: str, says: str) -> None:
    with pytest.raises(ValueError, match="OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES") as caught:
        OperatorConfig.from_env({"OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES": value})
    assert says in str(caught.value)


def test_a_namespace_not_listed_is_refused_the_default_elasticsearch_before_anything_is_read() -> None:
    config = OperatorConfig.from_env({**DEFAULT, "OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES": "team-a,team-b"})
    kube = _Kube(es_object(), {})
    assert asyncio.run(resolve_connection(kube, config, "team-a", ElasticsearchRef())) is config.default_connection  # type: ignore[arg-type]
    with pytest.raises(ReferenceNotAllowed) as caught:
        asyncio.run(resolve_connection(kube, config, "team-c", ElasticsearchRef()))  # type: ignore[arg-type]
    assert caught.value.problem.startswith("namespace team-c may not use the operator's default Elasticsearch")
    # Another Elasticsearch of the namespace's own is not the default's business.
    kube.secrets[("team-c", "search")] = ({"url": "https://search:9200", "api-key": "k"}, OPTED_IN)
    assert _resolve(kube, ElasticsearchRef(secret_name="search"), namespace="team-c").url == "https://search:9200"


# --------------------------------------------------------------------------------------------------------
# serviceName: a Service of that Elasticsearch's, by ECK's labels, or nothing is sent

ECK_SECRETS: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]] = {
    ("search", "quickstart-es-http-certs-public"): ({"ca.crt": "PEM"}, {}),
    ("search", "quickstart-es-elastic-user"): ({"elastic": "pw"}, {}),
}
OF_QUICKSTART = {
    "elasticsearch.k8s.elastic.co/cluster-name": "quickstart",
    "common.k8s.elastic.co/type": "elasticsearch",
}


def test_a_service_of_the_elasticsearch_is_used() -> None:
    coordinating = ServiceData("search", "coordinating", "ClusterIP", {**OF_QUICKSTART, "role": "coordinating"})
    kube = _Kube(es_object(), dict(ECK_SECRETS), {("search", "coordinating"): coordinating})
    connection = _resolve(kube, ElasticsearchRef(name="quickstart", service_name="coordinating"))
    assert connection.url == "https://coordinating.search.svc:9200"
    assert kube.reads[0] == "service search/coordinating"  # before any Secret is read


@pytest.mark.parametrize("tls", [{}, {"selfSignedCertificate": {"disabled": True}}], ids=["https", "http"])
def test_a_service_of_something_else_gets_no_credentials_whatever_the_tls(tls: dict[str, Any]) -> None:
    proxy = ServiceData("search", "my-proxy", "ClusterIP", {"app": "my-proxy"})
    kube = _Kube(es_object(http={"tls": tls}), dict(ECK_SECRETS), {("search", "my-proxy"): proxy})
    with pytest.raises(ReferenceNotAllowed) as caught:
        _resolve(kube, ElasticsearchRef(name="quickstart", service_name="my-proxy"))
    assert caught.value.problem.startswith("Service search/my-proxy (elasticsearchRef.serviceName) is not one of")
    assert kube.reads == ["service search/my-proxy"]  # no Secret read: neither the CA nor the elastic user


def test_a_missing_service_is_named() -> None:
    kube = _Kube(es_object(), dict(ECK_SECRETS))
    with pytest.raises(NotFound, match=r"^Service search/coordinating \(elasticsearchRef.serviceName\) not found$"):
        _resolve(kube, ElasticsearchRef(name="quickstart", service_name="coordinating"))


def test_without_service_name_no_service_is_read() -> None:
    """ECK's own <name>-es-http, as before: named, not read."""
    kube = _Kube(es_object(), dict(ECK_SECRETS))
    assert _resolve(kube, ElasticsearchRef(name="quickstart")).url == "https://quickstart-es-http.search.svc:9200"
    assert not [read for read in kube.reads if read.startswith("service")]
