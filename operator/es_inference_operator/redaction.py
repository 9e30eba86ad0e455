"""Secret values out of every text the operator shows: status, events, logs.

Elasticsearch's unknown-settings refusal prints the settings it was sent, values included (reference §10.5), and
client errors may print what they were given. Whatever the operator passes on is masked first.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "[redacted]"


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret value replaced by a mask, longest first (one secret may contain another)."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
