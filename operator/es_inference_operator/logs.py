"""Log lines that mean what they say.

kopf logs "Handler 'watch' succeeded." at INFO for every event of every resource: the operator's one kopf handler
only files the event, so that line says nothing (and at 10,000 resources, thousands of lines a minute). It is
logged at DEBUG. What the operator does is logged by the managed reconciler, naming the object.
"""

from __future__ import annotations

import logging

_NOISE = ("Handler 'watch' succeeded.", "Handler 'watch' is invoked.")


class KopfEventNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and isinstance(record.msg, str) and record.msg in _NOISE:
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def install(verbose: bool = False) -> None:
    logging.getLogger("kopf.objects").addFilter(KopfEventNoise())
    if not verbose:
        # The client logs every request at INFO: at 10,000 endpoints that is the reference sweep's ten lines a
        # second, and 2% of the operator's CPU samples in a burst of creates. Failures reach the operator's own
        # logs and status anyway; --verbose shows every request again.
        logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)
