"""Bad input is refused at admission by the CRD's schema and CEL rules, with messages a person understands.
No operator runs here: this is the API server alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support import Kube, endpoint_manifest


def refused(kube: Kube, manifest: dict[str, Any]) -> str:
    result = kube.apply(manifest, check=False)
    assert result.returncode != 0, f"accepted: {manifest}"
    return str(result.stderr)


def with_spec(name: str = "e5", **spec: Any) -> dict[str, Any]:
    return endpoint_manifest(name, **spec)


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            with_spec(inferenceId=".elser-2-elasticsearch"),
            "inferenceId must not start with a dot: such ids are reserved",
        ),
        (
            with_spec(inferenceId="My-Endpoint"),
            "inferenceId may contain only lowercase letters, digits, hyphens and underscores",
        ),
        (with_spec(inferenceId="ends-with-"), "must start and end with a letter or digit"),
        (with_spec("has.dot"), "metadata.name 'has.dot' cannot serve as the Elasticsearch inference id"),
        (with_spec(taskType="embeddings"), 'Unsupported value: "embeddings"'),
        (with_spec(deletionPolicy="Retain"), 'Unsupported value: "Retain"'),
        (
            with_spec(serviceSettings={"model_id": "m", "api_key": "sk-123"}),
            "secrets must not be inline in serviceSettings",
        ),
        (
            with_spec(
                serviceSettings={"model_id": "m", "api_key": "x"},
                serviceSettingsSecretRefs={"api_key": {"name": "s", "key": "k"}},
            ),
            "secrets must not be inline",
        ),
        (with_spec(serviceSettingsSecretRefs={"api_key": {"name": "s"}}), "Required value"),
        (with_spec(elasticsearchRef={}), "spec.elasticsearchRef.secretName: Required value"),
    ],
    ids=[
        "dot-id",
        "uppercase",
        "trailing-hyphen",
        "dotted-name",
        "task-type",
        "policy",
        "inline-key",
        "inline-and-ref",
        "ref-without-key",
        "es-ref-empty",
    ],
)
def test_invalid_resources_are_refused(kube: Kube, manifest: dict[str, Any], message: str) -> None:
    assert message in refused(kube, manifest)


def test_a_dotted_name_is_fine_with_an_explicit_id(kube: Kube) -> None:
    kube.apply(with_spec("team.e5", inferenceId="team-e5"))


def test_a_missing_required_field_is_named(kube: Kube) -> None:
    manifest = with_spec()
    del manifest["spec"]["service"]
    assert "spec.service: Required value" in refused(kube, manifest)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("taskType", "sparse_embedding", "taskType is immutable"),
        ("service", "elser", "service is immutable"),
        ("inferenceId", "another-id", "the inference id is immutable"),
    ],
)
def test_identity_fields_are_immutable(kube: Kube, field: str, value: str, message: str) -> None:
    original = with_spec()
    kube.apply(original)
    changed = copy.deepcopy(original)
    changed["spec"][field] = value
    assert message in refused(kube, changed)


def test_setting_the_id_to_the_name_it_already_had_is_no_change(kube: Kube) -> None:
    kube.apply(with_spec("e5"))
    kube.apply(with_spec("e5", inferenceId="e5"))


def test_explain_documents_the_fields(kube: Kube) -> None:
    text = kube.run("explain", "inferenceendpoint.spec").stdout
    for field in ("inferenceId", "taskType", "serviceSettingsSecretRefs", "deletionPolicy", "elasticsearchRef"):
        assert field in text
    assert "reserved" in kube.run("explain", "inferenceendpoint.spec.inferenceId").stdout


def test_short_name_and_categories(kube: Kube) -> None:
    kube.apply(with_spec("e5"))
    assert "e5" in kube.run("get", "iep").stdout
    assert "inferenceendpoint.inference.es-operator.dev/e5" in kube.run("get", "elastic", "-o", "name").stdout
    assert "inferenceendpoint.inference.es-operator.dev/e5" in kube.run("get", "inference", "-o", "name").stdout
