"""The startup check of the default Elasticsearch, against the emulator: one line that says it is reachable (version,
cluster, which credentials logged in), or what is wrong (unreachable, TLS, which credentials were refused)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from es_emulator import ApiKey, EmulatorServer, Role, User
from es_inference_operator.config import OperatorConfig
from es_inference_operator.elasticsearch_pool import GatewayPool
from es_inference_operator.startup import NO_DEFAULT, check_elasticsearch, describe_default_elasticsearch
from testbed.eck import TestTLS
from testbed.stack import free_port

KEY = ApiKey(id="k1", key="secret-key-value", owner="elastic")
NO_MONITOR = Role("inference-only", cluster=["manage_inference"])


@pytest.fixture(scope="module")
def es() -> Iterator[EmulatorServer]:
    users = [User("elastic", "changeme", roles=["superuser"]), User("writer", "writer-pw", roles=["inference-only"])]
    with EmulatorServer(version="9.1.0", security=True, users=users, api_keys=[KEY], roles=[NO_MONITOR]) as srv:
        yield srv


def check(env: dict[str, str]) -> tuple[int, str]:
    async def run() -> tuple[int, str]:
        pool = GatewayPool(request_timeout=5)
        try:
            return await describe_default_elasticsearch(OperatorConfig.from_env(env), pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def test_reachable_says_version_cluster_and_credentials(es: EmulatorServer) -> None:
    level, line = check(
        {"ELASTICSEARCH_URL": es.url, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "changeme"}
    )
    assert level == logging.INFO
    assert line == (
        f"Elasticsearch at {es.url} (the operator's default) is reachable: version 9.1.0, cluster "
        f"'es-emulator' (uuid {es.cluster_uuid}), logged in with the username and password (user "
        f"'elastic') from the operator's default (ELASTICSEARCH_USERNAME, ELASTICSEARCH_PASSWORD)"
    )


def test_an_api_key_is_named_as_such(es: EmulatorServer) -> None:
    level, line = check({"ELASTICSEARCH_URL": es.url, "ELASTICSEARCH_API_KEY": KEY.encoded})
    assert level == logging.INFO
    assert "logged in with the API key from the operator's default (ELASTICSEARCH_API_KEY)" in line


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "wrong"},
            "refused the username and password (user 'elastic') from the operator's default (ELASTICSEARCH_USERNAME, "
            "ELASTICSEARCH_PASSWORD) (401): unable to authenticate user [elastic]",
        ),
        (
            {"ELASTICSEARCH_API_KEY": ApiKey(id="k1", key="wrong", owner="elastic").encoded},
            "refused the API key from the operator's default (ELASTICSEARCH_API_KEY) (401)",
        ),
        (
            {"ELASTICSEARCH_USERNAME": "writer", "ELASTICSEARCH_PASSWORD": "writer-pw"},
            "the username and password (user 'writer') from the operator's default (ELASTICSEARCH_USERNAME, "
            "ELASTICSEARCH_PASSWORD) logged in but lack a privilege (403): action [cluster:monitor/main] is "
            "unauthorized for user [writer]",
        ),
        ({}, "refused a request without credentials (the operator's default gives none) (401)"),
    ],
    ids=["wrong-password", "wrong-api-key", "no-monitor-privilege", "no-credentials"],
)
def test_refused_credentials_name_their_kind_and_origin(es: EmulatorServer, env: dict[str, str], says: str) -> None:
    level, line = check({"ELASTICSEARCH_URL": es.url, **env})
    assert level == logging.WARNING
    assert line.startswith(f"Elasticsearch at {es.url} (the operator's default)")
    assert says in line
    assert "The operator goes on" in line
    assert "changeme" not in line and KEY.key not in line


def test_unreachable_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    level, line = check({"ELASTICSEARCH_URL": url, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "x"})
    assert level == logging.WARNING
    assert line.startswith(f"Elasticsearch at {url} (the operator's default): unreachable (")


def test_tls_verification_failure_says_so(tmp_path: Path) -> None:
    """A server whose CA the operator does not trust: the line says TLS, and where the CA to trust goes."""
    tls = TestTLS.for_hosts("127.0.0.1")
    users = [User("elastic", "changeme", roles=["superuser"])]
    with EmulatorServer(version="9.1.0", users=users, ssl_context=tls.server_context(tmp_path)) as srv:
        env = {"ELASTICSEARCH_URL": srv.url, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "changeme"}
        level, line = check(env)
        assert level == logging.WARNING
        assert "TLS verification failed" in line
        assert "ELASTICSEARCH_CA_FILE" in line

        (tmp_path / "ca.crt").write_text(tls.ca_pem)
        level, line = check({**env, "ELASTICSEARCH_CA_FILE": str(tmp_path / "ca.crt")})
        assert level == logging.INFO
        assert f"Elasticsearch at {srv.url} (the operator's default) is reachable: version 9.1.0" in line


def test_no_default_elasticsearch_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        await check_elasticsearch(OperatorConfig.from_env({}), GatewayPool())

    with caplog.at_level(logging.INFO, logger="es_inference_operator.startup"):
        asyncio.run(run())
    assert [r.getMessage() for r in caplog.records] == [NO_DEFAULT]


def test_the_check_logs_one_line(es: EmulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    env = {"ELASTICSEARCH_URL": es.url, "ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "wrong"}

    async def run() -> None:
        pool = GatewayPool()
        await check_elasticsearch(OperatorConfig.from_env(env), pool)
        await pool.close()

    with caplog.at_level(logging.INFO, logger="es_inference_operator.startup"):
        asyncio.run(run())
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.WARNING
    assert "refused the username and password (user 'elastic')" in caplog.records[0].getMessage()


def test_the_operator_refuses_to_start_with_both_kinds_in_its_environment() -> None:
    """ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME together: the client would quietly use the key. The
    operator stops before it does anything, saying which to remove."""
    env = {
        **os.environ,
        "ELASTICSEARCH_URL": "http://127.0.0.1:9200",
        "ELASTICSEARCH_API_KEY": "a-key-value",
        "ELASTICSEARCH_USERNAME": "elastic",
        "ELASTICSEARCH_PASSWORD": "a-password-value",
    }
    result = subprocess.run(
        [sys.executable, "-m", "es_inference_operator"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "es-inference-operator: bad configuration: the operator's environment" in result.stderr
    assert "has both ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME/ELASTICSEARCH_PASSWORD" in result.stderr
    assert "a-key-value" not in result.stderr and "a-password-value" not in result.stderr
