"""The Kubernetes side of a resource's Elasticsearch (the connector) and the calls for its one endpoint (the
external client), in the shape of Crossplane's managed reconciler: `Connector.connect` yields an
`ExternalClient`, whose `observe` says whether the endpoint exists, whether it matches the spec and how not, and
whose thin `create`, `update`, `delete` each make one call. Conditions, finalizers and ownership are the managed
reconciler's (managed.py), never these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import OperatorConfig
from .connections import read_allowed_secret, resolve_connection
from .decisions import Capabilities, ReconcilePlan, References, Step, plan_reconcile
from .elasticsearch_gateway import ElasticsearchGateway
from .elasticsearch_pool import GatewayPool
from .errors import ClusterNotFormed
from .kube import KubeReader
from .ownership import Ownership
from .spec import DesiredEndpoint, adopts
from .store import Resource


@dataclass(frozen=True)
class Observation:
    """What Elasticsearch holds under the id, and what it would take to bring it in line (decisions.py)."""

    endpoint: Mapping[str, Any] | None
    plan: ReconcilePlan

    @property
    def exists(self) -> bool:
        return self.endpoint is not None


@dataclass
class ExternalClient:
    """One endpoint on one connected Elasticsearch. Every call is idempotent."""

    gateway: ElasticsearchGateway
    capabilities: Capabilities
    desired: DesiredEndpoint
    secret_values: Mapping[str, str] = field(default_factory=dict)
    secret_versions: Mapping[str, str] = field(default_factory=dict)
    drift_max_age: float = 60.0
    adopt: bool = False  # its owner consents to take over an endpoint it did not create

    @property
    def cluster(self) -> str:
        return self.capabilities.cluster

    @property
    def version(self) -> str:
        return ".".join(map(str, self.capabilities.version))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values sent: masked in anything Elasticsearch answers."""
        return tuple(self.secret_values.values())

    async def observe(self, ownership: Ownership | None, *, secrets_changed: bool, drift_check: bool) -> Observation:
        """The endpoint and the plan for it. A drift check of an endpoint in line compares with the cluster's
        shared list (its load does not grow with the number of resources); anything it would act on is looked
        at again, fresh, first."""
        if drift_check:
            listed = await self.gateway.endpoints.get(self.desired.inference_id, max_age=self.drift_max_age)
            plan = self.plan(listed, ownership, secrets_changed)
            if plan.step is Step.IN_LINE:
                return Observation(listed, plan)
        endpoint = await self.get()
        return Observation(endpoint, self.plan(endpoint, ownership, secrets_changed))

    def plan(
        self, endpoint: Mapping[str, Any] | None, ownership: Ownership | None, secrets_changed: bool
    ) -> ReconcilePlan:
        return plan_reconcile(
            self.desired,
            endpoint,
            ownership=ownership,
            secrets_changed=secrets_changed,
            capabilities=self.capabilities,
            adopt=self.adopt,
        )

    async def get(self) -> dict[str, Any] | None:
        return await self.gateway.get_endpoint(self.desired.inference_id)

    async def create(self) -> dict[str, Any]:
        """PUT the endpoint; the answer is the endpoint as Elasticsearch stored it."""
        return await self.gateway.put_endpoint(
            self.desired.task_type,
            self.desired.inference_id,
            self.desired.request_body(self.secret_values),
            secrets=self.secrets,
        )

    async def update(self, plan: ReconcilePlan) -> None:
        body = dict(plan.update_body)
        if plan.send_secrets:
            body["service_settings"] = {**body.get("service_settings", {}), **self.secret_values}
        await self.gateway.update_endpoint(
            self.desired.task_type, self.desired.inference_id, body, secrets=self.secrets
        )

    async def references(self) -> References | None:
        """What uses the endpoint (None: it does not exist). Elasticsearch 8.15's dry run names pipelines only;
        there the operator reads the index mappings itself, so that a semantic_text index holds the delete too."""
        refs = await self.gateway.dry_run_delete(self.desired.task_type, self.desired.inference_id)
        if refs is None or self.capabilities.reports_indexes:
            return refs
        indexes = await self.gateway.semantic_text_indexes(self.desired.inference_id)
        return References(pipelines=refs.pipelines, indexes=tuple(sorted({*refs.indexes, *indexes})))

    async def delete(self, *, force: bool) -> bool:
        """True when deleted now, False when it was already gone. Without force, Elasticsearch's own 409 catches
        a reference made since the dry run (errors.Referenced)."""
        return await self.gateway.delete_endpoint(self.desired.task_type, self.desired.inference_id, force=force)


class Connector:
    """Resolves a resource's `spec.elasticsearchRef` (a connection Secret, an ECK Elasticsearch, or the
    operator's default; connections.py, with the trust rules of trust.py) into a connected ExternalClient."""

    def __init__(self, config: OperatorConfig, kube: KubeReader, pool: GatewayPool) -> None:
        self.config = config
        self.kube = kube
        self.pool = pool

    async def connect(self, obj: Resource, kube: KubeReader | None = None, *, secrets: bool) -> ExternalClient:
        """The client for `obj`'s endpoint; `secrets`: also read the service settings' Secrets (to create or
        update). `kube`: a view of the reader that accepts only fresh reads (a deletion, a wait for a fix)."""
        kube = kube or self.kube
        desired = obj.desired
        connection = await resolve_connection(kube, self.config, obj.namespace, desired.elasticsearch_ref)
        gateway = await self.pool.get(connection)
        capabilities = await gateway.capabilities()
        if not capabilities.cluster_known:
            raise ClusterNotFormed(
                f"{gateway.where} answers but is not part of a formed cluster yet (cluster_uuid _na_): which cluster "
                f"it is cannot be told, so nothing about the endpoint is decided until it is"
            )
        # The cluster's list may be half a period old: a change behind the operator's back is repaired within
        # one and a half periods, whatever the number of resources (one list per cluster per half period).
        client = ExternalClient(
            gateway, capabilities, desired, drift_max_age=self.config.resync_seconds / 2, adopt=adopts(obj.annotations)
        )
        if secrets:
            client.secret_values, client.secret_versions = await self._secret_values(obj.namespace, desired, kube)
        return client

    async def cluster_of(self, namespace: str, desired: DesiredEndpoint) -> str:
        """The cluster another resource's connection reaches ("" while the cluster is not formed)."""
        connection = await resolve_connection(self.kube, self.config, namespace, desired.elasticsearch_ref)
        gateway = await self.pool.get(connection)
        return (await gateway.capabilities()).cluster

    @staticmethod
    async def _secret_values(
        namespace: str, desired: DesiredEndpoint, kube: KubeReader
    ) -> tuple[dict[str, str], dict[str, str]]:
        """The service_settings taken from Secrets that opted in (else ReferenceNotAllowed, and nothing is sent),
        and the resourceVersion of each Secret read."""
        secrets = {
            name: await read_allowed_secret(kube, namespace, name, "serviceSettingsSecretRefs")
            for name in sorted(desired.secret_names)
        }
        values = {setting: secrets[ref.name].value(ref.key) for setting, ref in desired.secret_refs.items()}
        versions = {ref.name: secrets[ref.name].resource_version for ref in desired.secret_refs.values()}
        return values, versions
