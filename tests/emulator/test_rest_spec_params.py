"""Query parameters and path parts held to Elasticsearch's published REST spec, on every profile: each documented
parameter is accepted with a value of its type, a boolean takes true and false and refuses "1" as Elasticsearch
does, a parameter the API does not have is BaseRestHandler's 400 (with its "did you mean"), and an enum path
part outside its options is Elasticsearch's error."""

from __future__ import annotations

import json

import pytest

from es_emulator.params import similarity
from es_emulator.profiles import Profile
from es_emulator.restspec import RestSpec

from .conftest import V91, Factory
from .spec_support import (
    BOOLEAN_MESSAGE,
    EXTRA_EVERYWHERE,
    EXTRAS,
    INDICES_OPTION_BOOLEANS,
    PROFILE_VERSIONS,
    SOURCE_READERS,
    Probe,
    accepted_params,
    body_for,
    concrete,
    gated,
    outcome,
    probes,
    task_type_of,
    valid_value,
)
from .support import Answer, call, error

UNDOCUMENTED = "zzz_undocumented"


def _served_probes(spec: RestSpec, profile: Profile) -> list[Probe]:
    return probes(spec, profile, sorted(profile.apis), distinct=True)


def _parsed(probe: Probe, task_types: tuple[str, ...]) -> bool:
    """The handler gets past its path (a task type the profile knows): parameters are then read and checked."""
    task_type = task_type_of(probe.path, probe.url)
    return task_type is None or task_type in task_types


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_documented_parameters_are_accepted_with_their_type(spec: RestSpec, emulator: Factory, version: str) -> None:
    srv = emulator(version)
    profile = srv.profile
    for probe in _served_probes(spec, profile):
        baseline = outcome(probe.send(srv))
        values = {name: valid_value(p) for name, p in accepted_params(spec, probe.api, profile).items()}
        values.pop("source", None)  # read only without a body: test_source_parameter_instead_of_a_body
        values.update(EXTRA_EVERYWHERE)
        values.update(EXTRAS.get(probe.api, {}))
        for name, value in values.items():
            answer = probe.send(srv, {name: value})
            assert outcome(answer) == baseline, f"{probe.api}: {probe.method} {probe.url}?{name}={value} on {version}"


def _boolean_refusal(name: str) -> tuple[int, object]:
    if name == "error_trace":  # RestController.validateErrorTrace: the flat form
        return 400, BOOLEAN_MESSAGE
    if name in INDICES_OPTION_BOOLEANS:
        return 400, ("illegal_argument_exception", f"Could not convert [{name}] to boolean")
    return 400, ("illegal_argument_exception", BOOLEAN_MESSAGE)


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_booleans_take_true_and_false_and_refuse_1(spec: RestSpec, emulator: Factory, version: str) -> None:
    srv = emulator(version)
    profile = srv.profile
    for probe in _served_probes(spec, profile):
        if not _parsed(probe, profile.task_types):
            continue
        params = accepted_params(spec, probe.api, profile)
        booleans = [name for name, p in params.items() if p.type == "boolean"]
        booleans += [name for name in EXTRAS.get(probe.api, {}) if name in INDICES_OPTION_BOOLEANS]
        baseline = outcome(probe.send(srv))
        for name in booleans:
            where = f"{probe.api}: {probe.method} {probe.url}?{name}=... on {version}"
            # Every boolean of these APIs defaults to false or changes nothing on the sample request.
            assert outcome(probe.send(srv, {name: "false"})) == baseline, where
            refused = probe.send(srv, {name: "1"})
            if probe.method == "HEAD":
                assert refused.status == 400, where
                continue
            assert outcome(refused) == _boolean_refusal(name), where
            if name in INDICES_OPTION_BOOLEANS:
                assert refused.json["error"]["caused_by"] == {
                    "type": "illegal_argument_exception",
                    "reason": BOOLEAN_MESSAGE,
                }, where
            elif name != "error_trace":
                # RestRequest.paramAsBoolean: a present, empty parameter is true.
                assert outcome(probe.send(srv, {name: ""})) == outcome(probe.send(srv, {name: "true"})), where


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_parameters_the_api_lacks_are_refused_as_elasticsearch_does(
    spec: RestSpec, emulator: Factory, version: str
) -> None:
    srv = emulator(version)
    profile = srv.profile
    every_name = {n for api in spec.apis.values() for n in api.params} | set(spec.common)
    assert max(similarity(UNDOCUMENTED, n) for n in every_name) <= 0.5  # so no "did you mean" is due
    for probe in _served_probes(spec, profile):
        if not _parsed(probe, profile.task_types) or probe.method == "HEAD":
            continue
        where = f"{probe.api}: {probe.method} {probe.url} on {version}"
        prefix = f"request [{probe.url}] contains unrecognized parameter: "
        answer = probe.send(srv, {UNDOCUMENTED: "1"})
        assert answer.json == error(prefix + f"[{UNDOCUMENTED}]", "illegal_argument_exception"), where
        # Documented in the pinned spec, but not yet in this version (the profile says since when).
        for name in gated(probe.api, profile):
            assert _reason(probe.send(srv, {name: "30s"})).startswith(prefix + f"[{name}]"), f"{where}: {name}"
        if probe.api not in SOURCE_READERS:
            assert _reason(probe.send(srv, {"source": "{}"})).startswith(prefix + "[source]"), where
        # A near miss of a parameter the handler reads is answered with it as a suggestion.
        for name in accepted_params(spec, probe.api, profile):
            if name == "source" or len(name) < 5:
                continue
            reason = _reason(probe.send(srv, {name[:-1]: "x"}))
            assert reason.startswith(prefix + f"[{name[:-1]}] -> did you mean "), f"{where}: {name[:-1]}: {reason}"
            assert name in reason.split("did you mean", 1)[1], f"{where}: {reason}"


