"""How an endpoint in Elasticsearch differs from the spec (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .spec import DesiredEndpoint

# service_settings keys that Elasticsearch's update API changes in place for its in-cluster services
# (reference §3.4); any other non-secret service setting needs a new endpoint.
UPDATABLE_SERVICE_SETTINGS = frozenset({"num_allocations", "adaptive_allocations"})


@dataclass(frozen=True)
class EndpointDiff:
    """How the endpoint in Elasticsearch differs from the spec."""

    fixed: tuple[str, ...] = ()  # fields that only a new endpoint can change, e.g. "service"
    updatable: tuple[str, ...] = ()  # fields the update API can bring in line
    update_body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def in_line(self) -> bool:
        return not self.fixed and not self.updatable

    def describe(self) -> str:
        return ", ".join((*self.fixed, *self.updatable))


def differs(wanted: Any, seen: Any) -> bool:
    """Does the server's value differ from the wanted one? Server-added keys do not count as a difference:
    Elasticsearch adds provider defaults (rate_limit, dimensions, similarity...) to what it echoes."""
    if isinstance(wanted, Mapping) and isinstance(seen, Mapping):
        return any(differs(value, seen.get(key)) for key, value in wanted.items())
    return bool(wanted != seen)


def diff_endpoint(desired: DesiredEndpoint, observed: Mapping[str, Any]) -> EndpointDiff:
    """Compare the spec with the endpoint as GET /_inference returns it (secrets are never echoed, so they
    are compared by the Secrets' versions elsewhere)."""
    fixed: list[str] = []
    updatable: list[str] = []
    update_body: dict[str, Any] = {}

    if observed.get("task_type") != desired.task_type:
        fixed.append("taskType")
    if observed.get("service") != desired.service:
        fixed.append("service")

    seen_service = observed.get("service_settings") or {}
    for key, value in desired.service_settings.items():
        if key in desired.secret_refs or not differs(value, seen_service.get(key)):
            continue
        if key in UPDATABLE_SERVICE_SETTINGS:
            updatable.append(f"serviceSettings.{key}")
            update_body.setdefault("service_settings", {})[key] = value
        else:
            fixed.append(f"serviceSettings.{key}")

    if desired.task_settings and differs(desired.task_settings, observed.get("task_settings") or {}):
        updatable.append("taskSettings")
        update_body["task_settings"] = dict(desired.task_settings)

    # Without chunkingSettings in the spec, the server's default is fine; with them, they must match what
    # Elasticsearch echoes for them (defaults filled in). The update API replaces them wholesale.
    if desired.chunking_settings and differs(
        expected_chunking_echo(desired.chunking_settings), observed.get("chunking_settings") or {}
    ):
        updatable.append("chunkingSettings")
        update_body["chunking_settings"] = dict(desired.chunking_settings)

    return EndpointDiff(fixed=tuple(fixed), updatable=tuple(updatable), update_body=update_body)


# What Elasticsearch fills in when a strategy's optional key is left out (reference §10.1).
_CHUNKING_DEFAULTS: Mapping[str, Mapping[str, Any]] = {"sentence": {"sentence_overlap": 1}}


def expected_chunking_echo(wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The part of GET's `chunking_settings` that `wanted` determines (reference §10.1): defaults filled in;
    `none` echoes its strategy only; `recursive` echoes `separators`, never `separator_group` (a group is
    expanded into its separators, which are then not compared: the markdown list is Elasticsearch's own)."""
    strategy = wanted.get("strategy")
    if strategy == "none":
        return {"strategy": "none"}
    expected = {**_CHUNKING_DEFAULTS.get(str(strategy), {}), **wanted}
    if strategy == "recursive":
        expected.pop("separator_group", None)
    return expected
