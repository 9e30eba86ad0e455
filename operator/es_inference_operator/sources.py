"""From watch events to keys in the work queue: what is worth a reconcile (pure predicates, table-tested), and
which other resources an event concerns (the other claimants of an inference id).

The operator's own writes come back from the API server as the store's newest version before their watch events
do, so those events are not news and bring nothing to the queue: status writes cause no reconcile of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import contract
from .kube_writer import FIELD_MANAGER
from .store import Key, Resource, ResourceStore
from .workqueue import HIGH, LOW, WorkQueue

# Annotations whose change the operator acts on at once: the force keys (a blocked deletion goes), adopt.
WATCHED_ANNOTATIONS = (*contract.FORCE_ANNOTATIONS, contract.ADOPT_ANNOTATION)


def worth_a_reconcile(previous: Resource | None, current: Resource, *, status_is_ours: bool = False) -> bool:
    """Does this new version of a resource need a reconcile now (rather than at its next drift check)?
    `status_is_ours`: the operator itself wrote the status last (its own write, seen on the watch before its
    answer came back), so a status change is no news."""
    if previous is None or previous.uid != current.uid:
        return True  # new to this operator
    return (
        previous.generation != current.generation  # the spec changed
        or previous.deletion_timestamp != current.deletion_timestamp  # a deletion began
        or _watched(previous.annotations) != _watched(current.annotations)  # forced (or no longer)
        or (contract.FINALIZER in previous.finalizers) != (contract.FINALIZER in current.finalizers)
        or (previous.status != current.status and not status_is_ours)  # somebody else wrote it: put right
    )


def status_written_by_operator(body: Mapping[str, Any]) -> bool:
    """Is the operator the last writer of the status (managedFields: the newest entry of the status subresource is
    its field manager's)? Ties in time (a second's resolution) count as somebody else's: a reconcile too many is
    harmless, one too few is not."""
    entries = [e for e in (body.get("metadata") or {}).get("managedFields") or () if e.get("subresource") == "status"]
    if not entries:
        return False
    newest = max(str(e.get("time", "")) for e in entries)
    last = [e for e in entries if str(e.get("time", "")) == newest]
    return all(e.get("manager") == FIELD_MANAGER for e in last)


def concerns_other_claimants(previous: Resource | None, current: Resource | None) -> bool:
    """Does this change free or take an inference id that other resources wait for (a Conflict)?"""
    if previous is None or current is None:
        return True  # a claimant came or went
    return (
        previous.inference_id != current.inference_id
        or previous.ownership != current.ownership
        or previous.deleting != current.deleting
    )


def _watched(annotations: Mapping[str, str]) -> dict[str, str]:
    return {k: annotations[k] for k in WATCHED_ANNOTATIONS if k in annotations}


class EventSource:
    """Keeps the store current from the watch and puts what needs a reconcile in the queue."""

    def __init__(self, store: ResourceStore, queue: WorkQueue[Key]) -> None:
        self.store = store
        self.queue = queue

    def on_event(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        key: Key = (str(meta.get("namespace")), str(meta.get("name")))
        if event_type == "DELETED":
            gone = self.store.forget(key, str(meta.get("uid")))
            if gone is not None:
                self._wake_claimants(gone.inference_id, key)
            return
        previous, current = self.store.observe(body)
        if current is None:
            return  # a version already seen (the answer to the operator's own write, or the startup list)
        if worth_a_reconcile(previous, current, status_is_ours=status_written_by_operator(body)):
            # kopf's own listing at startup (no event type) finds what the store's LIST queued already.
            self.queue.add(key, priority=LOW if event_type is None else HIGH)
        if concerns_other_claimants(previous, current):
            self._wake_claimants(current.inference_id, key)
            if previous is not None and previous.inference_id != current.inference_id:
                self._wake_claimants(previous.inference_id, key)

    def _wake_claimants(self, inference_id: str, but: Key) -> None:
        for other in self.store.claimants(inference_id):
            if other != but:
                self.queue.add(other)
