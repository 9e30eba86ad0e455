from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from es_inference_operator.kube import _explained


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, "Secret ns/s not found"),
        (403, "the operator may not read Secret ns/s: its RBAC lacks get secrets"),
        (500, "reading Secret ns/s failed: 500 boom"),
    ],
)
def test_failed_reads_become_status_messages(status: int, message: str) -> None:
    assert str(_explained(ApiException(status=status, reason="boom"), "Secret ns/s", "get secrets")) == message
