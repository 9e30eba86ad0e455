"""metav1.Condition values, and merging new ones into a status without needless changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TRUE, FALSE = "True", "False"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


def merge_conditions(
    current: Sequence[Mapping[str, Any]],
    updates: Iterable[Condition],
    *,
    generation: int | None,
    now: str,
    remove: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The conditions list with `updates` upserted by type and `remove` dropped.

    lastTransitionTime moves only when a condition's status flips, as metav1.Condition requires; the order
    of existing entries is kept, so that an unchanged status compares equal and is not written again.
    """
    merged = {str(c["type"]): dict(c) for c in current}
    order = [str(c["type"]) for c in current]
    for cond in updates:
        previous = merged.get(cond.type)
        transition = (
            previous["lastTransitionTime"]
            if previous and previous.get("status") == cond.status and previous.get("lastTransitionTime")
            else now
        )
        merged[cond.type] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": transition,
            **({"observedGeneration": generation} if generation is not None else {}),
        }
        if cond.type not in order:
            order.append(cond.type)
    dropped = set(remove)
    return [merged[t] for t in order if t not in dropped]


def find(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: Sequence[Mapping[str, Any]], type_: str) -> bool:
    cond = find(conditions, type_)
    return bool(cond and cond.get("status") == TRUE)
