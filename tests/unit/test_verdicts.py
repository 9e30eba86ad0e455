"""The one error table (verdicts.classify): every failure a reconcile can meet, what the status says about it,
and how soon the operator looks again."""

from __future__ import annotations

import pytest

from es_inference_operator.connections import ElasticsearchNotReady
from es_inference_operator.errors import (
    AuthFailed,
    ClusterNotFormed,
    ConfigurationError,
    KubernetesUnavailable,
    NotFound,
    Rejected,
    Unavailable,
)
from es_inference_operator.trust import ReferenceNotAllowed
from es_inference_operator.verdicts import Phase, Recheck, classify

R, D = Phase.RECONCILE, Phase.DELETE


@pytest.mark.parametrize(
    ("error", "phase", "reason", "stalled", "transient", "recheck"),
    [
        (ReferenceNotAllowed("not opted in", advice="label it"), R, "ReferenceNotAllowed", True, False, Recheck.FIX),
        (ReferenceNotAllowed("not opted in", advice="label it"), D, "ReferenceNotAllowed", False, False, Recheck.FIX),
        (ElasticsearchNotReady("phase ApplyingChanges"), R, "ElasticsearchNotReady", False, True, Recheck.BACKOFF),
        (NotFound("Secret ns/x not found"), R, "ConfigurationError", False, False, Recheck.FIX),
        (ConfigurationError("no key url"), R, "ConfigurationError", False, False, Recheck.FIX),
        (KubernetesUnavailable("429"), R, "KubernetesUnavailable", False, True, Recheck.BACKOFF),
        (ClusterNotFormed("_na_"), R, "ElasticsearchUnavailable", False, True, Recheck.BACKOFF),
        (Rejected("Unknown service [x]", status=400), R, "ElasticsearchRejected", True, False, Recheck.POLL),
        (Rejected("no", status=400), D, "ElasticsearchRejected", True, False, Recheck.POLL),
        (AuthFailed("unable to authenticate", status=401), R, "ElasticsearchAuthFailed", False, True, Recheck.BACKOFF),
        (Unavailable("unreachable"), R, "ElasticsearchUnavailable", False, True, Recheck.BACKOFF),
        (Unavailable("unreachable"), D, "ElasticsearchUnavailable", False, True, Recheck.BACKOFF),
        (RuntimeError("a bug"), R, "InternalError", False, True, Recheck.BACKOFF),
    ],
)
def test_classify(
    error: Exception, phase: Phase, reason: str, stalled: bool, transient: bool, recheck: Recheck
) -> None:
    verdict = classify(error, phase)
    assert (verdict.reason, verdict.stalled, verdict.transient, verdict.recheck) == (
        reason,
        stalled,
        transient,
        recheck,
    )


def test_the_servers_retry_after_is_kept() -> None:
    assert classify(Unavailable("busy", status=429, retry_after=30.0), R).retry_after == 30.0


def test_the_advice_comes_last_after_when_the_operator_looks_again() -> None:
    """A command in a message is copied from its end: the wait goes before it."""
    verdict = classify(ReferenceNotAllowed("Secret ns/x has not opted in", advice="its owner runs: kubectl label"), R)
    assert verdict.words("checked again within 5 s") == (
        "Secret ns/x has not opted in (checked again within 5 s). its owner runs: kubectl label"
    )
    assert classify(KubernetesUnavailable("429"), R).words("checked again within 5 s") == (
        "429 (checked again within 5 s)"
    )


def test_elasticsearch_errors_name_the_elasticsearch() -> None:
    error = Unavailable("unreachable (connection refused)")
    error.where = "Elasticsearch at http://es:9200 (Secret ns/conn)"
    assert (
        classify(error, R).message
        == "Elasticsearch at http://es:9200 (Secret ns/conn): unreachable (connection refused)"
    )
