"""Prometheus metrics: what an on-call person asks of the operator. Names follow the Prometheus conventions
(base units in the name, `_total` for counters); label sets are bounded: no label per resource, except in the
opt-in `es_inference_operator_resource_info` (OPERATOR_METRICS_PER_RESOURCE=true), like Flux's
`gotk_resource_info`.

Alerts (`charts/.../prometheusrule`), the dashboard and docs/runbooks.md use these names: renaming one is a
breaking change for users' monitoring.

`cluster` labels carry the Elasticsearch's URL origin (scheme://host:port): bounded by the clusters the operator
talks to, known before `GET /` answers, and never a credential.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "es_inference_operator"

BUILD_INFO = Gauge(f"{PREFIX}_build_info", "Always 1; the operator's version in a label.", ["version"])

# --- Resources, by what their status says (computed at scrape time from the watched resources) -------------
RESOURCES = Gauge(
    f"{PREFIX}_resources",
    "InferenceEndpoints this operator serves, by condition type, status and reason.",
    ["condition", "status", "reason"],
)
DELETIONS_BLOCKED = Gauge(
    f"{PREFIX}_deletions_blocked",
    "InferenceEndpoint deletions waiting now because pipelines or indexes reference the endpoint.",
)
DELETIONS_WAITING = Gauge(
    f"{PREFIX}_deletions_waiting",
    "InferenceEndpoint deletions that wait now (keeping the finalizer), by reason (InUse: referenced).",
    ["reason"],
)
OLDEST_BLOCKED_DELETION_SECONDS = Gauge(
    f"{PREFIX}_deletion_blocked_oldest_seconds",
    "Seconds since the oldest deletion still blocked by references was asked for (its deletionTimestamp); "
    "0 when none is blocked.",
)
RESOURCE_INFO = Gauge(
    f"{PREFIX}_resource_info",
    "One series per InferenceEndpoint (only with OPERATOR_METRICS_PER_RESOURCE=true), value 1.",
    ["namespace", "name", "inference_id", "ready", "reason"],
)

# --- Reconciles ---------------------------------------------------------------------------------------------
RECONCILES = Counter(
    f"{PREFIX}_reconciles_total",
    "Reconciles of InferenceEndpoint resources, by operation (reconcile, delete) and outcome (success, "
    "requeue: waiting on purpose, error: retried with backoff, stalled: a person must act).",
    ["operation", "outcome"],
)
RECONCILE_SECONDS = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Duration of one reconcile, by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)

# --- Elasticsearch --------------------------------------------------------------------------------------------
ES_REQUESTS = Counter(
    f"{PREFIX}_elasticsearch_requests_total",
    "Elasticsearch requests, by cluster (URL origin), operation, outcome (success, unavailable, auth, rejected, "
    "conflict, not_found) and HTTP status code ('none' when no answer came).",
    ["cluster", "operation", "outcome", "code"],
)
ES_REQUEST_SECONDS = Histogram(
    f"{PREFIX}_elasticsearch_request_duration_seconds",
    "Latency of the operator's Elasticsearch requests, by cluster and operation.",
    ["cluster", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
ES_UP = Gauge(
    f"{PREFIX}_elasticsearch_up",
    "1 when the last request to this cluster was answered with the credentials accepted, 0 when it was "
    "unreachable, timed out, answered 5xx/429, or refused the credentials (401/403).",
    ["cluster"],
)

# --- The work queue -------------------------------------------------------------------------------------------
WORKQUEUE_DEPTH = Gauge(f"{PREFIX}_workqueue_depth", "Resources due for a reconcile, waiting for a worker.")
WORKQUEUE_DELAYED = Gauge(
    f"{PREFIX}_workqueue_delayed", "Resources waiting for their next look (a re-check, a retry, the drift check)."
)
WORKQUEUE_ADDS = Counter(f"{PREFIX}_workqueue_adds_total", "Resources put in the queue (merged adds included).")
WORKQUEUE_RETRIES = Counter(f"{PREFIX}_workqueue_retries_total", "Reconciles put back after an error, with backoff.")
WORKQUEUE_QUEUE_SECONDS = Histogram(
    f"{PREFIX}_workqueue_queue_duration_seconds",
    "How long a due resource waited for a worker.",
    buckets=(0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
WORKQUEUE_ACTIVE_WORKERS = Gauge(f"{PREFIX}_workqueue_active_workers", "Workers running a reconcile now.")
WORKQUEUE_MAX_WORKERS = Gauge(f"{PREFIX}_workqueue_max_workers", "Reconciles that may run at once.")
WORKQUEUE_LONGEST_RUNNING_SECONDS = Gauge(
    f"{PREFIX}_workqueue_longest_running_processor_seconds", "How long the longest reconcile running now has run."
)

# --- Leader election ------------------------------------------------------------------------------------------
LEADER = Gauge(
    f"{PREFIX}_leader",
    "1 while this replica acts: it holds the leader Lease, or runs without leader election; else 0 (standby).",
)
LEADER_TRANSITIONS = Counter(
    f"{PREFIX}_leader_transitions_total", "Times this replica started or stopped leading (leader election only)."
)
