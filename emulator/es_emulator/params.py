"""Query parameters as Elasticsearch's RestRequest reads them (reference §1.1).

Every read marks the name consumed, as ``RestRequest.param`` does; after the handler has read what it reads,
``check_unrecognized`` answers the rest as ``BaseRestHandler`` does, with its "did you mean" suggestions (Lucene's
Levenshtein similarity above 0.5 against every consumed name). Value parsing follows the Java helpers named on
each method; their texts were read in Elasticsearch's source (libs/core Booleans and TimeValue, XContentMapValues,
IndicesOptions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import Cause, EsError, SimpleError, illegal_argument

# Read on every route before any handler: error_trace by RestController, the rest by the response channel
# (AbstractRestChannel). `format` is not in the spec's _common.json, yet the channel reads it everywhere; the
# emulator answers JSON whatever it says (other formats are not emulated). error_trace, pretty and human are
# honoured; filter_path is accepted and not applied.
GLOBAL_PARAMS = ("error_trace", "format", "filter_path", "pretty", "human")

_BOOLEAN_MESSAGE = "Failed to parse value [{}] as only [true] or [false] are allowed."
_EXPAND_WILDCARDS = ("open", "closed", "hidden", "none", "all")
# Read by IndicesOptions.fromRequest; ignore_throttled is deprecated and gone from the spec but still read.
INDICES_OPTIONS = ("expand_wildcards", "ignore_unavailable", "allow_no_indices", "ignore_throttled")


def boolean_error(raw: str) -> EsError:
    return illegal_argument(_BOOLEAN_MESSAGE.format(raw))


def parse_boolean(raw: str | None, default: bool) -> bool:
    """``RestRequest.paramAsBoolean``: an empty value is true, a blank one the default, else only true/false."""
    if raw is None:
        return default
    if raw == "":
        return True
    if raw.strip() == "":
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise boolean_error(raw)


class Params:
    """The request's query parameters; handlers read through it so that unread ones can be reported."""

    def __init__(self, query: Mapping[str, str], path: str) -> None:
        self._values = dict(query)
        self._path = path
        self._consumed: set[str] = set(GLOBAL_PARAMS)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def consume(self, names: Iterable[str]) -> None:
        """Names read outside this class: the route's path parameters, which the handler reads."""
        self._consumed.update(names)

    def get(self, name: str) -> str | None:
        self._consumed.add(name)
        return self._values.get(name)

    # --- read before routing ----------------------------------------------------------------------------------

    def channel_error(self) -> EsError | None:
        """The response channel parses pretty and human while it is built; a bad value makes the whole request a
        bad request, answered without the parameters (so neither pretty nor error_trace apply)."""
        for name in ("pretty", "human"):
            try:
                parse_boolean(self._values.get(name), False)
            except EsError as exc:
                return exc
        return None

    def error_trace_error(self) -> SimpleError | None:
        """RestController.validateErrorTrace: a bad error_trace is a flat 400, before any route is looked up."""
        try:
            parse_boolean(self._values.get("error_trace"), False)
        except EsError as exc:
            return SimpleError(400, exc.reason)
        return None

    @property
    def error_trace(self) -> bool:
        try:
            return parse_boolean(self._values.get("error_trace"), False)
        except EsError:
            return False

    @property
    def pretty(self) -> bool:
        try:
            return parse_boolean(self._values.get("pretty"), False)
        except EsError:
            return False

    # --- typed reads ------------------------------------------------------------------------------------------

    def boolean(self, name: str, default: bool = False) -> bool:
        """``RestRequest.paramAsBoolean``."""
        return parse_boolean(self.get(name), default)

    def option_boolean(self, name: str) -> None:
        """``XContentMapValues.nodeBooleanValue(value, name, default)``, as IndicesOptions reads its booleans: a
        blank value keeps the default; a bad one names the parameter, with the parse failure as its cause."""
        raw = self.get(name)
        if raw is None or raw.strip() == "" or raw in ("true", "false"):
            return
        raise EsError(
            400,
            "illegal_argument_exception",
            f"Could not convert [{name}] to boolean",
            caused_by=Cause("illegal_argument_exception", _BOOLEAN_MESSAGE.format(raw)),
        )

    def indices_options(self) -> None:
        """``IndicesOptions.fromRequest``: the wildcard states, then the booleans."""
        wildcards = self.get("expand_wildcards")
        if wildcards:
            for state in _java_split_comma(wildcards):
                if state not in _EXPAND_WILDCARDS:
                    raise illegal_argument(f"No valid expand wildcard value [{state}]")
        for name in ("ignore_unavailable", "allow_no_indices", "ignore_throttled"):
            self.option_boolean(name)

    def time_value(self, name: str) -> str | None:
        """``TimeValue.parseTimeValue`` (``RestRequest.paramAsTime``)."""
        raw = self.get(name)
        if raw is not None:
            parse_time_value(raw, name)
        return raw

    def if_version(self) -> None:
        """RestPutPipelineAction's own ``Integer.parseInt`` of ``if_version``."""
        raw = self.get("if_version")
        if raw is not None and _java_int(raw, 32) is None:
            raise illegal_argument(f"invalid value [{raw}] specified for [if_version]. must be an integer value")

    # --- after the handler ------------------------------------------------------------------------------------

    def check_unrecognized(self) -> None:
        """BaseRestHandler: parameters nothing read → 400, sorted, each with the consumed names it resembles."""
        unknown = sorted(k for k in self._values if k not in self._consumed)
        if unknown:
            raise illegal_argument(unrecognized_message(self._path, unknown, self._consumed))


