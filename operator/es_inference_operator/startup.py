"""What the operator checks as it starts, so that a wrong setting shows in its first lines, not in the first
resource's status.

`check_elasticsearch` asks the default Elasticsearch (ELASTICSEARCH_URL) `GET /` and logs one line: reachable, its
version and cluster, and which credentials logged in; or what is wrong (the URL unreachable, TLS verification,
credentials refused, naming which kind was tried). It never stops the operator: Elasticsearch may come later, and
resources that name another Elasticsearch do not need this one.
"""

from __future__ import annotations

import logging

from .config import OperatorConfig
from .elasticsearch_pool import GatewayPool
from .errors import ConfigurationError, ElasticsearchError

log = logging.getLogger(__name__)

NO_DEFAULT = (
    "no default Elasticsearch (ELASTICSEARCH_URL is not set): every InferenceEndpoint must name one with "
    "spec.elasticsearchRef"
)


async def check_elasticsearch(config: OperatorConfig, pool: GatewayPool) -> None:
    """Check the default Elasticsearch once and log the outcome in one line (a warning when it is not usable)."""
    level, line = await describe_default_elasticsearch(config, pool)
    log.log(level, line)


async def describe_default_elasticsearch(config: OperatorConfig, pool: GatewayPool) -> tuple[int, str]:
    """The startup check's log level and line."""
    connection = config.default_connection
    if connection is None:
        return logging.INFO, NO_DEFAULT
    try:
        gateway = await pool.get(connection)
        found = await gateway.capabilities()
    except ElasticsearchError as err:
        return logging.WARNING, (
            f"{err.explained}. The operator goes on; resources that use this Elasticsearch wait and say why in "
            f"their status"
        )
    except ConfigurationError as err:  # a URL or CA the client cannot use
        return logging.WARNING, f"the default Elasticsearch is unusable: {err}"
    version = ".".join(str(part) for part in found.version)
    uuid = f"uuid {found.cluster}" if found.cluster_known else "not formed yet: uuid _na_"
    name = f"{found.cluster_name!r} " if found.cluster_name else ""
    return logging.INFO, (
        f"{connection.where} is reachable: version {version}, cluster {name}({uuid}), "
        f"logged in with {connection.credentials_description}"
    )
