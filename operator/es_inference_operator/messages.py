"""The words users read in conditions and Events, in one place. Lists are bounded: a status is one etcd object
and a condition message at most 32,768 characters (the CRD's limit), and a person reads the first few names."""

from __future__ import annotations

from collections.abc import Sequence

from . import contract
from .decisions import References

NAMED_AT_MOST = 5  # names of each kind shown in a message
QUOTED_AT_MOST = 500  # characters of an error's own words shown in a message


def named(items: Sequence[str], limit: int = NAMED_AT_MOST) -> str:
    """`a, b, c` or `a, b, c, d, e and 795 more`."""
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def quoted(text: str, limit: int = QUOTED_AT_MOST) -> str:
    """Someone else's words (an Elasticsearch error) in a message: their first `limit` characters at most."""
    text = text.strip()
    return text if len(text) <= limit else f"{text[:limit].rstrip()}... ({len(text) - limit} more characters)"


def duration(seconds: float) -> str:
    """'8 s', '90 s', '2 min'."""
    if seconds < 100:
        return f"{max(1, round(seconds))} s"
    return f"{round(seconds / 60)} min"


def force_command(kubectl_args: str) -> str:
    return f"kubectl annotate {kubectl_args} {contract.FORCE_ANNOTATION}=true"


def orphan_command(kubectl_args: str) -> str:
    return f"kubectl patch {kubectl_args} --type=merge -p " + '\'{"spec":{"deletionPolicy":"Orphan"}}\''


def blocked(inference_id: str, refs: References, kubectl_args: str, recheck_seconds: float) -> str:
    """What references the endpoint, how to force the deletion, and when the operator looks again."""
    parts = []
    if refs.pipelines:
        parts.append(f"ingest pipelines [{named(refs.pipelines)}]")
    if refs.indexes:
        parts.append(f"semantic_text indexes [{named(refs.indexes)}]")
    return (
        f"inference endpoint {inference_id} is referenced by {' and '.join(parts)}; the deletion waits until "
        f"they stop using it (checked again every {round(recheck_seconds)} s). To delete it anyway (they will "
        f"point at a missing endpoint): {force_command(kubectl_args)}"
    )


def referenced(inference_id: str, refs: References | None, reason: str, kubectl_args: str, recheck: float) -> str:
    """Elasticsearch refused the delete (409): a reference appeared since the dry run. Its words list every
    pipeline and index; the message names a few, as `blocked` does (`refs`: the ones the 409 names, None when it
    names none, as 8.15's does: then its words, cut short)."""
    if refs:
        return blocked(inference_id, refs, kubectl_args, recheck)
    return f"{quoted(reason)} To delete it anyway: {force_command(kubectl_args)}"


def ready(inference_id: str) -> str:
    # The same words every time: a status that does not change is not written again.
    return f"inference endpoint {inference_id} exists in Elasticsearch and matches the spec"


def conflict(inference_id: str, winner: str) -> str:
    return (
        f"{winner} already manages inference endpoint {inference_id} on this Elasticsearch; this resource leaves "
        f"the endpoint alone (also when deleted) until that one is gone (looked at again as soon as it goes)"
    )


def adopt_command(kubectl_args: str) -> str:
    return f"kubectl annotate {kubectl_args} {contract.ADOPT_ANNOTATION}=true"


def waiting(problem: str, when: str, advice: str | None = None) -> str:
    """`problem (when). advice`: when the operator looks again, and what a person can do last (a command is copied
    from the end of a message)."""
    return f"{problem} ({when}). {advice}" if advice else f"{problem} ({when})"


Words = tuple[str, str | None]  # (the problem, what a person can do about it)


def already_exists(inference_id: str, differences: str, kubectl_args: str, *, adopt_asked: bool) -> Words:
    """An endpoint this resource did not create is there: whose it is, and how to take it over if it is yours."""
    if adopt_asked:  # the annotation is set, but the endpoint is of another task type or service
        return (
            f"inference endpoint {inference_id} already exists in Elasticsearch with another task type or service "
            f"(it differs in {differences}); it cannot be adopted and is left untouched",
            "Use another inferenceId",
        )
    return (
        f"inference endpoint {inference_id} already exists in Elasticsearch and was not created by this resource; "
        f"it is left untouched (never written to nor deleted by this resource)",
        f"If it is yours to manage from here: {adopt_command(kubectl_args)}",
    )


def mismatch(inference_id: str, differences: str) -> Words:
    return (
        f"inference endpoint {inference_id} exists in Elasticsearch with another configuration (it differs in "
        f"{differences}); it was replaced outside the operator, so it is no longer this resource's and is left "
        f"untouched",
        "Delete it in Elasticsearch, or use another inferenceId",
    )


def needs_recreate(inference_id: str, differences: str) -> Words:
    return (
        f"inference endpoint {inference_id} differs from the spec in {differences}, which Elasticsearch cannot "
        f"change in place",
        "Create a new resource (another inferenceId) for the new configuration",
    )


def update_not_supported(inference_id: str, differences: str, version: str) -> Words:
    return (
        f"inference endpoint {inference_id} differs from the spec in {differences or 'its secrets'}, which "
        f"Elasticsearch {version} cannot update in place",
        None,
    )


def left_behind(cluster: str, old_cluster: str, inference_id: str) -> str:
    return (
        f"the resource now points at another Elasticsearch cluster ({cluster}); inference endpoint {inference_id} "
        f"on cluster {old_cluster} was left there, unmanaged: delete it there by hand if it is no longer needed"
    )


def force_deleted(inference_id: str) -> str:
    return (
        f"force-deleted inference endpoint {inference_id}: pipelines or indexes that used it now point at a "
        f"missing endpoint"
    )
