"""The emulator over HTTPS (as ECK serves Elasticsearch): a client that trusts the test's CA gets in, one that
does not is refused at the handshake, and plain HTTP is not served."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from es_emulator import EmulatorServer
from testbed.eck import TestTLS


def test_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    tls = TestTLS.for_hosts("localhost", "127.0.0.1")
    with EmulatorServer(version="9.1.0", security=False, ssl_context=tls.server_context(tmp_path)) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        trusting = ssl.create_default_context(cadata=tls.ca_pem)
        with urllib.request.urlopen(srv.url + "/", context=trusting, timeout=5) as resp:
            assert resp.status == 200

        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(srv.url + "/", context=ssl.create_default_context(), timeout=5)
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(srv.url.replace("https://", "http://") + "/", timeout=5)
