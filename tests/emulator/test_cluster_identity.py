"""``GET /`` says which cluster this is (reference §10.3): ``cluster_uuid`` per emulator instance, configurable,
``_na_`` until the cluster is formed."""

from __future__ import annotations

import re

from elasticsearch import Elasticsearch

from es_emulator import EmulatorServer

from .conftest import V91, V819, Factory
from .support import call, client

BASE64_UUID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # UUIDs.randomBase64UUID: 16 bytes, URL-safe, no padding


def test_main_response_keys_in_elasticsearch_order(emulator: Factory) -> None:
    body = call(emulator(V91), "GET", "/").json
    assert list(body) == ["name", "cluster_name", "cluster_uuid", "version", "tagline"]
    assert list(body["version"]) == [
        "number",
        "build_flavor",
        "build_type",
        "build_hash",
        "build_date",
        "build_snapshot",
        "lucene_version",
        "minimum_wire_compatibility_version",
        "minimum_index_compatibility_version",
    ]


def test_two_emulators_are_two_clusters_and_each_keeps_its_uuid() -> None:
    with EmulatorServer(version=V91) as one, EmulatorServer(version=V91) as other:
        first = client(one).info()["cluster_uuid"]
        assert BASE64_UUID.match(first), first
        assert client(other).info()["cluster_uuid"] != first
        # Stable for the instance: across an outage and a reset of the data.
        one.down()
        one.up()
        one.state.reset()
        assert client(one).info()["cluster_uuid"] == first == one.cluster_uuid


def test_two_urls_of_one_emulator_report_one_cluster() -> None:
    with EmulatorServer(version=V91) as srv:
        by_ip = call(srv, "GET", "/").json["cluster_uuid"]
        by_name = Elasticsearch(
            f"http://localhost:{srv.port}", basic_auth=("elastic", "changeme"), max_retries=0, request_timeout=5
        ).info()["cluster_uuid"]
        assert by_ip == by_name == srv.cluster_uuid


def test_a_given_uuid_lets_two_emulators_be_one_cluster() -> None:
    with (
        EmulatorServer(version=V819, cluster_uuid="shared-uuid-0123456789") as one,
        EmulatorServer(version=V819, cluster_uuid="shared-uuid-0123456789") as two,
    ):
        assert call(one, "GET", "/").json["cluster_uuid"] == call(two, "GET", "/").json["cluster_uuid"]
        assert one.cluster_uuid == "shared-uuid-0123456789"


def test_na_until_the_cluster_is_formed() -> None:
    with EmulatorServer(version=V91, cluster_uuid="formed-uuid", cluster_formed=False) as srv:
        assert call(srv, "GET", "/").json["cluster_uuid"] == "_na_"
        assert client(srv).info()["cluster_uuid"] == "_na_"
        srv.cluster_formed = True
        assert call(srv, "GET", "/").json["cluster_uuid"] == "formed-uuid"
        srv.cluster_formed = False
        assert call(srv, "GET", "/").json["cluster_uuid"] == "_na_"


def test_formation_through_the_admin_api(emulator: Factory) -> None:
    srv = emulator(V91)
    assert call(srv, "GET", "/_emulator").json["cluster"] == {"uuid": srv.cluster_uuid, "formed": True}
    answer = call(srv, "PUT", "/_emulator/cluster", {"formed": False}, auth=None)
    assert (answer.status, answer.json) == (200, {"uuid": srv.cluster_uuid, "formed": False})
    assert call(srv, "GET", "/").json["cluster_uuid"] == "_na_"
    assert call(srv, "PUT", "/_emulator/cluster", {"formed": "yes"}, auth=None).status == 400
    call(srv, "PUT", "/_emulator/cluster", {"formed": True}, auth=None)
    assert call(srv, "GET", "/").json["cluster_uuid"] == srv.cluster_uuid
