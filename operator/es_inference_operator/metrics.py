"""Prometheus metrics. Names follow the Prometheus conventions (unit suffixes, _total for counters)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "es_inference_operator"

RECONCILES = Counter(
    f"{PREFIX}_reconciles_total",
    "Reconciles of InferenceEndpoint resources, by what they did and how they ended.",
    ["operation", "outcome"],
)
ES_REQUEST_SECONDS = Histogram(
    f"{PREFIX}_elasticsearch_request_duration_seconds",
    "Latency of the operator's Elasticsearch requests.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ES_ERRORS = Counter(
    f"{PREFIX}_elasticsearch_errors_total",
    "Failed Elasticsearch requests, by operation and kind (unavailable, auth, rejected, conflict).",
    ["operation", "kind"],
)
DELETIONS_BLOCKED = Gauge(
    f"{PREFIX}_deletions_blocked",
    "InferenceEndpoint deletions waiting now because pipelines or indexes reference the endpoint.",
)
