"""Table tests of the trust rules: which Secrets, which ECK Elasticsearches and Services, and whether the operator's
default Elasticsearch a resource may make the operator use (README "Security")."""

from __future__ import annotations

import pytest

from es_inference_operator.trust import (
    ReferenceNotAllowed,
    allowed_namespaces,
    default_elasticsearch_refusal,
    elasticsearch_refusal,
    secret_refusal,
    service_refusal,
)

LABEL = "inference.es-operator.dev/allow-reference"
ANNOTATION = "inference.es-operator.dev/allowed-namespaces"


@pytest.mark.parametrize(
    ("labels", "allowed"),
    [
        ({LABEL: "true"}, True),
        (None, False),
        ({}, False),
        ({LABEL: "True"}, False),  # "true" exactly, like the force annotation
        ({LABEL: "yes"}, False),
        ({LABEL: ""}, False),
        ({"allow-reference": "true"}, False),  # another prefix is not ours
        ({"inference.es-operator.dev/allow-reference-x": "true"}, False),
    ],
)
def test_a_secret_is_used_only_when_its_label_opts_in(labels: dict[str, str] | None, allowed: bool) -> None:
    refusal = secret_refusal("team-a", "openai", labels, "serviceSettingsSecretRefs")
    assert (refusal is None) is allowed


def test_a_refused_secret_says_what_to_run() -> None:
    refusal = secret_refusal("team-a", "openai", {}, "serviceSettingsSecretRefs")
    assert refusal is not None
    assert "Secret team-a/openai (serviceSettingsSecretRefs)" in str(refusal)
    assert str(refusal).endswith(f"kubectl label secret -n team-a openai {LABEL}=true")


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (None, set()),
        ("", set()),
        ("team-a", {"team-a"}),
        ("team-a,team-b", {"team-a", "team-b"}),
        (" team-a , team-b ,, ", {"team-a", "team-b"}),
        ("*", {"*"}),
    ],
)
def test_allowed_namespaces(annotation: str | None, expected: set[str]) -> None:
    annotations = {ANNOTATION: annotation} if annotation is not None else {}
    assert allowed_namespaces(annotations) == expected


@pytest.mark.parametrize(
    ("resource_namespace", "es_namespace", "annotation", "allowed"),
    [
        ("team-a", "team-a", None, True),  # the same namespace: by default
        ("team-a", "search", None, False),  # another: only when that side allows it
        ("team-a", "search", "team-b", False),
        ("team-a", "search", "team-a", True),
        ("team-a", "search", "team-b,team-a", True),
        ("team-a", "search", "*", True),
        ("team-a", "search", "team-a-dev", False),  # names, not prefixes
        ("team-a", "search", "team-*", False),  # no globs but "*" alone
    ],
)
def test_an_elasticsearch_in_another_namespace_must_allow_it(
    resource_namespace: str, es_namespace: str, annotation: str | None, allowed: bool
) -> None:
    annotations = {ANNOTATION: annotation} if annotation is not None else None
    refusal = elasticsearch_refusal(resource_namespace, es_namespace, "search", annotations)
    assert (refusal is None) is allowed


def test_a_refused_elasticsearch_says_how_to_allow_it_keeping_the_namespaces_allowed_already() -> None:
    refusal = elasticsearch_refusal("team-a", "search", "shared", {ANNOTATION: "team-b"})
    assert refusal is not None
    assert "Elasticsearch search/shared" in str(refusal) and "namespace team-a" in str(refusal)
    assert str(refusal).endswith(
        f"kubectl annotate elasticsearch -n search shared --overwrite {ANNOTATION}=team-a,team-b"
    )


@pytest.mark.parametrize(
    ("namespace", "allowed_list", "allowed"),
    [
        ("team-a", {"*"}, True),  # the default: every namespace, as before the setting
        ("team-a", {"team-a"}, True),
        ("team-a", {"team-b", "team-a"}, True),
        ("team-a", {"team-b"}, False),
        ("team-a", {"team-a-dev"}, False),  # names, not prefixes
        ("team-a-dev", {"team-a"}, False),
        ("team-a", {"team-b", "*"}, True),
    ],
)
def test_the_default_elasticsearch_serves_the_listed_namespaces(
    namespace: str, allowed_list: set[str], allowed: bool
) -> None:
    assert (default_elasticsearch_refusal(namespace, frozenset(allowed_list)) is None) is allowed


