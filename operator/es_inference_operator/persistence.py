"""Where kopf keeps its own state: in the status (status.operator), with an essence of the spec and the force
annotation only.

Kopf's default essence (what it diffs to detect changes) holds every label and annotation, so Argo CD's
tracking annotation, a policy tool's label or `kubectl annotate` would each make kopf write its diff-base
back onto the object: churn that GitOps tools see. The operator reacts to the spec and to the force
annotation, nothing else; the essence is exactly that, and it is kept in the status.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

import kopf

from . import contract

DIFFBASE_FIELD = "status.operator.lastHandledConfiguration"
PROGRESS_FIELD = "status.operator.progress"
# What kopf writes to wake a handler whose delay is over (the write's event runs it): a field the CRD declares,
# or the API server would prune it, nothing would change, and the handler would sleep for ever.
TOUCH_FIELD = "status.operator.dummy"
LEGACY_DIFFBASE_ANNOTATION = f"{contract.KOPF_STORAGE_PREFIX}/last-handled-configuration"


class SpecDiffBaseStorage(kopf.StatusDiffBaseStorage):
    """The spec last handled, kept in the status (status.operator.lastHandledConfiguration): it goes out in the
    same request as the status the handler writes anyway, where an annotation would cost a second write per
    change and a metadata change that GitOps tools see."""

    def __init__(self) -> None:
        super().__init__(field=DIFFBASE_FIELD)

    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        essence = cast(dict[str, Any], dict(super().build(body=body, extra_fields=extra_fields)))
        metadata = dict(essence.pop("metadata", None) or {})
        annotations = metadata.get("annotations") or {}
        kept = {key: annotations[key] for key in contract.FORCE_ANNOTATIONS if key in annotations}
        if kept:
            essence["metadata"] = {"annotations": kept}
        return cast(kopf.BodyEssence, essence)

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        # Resources last handled by an operator that kept it in an annotation (0.1.0) are not seen as new.
        legacy = body.metadata.annotations.get(LEGACY_DIFFBASE_ANNOTATION)
        return super().fetch(body=body) or (json.loads(legacy) if legacy else None)


def progress_storage() -> kopf.StatusProgressStorage:
    """Handlers' progress (retries, delays) in the status too: no metadata write, no kopf-managed marker."""
    return kopf.StatusProgressStorage(field=PROGRESS_FIELD, touch_field=TOUCH_FIELD)


def diffbase_storage() -> SpecDiffBaseStorage:
    return SpecDiffBaseStorage()
