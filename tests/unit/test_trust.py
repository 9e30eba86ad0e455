"""Table tests of the trust rules: which Secrets and which ECK Elasticsearches a resource may make the operator
use (README "Security")."""

from __future__ import annotations

import pytest

from es_inference_operator.trust import allowed_namespaces, elasticsearch_refusal, secret_refusal

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
