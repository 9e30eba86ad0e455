from __future__ import annotations

import logging

from es_inference_operator.logs import KopfEventNoise


def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_kopfs_line_for_every_event_goes_to_debug() -> None:
    rec = record("Handler 'watch' succeeded.")
    assert not KopfEventNoise().filter(rec)  # dropped unless debug logging is on
    assert rec.levelno == logging.DEBUG


def test_other_lines_stay_as_they_are() -> None:
    for message, level in [("Handler 'watch' failed with an exception.", logging.ERROR), ("anything", logging.INFO)]:
        rec = record(message, level)
        assert KopfEventNoise().filter(rec)
        assert rec.levelno == level
