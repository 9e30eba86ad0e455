from __future__ import annotations

import logging

from es_inference_operator.logs import WAITING, WaitingIsNotAnError


def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_a_marked_wait_is_logged_at_info_as_a_wait() -> None:
    rec = record(f"Handler 'delete-endpoint' failed temporarily: {WAITING}inference endpoint e5 is referenced by ...")
    assert WaitingIsNotAnError().filter(rec)
    assert (rec.levelno, rec.levelname) == (logging.INFO, "INFO")
    assert rec.getMessage() == "Handler 'delete-endpoint' is waiting: inference endpoint e5 is referenced by ..."


def test_real_failures_stay_errors() -> None:
    rec = record("Handler 'delete-endpoint' failed temporarily: the endpoint is kept and the deletion retried: ...")
    assert WaitingIsNotAnError().filter(rec)
    assert rec.levelno == logging.ERROR
