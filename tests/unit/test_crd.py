"""The CRD documents itself: `kubectl explain` has words for every field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CRD = Path(__file__).resolve().parents[2] / "crds" / "inference.es-operator.dev_inferenceendpoints.yaml"


def undocumented(schema: dict[str, Any], path: str = "") -> list[str]:
    missing = [] if "description" in schema else [path or "."]
    for name, child in (schema.get("properties") or {}).items():
        if path == "" and name == "metadata":
            continue  # the API server allows no schema of its own for metadata; explain shows ObjectMeta's
        missing += undocumented(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        missing += undocumented(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        missing += undocumented(schema["additionalProperties"], f"{path}{{}}")
    return missing


def test_every_field_has_a_description() -> None:
    crd = yaml.safe_load(CRD.read_text())
    (version,) = crd["spec"]["versions"]
    assert undocumented(version["schema"]["openAPIV3Schema"]) == []
