"""The deletion path of the managed reconciler, behind the finalizer: policy, connect, observe, then release,
force-delete, or dry run and delete. A deletion that waits returns its re-check time and holds nothing."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from . import contract, messages, status
from .arbitration import ClaimArbiter
from .config import OperatorConfig
from .decisions import DeletionStep, References, plan_deletion, release_without_elasticsearch
from .errors import KindNotInstalled, NotLeader, Referenced
from .external import Connector
from .kube import KubeReader
from .kube_writer import EventTuple, ObjectGone, ResourceWriter, StaleObject
from .outcomes import GONE, Outcomes, Result
from .spec import effective_deletion_policy, is_forced
from .store import Resource
from .verdicts import Phase

log = logging.getLogger(__name__)
_PASS_THROUGH = (StaleObject, ObjectGone, NotLeader)


class Protection(Protocol):
    """Connection Secrets in use (protection.SecretProtection)."""

    async def protect(self, obj: Resource) -> None: ...
    async def release_unused(self, gone: Resource) -> None: ...


class Deletion:
    def __init__(
        self,
        config: OperatorConfig,
        connector: Connector,
        arbiter: ClaimArbiter,
        writer: ResourceWriter,
        kube: KubeReader,
        protection: Protection,
        outcomes: Outcomes,
    ) -> None:
        self.config = config
        self.connector = connector
        self.arbiter = arbiter
        self.writer = writer
        self.kube = kube
        self.protection = protection
        self.outcomes = outcomes

    async def finalize(self, obj: Resource, attempt: int) -> Result:
        """Behind the finalizer. It goes only once the endpoint is gone, the policy keeps it, or it provably is not
        this resource's to delete. A deletion that waits (references, Elasticsearch down) holds nothing: it comes
        back through the queue at its re-check time, or at once on an event (the force annotation)."""
        if contract.FINALIZER not in obj.finalizers:
            return GONE
        kube = self.kube.read_after(time.monotonic())  # decided on what the namespace and Secrets say now
        desired, ownership = obj.desired, obj.ownership
        try:
            annotations = await kube.namespace_annotations(obj.namespace) if not desired.deletion_policy else None
            policy = effective_deletion_policy(
                desired.deletion_policy, annotations, self.config.default_deletion_policy
            )
            reason = release_without_elasticsearch(policy=policy, ownership=ownership)
            if reason is not None:  # nothing of this resource's to delete: Elasticsearch is not asked
                return await self._release(obj, reason)
            assert ownership is not None
            gone = await self._elasticsearch_gone(obj, kube)
            if gone is not None:  # an ECK Elasticsearch deleted: its endpoints went with it
                return await self._release(obj, gone, [("Normal", "ElasticsearchGone", gone)])
            client = await self.connector.connect(obj, kube, secrets=False)  # connect
            here = ownership.recorded_on(client.cluster, client.capabilities.url_origin)
            rival = here and await self.arbiter.winner_over(obj, client.capabilities) is not None
            observed = await client.get() if here else None  # observe
            plan = plan_deletion(  # decide
                ownership=ownership,
                capabilities=client.capabilities,
                observed=observed,
                claimed_by_other=rival,
                forced=is_forced(obj.annotations),
            )
            if plan.step is DeletionStep.RELEASE:  # act
                return await self._release(obj, plan.reason)
            if plan.step is DeletionStep.RELEASE_FOREIGN:
                event_reason = "NotOurs" if here else "EndpointLeftBehind"
                message = f"left inference endpoint {desired.inference_id} untouched: {plan.reason}"
                return await self._release(obj, plan.reason, [("Warning", event_reason, message)])
            if plan.step is DeletionStep.FORCE_DELETE:
                await client.delete(force=True)
                forced: EventTuple = ("Warning", "ForceDeleted", messages.force_deleted(desired.inference_id))
                return await self._release(obj, "force-deleted the endpoint", [forced])
            refs = await client.references()
            if refs is None:
                return await self._release(obj, "the endpoint was already gone")
            if refs:
                return await self._blocked(obj, refs)
            await client.delete(force=False)
            return await self._release(obj, "deleted the endpoint (nothing referenced it)")
        except Referenced as err:
            # A reference appeared between the dry run and the delete: Elasticsearch refused, nothing lost. Its
            # words list every reference (hundreds for a data stream): the status names a few, as the dry run's.
            refs = err.references or None
            recheck = self.config.blocked_recheck_seconds
            message = messages.referenced(obj.inference_id, refs, err.reason, obj.kubectl_args, recheck)
            await self.writer.write_status(obj, status.deletion_blocked(refs, message))
            return Result(requeue_after=1.0, outcome="requeue")
        except _PASS_THROUGH:
            raise
        except Exception as err:
            return await self.outcomes.failed(obj, err, Phase.DELETE, attempt)

    async def _blocked(self, obj: Resource, refs: References) -> Result:
        recheck = self.config.blocked_recheck_seconds
        message = messages.blocked(obj.inference_id, refs, obj.kubectl_args, recheck)
        await self.writer.write_status(obj, status.deletion_blocked(refs, message))
        log.info("%s/%s: deletion waits: %s", obj.namespace, obj.name, message)
        return Result(requeue_after=recheck, outcome="requeue")

    async def _release(self, obj: Resource, reason: str, events: list[EventTuple] | None = None) -> Result:
        log.info("%s/%s: %s; the finalizer goes", obj.namespace, obj.name, reason)
        await self.writer.post_events(obj, events or ())
        await self.writer.remove_finalizer(obj)
        await self.protection.release_unused(obj)
        return GONE

    @staticmethod
    async def _elasticsearch_gone(obj: Resource, kube: KubeReader) -> str | None:
        """Why the ECK Elasticsearch the resource names took its endpoints with it (None: it did not): it no longer
        exists, is being deleted, or ECK's CRD itself is gone (a namespace deleted with its Elasticsearch)."""
        ref = obj.desired.elasticsearch_ref
        if not ref.name:
            return None
        namespace = ref.namespace or obj.namespace
        try:
            found = await kube.read_elasticsearch(namespace, ref.name)
        except KindNotInstalled:
            found = None
        if found is not None and not (found.get("metadata") or {}).get("deletionTimestamp"):
            return None
        state = "is being deleted" if found is not None else "no longer exists"
        return (
            f"Elasticsearch {namespace}/{ref.name} {state}: inference endpoint {obj.inference_id} went with its "
            f"cluster, nothing was left to delete"
        )
