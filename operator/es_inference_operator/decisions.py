"""The operator's decisions as plain functions: what changed, what to call, may this delete go ahead.

No I/O here: the handlers gather the facts (the spec, what Elasticsearch answered) and act on the result.
"""

from __future__ import annotations

import enum
import hashlib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .spec import DesiredEndpoint

# service_settings keys that Elasticsearch's update API changes in place for its in-cluster services
# (reference §3.4); any other non-secret service setting needs a new endpoint.
UPDATABLE_SERVICE_SETTINGS = frozenset({"num_allocations", "adaptive_allocations"})


@dataclass(frozen=True)
class Capabilities:
    """What the connected Elasticsearch is (its cluster) and what its version can do (reference §0)."""

    version: tuple[int, int, int]
    cluster: str = ""  # cluster_uuid, or "url:..." (see cluster_identity)
    # GET /'s cluster_name: for people (the startup check's line), never for decisions
    cluster_name: str = field(default="", compare=False)

    @property
    def has_update_api(self) -> bool:
        return self.version >= (8, 17, 0)

    @property
    def updates_chunking_settings(self) -> bool:
        # PR #149723 (2026, the 9.5 era) lets the update API replace chunking_settings.
        return self.version >= (9, 5, 0)

    @property
    def reports_indexes(self) -> bool:
        return self.version >= (8, 16, 0)


UNKNOWN_CLUSTER_UUID = "_na_"  # what GET / says before the cluster UUID is committed (reference §10.3)


def cluster_identity(cluster_uuid: object, url: str) -> str:
    """Which cluster a connection reaches: what the server says it is (`cluster_uuid`), so that two URLs of one
    cluster count as one. The URL (without path or credentials) only when the server says nothing yet."""
    if isinstance(cluster_uuid, str) and cluster_uuid and cluster_uuid != UNKNOWN_CLUSTER_UUID:
        return cluster_uuid
    return f"url:{url_origin(url)}"


