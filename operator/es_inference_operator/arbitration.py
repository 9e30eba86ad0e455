"""Who may manage an inference id on a cluster when several resources name it: the rule, with the I/O it needs.

Among resources naming one id on one cluster, the one whose status records the endpoint there keeps it; with no
owner, the oldest whose connection resolves to that cluster wins. A claimant whose connection cannot be resolved
(its Secret or Elasticsearch missing, not opted in, unreachable), or that is newer than this resource, is not asked
anything and cannot block it: only a record in its status (a fact, in the store) can make it win. So no namespace
can block an id for another by naming it with a broken connection, and an owner never asks a rival's cluster.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .decisions import Capabilities, Claim, claim_winner
from .external import Connector
from .ownership import LEGACY_URL_PREFIX
from .store import ClaimEntry, Resource, ResourceStore

log = logging.getLogger(__name__)


class ClaimArbiter:
    def __init__(self, store: ResourceStore, connector: Connector) -> None:
        self.store = store
        self.connector = connector

    async def winner_over(self, obj: Resource, capabilities: Capabilities) -> Claim | None:
        """The claim that wins over `obj`'s on its inference id and cluster, if any."""
        cluster = capabilities.cluster
        ownership = obj.ownership
        mine = ownership is not None and ownership.recorded_on(cluster, capabilities.url_origin)
        candidates = [replace(obj.claim, managed=mine and ownership is not None and not ownership.pending)]
        for entry in self.store.claims_on(obj.inference_id):
            if entry.claim.uid == obj.uid:
                continue
            if self._recorded_here(entry, capabilities):
                candidates.append(entry.claim)  # what the other resource recorded is a fact
            elif not mine and _older(entry.claim, obj.claim) and await self._reaches(entry, cluster):
                candidates.append(replace(entry.claim, managed=False))  # it manages nothing here (yet)
        winner = claim_winner(candidates)
        return None if winner.uid == obj.uid else winner

    @staticmethod
    def _recorded_here(entry: ClaimEntry, capabilities: Capabilities) -> bool:
        return entry.owned_cluster in (capabilities.cluster, f"{LEGACY_URL_PREFIX}{capabilities.url_origin}")

    async def _reaches(self, entry: ClaimEntry, cluster: str) -> bool:
        """Does an older rival's connection reach `cluster`? One that cannot be resolved now does not count."""
        claim = entry.claim
        rival = self.store.get((claim.namespace, claim.name))
        if rival is None or rival.deleting:
            return False
        try:
            return await self.connector.cluster_of(rival.namespace, rival.desired) == cluster
        except Exception as err:  # any failure: the rival cannot be shown to claim this cluster
            log.debug("%s/%s, which names the same inference id, does not count: %s", claim.namespace, claim.name, err)
            return False


def _older(a: Claim, b: Claim) -> bool:
    return (a.created, a.uid) < (b.created, b.uid)
