"""Ownership you can prove (issue 8), one row per way it broke, in milliseconds: the Reconciler with the real
gateway and client against the emulator; Kubernetes as plain dicts (world.py)."""

from __future__ import annotations

import threading

import pytest

from es_emulator import EmulatorServer, User
from es_inference_operator.elasticsearch_pool import GatewayPool
from testbed.stack import es_request

from .world import ES_USER, World, condition, reasons, run


def es_get(es: EmulatorServer, inference_id: str) -> dict | None:
    status, body = es_request(es.url, "GET", f"/_inference/{inference_id}", auth=ES_USER)
    return dict(body["endpoints"][0]) if status == 200 else None


def requests(es: EmulatorServer, method: str, path_part: str = "/_inference") -> list[str]:
    return [r.path for r in es.requests if r.method == method and path_part in r.path]


def test_two_urls_of_one_cluster_are_one_cluster(es: EmulatorServer) -> None:
    """Seen: 127.0.0.1 and localhost were two clusters; both resources managed the endpoint and deleting one
    removed it from under the other. The cluster is what GET / says it is (cluster_uuid)."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret(
                "ns",
                "via-localhost",
                url=es.url.replace("127.0.0.1", "localhost"),
                username=ES_USER[0],
                password=ES_USER[1],
            )
            first = world.apply("first", inferenceId="shared")
            await world.reconcile(first)
            assert condition(first, "Ready")["status"] == "True"
            second = world.apply("second", inferenceId="shared", elasticsearchRef={"secretName": "via-localhost"})
            await world.reconcile(second)
            assert condition(second, "Conflict")["status"] == "True"
            assert "ownership" not in second.status
            await world.delete(second)
            assert second.deleted and es_get(es, "shared") is not None  # the other one's endpoint stays
            assert first.status["ownership"]["clusterUUID"] == es.cluster_uuid
        finally:
            await world.close()

    run(scenario)


def test_an_owner_keeps_its_id_and_a_broken_claimant_blocks_nobody(es: EmulatorServer) -> None:
    """Read: a 429 on the winner's Secret made it look like it reached no Elasticsearch; and a claimant whose
    connection could not be resolved made every other claimant wait for ever. The rule: the resource that records
    the endpoint keeps it (no Secret of its needs reading for that); a claimant whose connection does not resolve
    counts for nothing; and an endpoint nobody here recorded is never taken without the adopt annotation."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret("ns", "conn", url=es.url, username=ES_USER[0], password=ES_USER[1])
            winner = world.apply("winner", inferenceId="shared", elasticsearchRef={"secretName": "conn"})
            await world.reconcile(winner)
            loser = world.apply("loser", inferenceId="shared")
            world.kube.failing.add(("ns", "conn"))  # the owner's Secret cannot be read now: its record is enough
            await world.reconcile(loser)
            assert condition(loser, "Conflict")["status"] == "True"
            await world.delete(loser)
            assert loser.deleted and es_get(es, "shared") is not None

            # An older claimant that names a Secret that does not exist blocks nobody.
            broken = world.apply("broken", inferenceId="other", elasticsearchRef={"secretName": "missing"})
            await world.reconcile(broken)
            fine = world.apply("fine", inferenceId="other")
            await world.reconcile(fine)
            assert condition(fine, "Ready")["status"] == "True"
            assert condition(broken, "Ready")["reason"] == "ConfigurationError"
            # Once it resolves, the older one finds the endpoint recorded by the other: Conflict, not a takeover.
            world.kube.put_secret("ns", "missing", url=es.url, username=ES_USER[0], password=ES_USER[1])
            await world.reconcile(broken)
            assert condition(broken, "Conflict")["status"] == "True"
            assert fine.status["ownership"]["state"] == "Created"
        finally:
            await world.close()

    run(scenario)


