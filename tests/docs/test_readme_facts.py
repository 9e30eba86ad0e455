"""Facts README states that the code decides: the Event reasons its RBAC table names, the columns its
`kubectl get iep` samples show, and the RBAC table itself against the manifests' rules."""

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


VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}


def _rbac_table() -> dict[str, set[str]]:
    """README's RBAC table: `resource.group` (core resources without a group) -> the verbs it lists."""
    section = README.split("**RBAC.**", 1)[1].split("\n\n", 2)[1]
    table: dict[str, set[str]] = {}
    for row in section.splitlines()[2:]:
        resource, verbs = (cell.strip() for cell in row.strip("|").split("|")[:2])
        name = re.match(r"`([^`]+)`", resource)
        assert name, row
        table[name.group(1)] = {verb for verb in re.findall(r"`([a-z]+)`", verbs) if verb in VERBS}
    return table


def _rbac_manifests() -> dict[str, set[str]]:
    rules: dict[str, set[str]] = {}
    for doc in yaml.safe_load_all((REPO_ROOT / "manifests" / "base" / "rbac.yaml").read_text()):
        if doc and doc["kind"] in ("ClusterRole", "Role"):
            for rule in doc["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        key = f"{resource}.{group}" if group and "/" not in resource else resource
                        rules[key] = rules.get(key, set()) | set(rule["verbs"])
    return rules


def test_the_rbac_table_is_the_manifests_rbac() -> None:
    assert _rbac_table() == _rbac_manifests()
