"""Log levels that mean what they say.

kopf logs every TemporaryError at ERROR ("Handler 'x' failed temporarily: ..."). A deletion blocked by
pipelines or indexes is a wait the operator expects, repeated at every re-check: at ERROR it would page
whoever alerts on the operator's errors. The delete handler marks such waits, and this filter logs them at
INFO as what they are. Real failures (Elasticsearch down, refused credentials) stay errors.
"""

from __future__ import annotations

import logging

WAITING = "waiting: "
_KOPF_SAYS = f"failed temporarily: {WAITING}"


class WaitingIsNotAnError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and isinstance(record.msg, str) and _KOPF_SAYS in record.msg:
            record.msg = record.msg.replace(_KOPF_SAYS, "is waiting: ")
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def install(verbose: bool = False) -> None:
    logging.getLogger("kopf.objects").addFilter(WaitingIsNotAnError())
    if not verbose:
        # The client logs every request at INFO: at 10,000 endpoints that is the reference sweep's ten lines a
        # second, and 2% of the operator's CPU samples in a burst of creates. Failures reach the operator's own
        # logs and status anyway; --verbose shows every request again.
        logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)
