"""A small path router with Elasticsearch's RestController semantics.

Candidates matching the path are tried most-specific first (a literal segment beats a ``{placeholder}`` at
the first position where they differ); the first with a handler for the method wins. If none has the
method, the answer is 405 with the allowed methods, and with no candidate at all 400 "no handler found"
(both in the flat error form; texts from RestController [unverified: not in the reference]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import SimpleError

H = TypeVar("H")


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    pattern: str
    handler: H

    @property
    def segments(self) -> tuple[str, ...]:
        return _split(self.pattern)

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        segments = self.segments
        if len(segments) != len(parts):
            return None
        values: dict[str, str] = {}
        for segment, part in zip(segments, parts, strict=True):
            if segment.startswith("{") and segment.endswith("}"):
                values[segment[1:-1]] = part
            elif segment != part:
                return None
        return values

    def rank(self) -> tuple[bool, ...]:
        return tuple(not s.startswith("{") for s in self.segments)


def _split(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


class Router(Generic[H]):
    def __init__(self) -> None:
        self._routes: list[Route[H]] = []

    def add(self, method: str, pattern: str, handler: H) -> None:
        self._routes.append(Route(method, pattern, handler))

    def add_many(self, methods: tuple[str, ...], patterns: tuple[str, ...], handler: H) -> None:
        for method in methods:
            for pattern in patterns:
                self.add(method, pattern, handler)

    def resolve(self, method: str, path: str, uri: str) -> tuple[H, dict[str, str]]:
        parts = _split(path)
        candidates = [(r, v) for r in self._routes if (v := r.match(parts)) is not None]
        candidates.sort(key=lambda rv: rv[0].rank(), reverse=True)
        for route, values in candidates:
            if route.method == method:
                return route.handler, values
        if candidates:
            allowed = ", ".join(sorted({r.method for r, _ in candidates}))
            raise SimpleError(
                405,
                f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{allowed}]",
                {"Allow": allowed.replace(" ", "")},
            )
        raise SimpleError(400, f"no handler found for uri [{uri}] and method [{method}]")
