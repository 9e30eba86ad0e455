"""What the status says for each outcome, what a change of it is as a merge patch, and which transitions are
worth an Event (pure; kube_writer.ResourceWriter sends them)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import contract, messages
from .conditions import FALSE, TRUE, Condition, find, merge_conditions
from .decisions import References


@dataclass(frozen=True)
class StatusUpdate:
    conditions: tuple[Condition, ...] = ()
    remove: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)  # other status fields, None deletes one


# --- Outcomes (pure) --------------------------------------------------------------------------------------


def ready(message: str, *, fields: Mapping[str, Any]) -> StatusUpdate:
    return StatusUpdate(
        conditions=(
            Condition(contract.READY, TRUE, "Available", message),
            Condition(contract.SYNCED, TRUE, "ReconcileSuccess", "Elasticsearch matches the spec"),
            Condition(contract.RECONCILING, FALSE, "Reconciled", "nothing left to do"),
            Condition(contract.STALLED, FALSE, "Reconciled", "nothing left to do"),
        ),
        remove=(contract.CONFLICT,),
        fields=fields,
    )


def not_ready(
    reason: str,
    message: str,
    *,
    retrying: bool,
    keep_ready: bool = False,
    fields: Mapping[str, Any] | None = None,
) -> StatusUpdate:
    """A reconcile that did not bring the endpoint in line.

    `retrying`: the operator tries again by itself (kstatus: Reconciling); otherwise the spec, a Secret or
    Elasticsearch needs a person first (kstatus: Stalled). `keep_ready`: a passing error on an endpoint that
    was in line says so in Synced, without claiming the endpoint itself is gone.
    """
    conditions = [
        Condition(contract.SYNCED, FALSE, reason, message),
        Condition(contract.RECONCILING, TRUE if retrying else FALSE, reason, message),
        Condition(contract.STALLED, FALSE if retrying else TRUE, reason, message),
    ]
    if not keep_ready:
        conditions.insert(0, Condition(contract.READY, FALSE, reason, message))
    return StatusUpdate(conditions=tuple(conditions), fields=fields or {})


PROGRESS_REASONS = ("Creating", "Updating")


def reconciling(reason: str, message: str) -> StatusUpdate:
    """What is said before a create or an update is sent (with the generation it is for): kstatus, Flux and Argo
    CD see InProgress at once, and Ready is False until Elasticsearch matches this generation of the spec (Ready
    speaks of observedGeneration, which this write moves on)."""
    return StatusUpdate(
        conditions=(
            Condition(contract.READY, FALSE, reason, message),
            Condition(contract.RECONCILING, TRUE, reason, message),
            Condition(contract.STALLED, FALSE, reason, message),
        )
    )


def conflict(inference_id: str, winner: str) -> StatusUpdate:
    message = messages.conflict(inference_id, winner)
    update = not_ready("Conflict", message, retrying=False)
    return StatusUpdate(
        conditions=(*update.conditions, Condition(contract.CONFLICT, TRUE, "InferenceIdClaimed", message)),
        # Two resources applied together may both have adopted it in a race: the loser lets go for good.
        fields={"inferenceId": inference_id, "ownership": None},
    )


def _deletion(reason: str, message: str, *, blocked: bool, synced: bool) -> tuple[Condition, ...]:
    """A resource being deleted is not Ready (its generation moved on; `kubectl wait --for=condition=Ready` must
    not pass), and is Reconciling until its finalizer goes."""
    conditions = [
        Condition(contract.DELETION_BLOCKED, TRUE if blocked else FALSE, reason, message),
        Condition(contract.READY, FALSE, reason, message),
        Condition(contract.RECONCILING, TRUE, reason, message),
        Condition(contract.STALLED, FALSE, reason, message),
    ]
    if not synced:
        conditions.append(Condition(contract.SYNCED, FALSE, reason, message))
    return tuple(conditions)


def deletion_blocked(refs: References | None, message: str) -> StatusUpdate:
    """`refs` None: Elasticsearch's 409 said the endpoint is in use, without the list; keep the last one."""
    return StatusUpdate(
        conditions=_deletion("InUse", message, blocked=True, synced=True),
        fields={"references": refs.as_status()} if refs is not None else {},
    )


def deletion_waiting(reason: str, message: str) -> StatusUpdate:
    """A deletion that waits for something other than references (Elasticsearch down, refused, ...)."""
    return StatusUpdate(conditions=_deletion(reason, message, blocked=False, synced=False))