def url_origin(url: str) -> str:
    """scheme://host:port, lower-cased, with the default port made explicit and no user info."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    port = parts.port or (443 if scheme == "https" else 80)  # as elastic-transport defaults them
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def parse_version(number: str) -> tuple[int, int, int]:
    parts = [int("".join(ch for ch in part if ch.isdigit()) or 0) for part in number.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


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


def _differs(wanted: Any, seen: Any) -> bool:
    """Does the server's value differ from the wanted one? Server-added keys do not count as a difference:
    Elasticsearch adds provider defaults (rate_limit, dimensions, similarity...) to what it echoes."""
    if isinstance(wanted, Mapping) and isinstance(seen, Mapping):
        return any(_differs(value, seen.get(key)) for key, value in wanted.items())
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
        if key in desired.secret_refs or not _differs(value, seen_service.get(key)):
            continue
        if key in UPDATABLE_SERVICE_SETTINGS:
            updatable.append(f"serviceSettings.{key}")
            update_body.setdefault("service_settings", {})[key] = value
        else:
            fixed.append(f"serviceSettings.{key}")

    if desired.task_settings and _differs(desired.task_settings, observed.get("task_settings") or {}):
        updatable.append("taskSettings")
        update_body["task_settings"] = dict(desired.task_settings)

    # Without chunkingSettings in the spec, the server's default is fine; with them, they must match what
    # Elasticsearch echoes for them (defaults filled in). The update API replaces them wholesale.
    if desired.chunking_settings and _differs(
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


class Step(enum.Enum):
    CREATE = "create"
    ADOPT = "adopt"
    UPDATE = "update"
    IN_LINE = "in-line"
    MISMATCH = "mismatch"  # exists with another configuration and is not ours: touch nothing
    NEEDS_RECREATE = "needs-recreate"  # ours, but only a new endpoint could bring it in line
    NO_UPDATE_API = "no-update-api"  # ours, updatable, but this Elasticsearch has no update API


@dataclass(frozen=True)
class ReconcilePlan:
    step: Step
    diff: EndpointDiff = field(default_factory=EndpointDiff)
    update_body: Mapping[str, Any] = field(default_factory=dict)
    send_secrets: bool = False


def plan_reconcile(
    desired: DesiredEndpoint,
    observed: Mapping[str, Any] | None,
    *,
    ownership: Ownership | None,
    secrets_changed: bool,
    capabilities: Capabilities,
) -> ReconcilePlan:
    """What to call to bring Elasticsearch in line with the spec.

    `ownership`: what this resource recorded of the endpoint on this cluster under this id (None: it never
    created nor adopted it here). `secrets_changed`: a referenced Secret is not at the version whose values
    were last sent.
    """
    if observed is None:
        return ReconcilePlan(Step.CREATE)

    diff = diff_endpoint(desired, observed)
    if ownership is not None and not_ours(ownership, observed):
        # Replaced behind the operator's back: somebody else's now, never overwritten.
        return ReconcilePlan(Step.MISMATCH, diff=diff)
    if ownership is not None and ownership.pending and diff.fixed:
        # Not what the pending create asked for: somebody else's, made while it was pending.
        return ReconcilePlan(Step.MISMATCH, diff=diff)
    if ownership is None:
        # Adopt only what is identical to the spec; never overwrite somebody else's endpoint.
        return ReconcilePlan(Step.ADOPT if diff.in_line else Step.MISMATCH, diff=diff)
    if diff.fixed:
        return ReconcilePlan(Step.NEEDS_RECREATE, diff=diff)
    if diff.in_line and not secrets_changed:
        return ReconcilePlan(Step.IN_LINE, diff=diff)

    if not capabilities.has_update_api or (
        "chunking_settings" in diff.update_body and not capabilities.updates_chunking_settings
    ):
        return ReconcilePlan(Step.NO_UPDATE_API, diff=diff)
    body = dict(diff.update_body)
    if secrets_changed or "service_settings" in body:
        # An update that touches service_settings must re-send the secrets (ES issue #139651).
        body["service_settings"] = dict(body.get("service_settings") or {})
    return ReconcilePlan(Step.UPDATE, diff=diff, update_body=body, send_secrets="service_settings" in body)


# --- Ownership --------------------------------------------------------------------------------------------

CREATE_PENDING, CREATED, ADOPTED = "CreatePending", "Created", "Adopted"


@dataclass(frozen=True)
class Ownership:
    """Where this resource owns its endpoint: `status.ownership`, the operator's memory of what it did.

    Written as CreatePending before the PUT and as Created (or Adopted) once the endpoint is known to be ours,
    the way Crossplane records external-create-pending/-succeeded: a restarted operator knows what it did.
    `service_settings` holds the settings only a new endpoint can change, as Elasticsearch echoed them, so
    that an endpoint replaced behind the operator's back is recognised as somebody else's.
    """

    cluster: str  # cluster_uuid from GET /, or "url:<scheme://host:port>" when the server tells none
    inference_id: str
    task_type: str
    service: str
    state: str = CREATED
    service_settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> Ownership | None:
        record = status.get("ownership")
        if not isinstance(record, Mapping) or not record.get("clusterUUID"):
            return None
        return cls(
            cluster=str(record["clusterUUID"]),
            inference_id=str(record.get("inferenceId", "")),
            task_type=str(record.get("taskType", "")),
            service=str(record.get("service", "")),
            state=str(record.get("state", CREATED)),
            service_settings=dict(record.get("serviceSettings") or {}),
        )

    def as_status(self) -> dict[str, Any]:
        return {
            "clusterUUID": self.cluster,
            "inferenceId": self.inference_id,
            "taskType": self.task_type,
            "service": self.service,
            "state": self.state,
            "serviceSettings": dict(self.service_settings),
        }

    @classmethod
    def of(
        cls, desired: DesiredEndpoint, cluster: str, state: str, echoed: Mapping[str, Any] | None = None
    ) -> Ownership:
        """What `desired` owns on `cluster`, with the settings Elasticsearch echoed (`echoed`: the endpoint)."""
        return cls(
            cluster=cluster,
            inference_id=desired.inference_id,
            task_type=desired.task_type,
            service=desired.service,
            state=state,
            service_settings=fixed_service_settings(echoed, desired) if echoed is not None else {},
        )

    @property
    def pending(self) -> bool:
        return self.state == CREATE_PENDING


def fixed_service_settings(observed: Mapping[str, Any], desired: DesiredEndpoint) -> dict[str, Any]:
    """The echoed service_settings that only a new endpoint can change, of those the spec sets (a default that
    Elasticsearch adds may change with its version; secrets are never echoed)."""
    settings = observed.get("service_settings") or {}
    wanted = set(desired.service_settings) - UPDATABLE_SERVICE_SETTINGS - set(desired.secret_refs)
    return {k: v for k, v in settings.items() if k in wanted}


def not_ours(ownership: Ownership, observed: Mapping[str, Any]) -> str | None:
    """Why the endpoint now under the recorded id is provably not the one this resource created or adopted
    (None: nothing says so). Only what no update can change counts: task type, service, fixed settings."""
    if observed.get("task_type") != ownership.task_type:
        return f"its task type is now {observed.get('task_type')}, not {ownership.task_type}"
    if observed.get("service") != ownership.service:
        return f"its service is now {observed.get('service')}, not {ownership.service}"
    # Only the settings recorded (those the spec set, as echoed): a default Elasticsearch adds may change.
    seen = observed.get("service_settings") or {}
    changed = sorted(k for k, v in ownership.service_settings.items() if k in seen and _differs(v, seen[k]))
    if changed and not ownership.pending:
        return f"its service settings {', '.join(changed)} differ from those it was created with"
    return None


def cluster_changed(ownership: Ownership | None, cluster: str, inference_id: str) -> bool:
    """The resource owns an endpoint elsewhere (another cluster, or another id): it is a newcomer here."""
    return ownership is not None and (ownership.cluster != cluster or ownership.inference_id != inference_id)


# --- Deletion ---------------------------------------------------------------------------------------------


class DeletionStep(enum.Enum):
    RELEASE = "release"  # remove the finalizer; nothing to delete in Elasticsearch
    RELEASE_FOREIGN = "release-foreign"  # remove the finalizer, warn: the id holds somebody else's endpoint
    FORCE_DELETE = "force-delete"  # DELETE ?force=true
    CHECK_REFERENCES = "check-references"  # DELETE ?dry_run=true first


@dataclass(frozen=True)
class DeletionPlan:
    step: DeletionStep
    reason: str


def release_without_elasticsearch(*, policy: str, ownership: Ownership | None) -> str | None:
    """Why the finalizer may go without asking Elasticsearch anything (None: it must be asked)."""
    if policy == "Orphan":
        return "deletionPolicy is Orphan: the endpoint stays"
    if ownership is None:
        return "the operator never created or adopted an endpoint for this resource"
    return None


def plan_deletion(
    *,
    ownership: Ownership,
    cluster: str,
    observed: Mapping[str, Any] | None,
    claimed_by_other: bool,
    forced: bool,
) -> DeletionPlan:
    """May this delete go ahead, and how? The finalizer goes only when the endpoint is gone, must be kept, or
    provably is not this resource's to delete."""
    if ownership.cluster != cluster:
        return DeletionPlan(
            DeletionStep.RELEASE_FOREIGN,
            f"the endpoint this resource created is on another cluster ({ownership.cluster}) and stays there",
        )
    if claimed_by_other:
        return DeletionPlan(DeletionStep.RELEASE, "another resource manages this inference id")
    if observed is None:
        return DeletionPlan(DeletionStep.RELEASE, "the endpoint was already gone")
    foreign = not_ours(ownership, observed)
    if foreign:
        return DeletionPlan(
            DeletionStep.RELEASE_FOREIGN, f"the endpoint under this id is not the one it created: {foreign}"
        )
    if forced:
        return DeletionPlan(DeletionStep.FORCE_DELETE, "the force annotation is set")
    return DeletionPlan(DeletionStep.CHECK_REFERENCES, "deleting once nothing references the endpoint")


