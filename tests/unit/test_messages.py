"""The words users read: bounded lists, the command last."""

from __future__ import annotations

from es_inference_operator import messages
from es_inference_operator.decisions import References


def test_a_long_list_names_a_few_and_says_how_many_more() -> None:
    assert messages.named(["a", "b"]) == "a, b"
    assert messages.named([f"i{n}" for n in range(800)]) == "i0, i1, i2, i3, i4 and 795 more"


def test_a_deletion_blocked_by_800_indexes_has_a_short_message() -> None:
    refs = References(pipelines=("embed",), indexes=tuple(f".ds-docs-2026.11.{n:04d}" for n in range(800)))
    message = messages.blocked("e5", refs, "-n ns inferenceendpoint/e5", recheck_seconds=15)
    assert len(message) < 600
    assert "ingest pipelines [embed]" in message and "and 795 more" in message
    assert "checked again every 15 s" in message
    assert message.endswith("kubectl annotate -n ns inferenceendpoint/e5 inference.es-operator.dev/force=true")


def test_already_exists_says_when_and_how_to_adopt_last() -> None:
    problem, advice = messages.already_exists("e5", "", "-n ns inferenceendpoint/e5", adopt_asked=False)
    message = messages.waiting(problem, "looked at again within 90 s and on any change", advice)
    assert "was not created by this resource" in message and "(looked at again within 90 s" in message
    assert message.endswith("kubectl annotate -n ns inferenceendpoint/e5 inference.es-operator.dev/adopt=true")


def test_durations_in_words() -> None:
    assert [messages.duration(s) for s in (0.2, 8, 99, 120, 1800)] == ["1 s", "8 s", "99 s", "2 min", "30 min"]


def test_a_refused_delete_names_a_few_of_the_references_it_lists() -> None:
    refs = References(indexes=tuple(f".ds-docs-{n:04d}" for n in range(800)))
    reason = "...every one of them..." * 1000
    message = messages.referenced("e5", refs, reason, "-n ns inferenceendpoint/e5", recheck=15)
    assert message == messages.blocked("e5", refs, "-n ns inferenceendpoint/e5", 15)  # as the dry run says it
    assert "and 795 more" in message and "every one" not in message


def test_a_refused_delete_that_lists_nothing_quotes_a_bounded_part_of_its_words() -> None:
    short = "Inference endpoint e5 is referenced by pipelines and cannot be deleted."
    message = messages.referenced("e5", None, f" {short}", "-n ns inferenceendpoint/e5", recheck=15)
    assert message == f"{short} To delete it anyway: {messages.force_command('-n ns inferenceendpoint/e5')}"
    long = messages.referenced("e5", None, "x" * 30_000, "-n ns inferenceendpoint/e5", recheck=15)
    assert len(long) < 1000 and "(29500 more characters)" in long
    assert long.endswith("inference.es-operator.dev/force=true")
