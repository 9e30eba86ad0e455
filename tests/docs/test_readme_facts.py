"""Facts README states that the code decides: the Event reasons its RBAC table names, and the columns its
`kubectl get iep` samples show."""

from __future__ import annotations

import ast
import re

import yaml

from testbed.controlplane import REPO_ROOT
from tests.docs.settings import PACKAGE

README = (REPO_ROOT / "README.md").read_text()
CRD = yaml.safe_load((REPO_ROOT / "crds" / "inference.es-operator.dev_inferenceendpoints.yaml").read_text())


def string_constants() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_the_event_reasons_readme_names_are_the_operators() -> None:
    (row,) = [line for line in README.splitlines() if line.startswith("| `events` (core)")]
    reasons = re.findall(r"`([A-Z][A-Za-z]+)`", row)
    assert reasons, row
    assert set(reasons) - string_constants() == set(), "README names Event reasons the operator never posts"


def sample_header(command: str) -> list[str]:
    sample = README.split(f"$ {command}\n", 1)[1]
    return re.split(r"\s{2,}", sample.splitlines()[0].strip())


def test_the_kubectl_get_samples_have_the_crds_columns() -> None:
    (version,) = CRD["spec"]["versions"]
    columns = version["additionalPrinterColumns"]
    default = ["NAME", *(c["name"].upper() for c in columns if not c.get("priority"))]
    wide = [*default, *(c["name"].upper() for c in columns if c.get("priority"))]
    assert sample_header("kubectl get iep") == default
    assert sample_header("kubectl get iep -o wide") == wide
    assert "REASON" in wide
