"""The operator's health endpoints, served from the process's start (a standby replica is Ready too).

- liveness (`--liveness URL`, default `:8081/healthz`): 200 while the event loop answers.
- `/readyz` on the same address: 200 when the replica is ready, else 503. The JSON body says what it is doing,
  for people and tests: `{"ready", "leaderElection", "leading", "identity", "started"}` (`started`: kopf has
  finished its startup and watches).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from aiohttp import web

READINESS_PATH = "/readyz"


def parse_address(url: str) -> tuple[str, int, str]:
    """(host, port, liveness path) of an `http://host:port/path` URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.port is None:
        raise ValueError(f"--liveness must be http://host:port/path, not {url!r}")
    path = parts.path or "/healthz"
    if path == READINESS_PATH:
        raise ValueError(f"--liveness cannot use {READINESS_PATH}: it is the readiness endpoint")
    return parts.hostname or "0.0.0.0", parts.port, path


class HealthServer:
    def __init__(self, url: str, readiness: Callable[[], dict[str, Any]]) -> None:
        self.host, self.port, self.liveness_path = parse_address(url)
        self._readiness = readiness
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(self.liveness_path, self._live)
        app.router.add_get(READINESS_PATH, self._ready)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _live(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _ready(self, _: web.Request) -> web.Response:
        state = self._readiness()
        return web.json_response(state, status=200 if state.get("ready") else 503)
