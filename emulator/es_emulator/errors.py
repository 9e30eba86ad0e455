"""Elasticsearch error bodies (reference §5.1).

``EsError`` is raised anywhere in a handler and rendered by the app into the envelope

    {"error": {"root_cause": [{"type": T, "reason": R, ...extra}], "type": T, "reason": R,
               ...extra, ["caused_by": {...}], ["header": {...}]}, "status": N}

``SimpleError`` is the older flat form ``{"error": "<text>", "status": N}`` that Elasticsearch still uses
for requests rejected before any handler runs (no route, wrong method, bad Content-Type).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Cause:
    """A ``caused_by`` entry."""

    type: str
    reason: str

    def to_json(self) -> JsonObject:
        return {"type": self.type, "reason": self.reason}


@dataclass
class EsError(Exception):
    """An Elasticsearch exception as the REST layer renders it."""

    status: int
    type: str
    reason: str
    # Exception metadata written after type and reason, in both the error and every root_cause entry
    # (e.g. index_uuid/index, resource.type/resource.id, property_name).
    extra: Mapping[str, Any] = field(default_factory=dict)
    caused_by: Cause | None = None
    # ElasticsearchSecurityException headers: rendered as "header" in the body and sent as HTTP headers.
    headers: Mapping[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    def body(self) -> JsonObject:
        cause: JsonObject = {"type": self.type, "reason": self.reason, **self.extra}
        if self.headers:
            cause["header"] = {k: list(v) for k, v in self.headers.items()}
        error: JsonObject = {"root_cause": [dict(cause)], "type": self.type, "reason": self.reason}
        error.update(self.extra)
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by.to_json()
        if self.headers:
            error["header"] = cause["header"]
        return {"error": error, "status": self.status}


@dataclass
class SimpleError(Exception):
    """The flat ``{"error": "<text>", "status": N}`` form, with optional HTTP headers."""

    status: int
    message: str
    http_headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> JsonObject:
        return {"error": self.message, "status": self.status}


# --- constructors for the exception classes the reference names (§5.1 table) -------------------------


def status_exception(status: int, reason: str) -> EsError:
    """``ElasticsearchStatusException``."""
    return EsError(status, "status_exception", reason)


def bad_request(reason: str) -> EsError:
    return status_exception(400, reason)


def resource_not_found(reason: str) -> EsError:
    return EsError(404, "resource_not_found_exception", reason)


def illegal_argument(reason: str) -> EsError:
    return EsError(400, "illegal_argument_exception", reason)


def parse_exception(reason: str, **extra: Any) -> EsError:
    """``ElasticsearchParseException``."""
    return EsError(400, "parse_exception", reason, extra=extra)


def validation_failed(type_: str, messages: Iterable[str]) -> EsError:
    """``ActionRequestValidationException`` / ``ValidationException``: "Validation Failed: 1: a;2: b;"."""
    text = "".join(f"{n}: {m};" for n, m in enumerate(messages, start=1))
    return EsError(400, type_, f"Validation Failed: {text}")


def index_not_found(index: str) -> EsError:
    """§7.2: missing index, with its resource metadata."""
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{index}]",
        extra={"resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_", "index": index},
    )


def java_set(items: Iterable[str]) -> str:
    """A Java collection's toString: ``[a, b]`` (§1.4). Sorted here so answers are deterministic;
    Elasticsearch's HashSet order is unspecified."""
    return "[" + ", ".join(sorted(items)) + "]"


def java_map(mapping: Mapping[str, Any]) -> str:
    """A Java map's toString: ``{k=v, k2=v2}`` (§3.3 unknown-settings message)."""
    return "{" + ", ".join(f"{k}={java_value(v)}" for k, v in mapping.items()) + "}"


def java_value(value: Any) -> str:
    """``String.valueOf`` of a parsed JSON value: maps and lists as Java prints them, ``true``, ``null``."""
    if isinstance(value, Mapping):
        return java_map(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_value(v) for v in value) + "]"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def java_double(value: float) -> str:
    """``Double.toString``: ``5.0``, ``100.5``; scientific (``1.0E7``) from 10^7 and below 10^-3."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    magnitude = abs(number)
    if magnitude == 0 or 1e-3 <= magnitude < 1e7:
        return repr(number)
    exponent = 0
    mantissa = magnitude
    while mantissa >= 10:
        mantissa /= 10
        exponent += 1
    while mantissa < 1:
        mantissa *= 10
        exponent -= 1
    sign = "-" if number < 0 else ""
    return f"{sign}{round(mantissa, 15)!r}E{exponent}"
