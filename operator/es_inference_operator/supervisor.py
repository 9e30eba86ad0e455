"""The operator's process: health endpoints and metrics from the start, then kopf, at once or, with leader
election, once this replica leads.

A standby watches nothing and sends nothing to Elasticsearch: it only tries the Lease. The leader runs kopf in
this event loop with `memo.may_write` set to the elector's fence, and renews the Lease beside it. It stops:

- on SIGTERM or SIGINT: kopf stops (its handlers finish, writes included, under a valid Lease), then the Lease
  is released, so that the other replica leads at its next try (client-go's ReleaseOnCancel); exit 0;
- on losing the Lease (not renewed within the renew deadline, or another holder seen): writes are fenced
  already; one log line, kopf is asked to stop, and the process exits 1 within STOP_GRACE_SECONDS, as a
  controller-runtime manager does. Its Deployment restarts it, as a standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import kopf
import prometheus_client

from . import metrics
from .health import HealthServer
from .leader import LeaderElector, LeaseClient, lease_api_client
from .lease import ElectionSettings

log = logging.getLogger(__name__)

EXIT_LOST_LEASE = 1
# After losing the Lease, how long kopf may take to stop before the process exits anyway (its calls to an API
# server it cannot reach could hang much longer; its Elasticsearch writes are fenced already).
STOP_GRACE_SECONDS = 5.0


def exit_now(code: int) -> None:
    """Exit without waiting for threads stuck on an unreachable API server (the interpreter's exit would)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Supervisor:
    def __init__(
        self,
        *,
        namespaces: tuple[str, ...],
        liveness_url: str | None,
        election: ElectionSettings | None,
        metrics_port: int,
        on_lost: Callable[[int], None] = exit_now,
    ) -> None:
        self.namespaces = namespaces
        self.election = election
        self.metrics_port = metrics_port
        self.health = HealthServer(liveness_url, self.readiness) if liveness_url else None
        self.state = "starting"  # standby, leading, stopping, lost
        self.started = asyncio.Event()  # kopf has finished its startup
        self.elector: LeaderElector | None = None
        self._on_lost = on_lost

    def readiness(self) -> dict[str, Any]:
        started = self.started.is_set()
        # Alone, ready once kopf watches (as kopf's own liveness endpoint was); elected, a standby is ready too.
        ready = self.state in ("standby", "leading") if self.election else started and self.state == "leading"
        return {
            "ready": ready,
            "leaderElection": self.election is not None,
            "leading": self.state == "leading",
            "identity": self.election.identity if self.election else None,
            "started": started,
        }

    async def run(self) -> int:
        if self.metrics_port:
            prometheus_client.start_http_server(self.metrics_port)
        metrics.LEADER.set(0)
        if self.health is not None:
            await self.health.start()
        try:
            if self.election is None:
                return await self._run_alone()
            return await self._run_elected(self.election)
        finally:
            if self.health is not None:
                await self.health.stop()

    async def _kopf(self, memo: kopf.Memo, stop_flag: asyncio.Event | None = None) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as kopf.run does
            await kopf.operator(
                standalone=True,  # no kopf peering: the Lease decides who runs
                clusterwide=not self.namespaces,
                namespaces=list(self.namespaces),
                liveness_endpoint=None,  # health.py serves it, from the start
                memo=memo,
                stop_flag=stop_flag,
                ready_flag=self.started,
            )

    async def _run_alone(self) -> int:
        """Without leader election: the only replica, acting from the start."""
        self.state = "leading"
        metrics.LEADER.set(1)
        try:
            await self._kopf(kopf.Memo(namespaces=self.namespaces))
        finally:
            metrics.LEADER.set(0)
            self.state = "stopping"
        return 0

    def _on_signals(self, handler: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread: the caller stops us
                loop.add_signal_handler(signum, handler)

    async def _signals_after_startup(self, handler: Callable[[], None]) -> None:
        """kopf takes SIGTERM and SIGINT over as it starts; take them back once it has (its startup is done), and
        stop it with its stop flag: stopped by a signal while it was given a stop flag, kopf waits 5 s for its
        own flag's waiter before it returns, and the Lease would be released 5 s later."""
        await self.started.wait()
        self._on_signals(handler)

    def _leading(self, leading: bool) -> None:
        self.state = "leading" if leading else "stopping"
        metrics.LEADER.set(1 if leading else 0)
        metrics.LEADER_TRANSITIONS.inc()

    async def _run_elected(self, settings: ElectionSettings) -> int:
        client = LeaseClient(await asyncio.to_thread(lease_api_client), settings.namespace, settings.lease_name)
        elector = self.elector = LeaderElector(settings, client)
        stop = asyncio.Event()
        self._on_signals(stop.set)
        self.state = "standby"
        log.info("standing by as %s: leading once the Lease %s is free", elector.identity, elector.lease)
        stopping = asyncio.create_task(stop.wait())
        acquiring = asyncio.create_task(elector.acquire())
        await asyncio.wait({stopping, acquiring}, return_when=asyncio.FIRST_COMPLETED)
        if not acquiring.done():
            acquiring.cancel()
            log.info("stopped as standby")
            return 0
        acquiring.result()  # an unexpected failure ends the process here, as a standby
        stopping.cancel()
        self._leading(True)
        log.info("leading as %s (Lease %s)", elector.identity, elector.lease)

        # Created before kopf starts, so that kopf's shutdown leaves them alone (it ends the tasks made after).
        stop_kopf = asyncio.Event()
        holding = asyncio.create_task(elector.hold())
        stopping = asyncio.create_task(stop.wait())
        signals = asyncio.create_task(self._signals_after_startup(stop.set))
        running = asyncio.create_task(
            self._kopf(kopf.Memo(namespaces=self.namespaces, may_write=elector.may_write), stop_kopf)
        )
        done, _ = await asyncio.wait({running, holding, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping in done and holding not in done:  # SIGTERM or SIGINT: kopf stops, its handlers finish
            stop_kopf.set()
            done, _ = await asyncio.wait({running, holding}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        signals.cancel()
        if holding in done:
            failure = holding.exception()
            reason = f"the elector failed: {failure!r}" if failure else holding.result()
            return await self._lost(elector, reason, running, stop_kopf)

        # kopf stopped: on SIGTERM or SIGINT (it handles them while it runs), or failing. Its handlers are done:
        # give the Lease back.
        holding.cancel()
        self._on_signals(lambda: None)  # a second signal changes nothing now
        released = await elector.release()
        self._leading(False)
        log.info("stopped leading%s", f"; released the Lease {elector.lease}" if released else "")
        failure = running.exception()
        if failure is not None:
            log.error("the operator failed: %s", failure, exc_info=failure)
            return 1
        return 0

    async def _lost(self, elector: LeaderElector, reason: str, running: asyncio.Task[None], stop: asyncio.Event) -> int:
        elector.fence()
        self._leading(False)
        self.state = "lost"
        log.error(
            "lost the lease %s as %s: %s; Elasticsearch writes stopped; stopping the operator and exiting",
            elector.lease,
            elector.identity,
            reason,
        )
        stop.set()
        await asyncio.wait({running}, timeout=STOP_GRACE_SECONDS)
        self._on_lost(EXIT_LOST_LEASE)
        return EXIT_LOST_LEASE
