"""The managed reconciler: one resource, one pass, in Crossplane's order. Both paths read as observe -> decide ->
act: connect (external.Connector), observe (ExternalClient.observe), decide (decisions.py, pure), act (one call to
Elasticsearch, the ownership record around it), then one status write (kube_writer.ResourceWriter).

    reconcile(key) -> the store's version of the object
      not deleting: converge()  connect, claims, observe, then create | adopt | update | report | in line
      deleting:     finalize()  policy, connect, observe, then release | force-delete | dry run, delete, release

Every pass ends with a Result that tells the work queue when to look again; nothing waits in here.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from . import messages, protection, status
from .arbitration import ClaimArbiter
from .config import OperatorConfig
from .decisions import (
    Step,
    create_refused,
    ready_at,
)
from .deletion import Deletion, Protection
from .errors import NotLeader, Rejected
from .external import Connector, ExternalClient, Observation
from .kube import KubeReader
from .kube_writer import EventTuple, ObjectGone, ResourceWriter, StaleObject
from .outcomes import AGAIN, GONE, Outcomes, Result
from .ownership import ADOPTED, CREATED, Ownership, cluster_changed
from .spec import DesiredEndpoint
from .store import Key, Resource, ResourceStore
from .sweep import ReferenceSweep
from .verdicts import Phase, Recheck

log = logging.getLogger(__name__)

_PASS_THROUGH = (StaleObject, ObjectGone, NotLeader)


class ManagedReconciler:
    def __init__(
        self,
        config: OperatorConfig,
        store: ResourceStore,
        connector: Connector,
        arbiter: ClaimArbiter,
        writer: ResourceWriter,
        kube: KubeReader,
        protection: Protection,
    ) -> None:
        self.config = config
        self.store = store
        self.connector = connector
        self.arbiter = arbiter
        self.writer = writer
        self.protection = protection
        self.sweep = ReferenceSweep(config.references_seconds, config.reference_checks_per_second)
        self.outcomes = Outcomes(config, writer, kube)
        self.deletion = Deletion(config, connector, arbiter, writer, kube, protection, self.outcomes)

    async def reconcile(self, key: Key, attempt: int = 0) -> Result:
        obj = self.store.get(key)
        if obj is None:
            return GONE
        if obj.deleting:
            self.sweep.forget(obj.uid)
        try:
            return await (self.deletion.finalize(obj, attempt) if obj.deleting else self.converge(obj, attempt))
        except StaleObject as err:  # the store holds the newer version (kube_writer): at once, or a moment later
            return replace(AGAIN, requeue_after=err.requeue_after)
        except ObjectGone:
            return GONE

    # --- Create, adopt, update ---------------------------------------------------------------------------------

    async def converge(self, obj: Resource, attempt: int) -> Result:
        try:
            # The finalizer first (one write in a resource's life, none with policies/finalizer-at-creation):
            # before anything can be created for it, and a sign for health checks that the operator saw it.
            obj = await self.writer.add_finalizer(obj)
            client = await self.connector.connect(obj, self.outcomes.reader_for(obj), secrets=True)  # connect
            obj, ownership = await self._leave_other_cluster(obj, client)
            winner = await self.arbiter.winner_over(obj, client.capabilities)
            if winner is not None:  # never touch the endpoint; looked at again when the winner goes
                update = status.conflict(obj.inference_id, f"{winner.namespace}/{winner.name}")
                return await self.outcomes.settle(obj, update, outcome="stalled")
            secrets_changed = dict(obj.status.get("secretVersions") or {}) != dict(client.secret_versions)
            drift_check = ready_at(obj.status, obj.generation) and not secrets_changed
            observation = await client.observe(ownership, secrets_changed=secrets_changed, drift_check=drift_check)
            step = observation.plan.step  # decide
            if step is Step.CREATE:  # act
                return await self._create(obj, client, ownership)
            if step is Step.ADOPT:
                return await self._adopt(obj, client, observation)
            if step is Step.UPDATE:
                return await self._update(obj, client, ownership, observation)
            if step is not Step.IN_LINE:
                return await self._report(obj, client, ownership, observation)
            return await self._in_line(obj, client, ownership, observation)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            return await self.outcomes.failed(obj, err, Phase.RECONCILE, attempt)

    async def _create(self, obj: Resource, client: ExternalClient, ownership: Ownership | None) -> Result:
        desired = obj.desired
        if create_refused(obj.status, obj.generation, client.secret_versions):
            return await self.outcomes.settle(obj, status.StatusUpdate(), outcome="stalled")  # the status says why
        await self.protection.protect(obj)  # its connection Secret outlives the endpoint made through it
        # The intent, before the PUT: an operator that dies before it hears the answer knows, when it starts
        # again, that the endpoint it then finds with these settings is its own. The same write says the new
        # generation is being worked on (kstatus, Flux and Argo CD see InProgress), and which Secrets are protected.
        intent = Ownership.intent(desired, client.cluster)
        creating = status.reconciling("Creating", f"creating inference endpoint {desired.inference_id}")
        fields = {
            "ownership": intent.as_status(),
            "secretVersions": dict(client.secret_versions),
            protection.RECORD: protection.record_of(desired.elasticsearch_ref),
        }
        obj = await self.writer.write_status(obj, replace(creating, fields=fields))
        if obj.deleting:
            return AGAIN  # deleted meanwhile: create nothing; the deletion finds the intent and no endpoint
        try:
            created = await client.create()
        except Rejected as err:
            if err.error_type == "resource_already_exists_exception":  # made by somebody else since the GET
                await self.writer.write_status(obj, status.StatusUpdate(fields={"ownership": None}))
                return Result(requeue_after=1.0, outcome="requeue")  # observed again: whose is it?
            return await self.outcomes.failed(obj, err, Phase.RECONCILE, 0, fields={"ownership": None})
        recreated = ownership is not None and not ownership.pending
        event = (
            ("Warning", "Recreated", f"inference endpoint {desired.inference_id} had been deleted outside the "
             "operator; created it again")
            if recreated
            else ("Normal", "Created", f"created inference endpoint {desired.inference_id}")
        )  # fmt: skip
        return await self._ready(obj, client, Ownership.of(desired, client.cluster, CREATED, created), [event])

    async def _adopt(self, obj: Resource, client: ExternalClient, observation: Observation) -> Result:
        """Asked for (the adopt annotation): from now on the endpoint is managed as if this resource had made it."""
        desired = obj.desired
        assert observation.endpoint is not None
        obj = await self._protect(obj)
        owned = Ownership.of(desired, client.cluster, ADOPTED, observation.endpoint)
        adopted: EventTuple = ("Normal", "Adopted", f"adopted the existing inference endpoint {desired.inference_id}")
        # Its secrets are unknown (never echoed): ours are sent.
        plan = client.plan(observation.endpoint, owned, secrets_changed=bool(desired.secret_refs))
        managed = Observation(observation.endpoint, plan)
        if plan.step is Step.UPDATE:
            return await self._update(obj, client, owned, managed, [adopted])
        if plan.step is Step.IN_LINE:
            return await self._ready(obj, client, owned, [adopted])
        return await self._report(obj, client, owned, managed, [adopted])

    async def _update(
        self,
        obj: Resource,
        client: ExternalClient,
        ownership: Ownership | None,
        observation: Observation,
        events: list[EventTuple] | None = None,
    ) -> Result:
        desired = obj.desired
        assert ownership is not None and observation.endpoint is not None
        claimed, ownership = self._claimed(desired, client, ownership, observation)
        events = [*(events or []), *claimed]
        # Said before the update, which can take a while: kstatus, Flux and Argo CD see InProgress.
        updating = status.reconciling("Updating", f"updating inference endpoint {desired.inference_id}")
        obj = await self.writer.write_status(obj, updating)
        await client.update(observation.plan)
        changed = observation.plan.diff.describe() or "secrets"
        events.append(("Normal", "Updated", f"updated {changed} of inference endpoint {desired.inference_id}"))
        return await self._ready(obj, client, ownership, events)

    async def _in_line(
        self, obj: Resource, client: ExternalClient, ownership: Ownership | None, observation: Observation
    ) -> Result:
        assert ownership is not None and observation.endpoint is not None
        events, ownership = self._claimed(obj.desired, client, ownership, observation)
        return await self._ready(obj, client, ownership, events)

    def _claimed(
        self, desired: DesiredEndpoint, client: ExternalClient, ownership: Ownership, observation: Observation
    ) -> tuple[list[EventTuple], Ownership]:
        """A pending create whose endpoint is there, as it sent it: the operator died before it heard the answer.
        Otherwise the record as it is, on the cluster as it reports itself now (0.1.0 named some by URL)."""
        assert observation.endpoint is not None
        if ownership.pending:
            created = Ownership.of(desired, client.cluster, CREATED, observation.endpoint)
            return [("Normal", "Created", f"created inference endpoint {desired.inference_id}")], created
        return [], replace(ownership, cluster=client.cluster)

    async def _report(
        self,
        obj: Resource,
        client: ExternalClient,
        ownership: Ownership | None,
        observation: Observation,
        events: list[EventTuple] | None = None,
    ) -> Result:
        """The endpoint cannot be brought in line by the operator: a person decides (kstatus Stalled)."""
        desired, plan = obj.desired, observation.plan
        differences = plan.diff.describe()
        fields: dict[str, Any] = {"inferenceId": desired.inference_id, "elasticsearchVersion": client.version}
        events = list(events or [])
        if plan.step is Step.ALREADY_EXISTS:
            words = messages.already_exists(
                desired.inference_id, differences, obj.kubectl_args, adopt_asked=client.adopt
            )
            fields["ownership"] = None
            reason = "AlreadyExists"
        elif plan.step is Step.MISMATCH:
            # Replaced behind the operator's back: the record of what it created stays (so the next look says the
            # same, and a deletion knows the endpoint there now is not its own).
            assert ownership is not None
            words = messages.mismatch(desired.inference_id, differences)
            fields["ownership"] = ownership.as_status()
            reason = "ConfigurationMismatch"
        else:  # ours, but Elasticsearch cannot change it in place
            assert ownership is not None
            claimed, ownership = self._claimed(desired, client, ownership, observation)
            events += claimed
            fields["ownership"] = ownership.as_status()
            if plan.step is Step.NEEDS_RECREATE:
                words, reason = messages.needs_recreate(desired.inference_id, differences), "NeedsRecreate"
            else:
                words = messages.update_not_supported(desired.inference_id, differences, client.version)
                reason = "UpdateNotSupported"
        # Looked at again at the drift check's pace (Elasticsearch may change), and at once when the spec does.
        message = messages.waiting(words[0], self.outcomes.when(Recheck.POLL, 0.0), words[1])
        update = status.not_ready(reason, message, retrying=False, fields=fields)
        return await self.outcomes.settle(obj, update, events, outcome="stalled")

    async def _ready(
        self, obj: Resource, client: ExternalClient, ownership: Ownership, events: list[EventTuple]
    ) -> Result:
        """In line and ours: the status says so, with the references when it is their turn."""
        desired = obj.desired
        obj = await self._protect(obj)  # (a read of a cached Secret when it is protected already)
        fields: dict[str, Any] = {
            "inferenceId": desired.inference_id,
            "elasticsearchVersion": client.version,
            "ownership": ownership.as_status(),
            "secretVersions": dict(client.secret_versions),
            protection.RECORD: protection.record_of(desired.elasticsearch_ref),
        }
        # What uses the endpoint now (a dry run deletes nothing): status.references stays current outside
        # deletions too, so that an admission policy can refuse `kubectl delete` at once while it is in use.
        if self.sweep.due(obj.uid, obj.status, client.gateway.reference_checks):
            refs = await client.references()
            if refs is not None:
                fields["references"] = refs.as_status()
        return await self.outcomes.settle(
            obj, status.ready(messages.ready(desired.inference_id), fields=fields), events
        )

    async def _protect(self, obj: Resource) -> Resource:
        """The connection Secrets the spec names protected, and those it no longer names let go (protection.py).
        A Secret not yet in status.protectedSecrets goes in first (a write only when the spec names a new one):
        whatever happens next (a restart, a spec changed again), it is let go once nothing names it."""
        record = protection.record_before_protecting(obj.status, obj.desired.elasticsearch_ref)
        if record is not None:
            obj = await self.writer.write_status(obj, status.StatusUpdate(fields={protection.RECORD: record}))
        await self.protection.protect(obj)
        return obj

    async def _leave_other_cluster(self, obj: Resource, client: ExternalClient) -> tuple[Resource, Ownership | None]:
        """The resource now points at another cluster (or id): what it created there stays there, recorded in
        status.leftBehind, and here it starts as a newcomer. Recorded at once, before anything else happens."""
        ownership = obj.ownership
        origin = client.capabilities.url_origin
        if not cluster_changed(ownership, client.cluster, origin, obj.inference_id):
            return obj, ownership
        assert ownership is not None
        left = {"clusterUUID": ownership.cluster, "inferenceId": ownership.inference_id}
        message = messages.left_behind(client.cluster, ownership.cluster, ownership.inference_id)
        update = status.StatusUpdate(fields={"leftBehind": left, "ownership": None})
        obj = await self.writer.write_status(obj, update, [("Warning", "EndpointLeftBehind", message)])
        return obj, None
