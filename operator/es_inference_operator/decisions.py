"""The operator's decisions as plain functions: what changed, what to call, may this delete go ahead.

No I/O here: the handlers gather the facts (the spec, what Elasticsearch answered) and act on the result.
"""

from __future__ import annotations

import enum
import hashlib
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .endpoint_diff import EndpointDiff, diff_endpoint
from .ownership import Ownership, not_ours
from .spec import DesiredEndpoint


@dataclass(frozen=True)
class Capabilities:
    """What the connected Elasticsearch is (its cluster) and what its version can do (reference §0)."""

    version: tuple[int, int, int]
    cluster: str = ""  # cluster_uuid; "" while the server reports none (not formed yet): see cluster_identity
    url_origin: str = ""  # scheme://host:port of the connection (for 0.1.0's records, see Ownership.recorded_on)
    # GET /'s cluster_name: for people (the startup check's line), never for decisions
    cluster_name: str = field(default="", compare=False)

    @property
    def cluster_known(self) -> bool:
        return bool(self.cluster)

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


def cluster_identity(cluster_uuid: object) -> str:
    """Which cluster a connection reaches: what the server says it is (`cluster_uuid`), so that two URLs of one
    cluster count as one. "" (unknown) while a node has not joined a formed cluster and says `_na_`: its URL says
    nothing about which cluster it will join, so nothing that depends on the cluster can be decided then."""
    if isinstance(cluster_uuid, str) and cluster_uuid and cluster_uuid != UNKNOWN_CLUSTER_UUID:
        return cluster_uuid
    return ""


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


class Step(enum.Enum):
    CREATE = "create"
    ADOPT = "adopt"  # not made by this resource, and its owner consents (the adopt annotation): take it over
    UPDATE = "update"
    IN_LINE = "in-line"
    ALREADY_EXISTS = "already-exists"  # not made by this resource, no consent to adopt it: touch nothing
    MISMATCH = "mismatch"  # this resource's, but replaced behind its back: touch nothing
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
    adopt: bool = False,
) -> ReconcilePlan:
    """What to call to bring Elasticsearch in line with the spec.

    `ownership`: what this resource recorded of the endpoint on this cluster under this id (None: it never
    created nor adopted it here). `secrets_changed`: a referenced Secret is not at the version whose values
    were last sent. `adopt`: the resource's owner consents to take over an endpoint it did not create.
    """
    if observed is None:
        return ReconcilePlan(Step.CREATE)

    diff = diff_endpoint(desired, observed)
    if ownership is not None and ownership.pending and not_ours(ownership, observed):
        ownership = None  # not what the pending create sent: made by somebody else meanwhile
    if ownership is None or not_ours(ownership, observed):
        # Not made by this resource (or replaced behind its back): never written to nor deleted, unless its
        # owner asks to adopt it and it is of the same task type and service.
        if adopt and "taskType" not in diff.fixed and "service" not in diff.fixed:
            return ReconcilePlan(Step.ADOPT, diff=diff)
        return ReconcilePlan(Step.ALREADY_EXISTS if ownership is None else Step.MISMATCH, diff=diff)
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
    capabilities: Capabilities,
    observed: Mapping[str, Any] | None,
    claimed_by_other: bool,
    forced: bool,
) -> DeletionPlan:
    """May this delete go ahead, and how? The finalizer goes only when the endpoint is gone, must be kept, or
    provably is not this resource's to delete. The caller knows the cluster (never `_na_`)."""
    if not ownership.recorded_on(capabilities.cluster, capabilities.url_origin):
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

    def as_status(self) -> dict[str, Any]:
        """`status.references`: at most REFERENCES_KEPT names per kind, and how many there are in all (a
        semantic_text data stream has hundreds of backing indexes; a status is one etcd object)."""
        return {
            "pipelines": list(self.pipelines[:REFERENCES_KEPT]),
            "indexes": list(self.indexes[:REFERENCES_KEPT]),
            "pipelineCount": len(self.pipelines),
            "indexCount": len(self.indexes),
        }


REFERENCES_KEPT = 20  # names of each kind kept in status.references


def references_from_dry_run(body: Mapping[str, Any]) -> References:
    """The dry-run answer, sorted (Elasticsearch builds the lists from hash sets, in no set order)."""
    return References(
        pipelines=tuple(sorted(str(p) for p in body.get("pipelines") or ())),
        indexes=tuple(sorted(str(i) for i in body.get("indexes") or ())),
    )


# Elasticsearch 8.16+'s 409 on a delete (reference §1.4): each list as a Java set, `[a, b]`, followed by the words
# that end its sentence (a name cannot end a list early unless it holds those words too).
_CONFLICT_LISTS = (
    re.compile(r"is referenced by pipelines: \[(.*?)\]\. Ensure that no pipelines", re.DOTALL),
    re.compile(r"is being used in the mapping for indexes: \[(.*?)\]\. Ensure that no index mappings", re.DOTALL),
)


def references_from_conflict(reason: str) -> References | None:
    """The pipelines and indexes a delete's 409 names, sorted (None: it names none, as 8.15's does). Read from
    the words because the 409 carries no list of its own."""
    found = [match.group(1) if (match := pattern.search(reason)) else None for pattern in _CONFLICT_LISTS]
    if not any(part is not None for part in found):
        return None
    pipelines, indexes = (tuple(sorted(n for n in (part or "").split(", ") if n)) for part in found)
    return References(pipelines=pipelines, indexes=indexes)


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


def poll_delay(key: str, period: float, now: float) -> float:
    """How long until `key`'s next drift check: at the key's own moment of the period (by its hash), between half
    a period and one and a half from `now`, so that checks stay spread evenly over the period, whenever and in
    whatever order they ran (a restart checks everything at once)."""
    phase = spread_offset(key, period)
    return period / 2 + (phase - now - period / 2) % period


# --- What the status already says -----------------------------------------------------------------------------


def ready_at(status: Mapping[str, Any], generation: int | None) -> bool:
    """Does the status say the endpoint matches the spec of `generation` (Ready=True, decided for it)?"""
    ready = _condition(status, "Ready")
    return bool(ready and ready.get("status") == "True" and ready.get("observedGeneration") == generation)


def create_refused(status: Mapping[str, Any], generation: int | None, secret_versions: Mapping[str, str]) -> bool:
    """Did Elasticsearch refuse the create of this very request (this generation, these Secret versions)? Then it
    is not sent again until one of them changes: each PUT of a third-party service makes Elasticsearch call it."""
    stalled = _condition(status, "Stalled")
    return bool(
        stalled
        and stalled.get("status") == "True"
        and stalled.get("reason") == "ElasticsearchRejected"
        and stalled.get("observedGeneration") == generation
        and not status.get("ownership")
        and dict(status.get("secretVersions") or {}) == dict(secret_versions)
    )


def _condition(status: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == type_), None)
