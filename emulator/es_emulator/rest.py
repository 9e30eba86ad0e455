"""Types shared by the REST handlers.

Handlers mirror Elasticsearch's BaseRestHandler: ``prepare(ctx, request)`` reads the path, query parameters
and body (REST-level errors such as ``Unknown task_type`` or a bad boolean happen here) and returns an
``Action``. The dispatcher then reports unrecognized parameters, and only then runs the action, which
validates the request, authorizes it (403) and does the work, in the transport action's order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import Cause, EsError, parse_exception
from .faults import Faults, RequestLog
from .media import JSON_SUBTYPES, parse_media_type
from .params import Params
from .profiles import Profile
from .security import Principal, Security
from .store import Store


@dataclass
class Reply:
    status: int
    body: Any  # JSON-serializable; None for an empty body
    # A list, not a dict: a 401 carries several WWW-Authenticate headers.
    headers: list[tuple[str, str]] = field(default_factory=list)
    # An empty text/plain body (the answer to OPTIONS) instead of JSON.
    text: bool = False


def ok(body: Any) -> Reply:
    return Reply(200, body)


ACKNOWLEDGED = {"acknowledged": True}

Action = Callable[[], Reply]


@dataclass
class RestRequest:
    method: str
    path: str  # decoded, no query string
    uri: str  # as received, with the query string (used in 401 and routing messages)
    params: Params
    path_params: dict[str, str]
    raw_body: bytes
    principal: Principal | None = None

    @property
    def has_body(self) -> bool:
        return len(self.raw_body) > 0

    def json(self) -> Any:
        """The parsed body, or None without one. Unparsable JSON → 400 parse_exception [unverified text]."""
        if not self.has_body:
            return None
        try:
            return json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EsError(
                400,
                "parse_exception",
                "Failed to parse content to map",
                caused_by=Cause("json_parse_exception", str(exc)),
            ) from None

    def content_or_source(self) -> dict[str, Any]:
        """``RestRequest.contentOrSourceParam``: the body, or else the ``source`` parameter in the format
        ``source_content_type`` names (both then read). Only JSON formats are parsed by the emulator."""
        if not self.has_body and "source" not in self.params:
            raise parse_exception("request body or source parameter is required")
        if not self.has_body:
            source, type_param = self.params.get("source"), self.params.get("source_content_type")
            if source is None or type_param is None:
                raise EsError(500, "illegal_state_exception", "source and source_content_type parameters are required")
            media_type = parse_media_type(type_param)
            if media_type is None or media_type.type != "application" or media_type.format not in JSON_SUBTYPES:
                raise EsError(500, "illegal_state_exception", f"Unknown value for source_content_type [{type_param}]")
            self.raw_body = source.encode()
        body = self.json_object(required=True)
        assert body is not None
        return body

    def json_object(self, *, required: bool) -> dict[str, Any] | None:
        """The body as a JSON object; ``required`` gives RestRequest.requiredContent's error."""
        body = self.json()
        if body is None:
            if required:
                raise parse_exception("request body is required")
            return None
        if not isinstance(body, dict):
            raise parse_exception("request body must be a JSON object")  # [unverified]
        return body


@dataclass
class Cluster:
    """What ``GET /`` says the cluster is (§10.3). Mutable: tests flip ``formed`` while the server runs."""

    uuid: str
    name: str = "es-emulator"
    # Before the cluster UUID is committed, Elasticsearch prints "_na_" (Metadata.UNKNOWN_CLUSTER_UUID).
    formed: bool = True

    @property
    def reported_uuid(self) -> str:
        return self.uuid if self.formed else UNKNOWN_CLUSTER_UUID


UNKNOWN_CLUSTER_UUID = "_na_"


@dataclass
class Context:
    """Everything a handler may use, shared by the server thread and the owner of the server."""

    version: str
    profile: Profile
    store: Store
    security: Security
    faults: Faults
    requests: RequestLog
    cluster: Cluster
    # Set by the server: schedule an outage of ``seconds`` (for the admin route).
    outage: Callable[[float], None] | None = None

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def authorize(self, request: RestRequest, action: str, indices: Sequence[str] = ()) -> None:
        self.security.authorize(request.principal, action, indices)


Prepare = Callable[[Context, RestRequest], Action]
