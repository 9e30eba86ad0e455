"""The steps of the lifecycle: observe, create or adopt, update, delete. Each returns what the status should
say and when to look again; the kopf handlers only wire these to events.

Order of a reconcile: resolve the connection and the cluster it reaches, check for a competing claim on the
same inference id there, read the Secrets, observe the endpoint (GET), then act on `decisions.plan_reconcile`.
What the resource owns is recorded in `status.ownership` (decisions.Ownership) before and after a create.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from . import contract, status
from .conditions import is_true
from .config import OperatorConfig
from .connections import ElasticsearchNotReady, read_allowed_secret, resolve_connection
from .decisions import (
    ADOPTED,
    CREATE_PENDING,
    CREATED,
    Capabilities,
    Claim,
    DeletionStep,
    Ownership,
    ReconcilePlan,
    References,
    Step,
    blocked_message,
    claim_winner,
    cluster_changed,
    plan_deletion,
    plan_reconcile,
    release_without_elasticsearch,
    retry_delay,
    spread_offset,
)
from .elasticsearch_gateway import Connection, ElasticsearchGateway, GatewayPool
from .errors import (
    ConfigurationError,
    ElasticsearchError,
    KubernetesUnavailable,
    NotFound,
    Referenced,
    Rejected,
    Unavailable,
)
from .kube import KubeReader
from .spec import DesiredEndpoint, ElasticsearchRef, desired_endpoint, effective_deletion_policy, is_forced
from .trust import ReferenceNotAllowed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """The parts of an InferenceEndpoint the steps read, taken together from one version of the object."""

    namespace: str
    name: str
    uid: str
    created: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str]
    generation: int | None = None  # of this spec: the one the status will describe

    @property
    def desired(self) -> DesiredEndpoint:
        return desired_endpoint(self.name, self.spec)

    @property
    def ownership(self) -> Ownership | None:
        return Ownership.from_status(self.status)

    @property
    def claim(self) -> Claim:
        ownership = self.ownership
        return Claim(
            created=self.created,
            uid=self.uid,
            namespace=self.namespace,
            name=self.name,
            managed=ownership is not None and not ownership.pending,
        )

    @property
    def kubectl_args(self) -> str:
        """How kubectl names this resource: `-n NS inferenceendpoint/NAME`."""
        return f"-n {self.namespace} inferenceendpoint/{self.name}"


@dataclass(frozen=True)
class ClaimEntry:
    """What the claims index keeps per resource: enough to tell whether two claims hit one Elasticsearch."""

    claim: Claim
    elasticsearch_ref: ElasticsearchRef
    owned_cluster: str | None = None  # where its status says it owns the endpoint


@dataclass(frozen=True)
class Result:
    update: status.StatusUpdate
    retry_in: float | None = None  # look again after this many seconds (None: only on the next change)
    done: bool = True  # for deletion: the finalizer may go
    events: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (type, reason, message)
    # The status as the reconcile itself last wrote it (None: as the body says): what the final patch compares with.
    written: Mapping[str, Any] | None = None


class ClaimUnresolved(Exception):
    """Another resource claims the same inference id and where its endpoint would live cannot be told yet."""


class StatusPatcher(Protocol):
    async def patch_status(self, namespace: str, name: str, changes: dict[str, Any]) -> bool: ...


class _StatusTrail:
    """The status of one resource as this reconcile leaves it (writes go to the API server at once), and the
    Events it has to post whatever the outcome."""

    def __init__(self, writer: StatusPatcher, resource: Resource) -> None:
        self.writer = writer
        self.resource = resource
        self.current: dict[str, Any] = dict(resource.status)
        self.wrote = False
        self.events: list[tuple[str, str, str]] = []

    async def write(self, update: status.StatusUpdate) -> bool:
        """Write at once; True when the resource is being deleted meanwhile (its deletion waits for this step)."""
        changes = status.status_changes(self.current, update, generation=self.resource.generation)
        deleting = await self.writer.patch_status(self.resource.namespace, self.resource.name, changes)
        self.current = status.applied(self.current, changes)
        self.wrote = self.wrote or bool(changes)
        return deleting

    def result(
        self, update: status.StatusUpdate, *, events: Iterable[tuple[str, str, str]] = (), **kwargs: Any
    ) -> Result:
        return Result(update, written=self.current if self.wrote else None, events=(*self.events, *events), **kwargs)


class Reconciler:
    def __init__(self, config: OperatorConfig, kube: KubeReader, pool: GatewayPool, writer: StatusPatcher) -> None:
        self.config = config
        self.kube = kube
        self.pool = pool
        self.writer = writer
        # Creates Elasticsearch refused, by uid: (generation, Secret versions). The same PUT is not sent again
        # (each one makes a third-party service call its provider) until the spec or a Secret changes.
        self._refused: dict[str, tuple[int | None, str, tuple[tuple[str, str], ...]]] = {}
        self._references_checked: dict[str, float] = {}  # uid -> when its references were last looked at

    # --- Facts from Kubernetes ---------------------------------------------------------------------------

    async def connection_for(self, namespace: str, ref: ElasticsearchRef, kube: KubeReader | None = None) -> Connection:
        """The resource's Elasticsearch (connections.py): a connection Secret that opted in, an ECK Elasticsearch
        (ElasticsearchNotReady until it is Ready), or the operator's default. ReferenceNotAllowed when the Secret
        or the other namespace's Elasticsearch did not opt in."""
        return await resolve_connection(kube or self.kube, self.config, namespace, ref)

    async def secret_values(self, namespace: str, desired: DesiredEndpoint) -> tuple[dict[str, str], dict[str, str]]:
        """The service_settings taken from Secrets, and the resourceVersion of each Secret read."""
        values: dict[str, str] = {}
        versions: dict[str, str] = {}
        # Only Secrets that opted in (trust.py): otherwise ReferenceNotAllowed, and nothing is sent.
        secrets = {
            name: await read_allowed_secret(self.kube, namespace, name, "serviceSettingsSecretRefs")
            for name in sorted(desired.secret_names)
        }
        for setting, ref in desired.secret_refs.items():
            values[setting] = secrets[ref.name].value(ref.key)
            versions[ref.name] = secrets[ref.name].resource_version
        return values, versions

    async def cluster_of(self, rival: Claim, ref: ElasticsearchRef) -> str | None:
        """The cluster a rival claimant reaches (None: none, its Secret is gone or not open to it). Anything
        else (a throttled API server, its Elasticsearch down or not ready yet) leaves it unknown: the caller
        waits, without showing the rival's details, which are another resource's."""
        try:
            connection = await self.connection_for(rival.namespace, ref)
            gateway = await self.pool.get(connection)
            return (await gateway.capabilities()).cluster
        except (NotFound, ReferenceNotAllowed):
            return None
        except (ConfigurationError, KubernetesUnavailable, ElasticsearchError) as err:
            log.info(
                "the cluster of %s/%s, which claims the same id, is unknown yet: %s", rival.namespace, rival.name, err
            )
            raise ClaimUnresolved(
                f"{rival.namespace}/{rival.name} claims the same inference id and it cannot be told yet whether it "
                f"uses the same Elasticsearch cluster; the endpoint is left alone until it can (retrying)"
            ) from None

    async def competing_claim(self, resource: Resource, cluster: str, claims: Iterable[ClaimEntry]) -> Claim | None:
        """The claim that wins over this resource's on the same inference id and cluster, if any.

        Only an endpoint recorded on this cluster counts as managed. A resource that owns (or is creating) the
        endpoint here can lose only to another that recorded it here too: no rival's Secret or Elasticsearch is
        asked, so a rival's broken connection never blocks the owner, nor its deletion."""
        ownership = resource.ownership
        mine = ownership is not None and ownership.cluster == cluster
        same_cluster = [replace(resource.claim, managed=mine and ownership is not None and not ownership.pending)]
        for entry in claims:
            if entry.claim.uid == resource.uid:
                continue
            if entry.owned_cluster == cluster:
                same_cluster.append(entry.claim)  # what the other resource recorded is a fact
            elif not mine and await self.cluster_of(entry.claim, entry.elasticsearch_ref) == cluster:
                same_cluster.append(replace(entry.claim, managed=False))  # it manages nothing here
        winner = claim_winner(same_cluster)
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

    def _references_due(self, resource: Resource, gateway: ElasticsearchGateway) -> bool:
        """Is it this resource's turn for a dry run? Each endpoint's references are looked at once per
        OPERATOR_REFERENCES_SECONDS, spread over that period (no burst after a restart), and never faster than
        OPERATOR_REFERENCE_CHECKS_PER_SECOND per cluster: a dry run scans every pipeline and index mapping."""
        now = time.monotonic()
        period = self.config.references_seconds
        if "references" not in resource.status:
            # Never looked at (a new endpoint): now, as part of its creation, outside the sweep's rate. Left to
            # the sweep, 10,000 created together wrote their first references one by one for 17 minutes after.
            self._references_checked[resource.uid] = now
            return True
        # First time in this process: as if looked at some part of a period ago, by the uid's hash.
        last = self._references_checked.setdefault(resource.uid, now - spread_offset(resource.uid, period))
        if now - last < period or not gateway.reference_checks.take(self.config.reference_checks_per_second):
            return False
        self._references_checked[resource.uid] = now
        return True

    async def reconcile(
        self, resource: Resource, claims: Iterable[ClaimEntry], attempt: int = 0, *, periodic: bool = False
    ) -> Result:
        desired = resource.desired
        trail = _StatusTrail(self.writer, resource)
        was_ready = is_true(resource.status.get("conditions") or [], contract.READY)
        try:
            connection = await self.connection_for(resource.namespace, desired.elasticsearch_ref)
            gateway = await self.pool.get(connection)
            capabilities = await gateway.capabilities()
            winner = await self.competing_claim(resource, capabilities.cluster, claims)
            if winner is not None:
                # Never touch the endpoint. The periodic resync looks again, in case the winner goes away.
                return trail.result(status.conflict(desired.inference_id, f"{winner.namespace}/{winner.name}"))
            secret_values, secret_versions = await self.secret_values(resource.namespace, desired)
            return await self._converge(
                resource, trail, desired, gateway, capabilities, secret_values, secret_versions, periodic=periodic
            )
        except ClaimUnresolved as err:
            return trail.result(
                status.not_ready("ClaimUnresolved", str(err), retrying=True, keep_ready=was_ready),
                retry_in=self._backoff(attempt),
            )
        except ElasticsearchNotReady as err:
            # A wait for ECK, not an error: an endpoint that was in line stays Ready meanwhile (ECK applying changes).
            return trail.result(
                status.not_ready("ElasticsearchNotReady", str(err), retrying=True, keep_ready=was_ready),
                retry_in=self._backoff(attempt),
            )
        except ReferenceNotAllowed as err:
            # A person must opt the Secret or Elasticsearch in (kstatus: Stalled); the resync looks again.
            return trail.result(status.not_ready("ReferenceNotAllowed", str(err), retrying=False))
        except (ConfigurationError, KubernetesUnavailable) as err:
            reason = "ConfigurationError" if isinstance(err, ConfigurationError) else "KubernetesUnavailable"
            return trail.result(
                status.not_ready(
                    reason, str(err), retrying=True, keep_ready=was_ready and reason != "ConfigurationError"
                ),
                retry_in=self._backoff(attempt),
            )
        except Rejected as err:
            message = f"Elasticsearch refused the request ({err.status} {err.error_type}): {err.reason}"
            return trail.result(status.not_ready("ElasticsearchRejected", message, retrying=False))
        except ElasticsearchError as err:
            reason = "ElasticsearchAuthFailed" if err.kind == "auth" else "ElasticsearchUnavailable"
            message = f"{err.explained} (retrying)"
            return trail.result(
                status.not_ready(reason, message, retrying=True, keep_ready=was_ready),
                retry_in=self._backoff(attempt, err),
            )

    async def _converge(
        self,
        resource: Resource,
        trail: _StatusTrail,
        desired: DesiredEndpoint,
        gateway: ElasticsearchGateway,
        capabilities: Capabilities,
        secret_values: Mapping[str, str],
        secret_versions: Mapping[str, str],
        *,
        periodic: bool,
    ) -> Result:
        cluster = capabilities.cluster
        events: list[tuple[str, str, str]] = []
        fields: dict[str, Any] = {
            "inferenceId": desired.inference_id,
            "elasticsearchVersion": ".".join(map(str, capabilities.version)),
        }
        ownership = resource.ownership
        if cluster_changed(ownership, cluster, desired.inference_id):
            assert ownership is not None
            # The resource now points at another cluster: what it created on the old one stays there, and here
            # it starts as a newcomer (adopts only what is identical, deletes nothing it did not create).
            # Recorded at once: whatever happens next here, the old endpoint is not this resource's to touch.
            left = {"clusterUUID": ownership.cluster, "inferenceId": ownership.inference_id}
            await trail.write(status.StatusUpdate(fields={"leftBehind": left, "ownership": None}))
            trail.events.append(
                (
                    "Warning",
                    "EndpointLeftBehind",
                    f"the resource now points at another Elasticsearch cluster ({cluster}); inference endpoint "
                    f"{ownership.inference_id} on cluster {ownership.cluster} was left there, unmanaged: delete it "
                    f"there by hand if it is no longer needed",
                )
            )
            ownership = None

        sent_versions = dict(resource.status.get("secretVersions") or {})

        def plan_for(observed: Mapping[str, Any] | None) -> ReconcilePlan:
            return plan_reconcile(
                desired,
                observed,
                ownership=ownership,
                secrets_changed=sent_versions != dict(secret_versions),
                capabilities=capabilities,
            )

        if periodic:
            # The drift check compares with the cluster's shared list, so that its load does not grow with the
            # number of resources; anything it would act on is looked at again, fresh, first.
            observed = await gateway.endpoints.get(desired.inference_id, max_age=self.config.resync_seconds)
            plan = plan_for(observed)
            if plan.step is not Step.IN_LINE:
                observed = await gateway.get_endpoint(desired.inference_id)
                plan = plan_for(observed)
        else:
            observed = await gateway.get_endpoint(desired.inference_id)
            plan = plan_for(observed)

        if plan.step is Step.ADOPT:
            # Identical to the spec: ours from now on. Its secrets are unknown (never echoed): send ours.
            assert observed is not None
            ownership = Ownership.of(desired, cluster, ADOPTED, observed)
            events.append(("Normal", "Adopted", f"adopted the existing inference endpoint {desired.inference_id}"))
            if desired.secret_refs:
                plan = plan_reconcile(
                    desired, observed, ownership=ownership, secrets_changed=True, capabilities=capabilities
                )
            else:
                secret_versions = {}
                plan = ReconcilePlan(Step.IN_LINE, diff=plan.diff)

        if plan.step is Step.CREATE:
            refused = self._refused.get(resource.uid)
            if refused == (resource.generation, cluster, tuple(sorted(secret_versions.items()))):
                # Refused already, and nothing changed since: the status says why; do not send it again.
                return trail.result(status.StatusUpdate())
            recreating = ownership is not None and not ownership.pending
            intent = Ownership.of(desired, cluster, CREATE_PENDING)
            # Recorded before the PUT: if the operator dies before it hears the answer, the next one knows the
            # endpoint it then finds may be its own. The same write says the new generation is being worked on.
            deleting = await trail.write(
                status.StatusUpdate(
                    conditions=status.reconciling(
                        "Creating", f"creating inference endpoint {desired.inference_id}"
                    ).conditions,
                    fields={"ownership": intent.as_status(), "secretVersions": dict(secret_versions)},
                )
            )
            if deleting:
                # Deleted while this step waited its turn: create nothing; the deletion finds the intent and no
                # endpoint, and lets the resource go.
                return trail.result(status.StatusUpdate())
            try:
                created = await gateway.put_endpoint(
                    desired.task_type,
                    desired.inference_id,
                    desired.request_body(secret_values),
                    secrets=tuple(secret_values.values()),
                )
            except Rejected as err:
                await trail.write(status.StatusUpdate(fields={"ownership": None}))
                if err.error_type == "resource_already_exists_exception":
                    # Created by somebody else since our GET: observe again on the next round.
                    return trail.result(status.not_ready("Creating", err.reason, retrying=True), retry_in=1.0)
                self._refused[resource.uid] = (resource.generation, cluster, tuple(sorted(secret_versions.items())))
                raise
            self._refused.pop(resource.uid, None)
            ownership = Ownership.of(desired, cluster, CREATED, created)
            if recreating:
                events.append(
                    (
                        "Warning",
                        "Recreated",
                        f"inference endpoint {desired.inference_id} had been deleted outside the operator; "
                        f"created it again",
                    )
                )
            else:
                events.append(("Normal", "Created", f"created inference endpoint {desired.inference_id}"))
        elif plan.step is Step.MISMATCH:
            mine = ownership is not None and not ownership.pending
            return trail.result(
                status.not_ready(
                    "ConfigurationMismatch",
                    f"inference endpoint {desired.inference_id} exists in Elasticsearch with another configuration "
                    f"(it differs in {plan.diff.describe()}); "
                    + (
                        "it was replaced outside the operator, so it is no longer this resource's"
                        if mine
                        else "it was not created by this resource"
                    )
                    + " and is left untouched. Delete it in Elasticsearch, or use another inferenceId",
                    retrying=False,
                    fields={**fields, "ownership": None},
                )
            )
        else:
            assert observed is not None and ownership is not None
            if ownership.pending:
                # The operator died after asking for the create and before it heard the answer: the endpoint
                # of the same task type, service and settings it finds is the one it created.
                ownership = Ownership.of(desired, cluster, CREATED, observed)
                events.append(("Normal", "Created", f"created inference endpoint {desired.inference_id}"))
            fields["ownership"] = ownership.as_status()
            if plan.step is Step.UPDATE:
                # Said before the update, which can take a while: kstatus, Flux and Argo CD see InProgress.
                await trail.write(status.reconciling("Updating", f"updating inference endpoint {desired.inference_id}"))
                await self._update(gateway, desired, plan.update_body, plan.send_secrets, secret_values)
                changed = plan.diff.describe() or "secrets"
                events.append(("Normal", "Updated", f"updated {changed} of inference endpoint {desired.inference_id}"))
            elif plan.step is Step.NEEDS_RECREATE:
                return trail.result(
                    status.not_ready(
                        "NeedsRecreate",
                        f"inference endpoint {desired.inference_id} differs from the spec in "
                        f"{plan.diff.describe()}, which Elasticsearch cannot change in place; create a new resource "
                        f"(another inferenceId) for the new configuration",
                        retrying=False,
                        fields=fields,
                    ),
                    events=tuple(events),
                )
            elif plan.step is Step.NO_UPDATE_API:
                return trail.result(
                    status.not_ready(
                        "UpdateNotSupported",
                        f"inference endpoint {desired.inference_id} differs from the spec in "
                        f"{plan.diff.describe() or 'its secrets'}, which Elasticsearch "
                        f"{fields['elasticsearchVersion']} cannot update in place",
                        retrying=False,
                        fields=fields,
                    ),
                    events=tuple(events),
                )

        # CREATE, UPDATE, ADOPT and IN_LINE end here: the endpoint is in line, and ours.
        assert ownership is not None
        fields.update({"ownership": ownership.as_status(), "secretVersions": dict(secret_versions)})
        # What uses the endpoint now (a dry run deletes nothing): status.references stays current outside
        # deletions too, so that an admission policy can refuse `kubectl delete` at once while it is in use.
        if self._references_due(resource, gateway):
            refs = await self._references(gateway, capabilities, desired)
            if refs is not None:
                fields["references"] = refs.as_status()
        # The same words every time: a status that does not change is not written again.
        message = f"inference endpoint {desired.inference_id} exists in Elasticsearch and matches the spec"
        return trail.result(status.ready(message, fields=fields), events=tuple(events))

    async def _update(
        self,
        gateway: ElasticsearchGateway,
        desired: DesiredEndpoint,
        update_body: Mapping[str, Any],
        send_secrets: bool,
        secret_values: Mapping[str, str],
    ) -> None:
        body = dict(update_body)
        if send_secrets:
            body["service_settings"] = {**body.get("service_settings", {}), **secret_values}
        await gateway.update_endpoint(
            desired.task_type, desired.inference_id, body, secrets=tuple(secret_values.values())
        )

    async def _references(
        self, gateway: ElasticsearchGateway, capabilities: Capabilities, desired: DesiredEndpoint
    ) -> References | None:
        """What uses the endpoint (None: it does not exist). Elasticsearch 8.15's dry run names pipelines only;
        there the operator reads the index mappings itself, so that a semantic_text index holds the delete too."""
        refs = await gateway.dry_run_delete(desired.task_type, desired.inference_id)
        if refs is None or capabilities.reports_indexes:
            return refs
        indexes = await gateway.semantic_text_indexes(desired.inference_id)
        return References(pipelines=refs.pipelines, indexes=tuple(sorted({*refs.indexes, *indexes})))

    # --- Delete ------------------------------------------------------------------------------------------

    async def delete(self, resource: Resource, claims: Iterable[ClaimEntry], attempt: int = 0) -> Result:
        self._refused.pop(resource.uid, None)
        self._references_checked.pop(resource.uid, None)
        # Rare and final: no cached Secret or policy decides it, only what was read after the deletion began.
        kube = self.kube.read_after(time.monotonic())
        desired = resource.desired
        ownership = resource.ownership
        try:
            policy = effective_deletion_policy(
                desired.deletion_policy,
                await kube.namespace_annotations(resource.namespace) if not desired.deletion_policy else None,
                self.config.default_deletion_policy,
            )
            reason = release_without_elasticsearch(policy=policy, ownership=ownership)
            if reason is not None:  # nothing of this resource's to delete: no need to reach Elasticsearch
                log.info("deleting %s/%s: %s", resource.namespace, resource.name, reason)
                return Result(status.deleting(reason))
            assert ownership is not None
            connection = await self.connection_for(resource.namespace, desired.elasticsearch_ref, kube)
            gateway = await self.pool.get(connection)
            capabilities = await gateway.capabilities()
            here = ownership.cluster == capabilities.cluster
            claimed_by_other = here and await self.competing_claim(resource, capabilities.cluster, claims) is not None
            observed = (
                await gateway.get_endpoint(ownership.inference_id)
                if ownership.cluster == capabilities.cluster
                else None
            )
            plan = plan_deletion(
                ownership=ownership,
                cluster=capabilities.cluster,
                observed=observed,
                claimed_by_other=claimed_by_other,
                forced=is_forced(resource.annotations),
            )
            log.info("deleting %s/%s: %s", resource.namespace, resource.name, plan.reason)
            if plan.step is DeletionStep.RELEASE:
                return Result(status.deleting(plan.reason))
            if plan.step is DeletionStep.RELEASE_FOREIGN:
                event_reason = "EndpointLeftBehind" if ownership.cluster != capabilities.cluster else "NotOurs"
                message = f"left inference endpoint {desired.inference_id} untouched: {plan.reason}"
                return Result(status.deleting(plan.reason), events=(("Warning", event_reason, message),))
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
            refs = await self._references(gateway, capabilities, desired)
            if refs is None:
                return Result(status.deleting("the endpoint was already gone"))
            if refs:
                message = blocked_message(desired.inference_id, refs, resource.kubectl_args)
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
                f"{err.reason} To delete it anyway: kubectl annotate {resource.kubectl_args} "
                f"inference.es-operator.dev/force=true"
            )
            return Result(status.deletion_blocked(None, message), retry_in=1.0, done=False)
        except (ElasticsearchNotReady, ReferenceNotAllowed) as err:
            # Only an endpoint this resource created gets here: its deletion waits for ECK, or for the opt-in.
            reason = "ElasticsearchNotReady" if isinstance(err, ElasticsearchNotReady) else "ReferenceNotAllowed"
            return Result(
                status.deletion_waiting(reason, f"{err} (retrying)"), retry_in=self._backoff(attempt), done=False
            )
        except (ConfigurationError, KubernetesUnavailable) as err:
            # The endpoint this resource created cannot be reached (its Secret gone with its namespace, say): it
            # is kept, and a person may let it go.
            reason = "ConfigurationError" if isinstance(err, ConfigurationError) else "KubernetesUnavailable"
            message = (
                f"{err} (retrying). To let the resource go and keep the endpoint in Elasticsearch: kubectl patch "
                f"{resource.kubectl_args} --type=merge -p " + '\'{"spec":{"deletionPolicy":"Orphan"}}\''
            )
            return Result(status.deletion_waiting(reason, message), retry_in=self._backoff(attempt), done=False)
        except Rejected as err:
            # A refusal that retrying will not change: a person decides. Looked at again now and then.
            message = (
                f"Elasticsearch refused to delete inference endpoint {desired.inference_id} ({err.status} "
                f"{err.error_type}): {err.reason}. Fix it in Elasticsearch, or let the resource go and keep the "
                f"endpoint: kubectl patch {resource.kubectl_args} --type=merge -p "
                f'\'{{"spec":{{"deletionPolicy":"Orphan"}}}}\''
            )
            return Result(
                status.deletion_stalled("ElasticsearchRejected", message),
                retry_in=self.config.retry_cap_seconds,
                done=False,
            )
        except ElasticsearchError as err:
            reason = "ElasticsearchAuthFailed" if err.kind == "auth" else "ElasticsearchUnavailable"
            message = f"the endpoint is kept and the deletion retried: {err.explained}"
            return Result(status.deletion_waiting(reason, message), retry_in=self._backoff(attempt, err), done=False)
