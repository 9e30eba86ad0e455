"""The gateway pool: one gateway per connection, credentials included (two resources on one ECK Elasticsearch with
different credentialsSecretName must not share, nor evict, each other's client), and the metrics' `cluster` label
never carries a credential."""

from __future__ import annotations

import asyncio
from pathlib import Path

import certifi
import pytest

from es_inference_operator.decisions import url_origin
from es_inference_operator.elasticsearch_gateway import Connection
from es_inference_operator.elasticsearch_pool import GatewayPool

ECK = "ECK Elasticsearch search/quickstart"
URL = "https://quickstart-es-http.search.svc:9200"
# A real certificate, as an ECK CA would be (the first of certifi's bundle).
CA = Path(certifi.where()).read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"


def _gateways(*connections: Connection) -> list[object]:
    async def run() -> list[object]:
        pool = GatewayPool()
        try:
            return [await pool.get(c) for c in connections]
        finally:
            await pool.close()

    return asyncio.run(run())


def test_one_connection_one_gateway() -> None:
    first, again = _gateways(
        Connection(URL, ECK, username="elastic", password="p1"), Connection(URL, ECK, username="elastic", password="p1")
    )
    assert first is again


@pytest.mark.parametrize(
    "other",
    [
        Connection(URL, ECK, api_key="a2V5"),  # a credentialsSecretName with an API key
        Connection(URL, ECK, username="elastic", password="rotated"),
        Connection(URL, ECK, username="reader", password="p1"),
        Connection(URL, ECK, username="elastic", password="p1", ca_pem=CA),
        Connection(URL, ECK, username="elastic", password="p1", verify_certs=False),
    ],
    ids=["api-key", "password", "username", "ca", "verify"],
)
def test_other_credentials_on_one_elasticsearch_get_a_gateway_of_their_own(other: Connection) -> None:
    first, second, first_again = _gateways(Connection(URL, ECK, username="elastic", password="p1"), other, other)
    assert first is not second
    assert second is first_again


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://user:secret@ES.example:9200/prefix", "https://es.example:9200"),
        ("http://es", "http://es:80"),
        ("https://es", "https://es:443"),
    ],
)
def test_the_cluster_label_is_the_origin_without_user_info(url: str, origin: str) -> None:
    assert url_origin(url) == origin
    assert "secret" not in url_origin(url)
