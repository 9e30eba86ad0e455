"""Every setting of README's Configuration table is a value of the chart: setting the value the table names
changes the variable in the rendered Deployment (tests/docs/test_settings.py checks that the table lists every
variable the operator reads)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.deploy.support import find
from tests.docs.settings import Row, configuration_table

from .support import CHART, Helm

DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
# Values the schema takes from a fixed list: another allowed one.
ENUM_PROBES = {"operator.defaultDeletionPolicy": "Orphan", "operator.logFormat": "full"}
SETTINGS = [
    (row, variable, path)
    for row in configuration_table()
    for variable, path in zip(row.variables, row.chart_values, strict=True)
]


def default(path: str) -> Any:
    value: Any = DEFAULTS
    for key in path.split("."):
        value = value[key]
    return value


def probe(path: str) -> Any:
    """A value other than the default, of the same type."""
    if path in ENUM_PROBES:
        return ENUM_PROBES[path]
    value = default(path)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return 4242
    if isinstance(value, list):
        return ["probe-a", "probe-b"]
    return (
        "probe-" + path.rsplit(".", 1)[-1].lower()
        if path != "operator.eckUrlTemplate"
        else "https://{service}.test:9200"
    )


def container(helm: Helm, path: str, value: Any) -> dict[str, Any]:
    docs = helm.template(f"--set-json={path}={json.dumps(value)}")
    (operator,) = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def env_of(operator: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in operator.get("env") or []}


@pytest.mark.parametrize(("row", "variable", "path"), SETTINGS, ids=[v for _, v, _ in SETTINGS])
def test_the_chart_value_sets_the_variable(helm: Helm, row: Row, variable: str, path: str) -> None:
    value = probe(path)
    operator = container(helm, path, value)
    env = env_of(operator)
    if path == "elasticsearch.secretName":
        # The connection Secret's keys, as the table says (url; api-key; username, password).
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == value, env.get(variable)
        assert f"`{env[variable]['valueFrom']['secretKeyRef']['key']}`" in row.chart
    elif path == "elasticsearch.caFromSecret":
        assert env[variable]["value"] == "/etc/elasticsearch/ca/ca.crt"
        assert variable not in env_of(container(helm, path, False))
    elif variable == "OPERATOR_LOG_FORMAT":
        assert f"--log-format={value}" in operator["args"]  # the flag whose default the variable is
    elif variable == "OPERATOR_LIVENESS":
        assert env[variable]["value"] == f"http://0.0.0.0:{value}/healthz"
        assert {"name": "healthz", "containerPort": value, "protocol": "TCP"} in operator["ports"]
    elif isinstance(value, list):
        assert env[variable]["value"] == ",".join(value), env.get(variable)  # the list, comma-separated
    else:
        assert env[variable]["value"] == (json.dumps(value) if isinstance(value, bool) else str(value)), env.get(
            variable
        )


def test_the_metrics_switch_turns_the_port_off(helm: Helm) -> None:
    assert env_of(container(helm, "metrics.enabled", False))["OPERATOR_METRICS_PORT"]["value"] == "0"


def test_the_table_covers_every_chart_value_that_is_a_variable() -> None:
    """The control: the parametrization above is not empty and names real values."""
    assert len(SETTINGS) >= 20
    for _, _, path in SETTINGS:
        default(path)  # a KeyError here is a chart value the table names but values.yaml lacks


def test_the_default_elasticsearch_serves_every_namespace_unless_listed(helm: Helm) -> None:
    """["*"] by default (every namespace, as before the setting); a list the operator would refuse at start (empty,
    a blank-separated string, a glob) is refused by the schema."""
    env = env_of(container(helm, "elasticsearch.requestTimeoutSeconds", 10))
    assert env["OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES"]["value"] == "*"
    assert (
        env_of(container(helm, "elasticsearch.allowedNamespaces", ["team-a", "team-a", "team-b"]))[
            "OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES"
        ]["value"]
        == "team-a,team-b"
    )
    for wrong in ([], ["team-a team-b"], ["team-*"], "team-a"):
        value = f"--set-json=elasticsearch.allowedNamespaces={json.dumps(wrong)}"
        refused = helm.run("template", "es-inference-operator", str(CHART), value, check=False)
        assert refused.returncode != 0 and "allowedNamespaces" in refused.stderr, (wrong, refused.stderr)
