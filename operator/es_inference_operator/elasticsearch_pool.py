"""One gateway per Elasticsearch connection, kept for reuse."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from typing import Any

from .elasticsearch_gateway import Connection, ElasticsearchGateway
from .errors import ConfigurationError


class GatewayPool:
    """One gateway per connection (source, URL and credentials), kept for reuse: connection pooling, the
    negotiated version, the shared endpoint list. Two resources that reach one Elasticsearch with different
    credentials (each its own credentialsSecretName) get a gateway each. A gateway no resource has used for
    IDLE_SECONDS (its Secret rotated, its resources gone) is closed."""

    IDLE_SECONDS = 600.0

    def __init__(
        self,
        request_timeout: float = 10.0,
        create_timeout: float = 120.0,
        capabilities_ttl: float = 60.0,
        max_concurrency: int = 10,
        may_write: Callable[[], bool] = lambda: True,
    ) -> None:
        self._gateways: dict[str, tuple[ElasticsearchGateway, float]] = {}  # key -> (gateway, last used)
        self._swept = time.monotonic()
        self._options: dict[str, Any] = {
            "request_timeout": request_timeout,
            "create_timeout": create_timeout,
            "capabilities_ttl": capabilities_ttl,
            "max_concurrency": max_concurrency,
            "may_write": may_write,
        }

    async def get(self, connection: Connection) -> ElasticsearchGateway:
        key = f"{connection.source}\x00{connection.url}\x00{connection.cache_key}"
        now = time.monotonic()
        found = self._gateways.get(key)
        if found is not None:
            self._gateways[key] = (found[0], now)
            gateway = found[0]
        else:
            try:
                gateway = ElasticsearchGateway(connection, **self._options)
            except (ValueError, ssl.SSLError) as err:  # a URL the client cannot use (a bad port), a bad CA
                raise ConfigurationError(
                    f"the Elasticsearch connection of {connection.source} is unusable: {err}"
                ) from None
            self._gateways[key] = (gateway, now)
        if now - self._swept > self.IDLE_SECONDS / 10:
            await self._close_idle(now)
        return gateway

    def gateways(self) -> list[ElasticsearchGateway]:
        return [gateway for gateway, _ in self._gateways.values()]

    async def _close_idle(self, now: float) -> None:
        self._swept = now
        idle = [key for key, (_, used) in self._gateways.items() if now - used > self.IDLE_SECONDS]
        for key in idle:
            gateway, _ = self._gateways.pop(key)
            await gateway.close()

    async def close(self) -> None:
        gateways, self._gateways = self.gateways(), {}
        for gateway in gateways:
            await gateway.close()
