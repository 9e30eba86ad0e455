"""Elasticsearch error bodies (reference §5.1).

``EsError`` is raised anywhere in a handler and rendered by the app into the envelope

    {"error": {"root_cause": [{"type": T, "reason": R, ...extra}], "type": T, "reason": R,
               ...extra, ["caused_by": {...}], ["header": {...}]}, "status": N}

``SimpleError`` is the older flat form ``{"error": "<text>", "status": N}`` that Elasticsearch still uses
for requests rejected before any handler runs (wrong method, bad Content-Type, bad error_trace); a request no
route takes gets ``{"error": "<text>"}`` alone (RestController.handleBadRequest writes no status).

With ``?error_trace=true`` Elasticsearch adds ``stack_trace`` (the Java ``printStackTrace`` text) to the error,
to every root cause and to every ``caused_by`` (ElasticsearchException.innerToXContent), except on a 401
(RestResponse) and never to the flat form. The emulator writes it in Java's layout, with its own Python frames.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
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

    def body(self, *, error_trace: bool = False) -> JsonObject:
        """The envelope; ``error_trace`` adds the stack traces (not to a 401, as RestResponse decides)."""
        frames = _frames(self.__traceback__) if error_trace and self.status != 401 else None
        cause: JsonObject = {"type": self.type, "reason": self.reason, **self.extra}
        if self.headers:
            cause["header"] = {k: list(v) for k, v in self.headers.items()}
        if frames is not None:
            cause["stack_trace"] = self._stack_trace(frames)
        error: JsonObject = {"root_cause": [dict(cause)], "type": self.type, "reason": self.reason}
        error.update(self.extra)
        if self.caused_by is not None:
            error["caused_by"] = self.caused_by.to_json()
            if frames is not None:
                error["caused_by"]["stack_trace"] = _java_text(self.caused_by.type, self.caused_by.reason) + frames
        if self.headers:
            error["header"] = cause["header"]
        if frames is not None:
            error["stack_trace"] = cause["stack_trace"]
        return {"error": error, "status": self.status}

    def _stack_trace(self, frames: str) -> str:
        text = _java_text(self.type, self.reason) + frames
        if self.caused_by is not None:
            text += "Caused by: " + _java_text(self.caused_by.type, self.caused_by.reason) + frames
        return text


# The Java classes behind the types the emulator answers with: the first line of a stack trace names them.
_JAVA_CLASSES = {
    "status_exception": "org.elasticsearch.ElasticsearchStatusException",
    "illegal_argument_exception": "java.lang.IllegalArgumentException",
    "resource_not_found_exception": "org.elasticsearch.ResourceNotFoundException",
    "resource_already_exists_exception": "org.elasticsearch.ResourceAlreadyExistsException",
    "security_exception": "org.elasticsearch.ElasticsearchSecurityException",
    "action_request_validation_exception": "org.elasticsearch.action.ActionRequestValidationException",
    "validation_exception": "org.elasticsearch.common.ValidationException",
    "parse_exception": "org.elasticsearch.ElasticsearchParseException",
    "index_not_found_exception": "org.elasticsearch.index.IndexNotFoundException",
    "media_type_header_exception": "org.elasticsearch.rest.RestRequest$MediaTypeHeaderException",
    "number_format_exception": "java.lang.NumberFormatException",
    "class_cast_exception": "java.lang.ClassCastException",
    "null_pointer_exception": "java.lang.NullPointerException",
    "json_parse_exception": "com.fasterxml.jackson.core.JsonParseException",
}


def _java_text(type_: str, reason: str) -> str:
    """``Throwable.toString()``: the class name, ": ", the message; then a newline."""
    java_class = _JAVA_CLASSES.get(type_) or "org.elasticsearch." + "".join(p.title() for p in type_.split("_"))
    return f"{java_class}: {reason}\n"


def _frames(tb: TracebackType | None) -> str:
    """The emulator's frames, innermost first, as Java prints them: a tab, ``at class.method(File:line)``."""
    lines = [
        f"\tat es_emulator.{Path(f.filename).stem}.{f.name}({Path(f.filename).name}:{f.lineno})\n"
        for f in reversed(traceback.extract_tb(tb))
    ]
    return "".join(lines) or "\tat es_emulator (no frames)\n"


@dataclass
class SimpleError(Exception):
    """The flat ``{"error": "<text>", "status": N}`` form, with optional HTTP headers."""

    status: int
    message: str
    http_headers: Mapping[str, str] = field(default_factory=dict)
    # RestController.handleBadRequest (no route at all) writes the error text alone.
    with_status: bool = True

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> JsonObject:
        return {"error": self.message, "status": self.status} if self.with_status else {"error": self.message}


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