def deletion_stalled(reason: str, message: str) -> StatusUpdate:
    """A deletion Elasticsearch refuses for good: a person must act (kstatus: Stalled)."""
    conditions = tuple(
        Condition(c.type, TRUE, c.reason, c.message) if c.type == contract.STALLED else c
        for c in _deletion(reason, message, blocked=False, synced=False)
        if c.type != contract.RECONCILING
    )
    return StatusUpdate(conditions=(*conditions, Condition(contract.RECONCILING, FALSE, reason, message)))


def deleting(message: str, refs: References | None = None) -> StatusUpdate:
    return StatusUpdate(
        conditions=_deletion("Deleting", message, blocked=False, synced=True),
        fields={"references": refs.as_status()} if refs is not None else {},
    )


# --- Writing ----------------------------------------------------------------------------------------------

# Transitions worth an Event: (condition type, new status) -> event type. Everything else is status only.
_EVENTS = {
    (contract.READY, TRUE): "Normal",
    (contract.READY, FALSE): "Warning",
    (contract.DELETION_BLOCKED, TRUE): "Warning",
    (contract.CONFLICT, TRUE): "Warning",
}
# Synced=False on an endpoint that stays Ready is news only when a person must fix something in Kubernetes (its
# credentials refused, a Secret broken, a reference not allowed): a passing outage is status only (an Event per
# resource for every blip of a cluster would flood the namespace).
_SYNCED_FALSE_NEWS = ("ElasticsearchAuthFailed", "ConfigurationError", "ReferenceNotAllowed")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_changes(
    status: Mapping[str, Any], update: StatusUpdate, *, generation: int | None, now: str | None = None
) -> dict[str, Any]:
    """The merge patch of `status` that `update` makes, for the spec of `generation` (empty: no change)."""
    current = list(status.get("conditions") or [])
    conditions = merge_conditions(
        current, update.conditions, generation=generation, now=now or _now(), remove=update.remove
    )
    # Status patches are JSON merge patches (RFC 7386): a key left out of a map is kept, so a field's new value
    # goes as the patch from the old one, with null for what it no longer holds.
    changes: dict[str, Any] = {
        k: merge_patch(status.get(k), v)
        for k, v in update.fields.items()
        if status.get(k) != v and not (v is None and k not in status)
    }
    if conditions != current:
        changes["conditions"] = conditions
    # A status that speaks about the spec speaks about the generation it was decided on (not the live one).
    if update.conditions and status.get("observedGeneration") != generation:
        changes["observedGeneration"] = generation
    return changes


def merge_patch(old: Any, new: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return new
    patch: dict[str, Any] = {k: None for k in old if k not in new}
    patch.update({k: merge_patch(old.get(k), v) for k, v in new.items() if old.get(k) != v})
    return patch


def applied(status: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`status` after the JSON merge patch `changes`, as the API server applies it (RFC 7386)."""
    result = dict(status)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = applied(result[key], value)
        else:
            result[key] = applied({}, value) if isinstance(value, Mapping) else value
    return result


def transition_events(status: Mapping[str, Any], update: StatusUpdate, *, deleting: bool) -> list[tuple[str, str, str]]:
    """The Events worth posting for `update`: transitions only."""
    current = list(status.get("conditions") or [])
    events = []
    for cond in update.conditions:
        before = find(current, cond.type)
        # Said before a create or an update (Creating, Updating): how that step ended is the news.
        settled_from_progress = (before or {}).get("reason") in PROGRESS_REASONS and cond.reason not in PROGRESS_REASONS
        if (before or {}).get("status") == cond.status and not settled_from_progress:
            continue
        event_type = _EVENTS.get((cond.type, cond.status))
        if cond.type == contract.SYNCED and cond.status == FALSE and cond.reason in _SYNCED_FALSE_NEWS:
            event_type = "Warning"
        # A first Ready=False while creating is the normal start, and a resource being deleted is not Ready by
        # definition: neither is news.
        if cond.type == contract.READY and deleting:
            continue
        if event_type and not (
            before is None and cond.type == contract.READY and cond.status == FALSE and cond.reason == "Creating"
        ):
            events.append((event_type, cond.reason, cond.message))
    return list(dict.fromkeys(events))  # Ready and Synced turning False for one reason: one Event


def events_to_post(
    base: Mapping[str, Any], update: StatusUpdate, *, deleting: bool, own: Iterable[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The transitions worth an Event, then the step's own. A step's own event (Created, Updated, ...) says more
    than the Ready transition it causes: that one is not posted."""
    own = list(own)
    transitions = transition_events(base, update, deleting=deleting)
    if own:
        transitions = [t for t in transitions if t[1] != "Available"]
    return [*transitions, *own]
