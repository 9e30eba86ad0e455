"""Query parameters: strict booleans, consumed-parameter tracking, unrecognized parameters (reference §1.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import illegal_argument, parse_exception

# Accepted on every route (BaseRestHandler / RestRequest response params). The emulator honours `pretty`;
# error_trace, filter_path and human are accepted and have no effect.
GLOBAL_PARAMS = frozenset({"error_trace", "filter_path", "pretty", "human"})

_TIME_VALUE = re.compile(r"^(-1|0|\d+(nanos|micros|ms|s|m|h|d))$")


class Params:
    """The request's query parameters; handlers read through it so unread ones can be reported."""

    def __init__(self, query: Mapping[str, str], path: str) -> None:
        self._values = dict(query)
        self._path = path
        self._consumed: set[str] = set(GLOBAL_PARAMS)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def get(self, name: str) -> str | None:
        self._consumed.add(name)
        return self._values.get(name)

    def boolean(self, name: str, default: bool = False) -> bool:
        """Booleans.parseBoolean: only ``true``/``false``; an empty value (``?force``) is true."""
        raw = self.get(name)
        if raw is None:
            return default
        if raw in ("", "true"):
            return True
        if raw == "false":
            return False
        # [unverified] message pattern (§1.1)
        raise illegal_argument(f"Failed to parse value [{raw}] as only [true] or [false] are allowed.")

    def time_value(self, name: str) -> str | None:
        raw = self.get(name)
        if raw is not None and not _TIME_VALUE.match(raw):
            # TimeValue.parseTimeValue [unverified: not in the reference]
            raise parse_exception(
                f"failed to parse setting [{name}] with value [{raw}] as a time value: unit is missing or unrecognized"
            )
        return raw

    def check_unrecognized(self) -> None:
        """BaseRestHandler: parameters no handler read → 400 (§1.1 [unverified]). Upstream may append
        "-> did you mean [x]?" suggestions; the emulator does not."""
        unknown = sorted(k for k in self._values if k not in self._consumed)
        if not unknown:
            return
        plural = "s" if len(unknown) > 1 else ""
        listed = ", ".join(f"[{k}]" for k in unknown)
        raise illegal_argument(f"request [{self._path}] contains unrecognized parameter{plural}: {listed}")

    @property
    def pretty(self) -> bool:
        raw = self._values.get("pretty")
        return raw is not None and raw != "false"
