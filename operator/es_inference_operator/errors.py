"""What can go wrong when talking to Elasticsearch, in the terms the operator decides on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .decisions import References


class ElasticsearchError(Exception):
    """An Elasticsearch call failed. `reason` is fit for a status message: Elasticsearch's own words, no trace."""

    kind = "error"

    def __init__(self, reason: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.error_type = error_type
        self.where = "Elasticsearch"  # which one: the gateway names its URL and where the connection came from
        self.credentials = "its credentials"  # which kind were tried, from where (elasticsearch_connection.locate)

    @property
    def explained(self) -> str:
        return f"{self.where}: {self.reason}"


class Unavailable(ElasticsearchError):
    """Unreachable, timed out, 5xx or 429: try again later (after `retry_after` seconds when it said so)."""

    kind = "unavailable"

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason, status=status, error_type=error_type)
        self.retry_after = retry_after


class AuthFailed(ElasticsearchError):
    """401 or 403: the credentials or their privileges are wrong. Retried, since a person may fix them."""

    kind = "auth"

    @property
    def explained(self) -> str:
        """Which credentials were refused and where they came from: a person fixes those, not the others."""
        if self.status == 403:
            return f"{self.where}: {self.credentials} logged in but lack a privilege (403): {self.reason}"
        return f"{self.where} refused {self.credentials} ({self.status or 401}): {self.reason}"


class Rejected(ElasticsearchError):
    """Elasticsearch refused the request as it stands (a 4xx): retrying the same request will not help."""

    kind = "rejected"


class Referenced(ElasticsearchError):
    """409 on DELETE: pipelines or semantic_text indexes use the endpoint. `references`: the ones its words name
    (None: they name none, as 8.15's do); `reason` names them all, hundreds for a data stream: not for a status."""

    kind = "conflict"

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        references: References | None = None,
    ) -> None:
        super().__init__(reason, status=status, error_type=error_type)
        self.references = references


class ConfigurationError(Exception):
    """The resource points at something missing or malformed (a Secret, a key in it, a URL with credentials in
    it), or the operator may not read it: a person must act; the operator looks again with backoff.

    `advice`, when given, is what a person can do about it (a command): messages put it last."""

    def __init__(self, problem: str, *, advice: str | None = None) -> None:
        super().__init__(f"{problem}. {advice}" if advice else problem)
        self.problem = problem
        self.advice = advice


class NotFound(ConfigurationError):
    """What the resource names does not exist in Kubernetes (404): a fact, not a passing failure."""


class KindNotInstalled(ConfigurationError):
    """The API server does not serve the kind at all (404 for the resource type: its CRD is not installed), as
    opposed to NotFound, where the kind exists and the object does not."""


class KubernetesUnavailable(Exception):
    """The API server failed to answer (5xx, 429, timeout): says nothing about the resource; retried."""


class NotLeader(Exception):
    """This replica may not write to Elasticsearch: it does not hold the leader Lease, or can no longer be sure
    that it does (fencing). Nothing was sent."""


class ClusterNotFormed(ElasticsearchError):
    """The node answers but reports no cluster (`cluster_uuid` "_na_": not joined to a formed cluster yet).
    Which cluster it is cannot be told, so nothing that depends on it (whose endpoint is whose) is decided."""

    kind = "unavailable"