def test_another_cluster_starts_as_a_newcomer_and_says_where_the_old_endpoint_stays(es: EmulatorServer) -> None:
    """Read: after elasticsearchRef changed, the operator updated or deleted a same-named endpoint on the new
    cluster that it never created, and left the old one behind silently."""

    async def scenario() -> None:
        with EmulatorServer(version=es.version, users=[User(*ES_USER, roles=["superuser"])]) as other:
            world = World(es.url)
            try:
                obj = world.apply("e5")
                await world.reconcile(obj)
                # Somebody else's endpoint with the same id, another configuration, on the other cluster.
                es_request(
                    other.url,
                    "PUT",
                    "/_inference/text_embedding/e5",
                    {
                        "service": "elasticsearch",
                        "service_settings": {
                            "model_id": ".multilingual-e5-small",
                            "num_allocations": 2,
                            "num_threads": 2,
                        },
                    },
                    auth=ES_USER,
                )
                world.kube.put_secret("ns", "other", url=other.url, username=ES_USER[0], password=ES_USER[1])
                world.apply("e5", elasticsearchRef={"secretName": "other"})
                await world.reconcile(obj)
                assert condition(obj, "Ready")["reason"] == "AlreadyExists"  # not made by it: never taken
                assert obj.status["leftBehind"] == {"clusterUUID": es.cluster_uuid, "inferenceId": "e5"}
                assert reasons(obj).count("EndpointLeftBehind") == 1
                assert "ownership" not in obj.status
                await world.delete(obj)
                assert obj.deleted
                assert es_get(other, "e5") is not None  # never created there: never deleted there
                assert es_get(es, "e5") is not None  # left behind, as the event said
                assert not requests(other, "DELETE")
            finally:
                await world.close()

    run(scenario)


def test_a_crash_between_put_and_status_write_leaves_the_endpoint_ours(es: EmulatorServer) -> None:
    """Read: 'identical endpoint => ours' was the only memory. The intent is recorded before the PUT."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret("ns", "hf", **{"api-key": "hf_secret_value"})
            obj = world.apply(
                "hf",
                service="hugging_face",
                serviceSettings={"url": "https://example.invalid/embed"},
                serviceSettingsSecretRefs={"api_key": {"name": "hf", "key": "api-key"}},
            )
            await world.reconcile(obj, crash_at_write=2)  # after the PUT, before its outcome is written
            assert obj.status["ownership"]["state"] == "CreatePending"
            assert es_get(es, "hf") is not None
            world.restart()
            await world.reconcile(obj)
            assert condition(obj, "Ready")["status"] == "True"
            assert obj.status["ownership"]["state"] == "Created"
            assert reasons(obj) == ["Created"]  # one event: not Adopted, not Updated secrets
            assert len(requests(es, "PUT")) == 1
            await world.delete(obj)
            assert obj.deleted and es_get(es, "hf") is None
        finally:
            await world.close()

    run(scenario)


def test_a_resource_that_never_worked_is_deleted_without_elasticsearch(es: EmulatorServer) -> None:
    """Seen: wrong credentials, a missing connection Secret or one with no url: kubectl delete hung for ever."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret("ns", "no-url", username="u")
            world.kube.put_secret("ns", "wrong", url=es.url, username="elastic", password="wrong")
            cases = [
                world.apply("missing", elasticsearchRef={"secretName": "does-not-exist"}),
                world.apply("no-url", elasticsearchRef={"secretName": "no-url"}),
                world.apply("wrong", elasticsearchRef={"secretName": "wrong"}),
            ]
            for obj in cases:
                await world.reconcile(obj)
                assert condition(obj, "Ready")["status"] == "False"
            es.requests.clear()
            for obj in cases:
                await world.delete(obj)
                assert obj.deleted, obj.name
            assert len(es.requests) == 0
        finally:
            await world.close()

    run(scenario)