def unrecognized_message(path: str, unknown: list[str], candidates: Iterable[str]) -> str:
    """``BaseRestHandler.unrecognized``: ``-> did you mean [x]?`` or ``any of [x, y]?`` per unknown name, the
    candidates ordered by similarity (highest first), then by name."""
    names = set(candidates)
    parts = []
    for name in unknown:
        scored = sorted(((similarity(name, c), c) for c in names), key=lambda sc: (-sc[0], sc[1]))
        close = [c for score, c in scored if score > 0.5]
        text = f"[{name}]"
        if close:
            text += f" -> did you mean {'any of ' if len(close) > 1 else ''}[{', '.join(close)}]?"
        parts.append(text)
    plural = "s" if len(unknown) > 1 else ""
    return f"request [{path}] contains unrecognized parameter{plural}: {', '.join(parts)}"


def similarity(target: str, other: str) -> float:
    """Lucene's ``LevenshteinDistance.getDistance``: 1 - edits / the longer length (1 for two empty strings)."""
    n, m = len(target), len(other)
    if n == 0 or m == 0:
        return 1.0 if n == m else 0.0
    previous = list(range(n + 1))
    for j in range(1, m + 1):
        current = [j] + [0] * n
        for i in range(1, n + 1):
            cost = 0 if target[i - 1] == other[j - 1] else 1
            current[i] = min(current[i - 1] + 1, previous[i] + 1, previous[i - 1] + cost)
        previous = current
    return 1.0 - previous[n] / max(n, m)


# --- Java parsing helpers --------------------------------------------------------------------------------------

_JAVA_INT = re.compile(r"[+-]?\d+")
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)")


def _java_int(text: str, bits: int) -> int | None:
    """``Integer.parseInt`` / ``Long.parseLong``: optional sign, ASCII digits, in range; else None."""
    if not _JAVA_INT.fullmatch(text):
        return None
    value = int(text)
    limit = 1 << (bits - 1)
    return value if -limit <= value < limit else None


def _java_split_comma(text: str) -> list[str]:
    """``Strings.splitStringByCommaToArray`` (``String.split(",")``): trailing empty parts dropped."""
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _number_format(text: str) -> Cause:
    return Cause("number_format_exception", f'For input string: "{text}"')


def parse_time_value(raw: str, name: str) -> None:
    """``TimeValue.parseTimeValue``: a unit suffix (case-insensitive except m), -1, or 0; IllegalArgumentException
    otherwise, with the NumberFormatException as cause when the number is wrong."""
    normalized = raw.lower().strip()
    suffix = next(
        (s for s in ("nanos", "micros", "ms", "s") if normalized.endswith(s)),
        "m" if raw.endswith("m") else next((s for s in ("h", "d") if normalized.endswith(s)), None),
    )
    if suffix is None:
        if re.fullmatch(r"-0*1|0+", normalized):
            return
        raise illegal_argument(
            f"failed to parse setting [{name}] with value [{raw}] as a time value: unit is missing or unrecognized"
        )
    number = normalized[: -len(suffix)].strip()
    value = _java_int(number, 64)
    if value is None:
        fractional = _JAVA_DOUBLE.fullmatch(number) is not None
        reason = f"failed to parse [{raw}]" + (", fractional time values are not supported" if fractional else "")
        raise EsError(400, "illegal_argument_exception", reason, caused_by=_number_format(number))
    if value < -1:
        raise illegal_argument(
            f"failed to parse setting [{name}] with value [{raw}] as a time value: negative durations are not supported"
        )
