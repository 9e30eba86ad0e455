"""Elasticsearch's published REST API spec as the tests read it: ``testbed/fetch-rest-api-spec.sh`` fetches the
pinned ``org.elasticsearch:rest-api-spec`` jar from Maven Central once (checked against the SHA-256 in
``testbed/versions.env``) and keeps its ``api/*.json`` in the cache outside the tree; ``REST_API_SPEC_DIR`` uses
your copy instead.

    spec = rest_api_spec()          # es_emulator.restspec.RestSpec, loaded once per process
    spec.check("GET", "/_inference/_all", {})

    with requests_held_to_spec(srv):  # every request srv receives meanwhile must be one the spec documents
        ...
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from es_emulator import EmulatorServer
from es_emulator.faults import RecordedRequest
from es_emulator.restspec import RestSpec
from testbed.binaries import versions

TESTBED = Path(__file__).resolve().parent
FETCH_SCRIPT = TESTBED / "fetch-rest-api-spec.sh"


def rest_api_spec_dir() -> Path:
    """The folder holding the spec's ``_common.json`` and one ``<api>.json`` per API (fetched once, then cached)."""
    result = subprocess.run(["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{FETCH_SCRIPT} failed ({result.returncode}):\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])


@functools.cache
def rest_api_spec() -> RestSpec:
    return RestSpec.load(rest_api_spec_dir())


def outside_spec(requests: Iterable[RecordedRequest], apis: Iterable[str]) -> list[str]:
    """What in these requests no API of ``apis`` documents (each problem once, in the order met)."""
    spec, names = rest_api_spec(), sorted(apis)
    problems: dict[str, None] = {}
    for request in requests:
        problems.update(dict.fromkeys(spec.check(request.method, request.path, request.query, names)))
    return list(problems)


@contextlib.contextmanager
def requests_held_to_spec(srv: EmulatorServer) -> Iterator[None]:
    """Every request ``srv`` receives in the block (whoever sends it, log cleared or not) must match a path, a
    method and the parameters of an API that Elasticsearch's REST spec documents and that ``srv``'s version
    serves; otherwise AssertionError at the end of the block, listing what did not."""
    seen: list[RecordedRequest] = []
    srv.requests.listen(seen.append)
    try:
        yield
    finally:
        srv.requests.unlisten(seen.append)
    problems = outside_spec(seen, srv.profile.apis)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        spec_version = versions()["REST_API_SPEC_VERSION"]
        raise AssertionError(
            f"{len(problems)} request(s) to the Elasticsearch emulator ({srv.version}) are not in Elasticsearch's "
            f"published REST API spec (rest-api-spec {spec_version}, the APIs of the {srv.profile.name} profile):\n"
            f"{listed}"
        )


def held_to_spec(srv: EmulatorServer) -> Iterator[EmulatorServer]:
    """For a pytest fixture (``yield from held_to_spec(srv)``): yields ``srv`` inside ``requests_held_to_spec``."""
    with requests_held_to_spec(srv):
        yield srv