def test_an_endpoint_replaced_with_another_task_type_releases_the_finalizer(es: EmulatorServer) -> None:
    """Read: the DELETE got a 400 for ever and the finalizer was stuck. It is provably not ours."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5")
            await world.reconcile(obj)
            es_request(es.url, "DELETE", "/_inference/e5", auth=ES_USER)
            es_request(
                es.url,
                "PUT",
                "/_inference/sparse_embedding/e5",
                {
                    "service": "elasticsearch",
                    "service_settings": {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1},
                },
                auth=ES_USER,
            )
            es.requests.clear()
            await world.delete(obj)
            assert obj.deleted and "NotOurs" in reasons(obj)
            assert es_get(es, "e5")["task_type"] == "sparse_embedding"
            assert not requests(es, "DELETE")
        finally:
            await world.close()

    run(scenario)


def test_a_permanent_refusal_of_a_delete_stalls_and_says_how_to_let_go(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5")
            await world.reconcile(obj)
            es.faults.fail_next(5, 400)
            result = await world.delete(obj)
            assert not obj.deleted
            stalled = condition(obj, "Stalled")
            assert stalled["status"] == "True"
            assert "deletionPolicy" in stalled["message"] and "Orphan" in stalled["message"]
            assert not result.failed and result.requeue_after is not None  # looked at again at the drift pace
        finally:
            await world.close()

    run(scenario)


def test_a_url_with_credentials_is_refused_and_its_password_shown_nowhere(es: EmulatorServer) -> None:
    """Seen: the password in the Ready condition, kopf's progress annotation, an event and 21 log lines."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            leaky = es.url.replace("http://", "http://elastic:hunter2-secret@")
            world.kube.put_secret("ns", "leaky", url=leaky)
            obj = world.apply("e5", elasticsearchRef={"secretName": "leaky"})
            await world.reconcile(obj)
            ready = condition(obj, "Ready")
            assert ready["reason"] == "ConfigurationError"
            assert "username and password" in ready["message"]
            assert "hunter2" not in str(obj.status) + str(obj.events)
        finally:
            await world.close()

    run(scenario)


