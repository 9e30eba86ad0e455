"""Helpers for the emulator conformance tests: raw HTTP calls with exact bytes and headers, and clients."""

from __future__ import annotations

import base64
import http.client
import json
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import Elasticsearch

from es_emulator import EmulatorServer

ELASTIC = ("elastic", "changeme")
JSON = "application/json"


def compat(version: int) -> str:
    """The media type an N.x official client sends (§6.2)."""
    return f"application/vnd.elasticsearch+json; compatible-with={version}"


@dataclass
class Answer:
    status: int
    headers: Message
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def call(
    srv: EmulatorServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    auth: tuple[str, str] | None = ELASTIC,
    authorization: str | None = None,
    accept: str | None = JSON,
    content_type: str | None = JSON,
    raw_body: bytes | None = None,
    timeout: float = 5.0,
) -> Answer:
    """One HTTP request on a fresh connection; ``body`` is sent as JSON unless ``raw_body`` is given."""
    parts = urlsplit(srv.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    headers: dict[str, str] = {}
    if accept is not None:
        headers["Accept"] = accept
    if authorization is not None:
        headers["Authorization"] = authorization
    elif auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None and content_type is not None:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def error(reason: str, type_: str = "status_exception", status: int = 400, **extra: Any) -> dict[str, Any]:
    """The §5.1 envelope of a simple exception."""
    cause = {"type": type_, "reason": reason, **extra}
    return {"error": {"root_cause": [dict(cause)], **cause}, "status": status}


def client(srv: EmulatorServer, auth: tuple[str, str] | None = ELASTIC, **kwargs: Any) -> Elasticsearch:
    """The official 9.x client as users create it; no retries unless asked."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("request_timeout", 5)
    if auth is not None:
        kwargs["basic_auth"] = auth
    return Elasticsearch(srv.url, **kwargs)


def openai_body(task_type: str | None = "text_embedding", **settings: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "openai",
        "service_settings": {"api_key": "sk-secret", "model_id": "text-embedding-3-small", **settings},
    }
    if task_type is not None:
        body["task_type"] = task_type
    return body


def put_openai(srv: EmulatorServer, inference_id: str, task_type: str = "text_embedding") -> Answer:
    answer = call(srv, "PUT", f"/_inference/{task_type}/{inference_id}", openai_body(None))
    assert answer.status == 200, answer.raw
    return answer


def put_pipeline(srv: EmulatorServer, pipeline_id: str, model_id: str) -> None:
    body = {"description": "Test pipeline", "processors": [{"inference": {"model_id": model_id}}]}
    answer = call(srv, "PUT", f"/_ingest/pipeline/{pipeline_id}", body)
    assert answer.status == 200, answer.raw


def put_semantic_index(srv: EmulatorServer, index: str, inference_id: str | None, **field: Any) -> None:
    mapping: dict[str, Any] = {"type": "semantic_text", **field}
    if inference_id is not None:
        mapping["inference_id"] = inference_id
    answer = call(srv, "PUT", f"/{index}", {"mappings": {"properties": {"inference_field": mapping}}})
    assert answer.status == 200, answer.raw
