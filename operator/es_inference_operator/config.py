"""The operator's configuration, from environment variables (a Deployment fills them from a Secret)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import contract
from .elasticsearch_connection import ENVIRONMENT_KEYS, Connection, refuse_two_kinds


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


# ECK's own address for its HTTP Service: {scheme} is https unless the Elasticsearch turns TLS off.
DEFAULT_ECK_URL_TEMPLATE = "{scheme}://{service}.{namespace}.svc:9200"


# A namespace name (a DNS label), or "*" for every namespace.
_NAMESPACE = re.compile(r"\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _namespaces(value: str | None) -> frozenset[str]:
    """OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES: comma-separated namespaces, or "*" (unset or empty: "*")."""
    names = frozenset(part.strip() for part in (value or "*").split(",") if part.strip())
    wrong = sorted(name for name in names if not _NAMESPACE.fullmatch(name))
    if not names or wrong:
        raise ValueError(
            f"OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES must list namespaces separated by commas, or be *: "
            f"{value!r}" + (f" ({', '.join(map(repr, wrong))} is not a namespace name)" if wrong else "")
        )
    return names


def _url_template(template: str) -> str:
    try:
        template.format(scheme="https", service="s", namespace="n")
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(
            f"OPERATOR_ECK_URL_TEMPLATE may use only {{scheme}}, {{service}} and {{namespace}}: {template!r}"
        ) from err
    return template


@dataclass(frozen=True)
class OperatorConfig:
    default_connection: Connection | None
    default_deletion_policy: str = contract.DELETION_POLICY_DELETE
    # The namespaces whose resources may use the default Elasticsearch (no spec.elasticsearchRef); "*": all.
    default_namespaces: frozenset[str] = frozenset({"*"})
    resync_seconds: float = 60.0  # drift check of every endpoint
    blocked_recheck_seconds: float = 15.0  # dry run again while a deletion is blocked
    request_timeout_seconds: float = 10.0
    create_timeout_seconds: float = 120.0  # a PUT waits for an in-cluster model deployment (reference §3.1)
    retry_base_seconds: float = 2.0  # first backoff after an Elasticsearch error; doubles, capped, jittered
    retry_cap_seconds: float = 120.0
    references_seconds: float = 300.0  # how often each endpoint's references are looked at (a dry run)
    reference_checks_per_second: float = 10.0  # dry runs per cluster at most, outside deletions
    max_concurrency: int = 10  # requests in flight per Elasticsearch (and its connection pool's size)
    max_workers: int = 200  # reconciles at once (the work queue's workers; also kopf's event workers)
    metrics_port: int = 8080
    metrics_per_resource: bool = False  # es_inference_operator_resource_info: one series per resource
    verify_certs: bool = True  # for connections from resources' Secrets, too
    # Where an ECK Elasticsearch's HTTP Service answers. Only for development: a machine without cluster DNS.
    eck_url_template: str = DEFAULT_ECK_URL_TEMPLATE

    @property
    def secret_cache_seconds(self) -> float:
        """How long a Secret read serves other reads: thousands of resources naming a few Secrets cost a few reads,
        and a rotated Secret reaches Elasticsearch within a drift-check period and this."""
        return min(self.resync_seconds / 2, 5.0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if env is None else env
        verify = _bool(env.get("ELASTICSEARCH_VERIFY_CERTS"), True)
        url = env.get("ELASTICSEARCH_URL")
        connection = None
        api_key = env.get("ELASTICSEARCH_API_KEY") or None
        username = env.get("ELASTICSEARCH_USERNAME") or None
        # In a cluster these come from the connection Secret's keys (api-key, username, password).
        refuse_two_kinds(
            "the operator's environment (from its connection Secret, when installed by manifests/ or the chart)",
            ENVIRONMENT_KEYS,
            api_key=api_key,
            username=username,
        )
        if url:
            ca_file = env.get("ELASTICSEARCH_CA_FILE")
            keys = ENVIRONMENT_KEYS.api_key if api_key else f"{ENVIRONMENT_KEYS.username}, {ENVIRONMENT_KEYS.password}"
            origin = f"the operator's default ({keys})" if api_key or username else None
            connection = Connection(  # refuses a URL with credentials in it (ConfigurationError)
                url=url,
                source="the operator's default",
                api_key=api_key,
                username=username,
                password=env.get("ELASTICSEARCH_PASSWORD") or None,
                ca_pem=Path(ca_file).read_text() if ca_file else None,
                verify_certs=verify,
                credentials_source=origin,
            )
        policy = env.get("OPERATOR_DEFAULT_DELETION_POLICY", contract.DELETION_POLICY_DELETE)
        if policy not in contract.DELETION_POLICIES:
            raise ValueError(f"OPERATOR_DEFAULT_DELETION_POLICY must be Delete or Orphan, not {policy!r}")
        return cls(
            default_connection=connection,
            default_deletion_policy=policy,
            default_namespaces=_namespaces(env.get("OPERATOR_DEFAULT_ELASTICSEARCH_NAMESPACES")),
            resync_seconds=float(env.get("OPERATOR_RESYNC_SECONDS", 60)),
            blocked_recheck_seconds=float(env.get("OPERATOR_BLOCKED_RECHECK_SECONDS", 15)),
            request_timeout_seconds=float(env.get("ELASTICSEARCH_REQUEST_TIMEOUT_SECONDS", 10)),
            create_timeout_seconds=float(env.get("ELASTICSEARCH_CREATE_TIMEOUT_SECONDS", 120)),
            retry_base_seconds=float(env.get("OPERATOR_RETRY_BASE_SECONDS", 2)),
            retry_cap_seconds=float(env.get("OPERATOR_RETRY_CAP_SECONDS", 120)),
            references_seconds=float(env.get("OPERATOR_REFERENCES_SECONDS", 300)),
            reference_checks_per_second=float(env.get("OPERATOR_REFERENCE_CHECKS_PER_SECOND", 10)),
            max_concurrency=int(env.get("ELASTICSEARCH_MAX_CONCURRENT_REQUESTS", 10)),
            max_workers=int(env.get("OPERATOR_MAX_WORKERS", 200)),
            metrics_port=int(env.get("OPERATOR_METRICS_PORT", 8080)),
            metrics_per_resource=_bool(env.get("OPERATOR_METRICS_PER_RESOURCE"), False),
            verify_certs=verify,
            eck_url_template=_url_template(env.get("OPERATOR_ECK_URL_TEMPLATE") or DEFAULT_ECK_URL_TEMPLATE),
        )
