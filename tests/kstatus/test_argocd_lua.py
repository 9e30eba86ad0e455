"""testbed/statuscheck runs a health.lua the way Argo CD's util/lua does: these pin the parts of that setup a
health script can notice (libraries, the timeout, the object's conversion, the validation of what it returns)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .statuscheck import argocd_health

OBJ: dict[str, Any] = {
    "apiVersion": "inference.es-operator.dev/v1alpha1",
    "kind": "InferenceEndpoint",
    "metadata": {"name": "e5", "namespace": "search", "generation": 3},
    "spec": {"taskType": "text_embedding", "serviceSettings": {"num_allocations": 2}, "chunkingSettings": None},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


def test_a_health_status_is_passed_through() -> None:
    verdict = argocd_health(OBJ, 'return {status = "Degraded", message = "refused"}')
    assert (verdict.status, verdict.message, verdict.error) == ("Degraded", "refused", "")


def test_a_status_argo_cd_does_not_know_becomes_unknown() -> None:
    verdict = argocd_health(OBJ, 'return {status = "Fine", message = "x"}')
    assert (verdict.status, verdict.message) == ("Unknown", "Lua returned an invalid health status")


def test_a_script_must_return_a_table() -> None:
    assert argocd_health(OBJ, 'return "Healthy"').error == "expect table output from Lua script, not string"


def test_a_script_is_stopped_after_one_second() -> None:
    started = time.monotonic()
    verdict = argocd_health(OBJ, "while true do end")
    assert "context deadline exceeded" in verdict.error
    assert time.monotonic() - started < 10


def test_the_object_is_converted_as_argo_cd_converts_it() -> None:
    script = """
    local hs = {status = "Healthy"}
    hs.message = obj.metadata.name .. " " .. tostring(obj.metadata.generation + 1) .. " "
      .. tostring(obj.spec.serviceSettings.num_allocations) .. " " .. tostring(obj.spec.chunkingSettings)
      .. " " .. obj.status.conditions[1].type
    return hs
    """
    assert argocd_health(OBJ, script).message == "e5 4 2 nil Ready"


@pytest.mark.parametrize(
    ("expression", "without_open_libs"),
    [
        ("type(table.insert)", "function"),
        ("type(pairs)", "function"),
        ("type(os.time())", "number"),
        ('type(require("os").date)', "function"),
        ("type(os.exit)", "nil"),
        ("type(string)", "nil"),
        ("type(math)", "nil"),
        ("type(io)", "nil"),
    ],
)
def test_the_libraries_of_an_argocd_cm_health_check(expression: str, without_open_libs: str) -> None:
    """Argo CD opens package, base, table and a reduced os (time, date); the rest only with useOpenLibs."""
    verdict = argocd_health(OBJ, f"return {{status = 'Healthy', message = {expression}}}")
    assert verdict.message == without_open_libs


def test_open_libs_adds_the_standard_libraries() -> None:
    verdict = argocd_health(OBJ, "return {status = 'Healthy', message = string.upper('x')}", open_libs=True)
    assert verdict.message == "X"
