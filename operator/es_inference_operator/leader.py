"""The leader elector: lease.py's decisions against the API server, for asyncio.

The official client's `CoordinationV1Api`, in two threads of the elector's own (the operator's Kubernetes
threads can all be busy at 10,000 resources: a renew must never queue behind them), each call with a timeout
shorter than the renew deadline, and awaited no longer than what is left of it.

The official client ships `kubernetes.leaderelection` too; it has no timeout on its calls, judges expiry on
the wall clock and does not release on shutdown, which is why this one exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from . import lease
from .lease import ElectionSettings, LeaseRecord, Observation

log = logging.getLogger(__name__)


class LeaseConflict(Exception):
    """409: another process wrote the Lease (or created it) first."""


class LeaseUnavailable(Exception):
    """The API server did not answer (in time), or refused."""


class LeaseLost(Exception):
    """This process held the Lease and no longer does."""


class _Missing(Exception):
    """404: no such Lease yet."""


def lease_api_client() -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, else the current kubeconfig; no retries hidden in urllib3
    (the elector retries, within its deadline)."""
    configuration = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.retries = False
    configuration.connection_pool_maxsize = 2
    return kubernetes.client.ApiClient(configuration)


class LeaseClient:
    """get, create and replace of one Lease, as JSON (no models: the spec is compared as the server sent it)."""

    def __init__(self, api_client: kubernetes.client.ApiClient, namespace: str, name: str) -> None:
        self._api = kubernetes.client.CoordinationV1Api(api_client)
        self.namespace, self.name = namespace, name
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lease")

    async def _run(self, timeout: float, call: Callable[..., Any], *args: Any) -> dict[str, Any]:
        timeout = max(timeout, 0.05)  # 0 would mean no timeout to the client

        def blocking() -> dict[str, Any]:
            response = call(*args, _preload_content=False, _request_timeout=timeout)
            return dict(json.loads(response.data))

        future = asyncio.get_running_loop().run_in_executor(self._threads, blocking)
        try:
            return await asyncio.wait_for(future, timeout)
        except ApiException as err:
            if err.status == 409:
                raise LeaseConflict(f"Lease {self.namespace}/{self.name} changed under us") from None
            if err.status == 404:
                raise _Missing() from None
            raise LeaseUnavailable(f"{err.status} {err.reason}") from None
        except (TimeoutError, urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise LeaseUnavailable(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__) from None

    def _body(self, spec: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if resource_version:
            metadata["resourceVersion"] = resource_version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    async def get(self, timeout: float) -> tuple[LeaseRecord, str] | None:
        try:
            body = await self._run(timeout, self._api.read_namespaced_lease, self.name, self.namespace)
        except _Missing:
            return None
        return LeaseRecord.from_spec(body.get("spec")), str(body["metadata"]["resourceVersion"])

    async def create(self, record: LeaseRecord, timeout: float) -> str:
        body = self._body(record.to_spec(), None)
        created = await self._run(timeout, self._api.create_namespaced_lease, self.namespace, body)
        return str(created["metadata"]["resourceVersion"])

    async def replace(self, record: LeaseRecord, resource_version: str, timeout: float) -> str:
        body = self._body(record.to_spec(), resource_version)
        replaced = await self._run(timeout, self._api.replace_namespaced_lease, self.name, self.namespace, body)
        return str(replaced["metadata"]["resourceVersion"])


class LeaderElector:
    """Acquire (`acquire`), hold (`hold`: renew until lost) and release (`release`) one Lease.

    `may_write()` is the fence the Elasticsearch gateway asks before every write."""

    def __init__(
        self,
        settings: ElectionSettings,
        client: LeaseClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], str] = lease.wall_time,
    ) -> None:
        self.settings = settings
        self._client = client
        self._clock = clock
        self._wall = wall_clock
        self._observed: Observation | None = None
        self._renew_sent_at: float | None = None  # set while this process holds the Lease
        self._holder_logged: str | None = None

    @property
    def identity(self) -> str:
        return self.settings.identity

    @property
    def lease(self) -> str:
        return f"{self.settings.namespace}/{self.settings.lease_name}"

    @property
    def holder(self) -> str:
        """Who holds the Lease as this process last saw it ("" nobody, or not seen yet)."""
        return self._observed.record.holder if self._observed else ""

    def may_write(self) -> bool:
        return lease.may_write(self._renew_sent_at, self.settings.renew_deadline, self._clock())

    def _held(self, record: LeaseRecord, resource_version: str, sent_at: float) -> None:
        self._observed = Observation(record, resource_version, sent_at)
        self._renew_sent_at = sent_at

    async def try_acquire_or_renew(self, budget: float | None = None) -> bool:
        """One try (client-go's tryAcquireOrRenew): True when this process holds the Lease, renewed just now.
        Raises LeaseLost when it held it and another holder is seen, LeaseUnavailable when the API server
        does not answer."""
        timeout = min(self.settings.request_timeout, budget if budget is not None else float("inf"))
        settings, observed = self.settings, self._observed
        if self._renew_sent_at is not None and not self.may_write():
            raise LeaseLost(f"not renewed within the renew deadline ({settings.renew_deadline:g} s)")
        if observed is not None and self._renew_sent_at is not None:
            # The holder renews with the version it wrote last: one request (client-go's fast path).
            record = lease.record_to_write(observed.record, self.identity, settings.lease_duration, self._wall())
            sent_at = self._clock()
            try:
                self._held(record, await self._client.replace(record, observed.resource_version, timeout), sent_at)
                return True
            except LeaseConflict:
                pass  # somebody wrote it: read it, below
        current = await self._client.get(timeout)
        if current is None:
            record = lease.record_to_write(None, self.identity, settings.lease_duration, self._wall())
            sent_at = self._clock()
            try:
                self._held(record, await self._client.create(record, timeout), sent_at)
            except LeaseConflict:
                return False  # another candidate created it first
            return True
        self._observed = lease.observe(self._observed, current[0], current[1], self._clock())
        self._log_holder()
        if not lease.may_acquire(self._observed, self.identity, self._clock()):
            if self._renew_sent_at is not None:
                self._renew_sent_at = None
                raise LeaseLost(f"held by {self.holder}")
            return False
        record = lease.record_to_write(self._observed.record, self.identity, settings.lease_duration, self._wall())
        sent_at = self._clock()
        try:
            self._held(record, await self._client.replace(record, self._observed.resource_version, timeout), sent_at)
        except LeaseConflict:
            return False  # another candidate took it first (seen at the next try)
        return True

    def _log_holder(self) -> None:
        holder = self.holder
        if holder != self._holder_logged and holder != self.identity:
            log.info("the Lease %s is held by %s", self.lease, holder or "nobody")
        self._holder_logged = holder

    async def acquire(self) -> None:
        """Try every retry period (or when the holder's lease ends, if sooner) until this process leads."""
        failing = False
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
                failing = False
            except LeaseUnavailable as err:
                if not failing:
                    log.warning("cannot read or write the Lease %s (trying again): %s", self.lease, err)
                failing = True
            delay = lease.next_try_in(self._observed, self.identity, self._clock(), self.settings.retry_period)
            await asyncio.sleep(delay)

    async def hold(self) -> str:
        """Renew every retry period. Returns, with the reason, when the Lease is lost: the renew deadline passed
        without a renew, or another holder is seen. The fence has closed by then: `may_write()` is False from
        the deadline on, whatever this loop is doing."""
        settings = self.settings
        while True:
            await asyncio.sleep(settings.retry_period)
            while True:
                if self._renew_sent_at is None:
                    return "released"
                remaining = self._renew_sent_at + settings.renew_deadline - self._clock()
                if remaining <= 0:
                    return self._lose(f"not renewed within the renew deadline ({settings.renew_deadline:g} s)")
                try:
                    if await asyncio.wait_for(self.try_acquire_or_renew(budget=remaining), remaining):
                        break
                except TimeoutError:
                    continue  # the deadline has passed: said at the top of the loop
                except LeaseLost as lost:
                    return self._lose(str(lost))
                except LeaseUnavailable as err:
                    log.warning("could not renew the Lease %s (trying again): %s", self.lease, err)
                left = self._renew_sent_at + settings.renew_deadline - self._clock() if self._renew_sent_at else 0
                await asyncio.sleep(max(0.0, min(settings.retry_period, left)))

    def fence(self) -> None:
        """No Elasticsearch write from now on (the renew deadline closes the fence anyway: this is for sooner)."""
        self._renew_sent_at = None

    def _lose(self, reason: str) -> str:
        self.fence()
        return reason

    async def release(self) -> bool:
        """client-go's ReleaseOnCancel: the holder cleared and a lease of 1 s, so that another replica leads at
        its next try. Only while this process surely still holds it; fenced first. True when released."""
        observed = self._observed
        if observed is None or not self.may_write():
            return False
        self._renew_sent_at = None  # no Elasticsearch write from here on
        timeout = self.settings.request_timeout
        record = lease.released_record(observed.record, self._wall())
        try:
            try:
                version = await self._client.replace(record, observed.resource_version, timeout)
            except LeaseConflict:
                # A renew cut short (the hold loop was cancelled) may have landed after all: ours still?
                current = await self._client.get(timeout)
                if current is None or current[0].holder != self.identity:
                    return False
                record = lease.released_record(current[0], self._wall())
                version = await self._client.replace(record, current[1], timeout)
        except (LeaseConflict, LeaseUnavailable) as err:
            log.warning("could not release the Lease %s: %s", self.lease, err)
            return False
        self._observed = Observation(record, version, self._clock())
        return True
