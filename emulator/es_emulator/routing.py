"""A small path router with Elasticsearch's RestController semantics.

Candidates matching the path are tried most-specific first (a literal segment beats a ``{placeholder}`` at
the first position where they differ); the first with a handler for the method wins. Otherwise, read in
RestController (``tryAllHandlers``, ``handleNoHandlerFound``, ``handleBadRequest``, 8.x and 9.x alike):

- OPTIONS: 200, an empty text body, ``Allow`` with the path's methods (none: no header);
- a path some handler takes with other methods: 405 ``Incorrect HTTP method for uri [<uri>] and method [<M>],
  allowed: [<methods>]`` with ``Allow`` (flat error with status);
- no handler for the path: 400 ``{"error": "no handler found for uri [<uri>] and method [<M>]"}`` (no status).

Method sets are printed sorted (Elasticsearch prints a HashSet of an enum: its order is unspecified).

Every route names the spec APIs it serves (``rest-api-spec/api/<name>.json``; see apis.py), so that the route
table can be held to Elasticsearch's published spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import SimpleError

H = TypeVar("H")


class OptionsAnswer(Exception):
    """An OPTIONS request no handler takes: Elasticsearch answers 200 with the path's methods in ``Allow``."""

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__("OPTIONS")
        self.allowed = allowed


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    pattern: str
    handler: H
    apis: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[str, ...]:
        return split_path(self.pattern)

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


def split_path(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.split("/") if p)


class Router(Generic[H]):
    def __init__(self) -> None:
        self._routes: list[Route[H]] = []

    def add(self, method: str, pattern: str, handler: H, *, api: str | tuple[str, ...] = ()) -> None:
        apis = (api,) if isinstance(api, str) else api
        self._routes.append(Route(method, pattern, handler, apis))

    def add_many(
        self, methods: tuple[str, ...], patterns: tuple[str, ...], handler: H, *, api: str | tuple[str, ...] = ()
    ) -> None:
        for method in methods:
            for pattern in patterns:
                self.add(method, pattern, handler, api=api)

    @property
    def routes(self) -> tuple[Route[H], ...]:
        return tuple(self._routes)

    def resolve(self, method: str, path: str, uri: str) -> tuple[Route[H], dict[str, str]]:
        parts = split_path(path)
        candidates = [(r, v) for r in self._routes if (v := r.match(parts)) is not None]
        candidates.sort(key=lambda rv: rv[0].rank(), reverse=True)
        for route, values in candidates:
            if route.method == method:
                return route, values
        allowed = tuple(sorted({r.method for r, _ in candidates}))
        if method == "OPTIONS":
            raise OptionsAnswer(allowed)
        if allowed:
            raise SimpleError(
                405,
                f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{', '.join(allowed)}]",
                {"Allow": ",".join(allowed)},
            )
        raise SimpleError(400, f"no handler found for uri [{uri}] and method [{method}]", with_status=False)
