"""``EmulatorServer``: the emulator in a background thread, with down/up on the same port."""

from __future__ import annotations

import asyncio
import base64
import secrets
import ssl
import threading
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import build_app
from .faults import Faults, RequestLog
from .profiles import Profile, profile_for
from .rest import Cluster, Context
from .security import ApiKey, Role, Security, User
from .store import Store


def random_cluster_uuid() -> str:
    """Like Elasticsearch's UUIDs.randomBase64UUID: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


DEFAULT_USER = User("elastic", "changeme", roles=("superuser",))
_START_TIMEOUT = 10.0


class EmulatorServer:
    """An Elasticsearch emulator listening on ``host:port`` (0 = a free port, kept across ``down``/``up``).

    ``cluster_uuid`` is what ``GET /`` reports (default: a random UUID per instance, so two emulators are two
    clusters and two URLs of one emulator are one); ``cluster_formed=False`` makes it ``_na_`` until set to True.
    ``security=True`` with no ``users`` creates ``elastic``/``changeme`` (superuser). ``roles`` adds role
    definitions to the built-in ones (superuser, inference_admin, inference_user, ingest_admin).
    ``ssl_context`` (a server context with its certificate loaded) serves HTTPS instead of HTTP, as a real
    cluster with security does (ECK's default).
    """

    def __init__(
        self,
        version: str = "9.1.0",
        host: str = "127.0.0.1",
        port: int = 0,
        security: bool = True,
        users: Iterable[User] | None = None,
        api_keys: Iterable[ApiKey] | None = None,
        roles: Iterable[Role] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        cluster_uuid: str | None = None,
        cluster_formed: bool = True,
    ) -> None:
        self.version = version
        self.ssl_context = ssl_context
        self.profile: Profile = profile_for(version)
        self.host = host
        self._port = port
        self.state = Store(self.profile)
        self.faults = Faults()
        self.requests = RequestLog()
        user_list = list(users) if users is not None else ([DEFAULT_USER] if security else [])
        self.security = Security(security, user_list, api_keys or (), roles or ())
        self._ctx = Context(
            version=version,
            profile=self.profile,
            store=self.state,
            security=self.security,
            faults=self.faults,
            requests=self.requests,
            cluster=Cluster(
                uuid=cluster_uuid if cluster_uuid is not None else random_cluster_uuid(), formed=cluster_formed
            ),
            outage=self._schedule_outage,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._lifecycle = threading.Lock()

    # --- properties ----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{host}:{self._port}"

    @property
    def cluster_uuid(self) -> str:
        """The cluster UUID ``GET /`` reports once formed: the one given, or a random one per instance."""
        return self._ctx.cluster.uuid

    @property
    def cluster_formed(self) -> bool:
        return self._ctx.cluster.formed

    @cluster_formed.setter
    def cluster_formed(self, formed: bool) -> None:
        """False: ``GET /`` reports ``cluster_uuid: "_na_"``, like a node before the cluster UUID is committed."""
        self._ctx.cluster.formed = formed

    @property
    def is_up(self) -> bool:
        return self._runner is not None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Start the server thread and listen; returns once the port accepts connections."""
        with self._lifecycle:
            if self._thread is not None:
                return self
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()
                loop.close()

            self._loop = loop
            self._thread = threading.Thread(target=run, name=f"es-emulator-{self.version}", daemon=True)
            self._thread.start()
            ready.wait(_START_TIMEOUT)
        try:
            self.up()
        except BaseException:
            self.stop()
            raise
        return self

    def up(self) -> None:
        """Listen again (on the same port once one was chosen). Data, faults and the log are kept."""
        self._call(self._listen())

    def down(self) -> None:
        """Stop listening and close open connections; connecting is refused until ``up``."""
        self._call(self._close())

    def stop(self) -> None:
        """Stop completely (idempotent)."""
        with self._lifecycle:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(_START_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_START_TIMEOUT)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- on the loop thread --------------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the emulator is not started")
        asyncio.run_coroutine_threadsafe(coro, loop).result(_START_TIMEOUT)

    async def _listen(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(build_app(self._ctx), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True, ssl_context=self.ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if self._port == 0:
            self._port = runner.addresses[0][1]
        self._runner = runner

    async def _close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def _schedule_outage(self, seconds: float) -> None:
        """For ``POST /_emulator/outage``: go down just after answering, come back after ``seconds``."""
        loop = self._loop
        assert loop is not None

        async def outage() -> None:
            await asyncio.sleep(0.05)  # let the admin answer go out first
            await self._close()
            await asyncio.sleep(seconds)
            await self._listen()

        loop.call_soon_threadsafe(lambda: loop.create_task(outage()))
