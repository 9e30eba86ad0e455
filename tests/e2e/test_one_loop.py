"""One loop (issue 14), through kubectl on the real API server: a waiting deletion holds nothing, a cluster that
hangs delays no other, the status is put right when somebody else writes it, and a deletion blocked by hundreds
of indexes says so in a few lines."""

from __future__ import annotations

import time

import pytest

from es_emulator import EmulatorServer, User
from testbed.stack import wait_for
from tests.support import ES_USER, Kube, Stack, endpoint_manifest, pipeline_using, secret

PERIOD = 4.0  # OPERATOR_RESYNC_SECONDS in these tests
# What these tests show does not depend on the Elasticsearch version: one profile (the suite runs both elsewhere).
one_profile = pytest.mark.parametrize("es_version", ["9.1.0"])


@one_profile
def test_blocked_deletions_hold_no_worker(stack: Stack, kube: Kube) -> None:
    """Three times as many deletions wait (referenced) as there are workers; resources created next still go
    Ready, and forcing one of the waiting deletions still goes through at once."""
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_MAX_WORKERS="4", OPERATOR_BLOCKED_RECHECK_SECONDS="30")
    blocked = [f"blocked-{i}" for i in range(12)]
    for name in blocked:
        kube.apply(endpoint_manifest(name))
    for name in blocked:
        kube.wait_condition(name, "Ready")
        assert stack.es_call("PUT", f"/_ingest/pipeline/uses-{name}", pipeline_using(name))[0] == 200
    kube.run("delete", "iep", *blocked, "--wait=false")
    for name in blocked:
        kube.wait_condition(name, "DeletionBlocked", timeout=30)

    fresh = [f"fresh-{i}" for i in range(8)]
    for name in fresh:
        kube.apply(endpoint_manifest(name))
    for name in fresh:
        kube.wait_condition(name, "Ready", timeout=30)

    forced_at = time.monotonic()
    kube.run("annotate", "iep", "blocked-5", "inference.es-operator.dev/force=true")
    kube.wait_gone("blocked-5", timeout=10)
    assert time.monotonic() - forced_at < 10
    assert stack.endpoint("blocked-5") is None
    assert all(kube.exists(name) for name in blocked if name != "blocked-5")  # the others still wait


@one_profile
def test_a_cluster_that_hangs_delays_no_other(stack: Stack, kube: Kube) -> None:
    """Resources on an Elasticsearch that answers only after the request timeout take the workers of their own
    lane only: on the healthy cluster, an endpoint deleted behind the operator's back is created again, and a
    rotated Secret reaches Elasticsearch, within the periods README promises (1.5 and 1 drift periods + the
    Secret cache), as if nothing hung."""
    assert stack.operator is not None
    stack.operator.stop()
    with EmulatorServer(version=stack.es.version, users=[User(*ES_USER, roles=["superuser"])]) as slow:
        stack.start_operator(
            OPERATOR_RESYNC_SECONDS=str(PERIOD),
            OPERATOR_MAX_WORKERS="6",
            ELASTICSEARCH_MAX_CONCURRENT_REQUESTS="1",
            ELASTICSEARCH_REQUEST_TIMEOUT_SECONDS="2",
        )
        kube.apply(secret("slow", url=slow.url, username=ES_USER[0], password=ES_USER[1]))
        stuck = [f"slow-{i}" for i in range(12)]
        for name in stuck:
            kube.apply(endpoint_manifest(name, elasticsearchRef={"secretName": "slow"}))
        kube.apply(secret("hf", **{"api-key": "hf_first"}))
        kube.apply(
            endpoint_manifest(
                "rotated",
                service="hugging_face",
                serviceSettings={"url": "https://example.invalid/embed"},
                serviceSettingsSecretRefs={"api_key": {"name": "hf", "key": "api-key"}},
            )
        )
        kube.apply(endpoint_manifest("drifted"))
        for name in (*stuck, "rotated", "drifted"):
            kube.wait_condition(name, "Ready", timeout=60)

        slow.faults.latency(3.0)  # every answer after the operator's 2 s timeout
        kube.wait_condition("slow-0", "Synced", "False", reason="ElasticsearchUnavailable", timeout=30)

        # Behind the operator's back, on the healthy cluster.
        assert stack.es_call("DELETE", "/_inference/drifted")[0] == 200
        deleted_at = time.monotonic()
        kube.apply(secret("hf", **{"api-key": "hf_second"}))
        rotated_at = time.monotonic()

        wait_for("drifted to be created again", lambda: stack.endpoint("drifted"), timeout=1.5 * PERIOD + 3)
        assert time.monotonic() - deleted_at <= 1.5 * PERIOD + 3
        wait_for(
            "the rotated key in Elasticsearch",
            lambda: stack.es.state.secret_settings("rotated").get("api_key") == "hf_second",
            timeout=PERIOD + min(PERIOD / 2, 5) + 3,
        )
        assert time.monotonic() - rotated_at <= PERIOD + min(PERIOD / 2, 5) + 3
        slow.faults.latency(0)


def test_a_status_written_by_somebody_else_is_put_right(stack: Stack, kube: Kube) -> None:
    """The operator never treats a copy of the status as the truth: a status overwritten by another writer is
    seen on the watch and written again (only what differs)."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    kube.run("patch", "iep", "e5", "--subresource=status", "--type=merge", "-p", '{"status":{"conditions":null}}')
    kube.wait_condition("e5", "Ready", timeout=10)
    assert kube.get("e5")["status"]["ownership"]["state"] == "Created"


@one_profile
def test_a_deletion_blocked_by_800_indexes_says_so_in_a_few_lines(stack: Stack, kube: Kube) -> None:
    """A semantic_text data stream has hundreds of backing indexes: the condition names a few and counts the
    rest, and status.references keeps a bounded list with the total (the status once exceeded the CRD's message
    limit and was refused, so DeletionBlocked never showed)."""
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    mapping = {"mappings": {"properties": {"body": {"type": "semantic_text", "inference_id": "e5"}}}}
    for i in range(800):
        status, body = stack.es_call("PUT", f"/.ds-docs-2026.12.04-{i:06d}", mapping)
        assert status == 200, body
    kube.run("delete", "iep", "e5", "--wait=false")
    blocked = kube.wait_condition("e5", "DeletionBlocked", timeout=30)
    assert "and 795 more" in blocked["message"] and len(blocked["message"]) < 1000
    references = kube.get("e5")["status"]["references"]
    assert references["indexCount"] == 800 and len(references["indexes"]) == 20
    event = next(e for e in kube.events("e5") if e["reason"] == "InUse")
    assert "and 795 more" in event["message"]
