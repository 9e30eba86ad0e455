"""An Elasticsearch emulator for the inference endpoint APIs, faithful to
``shared/reference/elasticsearch-inference-api.md`` (the "reference"; § numbers in comments point into it).

    from es_emulator import EmulatorServer, User, ApiKey
    with EmulatorServer(version="8.19.0") as srv:
        ...  # srv.url, srv.state, srv.faults, srv.requests, srv.down(), srv.up()
"""

from .faults import Faults, Hold, RecordedRequest, RequestLog, TimedRequest
from .profiles import PROFILES, Profile, profile_for
from .security import ApiKey, Role, User
from .server import EmulatorServer
from .store import Store

__all__ = [
    "PROFILES",
    "ApiKey",
    "EmulatorServer",
    "Faults",
    "Hold",
    "Profile",
    "RecordedRequest",
    "RequestLog",
    "Role",
    "Store",
    "TimedRequest",
    "User",
    "profile_for",
]
