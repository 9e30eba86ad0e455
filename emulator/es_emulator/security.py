"""Authentication (basic auth, API keys) and authorization (cluster and index privileges), reference §5.2-§5.3."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .errors import EsError

# --- public configuration types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    username: str
    password: str
    roles: Sequence[str] = ()


@dataclass(frozen=True)
class ApiKey:
    """An API key; without ``roles`` it has its owner's privileges, with them the intersection of both."""

    id: str
    key: str
    owner: str
    roles: Sequence[str] = ()

    @property
    def encoded(self) -> str:
        """The value after ``Authorization: ApiKey ``."""
        return base64.b64encode(f"{self.id}:{self.key}".encode()).decode()


@dataclass(frozen=True)
class Role:
    """A role: cluster privileges, and index privileges that apply to every index."""

    name: str
    cluster: Sequence[str] = ()
    indices: Sequence[str] = ()


# --- privileges --------------------------------------------------------------------------------------------

# Actions the emulator authorizes.
MAIN = "cluster:monitor/main"
INFERENCE_GET = "cluster:monitor/xpack/inference/get"
INFERENCE_PUT = "cluster:admin/xpack/inference/put"
INFERENCE_DELETE = "cluster:admin/xpack/inference/delete"
INFERENCE_UPDATE = "cluster:admin/xpack/inference/update"
PIPELINE_GET = "cluster:admin/ingest/pipeline/get"
PIPELINE_PUT = "cluster:admin/ingest/pipeline/put"
PIPELINE_DELETE = "cluster:admin/ingest/pipeline/delete"
INDEX_CREATE = "indices:admin/create"
INDEX_DELETE = "indices:admin/delete"
INDEX_GET_MAPPING = "indices:admin/mappings/get"
INDEX_GET = "indices:admin/get"

# Cluster privileges, least to most privileged: the order the 403 message lists them in
# (ClusterPrivilegeResolver.findPrivilegesThatGrant). §5.3 gives the inference lists; the pipeline and
# monitor/main lists follow from the same order [unverified].
CLUSTER_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "read_pipeline": ("cluster:admin/ingest/pipeline/get", "cluster:admin/ingest/pipeline/simulate"),
    "monitor_inference": ("cluster:monitor/xpack/inference*",),
    "manage_ingest_pipelines": ("cluster:admin/ingest/pipeline/*",),
    "manage_inference": ("cluster:admin/xpack/inference/*", "cluster:monitor/xpack/inference*"),
    "manage_pipeline": ("cluster:admin/ingest/*",),
    "monitor": ("cluster:monitor/*",),
    "manage": ("cluster:*",),
    "all": ("cluster:*",),
}

# Index privileges, least to most privileged [unverified: not in the reference].
INDEX_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "create_index": ("indices:admin/create",),
    "delete_index": ("indices:admin/delete",),
    "view_index_metadata": ("indices:admin/mappings/get", "indices:admin/get"),
    "manage": ("indices:admin/*",),
    "all": ("indices:*",),
}

BUILTIN_ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        Role("superuser", cluster=("all",), indices=("all",)),
        Role("inference_admin", cluster=("manage_inference",)),
        Role("inference_user", cluster=("monitor_inference",)),
        Role("ingest_admin", cluster=("manage_index_templates", "manage_pipeline")),
    )
}

# §5.2: the WWW-Authenticate values of a 401, in the body's "header" object and as HTTP headers.
WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]


def _grants(table: Mapping[str, tuple[str, ...]], privileges: Iterable[str], action: str) -> bool:
    return any(fnmatchcase(action, pattern) for p in privileges for pattern in table.get(p, ()))


def granting(table: Mapping[str, tuple[str, ...]], action: str) -> list[str]:
    return [name for name, patterns in table.items() if any(fnmatchcase(action, p) for p in patterns)]


# --- principals ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    username: str
    roles: tuple[str, ...]  # effective (known) roles
    missing_roles: tuple[str, ...] = ()
    api_key_id: str | None = None
    # An API key's own roles; None = the owner's privileges only.
    key_roles: tuple[Role, ...] | None = None
    role_defs: tuple[Role, ...] = field(default=())

    def can(self, table: Mapping[str, tuple[str, ...]], action: str, *, index_level: bool) -> bool:
        def allowed(roles: Iterable[Role]) -> bool:
            return any(_grants(table, r.indices if index_level else r.cluster, action) for r in roles)

        if not allowed(self.role_defs):
            return False
        return self.key_roles is None or allowed(self.key_roles)

    def denial(self, action: str) -> str:
        """The "action [...] is unauthorized for ..." prefix of a 403 (§5.3)."""
        if self.api_key_id is not None:
            return f"action [{action}] is unauthorized for API key id [{self.api_key_id}] of user [{self.username}]"
        roles = ",".join(self.roles)
        text = f"action [{action}] is unauthorized for user [{self.username}] with effective roles [{roles}]"
        if self.missing_roles:
            text += f" (assigned roles [{','.join(self.missing_roles)}] were not found)"
        return text


