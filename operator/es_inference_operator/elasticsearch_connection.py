"""How to reach one Elasticsearch (`Connection`), and what went wrong talking to it, in words a person can act on.

A connection has one kind of credentials: an API key, or a username and password. Given both, the client would
quietly use the API key, and a person fixing the password would see nothing change: so both are refused, with
the words to say which to remove. Every failure names the Elasticsearch (its URL and where the connection came
from) and, when Elasticsearch refused the credentials, which kind was tried and where it came from.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import elastic_transport
from elasticsearch import exceptions

from .errors import AuthFailed, ConfigurationError, ElasticsearchError, Rejected, Unavailable


@dataclass(frozen=True)
class CredentialKeys:
    """The names under which a source holds credentials, for messages: a Secret's keys or the operator's
    environment variables."""

    api_key: str
    username: str
    password: str


SECRET_KEYS = CredentialKeys("api-key", "username", "password")
ENVIRONMENT_KEYS = CredentialKeys("ELASTICSEARCH_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")


def refuse_two_kinds(where: str, keys: CredentialKeys, *, api_key: str | None, username: str | None) -> None:
    """ConfigurationError when `where` holds both an API key and a username: one kind of credentials only."""
    if api_key and username:
        raise ConfigurationError(
            f"{where} has both {keys.api_key} and {keys.username}/{keys.password}: give one kind of credentials. "
            f"Remove {keys.api_key} to log in as {username!r} with the password, or remove {keys.username} and "
            f"{keys.password} to use the API key"
        )


@dataclass(frozen=True)
class Connection:
    """How to reach one Elasticsearch. repr() never shows the credentials."""

    url: str
    source: str  # for messages: "the operator's default" or "Secret ns/name"
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_pem: str | None = None
    verify_certs: bool = True
    # Where the credentials came from, when not from `source` (ECK's elastic-user Secret, the environment).
    credentials_source: str | None = None

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.username is not None or parts.password is not None:
            # The client would accept it, and every error message would then print the password.
            raise ConfigurationError(
                f"the Elasticsearch URL of {self.source} carries credentials (user:password@ before the host); "
                f"put them under the keys username and password (or api-key) instead"
            )
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"the Elasticsearch URL of {self.source} is not an http:// or https:// URL with a host"
            )
        refuse_two_kinds(self.source, SECRET_KEYS, api_key=self.api_key, username=self.username)

    def __repr__(self) -> str:
        return f"Connection(url={self.url!r}, source={self.source!r})"

    @property
    def credentials(self) -> tuple[str, ...]:
        """The secret values of this connection, to be masked in any text shown to people."""
        return tuple(v for v in (self.api_key, self.password) if v)

    @property
    def credentials_kind(self) -> str:
        """Which kind of credentials this connection sends: for messages, never a value."""
        if self.api_key:
            return "API key"
        if self.username:
            return "username and password"
        return "no credentials"

    @property
    def credentials_description(self) -> str:
        """Which credentials were tried and where they came from: `the API key from Secret team-a/search`."""
        origin = self.credentials_source or self.source
        if self.api_key:
            return f"the API key from {origin}"
        if self.username:
            return f"the username and password (user {self.username!r}) from {origin}"
        return f"a request without credentials ({origin} gives none)"

    @property
    def where(self) -> str:
        return f"Elasticsearch at {self.url} ({self.source})"

    @property
    def cache_key(self) -> str:
        parts = (self.url, self.api_key, self.username, self.password, self.ca_pem, str(self.verify_certs))
        return hashlib.sha256("\x00".join(p or "" for p in parts).encode()).hexdigest()


def ssl_context(conn: Connection) -> ssl.SSLContext | None:
    if not conn.url.startswith("https"):
        return None
    if not conn.verify_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cadata=conn.ca_pem) if conn.ca_pem else ssl.create_default_context()


def _error_reason(body: Any, fallback: str) -> tuple[str, str | None]:
    """Elasticsearch's own (type, reason) from its error envelope."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        error = body["error"]
        return str(error.get("reason") or fallback), error.get("type")
    return fallback, None


def _retry_after(meta: Any) -> float | None:
    value = meta.headers.get("retry-after") if meta is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate(err: Exception) -> ElasticsearchError:
    """The client's exceptions in the operator's terms."""
    if isinstance(err, exceptions.ApiError):
        status = err.meta.status
        reason, error_type = _error_reason(err.body, err.message)
        if status in (401, 403):
            return AuthFailed(reason, status=status, error_type=error_type)
        if status == 429 or status >= 500:
            return Unavailable(reason, status=status, error_type=error_type, retry_after=_retry_after(err.meta))
        return Rejected(reason, status=status, error_type=error_type)
    if isinstance(err, elastic_transport.TransportError):
        # ConnectionError, ConnectionTimeout, TLS failures: say what, never how deep.
        # aiohttp's " ssl:default" says nothing to a person reading a status.
        message = re.sub(r" ssl:[^ ]+", "", str(err.message))
        if isinstance(err, elastic_transport.TlsError) or "CERTIFICATE_VERIFY_FAILED" in message:
            return Unavailable(
                f"unreachable: TLS verification failed ({message}); the CA to trust is ELASTICSEARCH_CA_FILE for "
                f"the operator's default, ca.crt for a connection Secret"
            )
        return Unavailable(f"unreachable ({message})")
    raise err


def locate(error: ElasticsearchError, connection: Connection) -> None:
    """Say which Elasticsearch `error` came from, and which credentials it refused."""
    error.where = connection.where
    error.credentials = connection.credentials_description
