"""One error table: what a failure means for the resource, in place of an except ladder per path.

`classify(error, phase)` says which condition reason the status carries, whether the operator retries by itself
(kstatus: Reconciling) or a person must act first (Stalled), whether the failure says anything about the endpoint
(a passing one on an endpoint in line keeps it Ready), and how soon to look again. Table-tested in
tests/unit/test_verdicts.py.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from . import messages
from .connections import ElasticsearchNotReady
from .errors import (
    AuthFailed,
    ClusterNotFormed,
    ConfigurationError,
    ElasticsearchError,
    KubernetesUnavailable,
    NotFound,
    Rejected,
    Unavailable,
)
from .trust import ReferenceNotAllowed


class Phase(enum.Enum):
    RECONCILE = "reconcile"  # create, adopt, update, drift check
    DELETE = "delete"  # behind the finalizer


class Recheck(enum.Enum):
    BACKOFF = "backoff"  # a passing failure: exponential backoff with jitter (at least the server's Retry-After)
    FIX = "fix"  # waits for a person's fix in Kubernetes (a label, a Secret): looked at again within seconds
    POLL = "poll"  # a stable state that retrying cannot change: looked at again at the drift check's pace


@dataclass(frozen=True)
class Verdict:
    reason: str  # the conditions' reason
    message: str
    stalled: bool  # a person must act first (kstatus Stalled); else the operator retries by itself
    transient: bool  # says nothing about the endpoint: one that was in line stays Ready
    recheck: Recheck
    retry_after: float | None = None  # the server asked for at least this long
    advice: str | None = None  # what a person can do (a command): said last

    def words(self, when: str) -> str:
        """The message with when the operator looks again, and the advice last (a command is copied from the end)."""
        return messages.waiting(self.message, when, self.advice)


# error type -> (reason, stalled: a person must act first, transient: says nothing about the endpoint, recheck).
# First match wins: subclasses before their bases.
# fmt: off
_TABLE: tuple[tuple[type[Exception], str, bool, bool, Recheck], ...] = (
    (ReferenceNotAllowed,   "ReferenceNotAllowed",      True,  False, Recheck.FIX),
    (ElasticsearchNotReady, "ElasticsearchNotReady",    False, True,  Recheck.BACKOFF),  # waiting for ECK
    (NotFound,              "ConfigurationError",       False, False, Recheck.FIX),      # a Secret not there yet
    (ConfigurationError,    "ConfigurationError",       False, False, Recheck.FIX),      # a Secret's keys, say
    (KubernetesUnavailable, "KubernetesUnavailable",    False, True,  Recheck.BACKOFF),
    (ClusterNotFormed,      "ElasticsearchUnavailable", False, True,  Recheck.BACKOFF),
    (Rejected,              "ElasticsearchRejected",    True,  False, Recheck.POLL),
    (AuthFailed,            "ElasticsearchAuthFailed",  False, True,  Recheck.BACKOFF),
    (Unavailable,           "ElasticsearchUnavailable", False, True,  Recheck.BACKOFF),
    (ElasticsearchError,    "ElasticsearchError",       False, True,  Recheck.BACKOFF),
)
# fmt: on


def classify(error: Exception, phase: Phase) -> Verdict:
    """The verdict on `error`, raised while reconciling (`phase`) a resource. Unknown errors are retried. While
    deleting, only what retrying cannot change stalls (a refusal by Elasticsearch): anything else is a wait."""
    for error_type, reason, stalled, transient, recheck in _TABLE:
        if isinstance(error, error_type):
            if phase is Phase.DELETE:
                stalled = recheck is Recheck.POLL
            advice = error.advice if isinstance(error, ConfigurationError) else None
            return Verdict(reason, _words(error), stalled, transient, recheck, _retry_after(error), advice)
    return Verdict("InternalError", f"unexpected error: {_words(error)}", False, True, Recheck.BACKOFF)


def _words(error: Exception) -> str:
    if isinstance(error, ConfigurationError):
        return error.problem
    if isinstance(error, Rejected):
        return f"Elasticsearch refused the request ({error.status} {error.error_type}): {error.reason}"
    if isinstance(error, ElasticsearchError) and not isinstance(error, ClusterNotFormed):
        return error.explained
    return str(error) or type(error).__name__


def _retry_after(error: Exception) -> float | None:
    return error.retry_after if isinstance(error, Unavailable) else None
