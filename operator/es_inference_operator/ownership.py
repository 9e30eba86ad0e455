"""What a resource owns in Elasticsearch, as a small state machine kept in `status.ownership` (pure; no I/O).

    none --create asked--> CreatePending --endpoint seen as sent--> Created --moved cluster--> none (leftBehind)
    none --adopted--> Adopted                   (deleted, or replaced behind the operator's back: none)

CreatePending is written before the PUT, with what the PUT sends (task type, service and the settings only a new
endpoint can change), the way Crossplane records `external-create-pending`: an operator that dies before it hears
the answer knows, when it starts again, that an endpoint it then finds with those settings is its own. Created and
Adopted keep the fixed settings as Elasticsearch echoed them, so that an endpoint replaced behind the operator's
back is recognised as somebody else's.

Which cluster: what `GET /` says it is (`cluster_uuid`). While a node reports `_na_` (not formed yet) the cluster
is unknown, and nothing about ownership is decided (see `Capabilities.cluster`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .endpoint_diff import UPDATABLE_SERVICE_SETTINGS, differs
from .spec import DesiredEndpoint

CREATE_PENDING, CREATED, ADOPTED = "CreatePending", "Created", "Adopted"
LEGACY_URL_PREFIX = "url:"  # 0.1.0 recorded "url:<origin>" for a cluster that reported no uuid yet


@dataclass(frozen=True)
class Ownership:
    """`status.ownership`: the endpoint this resource created or adopted, on which cluster."""

    cluster: str  # cluster_uuid from GET /
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
    def intent(cls, desired: DesiredEndpoint, cluster: str) -> Ownership:
        """CreatePending, with the fixed settings the PUT sends (never secrets)."""
        return cls(
            cluster=cluster,
            inference_id=desired.inference_id,
            task_type=desired.task_type,
            service=desired.service,
            state=CREATE_PENDING,
            service_settings=fixed_service_settings(desired.service_settings, desired),
        )

    @classmethod
    def of(cls, desired: DesiredEndpoint, cluster: str, state: str, echoed: Mapping[str, Any]) -> Ownership:
        """Created or Adopted: what `desired` owns on `cluster`, with the fixed settings as `echoed` (the endpoint
        as Elasticsearch shows it)."""
        return cls(
            cluster=cluster,
            inference_id=desired.inference_id,
            task_type=desired.task_type,
            service=desired.service,
            state=state,
            service_settings=fixed_service_settings(echoed.get("service_settings") or {}, desired),
        )

    @property
    def pending(self) -> bool:
        return self.state == CREATE_PENDING

    def recorded_on(self, cluster: str, url_origin: str) -> bool:
        """Is this the record of an endpoint on `cluster` (reached at `url_origin`)? A 0.1.0 record of a cluster
        that reported no uuid names it by its URL: the same URL is the same cluster."""
        return self.cluster == cluster or self.cluster == f"{LEGACY_URL_PREFIX}{url_origin}"


def fixed_service_settings(settings: Mapping[str, Any], desired: DesiredEndpoint) -> dict[str, Any]:
    """Of `settings`, those the spec sets that only a new endpoint can change (a default Elasticsearch adds may
    change with its version; secrets are never echoed)."""
    wanted = set(desired.service_settings) - UPDATABLE_SERVICE_SETTINGS - set(desired.secret_refs)
    return {k: v for k, v in settings.items() if k in wanted}


def not_ours(ownership: Ownership, observed: Mapping[str, Any]) -> str | None:
    """Why the endpoint now under the recorded id is provably not the one this resource created, asked for, or
    adopted (None: nothing says so). Only what no update can change counts: task type, service, fixed settings.
    A pending create compares with what it sent, so that an edit of the spec meanwhile never disowns it."""
    if observed.get("task_type") != ownership.task_type:
        return f"its task type is now {observed.get('task_type')}, not {ownership.task_type}"
    if observed.get("service") != ownership.service:
        return f"its service is now {observed.get('service')}, not {ownership.service}"
    seen = observed.get("service_settings") or {}
    changed = sorted(k for k, v in ownership.service_settings.items() if k in seen and differs(v, seen[k]))
    if changed:
        verb = (
            "differ from those its create asked for" if ownership.pending else "differ from those it was created with"
        )
        return f"its service settings {', '.join(changed)} {verb}"
    return None


def cluster_changed(ownership: Ownership | None, cluster: str, url_origin: str, inference_id: str) -> bool:
    """The resource owns an endpoint elsewhere (another cluster, or another id): it is a newcomer here."""
    return ownership is not None and (
        not ownership.recorded_on(cluster, url_origin) or ownership.inference_id != inference_id
    )
