from __future__ import annotations

import pytest

from es_inference_operator.spec import desired_endpoint, effective_deletion_policy, is_forced


@pytest.mark.parametrize(
    ("annotations", "forced"),
    [
        (None, False),
        ({}, False),
        ({"inference.es-operator.dev/force": "true"}, True),
        ({"force": "true"}, True),
        ({"force": "True"}, False),
        ({"inference.es-operator.dev/force": "yes"}, False),
        ({"inference.es-operator.dev/force": "false", "force": "true"}, True),
        ({"other/force": "true"}, False),
    ],
)
def test_is_forced(annotations: dict[str, str] | None, forced: bool) -> None:
    assert is_forced(annotations) is forced


@pytest.mark.parametrize(
    ("spec_policy", "ns_annotations", "expected"),
    [
        (None, None, "Delete"),
        ("Orphan", None, "Orphan"),
        (None, {"inference.es-operator.dev/deletion-policy": "Orphan"}, "Orphan"),
        ("Delete", {"inference.es-operator.dev/deletion-policy": "Orphan"}, "Delete"),  # the resource wins
        (None, {"inference.es-operator.dev/deletion-policy": "bogus"}, "Delete"),
    ],
)
def test_effective_deletion_policy(
    spec_policy: str | None, ns_annotations: dict[str, str] | None, expected: str
) -> None:
    assert effective_deletion_policy(spec_policy, ns_annotations, "Delete") == expected


def test_desired_endpoint_defaults_the_id_to_the_name_and_fills_secrets_into_the_body() -> None:
    desired = desired_endpoint(
        "my-e5",
        {
            "taskType": "text_embedding",
            "service": "openai",
            "serviceSettings": {"model_id": "m"},
            "serviceSettingsSecretRefs": {"api_key": {"name": "s", "key": "k"}},
            "taskSettings": {"user": "u"},
        },
    )
    assert desired.inference_id == "my-e5"
    assert desired.secret_names == frozenset({"s"})
    assert desired.request_body({"api_key": "sk-1"}) == {
        "service": "openai",
        "service_settings": {"model_id": "m", "api_key": "sk-1"},
        "task_settings": {"user": "u"},
    }
    assert (
        desired_endpoint(
            "n", {"inferenceId": "other", "taskType": "rerank", "service": "cohere", "serviceSettings": {}}
        ).inference_id
        == "other"
    )