@dataclass(frozen=True)
class References:
    pipelines: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pipelines or self.indexes)

    def as_status(self) -> dict[str, list[str]]:
        return {"pipelines": list(self.pipelines), "indexes": list(self.indexes)}


def references_from_dry_run(body: Mapping[str, Any]) -> References:
    """The dry-run answer, sorted (Elasticsearch builds the lists from hash sets, in no set order)."""
    return References(
        pipelines=tuple(sorted(str(p) for p in body.get("pipelines") or ())),
        indexes=tuple(sorted(str(i) for i in body.get("indexes") or ())),
    )


def blocked_message(inference_id: str, refs: References, resource: str) -> str:
    """Say what references the endpoint and how to force the deletion."""
    parts = []
    if refs.pipelines:
        parts.append(f"ingest pipelines [{', '.join(refs.pipelines)}]")
    if refs.indexes:
        parts.append(f"semantic_text indexes [{', '.join(refs.indexes)}]")
    return (
        f"inference endpoint {inference_id} is referenced by {' and '.join(parts)}; the deletion waits until "
        f"they stop using it. To delete it anyway (they will point at a missing endpoint): "
        f"kubectl annotate {resource} inference.es-operator.dev/force=true"
    )


# --- Conflicts --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One resource's claim on an inference id."""

    created: str  # RFC 3339 creationTimestamp (whole seconds): sorts chronologically as a string
    uid: str
    namespace: str
    name: str
    managed: bool = False  # it created or adopted the endpoint


def claim_winner(claims: Sequence[Claim]) -> Claim:
    """Of several resources claiming one inference id on one Elasticsearch, the one that already manages the
    endpoint wins; otherwise the oldest, then the smallest uid (timestamps have whole seconds, so two resources
    applied together tie). Every claimant reaches the same verdict on its own."""
    return min(claims, key=lambda claim: (not claim.managed, claim.created, claim.uid))


# --- Retries ----------------------------------------------------------------------------------------------


def spread_offset(key: str, period: float) -> float:
    """A stable share of `period` for `key` (a uid): spreads periodic work evenly over the period."""
    fraction = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return period * fraction


def retry_delay(
    attempt: int, *, base: float, cap: float, retry_after: float | None = None, jitter: float = 1.0
) -> float:
    """Exponential backoff with jitter, never shorter than the server's Retry-After.

    `jitter` is a random number in [0, 1): the delay is spread over its upper half, so that resources that
    failed together (an Elasticsearch outage) do not all come back in the same second.
    """
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    delay = ceiling * (0.5 + jitter / 2)
    return float(max(delay, retry_after or 0.0))