def _unauthenticated(reason: str, extra: Mapping[str, str] | None = None) -> EsError:
    return EsError(
        401, "security_exception", reason, extra=dict(extra or {}), headers={"WWW-Authenticate": WWW_AUTHENTICATE}
    )


def _forbidden(reason: str) -> EsError:
    return EsError(403, "security_exception", reason)


class Security:
    """Users, roles and API keys of one emulator; ``enabled=False`` lets every request through."""

    def __init__(
        self,
        enabled: bool,
        users: Iterable[User] = (),
        api_keys: Iterable[ApiKey] = (),
        roles: Iterable[Role] = (),
    ) -> None:
        self.enabled = enabled
        self.users = {u.username: u for u in users}
        self.api_keys = {k.id: k for k in api_keys}
        self.roles = {**BUILTIN_ROLES, **{r.name: r for r in roles}}

    def _principal(self, username: str, role_names: Sequence[str]) -> Principal:
        known = tuple(sorted(r for r in set(role_names) if r in self.roles))
        missing = tuple(sorted(r for r in set(role_names) if r not in self.roles))
        return Principal(username, known, missing, role_defs=tuple(self.roles[r] for r in known))

    def authenticate(self, authorization: str | None, uri: str) -> Principal | None:
        """The caller, or a 401 (§5.2). None when security is off."""
        if not self.enabled:
            return None
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "basic" and credentials:
            return self._basic(credentials, uri)
        if scheme == "apikey" and credentials:
            return self._api_key(credentials)
        if scheme == "bearer" and credentials:
            # No token service in the emulator: every bearer token is invalid (no additional detail given).
            raise _unauthenticated(
                "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
            )
        raise _unauthenticated(f"missing authentication credentials for REST request [{uri}]")

    def _basic(self, credentials: str, uri: str) -> Principal:
        username, password = _decode_pair(credentials)
        user = self.users.get(username)
        if user is None or user.password != password:
            raise _unauthenticated(f"unable to authenticate user [{username}] for REST request [{uri}]")
        return self._principal(user.username, user.roles)

    def _api_key(self, credentials: str) -> Principal:
        key_id, secret = _decode_pair(credentials)
        key = self.api_keys.get(key_id)
        if key is None:
            detail = f"API key: unable to find apikey with id {key_id}"
        elif key.key != secret:
            detail = f"API key: invalid credentials for API key [{key_id}]"
        else:
            owner = self.users.get(key.owner)
            base = self._principal(key.owner, owner.roles if owner else key.roles)
            key_roles = tuple(self.roles[r] for r in key.roles if r in self.roles) if key.roles else None
            return Principal(base.username, base.roles, base.missing_roles, key.id, key_roles, base.role_defs)
        raise _unauthenticated(
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            {"additional_unsuccessful_credentials": detail},
        )

    def authorize(self, principal: Principal | None, action: str, indices: Sequence[str] = ()) -> None:
        """403 unless the caller holds a privilege granting ``action`` (§5.3)."""
        if principal is None:
            return
        if action.startswith("indices:"):
            if not principal.can(INDEX_PRIVILEGES, action, index_level=True):
                privileges = ",".join(granting(INDEX_PRIVILEGES, action))
                raise _forbidden(
                    f"{principal.denial(action)} on indices [{','.join(indices)}], "
                    f"this action is granted by the index privileges [{privileges}]"
                )
            return
        if not principal.can(CLUSTER_PRIVILEGES, action, index_level=False):
            privileges = ",".join(granting(CLUSTER_PRIVILEGES, action))
            raise _forbidden(
                f"{principal.denial(action)}, this action is granted by the cluster privileges [{privileges}]"
            )


def claimed_user(authorization: str | None) -> str | None:
    """Who a request says it is, checked or not: the Basic user name, or the API key's id (for the request log)."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() in ("basic", "apikey") and credentials.strip():
        return _decode_pair(credentials.strip())[0] or None
    return None


def _decode_pair(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    name, _, secret = decoded.partition(":")
    return name, secret
