"""Elasticsearch's published REST API specification, and requests checked against it.

The spec is the folder ``rest-api-spec/api`` of Maven Central's ``org.elasticsearch:rest-api-spec`` jar: one JSON
file per API (paths with their methods and path parts, query parameters with their types) and ``_common.json``
(the parameters every API takes). The official clients are generated from the same specification.
``testbed/fetch-rest-api-spec.sh`` fetches the pinned version; nothing in the emulator needs it to run.

    spec = RestSpec.load(folder)
    spec.resolve("PUT", "/_inference/text_embedding/e5")    # the spec paths Elasticsearch would route it to
    spec.check("DELETE", "/_inference/e5", {"force": "1"})  # ["DELETE /_inference/e5: [force] ..."]

Routing follows RestController: of the paths matching the URL, the most specific first (a literal segment beats a
``{part}`` at the first place they differ), and the first that has the method wins, together with every other
API path of the same shape (the typed ``inference.put_<service>`` APIs share ``inference.put``'s route).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EsError
from .params import parse_time_value
from .routing import split_path


@dataclass(frozen=True)
class Param:
    """A query parameter or a path part: its spec type (boolean, time, int, enum, list, string...) and options."""

    name: str
    type: str
    options: tuple[str, ...] = ()
    default: Any = None
    deprecated: bool = False

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> Param:
        return cls(
            name,
            str(data.get("type", "string")),
            tuple(str(o) for o in data.get("options", ())),
            data.get("default"),
            "deprecated" in data,
        )

    def value_problem(self, raw: str) -> str | None:
        """Why ``raw`` is not a value of this type, or None. Booleans are true, false or empty (= true)."""
        if self.type == "boolean" and raw not in ("true", "false", ""):
            return f"[{self.name}] is a boolean: true or false, not [{raw}]"
        if self.type == "time":
            try:
                parse_time_value(raw, self.name)
            except EsError as exc:
                return f"[{self.name}] is a time value: {exc.reason}"
        if self.type in ("int", "long", "number") and not raw.lstrip("+-").isdigit():
            return f"[{self.name}] is a number, not [{raw}]"
        values = raw.split(",") if self.type == "list" else [raw]
        if self.options and self.type in ("enum", "list"):
            outside = [v for v in values if v not in self.options]
            if outside:
                return f"[{self.name}] takes {list(self.options)}, not {outside}"
        return None


@dataclass(frozen=True)
class SpecPath:
    """One path of one API, with its methods and path parts."""

    api: str
    path: str
    methods: tuple[str, ...]
    parts: Mapping[str, Param] = field(default_factory=dict)

    @property
    def segments(self) -> tuple[str, ...]:
        return split_path(self.path)

    @property
    def shape(self) -> tuple[str | None, ...]:
        """The segments with every ``{part}`` as None: two paths of one shape are one route."""
        return tuple(None if s.startswith("{") else s for s in self.segments)

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        values: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if segment.startswith("{"):
                values[segment[1:-1]] = part
            elif segment != part:
                return None
        return values

    def rank(self) -> tuple[bool, ...]:
        return tuple(s is not None for s in self.shape)


@dataclass(frozen=True)
class Api:
    name: str
    paths: tuple[SpecPath, ...]
    params: Mapping[str, Param]
    stability: str
    visibility: str
    body: str | None  # "required", "optional" or None (the API takes no body)


@dataclass(frozen=True)
class Resolution:
    """Where Elasticsearch, serving only some APIs, routes a request: the matching spec paths (with the values of
    their parts), or, when none has the method, the methods the path does have (empty: no handler at all)."""

    matches: tuple[tuple[SpecPath, Mapping[str, str]], ...]
    allowed: tuple[str, ...]

    @property
    def apis(self) -> tuple[str, ...]:
        return tuple(sorted({p.api for p, _ in self.matches}))


class RestSpec:
    def __init__(self, apis: Mapping[str, Api], common: Mapping[str, Param]) -> None:
        self.apis = dict(apis)
        self.common = dict(common)

    @classmethod
    def load(cls, folder: Path) -> RestSpec:
        apis: dict[str, Api] = {}
        for file in sorted(folder.glob("*.json")):
            if file.name.startswith("_"):
                continue
            ((name, data),) = json.loads(file.read_text()).items()
            paths = tuple(
                SpecPath(
                    name,
                    p["path"],
                    tuple(p["methods"]),
                    {k: Param.from_json(k, v) for k, v in p.get("parts", {}).items()},
                )
                for p in data["url"]["paths"]
            )
            body = data.get("body")
            apis[name] = Api(
                name,
                paths,
                {k: Param.from_json(k, v) for k, v in data.get("params", {}).items()},
                str(data.get("stability", "")),
                str(data.get("visibility", "")),
                None if body is None else ("required" if body.get("required") else "optional"),
            )
        common_file = json.loads((folder / "_common.json").read_text())
        common = {k: Param.from_json(k, v) for k, v in common_file["params"].items()}
        return cls(apis, common)

    def paths(self, names: Iterable[str] | None = None) -> list[SpecPath]:
        chosen = self.apis.keys() if names is None else names
        return [p for name in chosen for p in self.apis[name].paths]

    def resolve(self, method: str, path: str, names: Iterable[str] | None = None) -> Resolution:
        """RestController's choice among the paths of ``names`` (default: every API of the spec)."""
        parts = split_path(path)
        candidates = [(p, v) for p in self.paths(names) if (v := p.match(parts)) is not None]
        candidates.sort(key=lambda pv: pv[0].rank(), reverse=True)
        for chosen, _ in candidates:
            if method in chosen.methods:
                same = tuple((p, v) for p, v in candidates if p.shape == chosen.shape and method in p.methods)
                return Resolution(same, ())
        return Resolution((), tuple(sorted({m for p, _ in candidates for m in p.methods})))

    def check(self, method: str, path: str, query: Mapping[str, str], names: Iterable[str] | None = None) -> list[str]:
        """What in this request no API of ``names`` documents: the path and method, an enum path part outside its
        options, a parameter no matching API lists (or ``_common.json``), or a value not of the parameter's type."""
        where = f"{method} {path}" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        resolution = self.resolve(method, path, names)
        if not resolution.matches:
            allowed = f" (the spec has {list(resolution.allowed)} there)" if resolution.allowed else ""
            return [f"{where}: no API of the spec takes this method and path{allowed}"]
        problems: list[str] = []
        part_problems = [_part_problems(p, values) for p, values in resolution.matches]
        if all(part_problems):
            problems.append(f"{where}: {part_problems[0][0]}")
        documented: dict[str, Param] = dict(self.common)
        for api in resolution.apis:
            documented.update(self.apis[api].params)
        apis = resolution.apis
        named = ", ".join(apis) if len(apis) <= 3 else f"{apis[0]} (and {len(apis) - 1} more APIs of this route)"
        for name, raw in query.items():
            param = documented.get(name)
            if param is None:
                problems.append(f"{where}: [{name}] is not a parameter of {named}")
            elif (problem := param.value_problem(raw)) is not None:
                problems.append(f"{where}: {problem}")
        return problems


def _part_problems(path: SpecPath, values: Mapping[str, str]) -> list[str]:
    return [
        f"{{{name}}} of {path.api} takes {list(part.options)}, not [{values[name]}]"
        for name, part in path.parts.items()
        if part.options and values.get(name) not in part.options
    ]
