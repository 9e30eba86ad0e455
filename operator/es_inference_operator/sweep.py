"""When each endpoint's references (`status.references`, a dry-run DELETE) are looked at outside deletions.

Once per OPERATOR_REFERENCES_SECONDS per endpoint, each at its own moment of the period (no burst after a
restart), and never more than OPERATOR_REFERENCE_CHECKS_PER_SECOND per cluster: a dry run scans every pipeline and
index mapping. A new endpoint's references are looked at as part of its creation, outside that rate (10,000
created together otherwise wrote their first references for 17 minutes after).

This is scheduling memory, not the truth about anything: lost at a restart, it starts again spread over a period.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .decisions import spread_offset
from .endpoint_snapshot import TokenBucket


class ReferenceSweep:
    def __init__(self, period: float, per_second: float) -> None:
        self.period = period
        self.per_second = per_second
        self._checked: dict[str, float] = {}  # uid -> when its references were last looked at

    def due(self, uid: str, status: Mapping[str, Any], bucket: TokenBucket) -> bool:
        """Is it this endpoint's turn for a dry run? Takes a token of its cluster's `bucket` if so."""
        now = time.monotonic()
        if "references" not in status:
            self._checked[uid] = now  # never looked at: now, as part of its creation
            return True
        # First time in this process: as if looked at some part of a period ago, by the uid's hash.
        last = self._checked.setdefault(uid, now - spread_offset(uid, self.period))
        if now - last < self.period or not bucket.take(self.per_second):
            return False
        self._checked[uid] = now
        return True

    def forget(self, uid: str) -> None:
        self._checked.pop(uid, None)