def _reason(answer: Answer) -> str:
    return str(answer.json["error"]["reason"])


@pytest.mark.parametrize("version", PROFILE_VERSIONS)
def test_enum_path_parts_outside_their_options(spec: RestSpec, emulator: Factory, version: str) -> None:
    """Every task type option is a task type on the versions that know it and "Unknown task_type [x]" (400
    status_exception) before; a value no spec lists is refused everywhere; `any` (TaskType.ANY) is accepted though
    the spec does not list it."""
    srv = emulator(version)
    profile = srv.profile
    sent: set[tuple[str, str, str]] = set()
    for probe in probes(spec, profile, sorted(profile.apis)):
        for name, part in probe.path.parts.items():
            if not part.options:
                continue
            for value in (*part.options, "bogus_type", "any"):
                url = concrete(probe.path, profile, **{name: value})
                request = (probe.method, url, json.dumps(body_for(probe.api, value)))
                if request in sent:  # the typed PUT APIs share options: one request each is enough
                    continue
                sent.add(request)
                answer = Probe(probe.api, probe.method, probe.path, url).send(srv)
                where = f"{probe.api}: {probe.method} {url} on {version}"
                unknown = value not in profile.task_types and value != "any"
                if probe.method == "HEAD":
                    assert (answer.status == 400) is unknown, where
                elif unknown:
                    assert answer.json == error(f"Unknown task_type [{value}]"), where
                else:
                    assert outcome(answer) != (400, ("status_exception", f"Unknown task_type [{value}]")), where


# --- the texts, one by one ---------------------------------------------------------------------------------------