def test_a_namespace_refused_the_default_elasticsearch_is_told_who_can_allow_it() -> None:
    refusal = default_elasticsearch_refusal("team-c", frozenset({"team-a", "team-b"}))
    assert refusal is not None
    assert refusal.problem == (
        "namespace team-c may not use the operator's default Elasticsearch (the resource names no "
        "spec.elasticsearchRef), so nothing is sent to Elasticsearch"
    )
    # Who can allow it, and with which setting; the namespaces allowed already are other tenants' business.
    assert refusal.advice.endswith(
        "or ask the operator's administrator to add team-c to the setting OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES "
        "(with the Helm chart, the value elasticsearch.allowedNamespaces)"
    )
    assert "team-a" not in str(refusal) and "team-b" not in str(refusal)
    assert isinstance(refusal.error(), ReferenceNotAllowed)


ECK_LABELS = {"elasticsearch.k8s.elastic.co/cluster-name": "quickstart", "common.k8s.elastic.co/type": "elasticsearch"}


@pytest.mark.parametrize(
    ("service_type", "selector", "allowed"),
    [
        ("ClusterIP", ECK_LABELS, True),  # ECK's own quickstart-es-http
        # ECK's "Traffic splitting": the coordinating nodes of that Elasticsearch only
        ("ClusterIP", {**ECK_LABELS, "elasticsearch.k8s.elastic.co/node-master": "false"}, True),
        ("LoadBalancer", ECK_LABELS, True),
        ("NodePort", ECK_LABELS, True),
        ("ClusterIP", None, False),  # no selector: its endpoints are whatever someone wrote
        ("ClusterIP", {}, False),
        ("ClusterIP", {"app": "my-proxy"}, False),
        ("ClusterIP", {"elasticsearch.k8s.elastic.co/cluster-name": "quickstart"}, False),  # any type's pods
        ("ClusterIP", {"common.k8s.elastic.co/type": "elasticsearch"}, False),  # any Elasticsearch's pods
        ("ClusterIP", {**ECK_LABELS, "elasticsearch.k8s.elastic.co/cluster-name": "other"}, False),
        ("ClusterIP", {**ECK_LABELS, "common.k8s.elastic.co/type": "kibana"}, False),
        ("ExternalName", ECK_LABELS, False),  # a DNS alias to anywhere, whatever its selector says
    ],
)
def test_a_named_service_must_send_its_traffic_to_that_elasticsearch(
    service_type: str, selector: dict[str, str] | None, allowed: bool
) -> None:
    refusal = service_refusal("search", "quickstart", "custom", service_type, selector)
    assert (refusal is None) is allowed


@pytest.mark.parametrize(
    ("service_type", "why"),
    [
        (
            "ClusterIP",
            "does not select its pods by elasticsearch.k8s.elastic.co/cluster-name=quickstart and "
            "common.k8s.elastic.co/type=elasticsearch",
        ),
        ("ExternalName", "is an ExternalName"),
    ],
)
def test_a_refused_service_says_why_and_what_to_name_instead(service_type: str, why: str) -> None:
    refusal = service_refusal("search", "quickstart", "my-proxy", service_type, {"app": "my-proxy"})
    assert refusal is not None
    assert refusal.problem == (
        f"Service search/my-proxy (elasticsearchRef.serviceName) is not one of Elasticsearch search/quickstart's: "
        f"it {why}, so the operator sends it no credentials and nothing else"
    )
    assert refusal.advice == (
        "Leave serviceName out to use ECK's quickstart-es-http, or name a Service whose spec.selector has "
        "elasticsearch.k8s.elastic.co/cluster-name=quickstart and common.k8s.elastic.co/type=elasticsearch "
        "(ECK's labels on that Elasticsearch's pods)"
    )
