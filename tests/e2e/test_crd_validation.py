"""Bad input is refused at admission by the CRD's schema and CEL rules, with messages a person understands.
No operator runs here: this is the API server alone."""

from __future__ import annotations

import copy
import json
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
        (with_spec(elasticsearchRef={}), "elasticsearchRef needs name (an ECK Elasticsearch) or secretName"),
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


# chunkingSettings that no Elasticsearch version from 8.16 accepts (reference §10.1; 8.15 accepts none at all),
# refused with a message that says what is allowed.
CHUNKING_REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (
        "negative-size",
        {"strategy": "word", "max_chunk_size": -5, "overlap": 1},
        "chunkingSettings.max_chunk_size must be a whole number, at least 10 (word, recursive) or 20 (sentence)",
    ),
    (
        "text-size",
        {"strategy": "sentence", "max_chunk_size": "big"},
        "chunkingSettings.max_chunk_size must be a whole number",
    ),
    (
        "fractional-size",
        {"strategy": "sentence", "max_chunk_size": 100.5},
        "spec.chunkingSettings.max_chunk_size in body must be of type integer,string",
    ),
    ("size-beyond-java-int", {"strategy": "sentence", "max_chunk_size": 3_000_000_000}, "must be a whole number"),
    ("sentence-below-20", {"strategy": "sentence", "max_chunk_size": 15}, "or 20 (sentence)"),
    ("word-below-10", {"strategy": "word", "max_chunk_size": 9, "overlap": 1}, "at least 10 (word, recursive)"),
    (
        "unknown-strategy",
        {"strategy": "paragraph", "max_chunk_size": 100},
        'spec.chunkingSettings.strategy: Unsupported value: "paragraph": supported values: "word", "sentence", '
        '"recursive", "none"',
    ),
    (
        "strategy-case",
        {"strategy": "Sentence", "max_chunk_size": 100},
        'Unsupported value: "Sentence": supported values: "word", "sentence"',
    ),
    ("strategy-number", {"strategy": 5}, 'Unsupported value: 5: supported values: "word", "sentence"'),
    ("strategy-missing", {"max_chunk_size": 100}, "chunkingSettings.strategy is required"),
    ("size-missing", {"strategy": "sentence"}, "chunkingSettings.max_chunk_size is required"),
    ("word-overlap-missing", {"strategy": "word", "max_chunk_size": 100}, "chunkingSettings.overlap is required"),
    (
        "word-overlap-above-half",
        {"strategy": "word", "max_chunk_size": 100, "overlap": 51},
        "chunkingSettings.overlap must be a whole number from 1 to max_chunk_size/2",
    ),
    ("word-overlap-zero", {"strategy": "word", "max_chunk_size": 100, "overlap": 0}, "overlap must be a whole"),
    (
        "word-unknown-key",
        {"strategy": "word", "max_chunk_size": 100, "overlap": 10, "sentence_overlap": 1},
        "chunkingSettings with strategy word takes only max_chunk_size and overlap",
    ),
    (
        "sentence-unknown-key",
        {"strategy": "sentence", "max_chunk_size": 100, "overlap": 10},
        "chunkingSettings with strategy sentence takes only max_chunk_size and sentence_overlap",
    ),
    (
        "sentence-overlap-two",
        {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2},
        "chunkingSettings.sentence_overlap must be 0 or 1",
    ),
    (
        "recursive-unknown-key",
        {"strategy": "recursive", "max_chunk_size": 100, "overlap": 10},
        "chunkingSettings with strategy recursive takes only max_chunk_size and either separator_group or separators",
    ),
    (
        "recursive-both",
        {"strategy": "recursive", "max_chunk_size": 100, "separator_group": "markdown", "separators": ["\n"]},
        "takes separator_group or separators, not both",
    ),
    (
        "recursive-bad-group",
        {"strategy": "recursive", "max_chunk_size": 100, "separator_group": "html"},
        "chunkingSettings.separator_group must be plaintext or markdown",
    ),
    (
        "recursive-empty-separators",
        {"strategy": "recursive", "max_chunk_size": 100, "separators": []},
        "chunkingSettings.separators must be a non-empty list of strings",
    ),
    (
        "recursive-non-string-separator",
        {"strategy": "recursive", "max_chunk_size": 100, "separators": ["\n", 5]},
        "separators must be a non-empty list of strings",
    ),
]


@pytest.mark.parametrize(("chunking", "message"), [pytest.param(c, m, id=name) for name, c, m in CHUNKING_REFUSED])
def test_chunking_settings_no_version_accepts_are_refused(kube: Kube, chunking: dict[str, Any], message: str) -> None:
    assert message in refused(kube, with_spec(chunkingSettings=chunking))


# Accepted by at least one supported Elasticsearch version, so never refused at admission.
CHUNKING_ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("empty-is-the-default", {}),
    ("sentence-overlap-defaulted", {"strategy": "sentence", "max_chunk_size": 250}),
    ("sentence-full", {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0}),
    ("word-at-the-bounds", {"strategy": "word", "max_chunk_size": 10, "overlap": 5}),
    ("word-odd-size-half", {"strategy": "word", "max_chunk_size": 101, "overlap": 50}),
    ("above-300-from-9-2", {"strategy": "word", "max_chunk_size": 5000, "overlap": 100}),
    ("largest-java-int", {"strategy": "sentence", "max_chunk_size": 2147483647}),
    ("recursive-default-group", {"strategy": "recursive", "max_chunk_size": 200}),
    ("recursive-group-any-case", {"strategy": "recursive", "max_chunk_size": 200, "separator_group": " Markdown "}),
    (
        "recursive-51-separators-before-9-5",
        {"strategy": "recursive", "max_chunk_size": 200, "separators": [f"s{i}" for i in range(51)]},
    ),
    ("none", {"strategy": "none"}),
    ("none-ignores-other-keys", {"strategy": "none", "max_chunk_size": "big", "whatever": True}),
]


@pytest.mark.parametrize("chunking", [pytest.param(c, id=name) for name, c in CHUNKING_ACCEPTED])
def test_chunking_settings_some_version_accepts_pass(kube: Kube, chunking: dict[str, Any]) -> None:
    kube.apply(with_spec(chunkingSettings=chunking))


def test_chunking_settings_of_the_example_pass(kube: Kube) -> None:
    kube.apply(with_spec(chunkingSettings={"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}))
    assert "max_chunk_size" in kube.run("explain", "inferenceendpoint.spec.chunkingSettings").stdout


def test_chunking_keys_no_version_knows_are_left_to_elasticsearch(kube: Kube) -> None:
    # The CRD keeps unknown keys (strategy none accepts and ignores any): Elasticsearch refuses them for the other
    # strategies in its own words, which the operator reports in Ready.
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 10, "max_chunk_sise": 50}
    kube.apply(with_spec(chunkingSettings=chunking))
    stored = json.loads(kube.run("get", "iep", "e5", "-o", "json").stdout)
    assert stored["spec"]["chunkingSettings"] == chunking