def test_a_binary_key_does_not_break_the_other_keys_of_a_secret(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret(
                "ns",
                "conn",
                url=es.url,
                username=ES_USER[0],
                password=ES_USER[1],
                **{"keystore.p12": b"\x30\x82\xff\xfe"},
            )
            obj = world.apply("e5", elasticsearchRef={"secretName": "conn"})
            await world.reconcile(obj)
            assert condition(obj, "Ready")["status"] == "True"
        finally:
            await world.close()

    run(scenario)


def test_a_secret_echoed_by_elasticsearch_is_masked(es: EmulatorServer) -> None:
    """Seen: an api_key Secret ref on a service with no such setting put the key in Ready and in an event
    (Elasticsearch's unknown-settings refusal prints the values it was sent, reference §10.5)."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            world.kube.put_secret("ns", "key", **{"api-key": "sk-live-0123456789"})
            obj = world.apply("e5", serviceSettingsSecretRefs={"api_key": {"name": "key", "key": "api-key"}})
            await world.reconcile(obj)
            ready = condition(obj, "Ready")
            assert ready["reason"] == "ElasticsearchRejected", ready
            assert "unknown to the [elasticsearch] service" in ready["message"]
            assert "[redacted]" in ready["message"]
            assert "sk-live-0123456789" not in str(obj.status) + str(obj.events)
        finally:
            await world.close()

    run(scenario)


def test_a_refused_create_is_not_sent_again_until_something_changed(es: EmulatorServer) -> None:
    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5", service="no-such-service")
            for _ in range(3):
                await world.reconcile(obj)
            assert condition(obj, "Stalled")["status"] == "True"
            assert len(requests(es, "PUT")) == 1
            world.apply("e5")  # a new generation: worth another try
            await world.reconcile(obj)
            assert len(requests(es, "PUT")) == 2
            assert condition(obj, "Ready")["status"] == "True"
        finally:
            await world.close()

    run(scenario)


@pytest.mark.parametrize("es_version", ["8.15.0"])
def test_on_8_15_a_semantic_text_index_holds_the_deletion(es: EmulatorServer) -> None:
    """Seen: on 8.15 a delete with a semantic_text index using the endpoint went through; the endpoint was
    gone. 8.15's delete checks pipelines only: the operator reads the mappings itself."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5")
            await world.reconcile(obj)
            es_request(
                es.url,
                "PUT",
                "/docs",
                {"mappings": {"properties": {"body": {"type": "semantic_text", "inference_id": "e5"}}}},
                auth=ES_USER,
            )
            await world.reconcile(obj)
            assert obj.status["references"] == {
                "pipelines": [],
                "indexes": ["docs"],
                "pipelineCount": 0,
                "indexCount": 1,
            }
            await world.delete(obj)
            assert not obj.deleted
            assert condition(obj, "DeletionBlocked")["status"] == "True"
            assert "semantic_text indexes [docs]" in condition(obj, "DeletionBlocked")["message"]
            assert es_get(es, "e5") is not None
            es_request(es.url, "DELETE", "/docs", auth=ES_USER)
            await world.reconcile(obj)
            assert obj.deleted and es_get(es, "e5") is None
        finally:
            await world.close()

    run(scenario)


@pytest.mark.parametrize("es_version", ["9.5.0"])
def test_partial_chunking_settings_settle(es: EmulatorServer) -> None:
    """Seen on 9.5: 6 _update calls and 6 events in 30 s for a spec without sentence_overlap."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            obj = world.apply("e5", chunkingSettings={"strategy": "sentence", "max_chunk_size": 100})
            for _ in range(3):
                await world.reconcile(obj)
            assert condition(obj, "Ready")["status"] == "True"
            assert not requests(es, "PUT", "_update")
            assert reasons(obj) == ["Created"]
        finally:
            await world.close()

    run(scenario)


def test_the_server_version_is_learnt_again(es: EmulatorServer) -> None:
    """Read: after an upgrade (8.16 -> 8.17) UpdateNotSupported stayed until the operator restarted. The
    version is asked again after its time to live (the resync period) and after a failure."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            gateway = await world.pool.get(world.config.default_connection)  # type: ignore[arg-type]
            gateway._capabilities_ttl = 0.0  # every call: the resync period, shortened
            await gateway.capabilities()
            await gateway.capabilities()
            assert len([r for r in es.requests if r.method == "GET" and r.path == "/"]) == 2
        finally:
            await world.close()

    run(scenario)


def test_a_rivals_broken_connection_never_blocks_the_owner(es: EmulatorServer) -> None:
    """Another tenant claims the same id through a connection that never answers: the resource that owns the
    endpoint here is not held up, not even in its deletion, and shows nothing of the rival's connection."""

    async def scenario() -> None:
        world = World(es.url)
        try:
            owner = world.apply("owner", inferenceId="shared")
            await world.reconcile(owner)
            world.kube.put_secret("ns", "nowhere", url="http://127.0.0.1:9", username="u", password="p")
            rival = world.apply("rival", inferenceId="shared", elasticsearchRef={"secretName": "nowhere"})
            await world.reconcile(rival)
            await world.reconcile(owner)
            assert condition(owner, "Ready")["status"] == "True"
            assert "127.0.0.1:9" not in str(owner.status)
            await world.delete(owner)
            assert owner.deleted and es_get(es, "shared") is None
        finally:
            await world.close()

    run(scenario)


def test_a_create_gets_the_time_an_in_cluster_model_takes(es: EmulatorServer) -> None:
    """Read: the PUT had the 10 s request timeout, while an in-cluster service waits for its model deployment
    (30 s by default). A create may take longer than other requests: it is not reported as a failure."""

    async def scenario() -> None:
        world = World(es.url)
        world.pool = GatewayPool(request_timeout=0.5, create_timeout=10.0)
        world.restart()
        try:
            hold = es.faults.hold("PUT", r"/_inference/text_embedding/e5", after_apply=True)
            releaser = threading.Timer(1.5, hold.release)  # the model deployment takes 1.5 s, 3x the timeout
            releaser.start()
            obj = world.apply("e5")
            await world.reconcile(obj)
            releaser.join()
            assert condition(obj, "Ready")["status"] == "True"
            assert reasons(obj) == ["Created"]
        finally:
            await world.close()

    run(scenario)
