"""Where kopf keeps its own state: under our prefix, with an essence of the spec and the force annotation only.

Kopf's default essence (what it diffs to detect changes) holds every label and annotation, so Argo CD's
tracking annotation, a policy tool's label or `kubectl annotate` would each make kopf write its diff-base
back onto the object: churn that GitOps tools see. The operator reacts to the spec and to the force
annotation, nothing else; the essence is exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import kopf

from . import contract


class SpecDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        essence = cast(dict[str, Any], dict(super().build(body=body, extra_fields=extra_fields)))
        metadata = dict(essence.pop("metadata", None) or {})
        annotations = metadata.get("annotations") or {}
        kept = {key: annotations[key] for key in contract.FORCE_ANNOTATIONS if key in annotations}
        if kept:
            essence["metadata"] = {"annotations": kept}
        return cast(kopf.BodyEssence, essence)


def progress_storage() -> kopf.AnnotationsProgressStorage:
    return kopf.AnnotationsProgressStorage(prefix=contract.KOPF_STORAGE_PREFIX, v1=False)


def diffbase_storage() -> SpecDiffBaseStorage:
    return SpecDiffBaseStorage(prefix=contract.KOPF_STORAGE_PREFIX, key="last-handled-configuration", v1=False)
