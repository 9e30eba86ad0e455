"""Resources that wait never stall the others (issue 9). kopf runs at most OPERATOR_MAX_WORKERS resources at
once, and a kopf handler that asks to be retried later sleeps in its worker, keeping the slot. The operator's
reconciles therefore retry through its own queue: resources failing against an Elasticsearch that is down hold no
slot, and a resource on a healthy Elasticsearch goes Ready meanwhile."""

from __future__ import annotations

from testbed.stack import free_port
from tests.support import Kube, Stack, endpoint_manifest, secret

STUCK = 4


def test_resources_retrying_against_a_dead_elasticsearch_do_not_stall_a_healthy_one(stack: Stack, kube: Kube) -> None:
    assert stack.operator is not None
    stack.operator.stop()
    stack.start_operator(OPERATOR_MAX_WORKERS="2", OPERATOR_RETRY_BASE_SECONDS="5")
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    kube.apply(secret("dead-cluster", url=nobody_listens, username="elastic", password="changeme"))
    for i in range(STUCK):  # twice as many as there are slots
        kube.apply(endpoint_manifest(f"stuck-{i}", elasticsearchRef={"secretName": "dead-cluster"}))
    for i in range(STUCK):
        kube.wait_condition(f"stuck-{i}", "Ready", status="False", reason="ElasticsearchUnavailable")

    kube.apply(endpoint_manifest("healthy"))
    kube.wait_condition("healthy", "Ready", timeout=30)
    assert stack.endpoint("healthy") is not None
    # The others are still retrying, and say so.
    assert kube.condition("stuck-0", "Reconciling")["status"] == "True"  # type: ignore[index]
