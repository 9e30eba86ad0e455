"""An Elasticsearch emulator for the inference endpoint APIs, faithful to Elasticsearch's own statuses, bodies and
messages (emulator/README.md says what it covers, and where it decides what Elasticsearch leaves open), and held to
Elasticsearch's published REST API spec (apis.py, restspec.py). "reference §" numbers in comments are sections of
the behaviour notes it was written from, which live outside this repository; each comment says the behaviour itself.

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
