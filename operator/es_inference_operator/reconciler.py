"""The steps of the lifecycle: observe, create or adopt, update, delete. Each returns what the status should
say and when to look again; the kopf handlers only wire these to events.

Order of a reconcile: resolve the connection and Secrets (Kubernetes), check for a competing claim on the
same inference id, observe the endpoint (GET), then act on `decisions.plan_reconcile`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import contract, status
from .conditions import is_true
from .config import OperatorConfig
from .decisions import (
    Claim,
    DeletionStep,
    Step,
    blocked_message,
    claim_winner,
    diff_endpoint,
    plan_deletion,
    plan_reconcile,
    retry_delay,
)
from .elasticsearch_gateway import Connection, ElasticsearchGateway, GatewayPool
from .errors import ConfigurationError, ElasticsearchError, Referenced, Rejected, Unavailable
from .kube import KubeReader
from .spec import DesiredEndpoint, desired_endpoint, effective_deletion_policy, is_forced

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """The parts of an InferenceEndpoint the steps read."""

    namespace: str
    name: str
    uid: str
    created: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str]

    @property
    def desired(self) -> DesiredEndpoint:
        return desired_endpoint(self.name, self.spec)

    @property
    def claim(self) -> Claim:
        return Claim(created=self.created, uid=self.uid, namespace=self.namespace, name=self.name, managed=self.managed)

    @property
    def managed(self) -> bool:
        return bool(self.status.get("managed"))

    @property
    def kubectl_name(self) -> str:
        return f"-n {self.namespace} inferenceendpoint/{self.name}"


@dataclass(frozen=True)
class ClaimEntry:
    """What the claims index keeps per resource: enough to tell whether two claims hit one Elasticsearch."""

    claim: Claim
    connection_secret: str | None


@dataclass(frozen=True)
class Result:
    update: status.StatusUpdate
    retry_in: float | None = None  # look again after this many seconds (None: only on the next change)
    done: bool = True  # for deletion: the finalizer may go
    events: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (type, reason, message)


class Reconciler:
    def __init__(self, config: OperatorConfig, kube: KubeReader, pool: GatewayPool) -> None:
        self.config = config
        self.kube = kube
        self.pool = pool

    # --- Facts from Kubernetes ---------------------------------------------------------------------------

    async def connection_for(self, namespace: str, secret_name: str | None) -> Connection:
        if secret_name is None:
            if self.config.default_connection is None:
                raise ConfigurationError(
                    "no Elasticsearch to talk to: set spec.elasticsearchRef.secretName, or ELASTICSEARCH_URL "
                    "in the operator's configuration"
                )
            return self.config.default_connection
        secret = await self.kube.read_secret(namespace, secret_name)
        if "url" not in secret.data:
            raise ConfigurationError(f"Secret {namespace}/{secret_name} has no key 'url'")
        return Connection(
            url=secret.data["url"],
            source=f"Secret {namespace}/{secret_name}",
            api_key=secret.data.get("api-key"),
            username=secret.data.get("username"),
            password=secret.data.get("password"),
            ca_pem=secret.data.get("ca.crt"),
            verify_certs=self.config.verify_certs,
        )

    async def secret_values(self, namespace: str, desired: DesiredEndpoint) -> tuple[dict[str, str], dict[str, str]]:
        """The service_settings taken from Secrets, and the resourceVersion of each Secret read."""
        values: dict[str, str] = {}
        versions: dict[str, str] = {}
        secrets = {name: await self.kube.read_secret(namespace, name) for name in sorted(desired.secret_names)}
        for setting, ref in desired.secret_refs.items():
            values[setting] = secrets[ref.name].value(ref.key, namespace)
            versions[ref.name] = secrets[ref.name].resource_version
        return values, versions

    async def competing_claim(
        self, resource: Resource, connection: Connection, claims: Iterable[ClaimEntry]
    ) -> Claim | None:
        """The claim that wins over this resource's on the same inference id and Elasticsearch, if any."""
        same_es = [resource.claim]
        for entry in claims:
            if entry.claim.uid == resource.uid:
                continue
            try:
                other = await self.connection_for(entry.claim.namespace, entry.connection_secret)
            except ConfigurationError:
                continue  # a claim that reaches no Elasticsearch competes with nobody
            if other.url.rstrip("/") == connection.url.rstrip("/"):
                same_es.append(entry.claim)
        winner = claim_winner(same_es)
        return None if winner.uid == resource.uid else winner

    # --- Create, adopt, update -------------------------------------------------------------------------

    def _backoff(self, attempt: int, err: ElasticsearchError | None = None) -> float:
        retry_after = err.retry_after if isinstance(err, Unavailable) else None
        return retry_delay(
            attempt,
            base=self.config.retry_base_seconds,
            cap=self.config.retry_cap_seconds,
            retry_after=retry_after,
            jitter=random.random(),
        )

    async def reconcile(self, resource: Resource, claims: Iterable[ClaimEntry], attempt: int = 0) -> Result:
        desired = resource.desired
        was_ready = is_true(resource.status.get("conditions") or [], contract.READY)
        try:
            connection = await self.connection_for(resource.namespace, desired.connection_secret)
            winner = await self.competing_claim(resource, connection, claims)
            if winner is not None:
                # Never touch the endpoint. The periodic resync looks again, in case the winner goes away.
                return Result(status.conflict(desired.inference_id, f"{winner.namespace}/{winner.name}"))
            secret_values, secret_versions = await self.secret_values(resource.namespace, desired)
            gateway = await self.pool.get(connection)
            return await self._converge(resource, desired, gateway, secret_values, secret_versions)
        except ConfigurationError as err:
            return Result(
                status.not_ready("ConfigurationError", str(err), retrying=True),
                retry_in=self._backoff(attempt),
            )
        except Rejected as err:
            message = f"Elasticsearch refused the request ({err.status} {err.error_type}): {err.reason}"
            return Result(status.not_ready("ElasticsearchRejected", message, retrying=False))
        except ElasticsearchError as err:
            reason = "ElasticsearchAuthFailed" if err.kind == "auth" else "ElasticsearchUnavailable"
            message = f"{err.explained} (retrying)"
            return Result(
                status.not_ready(reason, message, retrying=True, keep_ready=was_ready),
                retry_in=self._backoff(attempt, err),
            )

    async def _converge(
        self,
        resource: Resource,
        desired: DesiredEndpoint,
        gateway: ElasticsearchGateway,
        secret_values: Mapping[str, str],
        secret_versions: Mapping[str, str],
    ) -> Result:
        capabilities = await gateway.capabilities()
        observed = await gateway.get_endpoint(desired.inference_id)
        managed = resource.managed
        sent_versions = dict(resource.status.get("secretVersions") or {})
        plan = plan_reconcile(
            desired,
            observed,
            managed=managed,
            secrets_changed=sent_versions != dict(secret_versions),
            capabilities=capabilities,
        )
        events: list[tuple[str, str, str]] = []
        if plan.step is Step.ADOPT:
            # Identical to the spec: ours from now on. Its secrets are unknown (never echoed): send ours.
            managed = True
            events.append(("Normal", "Adopted", f"adopted the existing inference endpoint {desired.inference_id}"))
            if desired.secret_refs:
                plan = plan_reconcile(desired, observed, managed=True, secrets_changed=True, capabilities=capabilities)
            else:
                secret_versions = {}

        fields: dict[str, Any] = {
            "inferenceId": desired.inference_id,
            "elasticsearchVersion": ".".join(map(str, capabilities.version)),
        }
        if plan.step is Step.CREATE:
            try:
                await gateway.put_endpoint(desired.task_type, desired.inference_id, desired.request_body(secret_values))
            except Rejected as err:
                if err.error_type != "resource_already_exists_exception":
                    raise
                # Created by somebody else since our GET: observe again on the next round.
                return Result(status.not_ready("Creating", err.reason, retrying=True), retry_in=1.0)
            if managed:
                events.append(
                    (
                        "Warning",
                        "Recreated",
                        f"inference endpoint {desired.inference_id} had been "
                        f"deleted outside the operator; created it again",
                    )
                )
            else:
                events.append(("Normal", "Created", f"created inference endpoint {desired.inference_id}"))
        elif plan.step is Step.UPDATE:
            body = dict(plan.update_body)
            if plan.send_secrets:
                body["service_settings"] = {**body.get("service_settings", {}), **secret_values}
            await gateway.update_endpoint(desired.task_type, desired.inference_id, body)
            changed = plan.diff.describe() or "secrets"
            events.append(("Normal", "Updated", f"updated {changed} of inference endpoint {desired.inference_id}"))
        elif plan.step is Step.MISMATCH:
            return Result(
                status.not_ready(
                    "ConfigurationMismatch",
                    f"inference endpoint {desired.inference_id} already exists in Elasticsearch with another "
                    f"configuration (it differs in {plan.diff.describe()}); it was not created by this resource "
                    f"and is left untouched. Delete it in Elasticsearch, or use another inferenceId",
                    retrying=False,
                    fields={"inferenceId": desired.inference_id},
                )
            )
        elif plan.step is Step.NEEDS_RECREATE:
            return Result(
                status.not_ready(
                    "NeedsRecreate",
                    f"inference endpoint {desired.inference_id} differs from the spec in {plan.diff.describe()}, "
                    f"which Elasticsearch cannot change in place; create a new resource (another inferenceId) "
                    f"for the new configuration",
                    retrying=False,
                    fields={**fields, "managed": True},
                )
            )
        elif plan.step is Step.NO_UPDATE_API:
            return Result(
                status.not_ready(
                    "UpdateNotSupported",
                    f"inference endpoint {desired.inference_id} differs from the spec in "
                    f"{plan.diff.describe() or 'its secrets'}, which Elasticsearch "
                    f"{fields['elasticsearchVersion']} cannot update in place",
                    retrying=False,
                    fields={**fields, "managed": True},
                )
            )

        # CREATE, UPDATE, ADOPT and IN_LINE end here: the endpoint is in line.
        fields.update({"managed": True, "secretVersions": dict(secret_versions)})
        # What uses the endpoint now (a dry run deletes nothing): status.references stays current outside
        # deletions too, so that an admission policy can refuse `kubectl delete` at once while it is in use.
        refs = await gateway.dry_run_delete(desired.task_type, desired.inference_id)
        if refs is not None:
            fields["references"] = refs.as_status()
        # The same words every time: a status that does not change is not written again.
        message = f"inference endpoint {desired.inference_id} exists in Elasticsearch and matches the spec"
        return Result(status.ready(message, fields=fields), events=tuple(events))

    # --- Delete ------------------------------------------------------------------------------------------

    async def delete(self, resource: Resource, claims: Iterable[ClaimEntry], attempt: int = 0) -> Result:
        desired = resource.desired
        try:
            policy = effective_deletion_policy(
                desired.deletion_policy,
                await self.kube.namespace_annotations(resource.namespace) if not desired.deletion_policy else None,
                self.config.default_deletion_policy,
            )
            if policy == "Orphan":  # no need to reach Elasticsearch at all
                return Result(status.deleting("deletionPolicy is Orphan: the endpoint stays"))
            connection = await self.connection_for(resource.namespace, desired.connection_secret)
            claimed_by_other = await self.competing_claim(resource, connection, claims) is not None
            gateway = await self.pool.get(connection)
            managed = resource.managed or (
                # Created, but the status saying so was never written (the operator stopped in between):
                # an endpoint identical to the spec is ours.
                not claimed_by_other and policy != "Orphan" and await self._identical_exists(gateway, desired)
            )
            plan = plan_deletion(
                policy=policy,
                managed=managed,
                claimed_by_other=claimed_by_other,
                forced=is_forced(resource.annotations),
            )
            log.info("deleting %s/%s: %s", resource.namespace, resource.name, plan.reason)
            if plan.step is DeletionStep.RELEASE:
                return Result(status.deleting(plan.reason))
            if plan.step is DeletionStep.FORCE_DELETE:
                await gateway.delete_endpoint(desired.task_type, desired.inference_id, force=True)
                return Result(
                    status.deleting("force-deleted"),
                    events=(
                        (
                            "Warning",
                            "ForceDeleted",
                            f"force-deleted inference endpoint {desired.inference_id}: pipelines or indexes that "
                            f"used it now point at a missing endpoint",
                        ),
                    ),
                )
            refs = await gateway.dry_run_delete(desired.task_type, desired.inference_id)
            if refs is None:
                return Result(status.deleting("the endpoint was already gone"))
            if refs:
                message = blocked_message(desired.inference_id, refs, resource.kubectl_name)
                return Result(
                    status.deletion_blocked(refs, message),
                    retry_in=self.config.blocked_recheck_seconds,
                    done=False,
                )
            await gateway.delete_endpoint(desired.task_type, desired.inference_id, force=False)
            return Result(status.deleting("deleted", refs))
        except Referenced as err:
            # A reference appeared between the dry run and the delete: Elasticsearch refused, nothing lost.
            message = (
                f"{err.reason} To delete it anyway: kubectl annotate {resource.kubectl_name} "
                f"inference.es-operator.dev/force=true"
            )
            return Result(status.deletion_blocked(None, message), retry_in=1.0, done=False)
        except ConfigurationError as err:
            return Result(
                status.deletion_waiting("ConfigurationError", f"{err} (retrying)"),
                retry_in=self._backoff(attempt),
                done=False,
            )
        except ElasticsearchError as err:
            reason = {"auth": "ElasticsearchAuthFailed", "rejected": "ElasticsearchRejected"}.get(
                err.kind, "ElasticsearchUnavailable"
            )
            message = f"the endpoint is kept and the deletion retried: {err.explained}"
            return Result(status.deletion_waiting(reason, message), retry_in=self._backoff(attempt, err), done=False)

    async def _identical_exists(self, gateway: ElasticsearchGateway, desired: DesiredEndpoint) -> bool:
        observed = await gateway.get_endpoint(desired.inference_id)
        return observed is not None and diff_endpoint(desired, observed).in_line