def test_did_you_mean(emulator: Factory) -> None:
    """BaseRestHandler.unrecognized: candidates are the names the handler read (and the channel's format,
    filter_path, pretty, human, error_trace), with Lucene's Levenshtein similarity above 0.5, best first."""
    srv = emulator(V91)
    call(srv, "PUT", "/_inference/text_embedding/ep", {"service": "openai", "service_settings": {"api_key": "k"}})
    assert call(srv, "DELETE", "/_inference/ep?forse=true").json == error(
        "request [/_inference/ep] contains unrecognized parameter: [forse] -> did you mean [force]?",
        "illegal_argument_exception",
    )
    assert call(srv, "DELETE", "/_inference/ep?forme=true").json == error(
        "request [/_inference/ep] contains unrecognized parameter: [forme] -> did you mean any of [force, format]?",
        "illegal_argument_exception",
    )
    assert call(srv, "DELETE", "/_inference/ep?forse=1&dryrun=1").json["error"]["reason"] == (
        "request [/_inference/ep] contains unrecognized parameters: [dryrun] -> did you mean [dry_run]?, "
        "[forse] -> did you mean [force]?"
    )
    # The path's own parameters are read, so they are candidates too (Paths.java names them).
    assert call(srv, "DELETE", "/_inference/text_embedding/ep?inference_ids=1").json["error"]["reason"] == (
        "request [/_inference/text_embedding/ep] contains unrecognized parameter: [inference_ids] "
        "-> did you mean [inference_id]?"
    )


@pytest.mark.parametrize(
    ("query", "reason", "cause"),
    [
        (
            "10",
            "failed to parse setting [timeout] with value [10] as a time value: unit is missing or unrecognized",
            None,
        ),
        ("1.5s", "failed to parse [1.5s], fractional time values are not supported", 'For input string: "1.5"'),
        ("xs", "failed to parse [xs]", 'For input string: "x"'),
        (
            "-5s",
            "failed to parse setting [timeout] with value [-5s] as a time value: negative durations are not supported",
            None,
        ),
    ],
)
def test_time_values_as_time_value_parses_them(emulator: Factory, query: str, reason: str, cause: str | None) -> None:
    """TimeValue.parseTimeValue (libs/core): IllegalArgumentException, with the NumberFormatException as cause."""
    srv = emulator(V91)
    answer = call(srv, "PUT", f"/_ingest/pipeline/p?timeout={query}", {"processors": []})
    assert answer.status == 400
    assert (answer.json["error"]["type"], answer.json["error"]["reason"]) == ("illegal_argument_exception", reason)
    expected_cause = None if cause is None else {"type": "number_format_exception", "reason": cause}
    assert answer.json["error"].get("caused_by") == expected_cause
    for fine in ("30s", "1m", "-1", "0", " 5S ", "100nanos"):
        assert (
            call(srv, "PUT", f"/_ingest/pipeline/p?timeout={fine.replace(' ', '%20')}", {"processors": []}).status
            == 200
        )


def test_other_typed_values(emulator: Factory) -> None:
    srv = emulator(V91)
    call(srv, "PUT", "/idx")
    assert call(srv, "GET", "/idx?expand_wildcards=open,bogus").json == error(
        "No valid expand wildcard value [bogus]", "illegal_argument_exception"
    )
    assert call(srv, "PUT", "/_ingest/pipeline/p?if_version=x", {"processors": []}).json == error(
        "invalid value [x] specified for [if_version]. must be an integer value", "illegal_argument_exception"
    )
    # IndicesOptions keeps the default for a blank boolean.
    assert call(srv, "GET", "/idx?ignore_unavailable=").status == 200


def test_source_parameter_instead_of_a_body(emulator: Factory) -> None:
    """RestRequest.contentOrSourceParam (ingest.put_pipeline): without a body, source and source_content_type
    carry it; with a body, source is not read (so unrecognized)."""
    srv = emulator(V91)
    source = "%7B%22processors%22%3A%5B%5D%7D"  # {"processors":[]}
    answer = call(srv, "PUT", f"/_ingest/pipeline/p?source={source}&source_content_type=application/json")
    assert (answer.status, srv.state.pipelines["p"]) == (200, {"processors": []})
    answer = call(srv, "PUT", f"/_ingest/pipeline/q?source={source}")
    assert answer.json == error(
        "source and source_content_type parameters are required", "illegal_state_exception", status=500
    )
    answer = call(srv, "PUT", "/_ingest/pipeline/q")
    assert answer.json == error("request body or source parameter is required", "parse_exception")
    answer = call(srv, "PUT", f"/_ingest/pipeline/q?source={source}", {"processors": []})
    assert answer.json == error(
        "request [/_ingest/pipeline/q] contains unrecognized parameter: [source]", "illegal_argument_exception"
    )
