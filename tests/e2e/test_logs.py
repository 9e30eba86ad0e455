"""The operator's log as a person reads it (plain format): every line about a resource names it
(namespace/name), a step that will be retried is never logged as succeeded, and kopf's per-event lines
("Handler 'watch' succeeded.") stay at debug. kopf's own startup lines ("Activity 'start' succeeded.") stay."""

from __future__ import annotations

import re

from tests.support import Kube, Stack, endpoint_manifest, pipeline_using

# The names of this test's resources, as they appear in a line that is about one of them.
NAMES = ("e5", "while-down", "in-use")


def test_a_story_with_an_outage_logs_lines_a_person_can_follow(stack: Stack, kube: Kube) -> None:
    assert stack.operator is not None
    kube.apply(endpoint_manifest("e5"))
    kube.wait_condition("e5", "Ready")
    stack.es.down()
    try:
        kube.apply(endpoint_manifest("while-down"))
        kube.wait_condition("while-down", "Ready", "False", reason="ElasticsearchUnavailable", timeout=30)
    finally:
        stack.es.up()
    kube.wait_condition("while-down", "Ready", timeout=30)
    kube.apply(endpoint_manifest("in-use"))
    kube.wait_condition("in-use", "Ready")
    stack.es_call("PUT", "/_ingest/pipeline/embed", pipeline_using("in-use"))
    kube.run("delete", "iep", "in-use", "--wait=false")
    kube.wait_condition("in-use", "DeletionBlocked")
    kube.run("annotate", "iep", "in-use", "inference.es-operator.dev/force=true")
    kube.wait_gone("in-use", timeout=30)

    log = stack.operator.log_text().splitlines()
    assert log
    assert not [line for line in log if "Handler '" in line], "kopf's per-event handler lines stay at debug"
    about_ours = [line for line in log if any(re.search(rf"\b{re.escape(n)}\b", line) for n in NAMES)]
    assert about_ours, "\n".join(log)
    assert not [line for line in about_ours if re.search(r"\bsucceeded\b", line)], "\n".join(about_ours)
    unnamed = [line for line in about_ours if not re.search(rf"{kube.namespace}/({'|'.join(NAMES)})\b", line)]
    assert not unnamed, "\n".join(unnamed)
    # The outage and the recovery are both there, about the resource they concern.
    assert [line for line in log if f"{kube.namespace}/while-down" in line and "ElasticsearchUnavailable" in line]
    assert [line for line in log if f"{kube.namespace}/in-use" in line and "force" in line.lower()]
