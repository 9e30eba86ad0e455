"""DELETE /_inference: processing order, bodies and the error catalogue of reference §1, along the §8 checklist."""

from __future__ import annotations

import pytest
from elasticsearch import ConflictError

from es_emulator import EmulatorServer

from .conftest import ALL, V90, V91, V95, V815, V816, V817, V818, V819, Factory
from .support import Answer, call, client, error, put_openai, put_pipeline, put_semantic_index

SINCE_8_16 = [v for v in ALL if v != V815]


def delete(srv: EmulatorServer, target: str, query: str = "") -> Answer:
    return call(srv, "DELETE", f"/_inference/{target}{query}")


def pipeline_text(inference_id: str, pipelines: str) -> str:
    return (
        f"Inference endpoint {inference_id} is referenced by pipelines: {pipelines}. Ensure that no pipelines are "
        "using this inference endpoint, or use force to ignore this warning and delete the inference endpoint."
    )


def index_text(inference_id: str, indexes: str) -> str:
    # Starts with one space (§1.4, ae2cf79).
    return (
        f" Inference endpoint {inference_id} is being used in the mapping for indexes: {indexes}. Ensure that no "
        "index mappings are using this inference endpoint, or use force to ignore this warning and delete the "
        "inference endpoint."
    )


def deleted_body(version: str) -> dict[str, object]:
    # §1.3: normal delete bodies per version
    if version == V815:
        return {"acknowledged": True, "pipelines": []}
    return {"acknowledged": True, "pipelines": [], "indexes": []}


# --- InferenceCrudIT.testDeleteModelWithWrongTaskType --------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_delete_with_wrong_task_type(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    body = {"service": "hugging_face", "service_settings": {"url": "http://hf", "api_key": "k"}}
    assert call(srv, "PUT", "/_inference/sparse_embedding/sparse_embedding_model", body).status == 200
    answer = delete(srv, "text_embedding/sparse_embedding_model")
    assert (answer.status, answer.json) == (
        400,
        error(
            "Requested task type [text_embedding] does not match the inference endpoint's task type [sparse_embedding]"
        ),
    )
    assert srv.state.endpoint("sparse_embedding_model") is not None


@pytest.mark.parametrize("version", ALL)
def test_delete_not_found_and_bad_task_type(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    answer = delete(srv, "missing")
    assert (answer.status, answer.json) == (
        404,
        error("Inference endpoint not found [missing]", "resource_not_found_exception", 404),
    )
    # The id is not format-validated on DELETE: a malformed id is simply not found.
    assert delete(srv, "Not_Valid-").json["error"]["reason"] == "Inference endpoint not found [Not_Valid-]"
    assert delete(srv, "bogus/x").json == error("Unknown task_type [bogus]")


@pytest.mark.parametrize("version", ALL)
def test_plain_delete_bodies(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "gone")
    answer = delete(srv, "any/gone")
    assert (answer.status, answer.json) == (200, deleted_body(version))
    assert srv.state.endpoint("gone") is None
    assert delete(srv, "gone").status == 404


# --- InferenceCrudIT.testDeleteEndpointWhileReferencedByPipeline ---------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_referenced_by_pipeline(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    put_pipeline(srv, "pipeline_referencing_model", "ep")

    # (a) plain DELETE → 409
    answer = delete(srv, "ep")
    if version == V815:
        reason = (
            "Inference endpoint ep is referenced by pipelines and cannot be deleted. Use `force` to delete it anyway, "
            "or use `dry_run` to list the pipelines that reference it."
        )
    else:
        reason = pipeline_text("ep", "[pipeline_referencing_model]")
    assert (answer.status, answer.json) == (409, error(reason, status=409))

    # (b) dry_run → 200, acknowledged false, the pipeline listed; nothing deleted
    answer = delete(srv, "ep", "?dry_run=true")
    if version == V815:
        assert answer.json == {"acknowledged": False, "pipelines": ["pipeline_referencing_model"]}
    else:
        assert answer.json == {
            "acknowledged": False,
            "pipelines": ["pipeline_referencing_model"],
            "indexes": [],
            "error_message": reason,
        }
    assert srv.state.endpoint("ep") is not None

    # (c) force → 200 acknowledged; the arrays stay empty; the pipeline keeps pointing at the id
    answer = delete(srv, "ep", "?force=true")
    assert (answer.status, answer.json) == (200, deleted_body(version))
    assert srv.state.endpoint("ep") is None
    assert "pipeline_referencing_model" in srv.state.pipelines


def test_several_pipelines_are_listed_java_style(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    for pid in ("p2", "p1"):
        put_pipeline(srv, pid, "ep")
    assert delete(srv, "ep").json["error"]["reason"] == pipeline_text("ep", "[p1, p2]")
    assert delete(srv, "ep", "?dry_run").json["pipelines"] == ["p1", "p2"]


# --- InferenceCrudIT.testDeleteEndpointWhileReferencedBySemanticText -----------------------------------------


@pytest.mark.parametrize("version", SINCE_8_16)
def test_referenced_by_semantic_text(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    put_semantic_index(srv, "some-index", "ep")

    answer = delete(srv, "ep")
    reason = index_text("ep", "[some-index]")
    assert (answer.status, answer.json) == (409, error(reason, status=409))

    answer = delete(srv, "ep", "?dry_run=true")
    assert answer.json == {"acknowledged": False, "pipelines": [], "indexes": ["some-index"], "error_message": reason}

    assert delete(srv, "ep", "?force=true").json == deleted_body(version)


@pytest.mark.parametrize("version", SINCE_8_16)
def test_referenced_only_through_search_inference_id(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ingest-ep")
    put_openai(srv, "search-ep")
    put_semantic_index(srv, "idx", "ingest-ep", search_inference_id="search-ep")
    answer = delete(srv, "search-ep")
    assert (answer.status, answer.json["error"]["reason"]) == (409, index_text("search-ep", "[idx]"))
    assert delete(srv, "search-ep", "?force=true").status == 200


def test_8_15_has_no_semantic_text_check(emulator: Factory) -> None:
    srv = emulator(V815)
    put_openai(srv, "ep")
    put_semantic_index(srv, "idx", "ep")
    assert delete(srv, "ep", "?dry_run=true").json == {"acknowledged": False, "pipelines": []}
    assert delete(srv, "ep").json == {"acknowledged": True, "pipelines": []}


def test_deleting_the_index_removes_the_reference_at_once(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    put_semantic_index(srv, "idx", "ep")
    assert delete(srv, "ep").status == 409
    assert call(srv, "DELETE", "/idx").status == 200
    assert delete(srv, "ep").status == 200


# --- InferenceCrudIT.testDeleteEndpointWhileReferencedBySemanticTextAndPipeline ------------------------------


@pytest.mark.parametrize("version", SINCE_8_16)
def test_referenced_by_both(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    put_pipeline(srv, "pipe", "ep")
    put_semantic_index(srv, "idx2", "ep")
    put_semantic_index(srv, "idx1", "ep")
    reason = pipeline_text("ep", "[pipe]") + index_text("ep", "[idx1, idx2]")
    assert "inference endpoint. Inference endpoint ep is being used" in reason
    assert delete(srv, "ep").json == error(reason, status=409)
    answer = delete(srv, "ep", "?dry_run=true")
    assert answer.json == {
        "acknowledged": False,
        "pipelines": ["pipe"],
        "indexes": ["idx1", "idx2"],
        "error_message": reason,
    }
    assert delete(srv, "ep", "?force=true").json == deleted_body(version)


@pytest.mark.parametrize("version", ALL)
def test_dry_run_wins_over_force(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    put_pipeline(srv, "pipe", "ep")
    answer = delete(srv, "ep", "?force=true&dry_run=true")
    assert (answer.status, answer.json["acknowledged"]) == (200, False)
    assert srv.state.endpoint("ep") is not None


@pytest.mark.parametrize("version", SINCE_8_16)
def test_dry_run_without_references_has_empty_error_message(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    put_openai(srv, "ep")
    answer = delete(srv, "ep", "?dry_run=true")
    assert answer.json == {"acknowledged": False, "pipelines": [], "indexes": [], "error_message": ""}


# --- default (reserved) endpoints (§1.2 step 5, §1.6) --------------------------------------------------------


@pytest.mark.parametrize("version", [V816, V817])
def test_defaults_before_8_18_delete_without_force_and_reappear(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    assert delete(srv, ".elser-2-elasticsearch").json == deleted_body(version)
    assert call(srv, "GET", "/_inference/.elser-2-elasticsearch").status == 200


@pytest.mark.parametrize("version", [V818, V819, V90, V91, V95])
def test_defaults_need_force_from_8_18(emulator: Factory, version: str) -> None:
    srv = emulator(version)
    answer = delete(srv, ".multilingual-e5-small-elasticsearch")
    assert (answer.status, answer.json) == (
        400,
        error(
            "[.multilingual-e5-small-elasticsearch] is a reserved inference endpoint. Use the force=true query "
            "parameter to delete the inference endpoint."
        ),
    )
    assert delete(srv, ".multilingual-e5-small-elasticsearch", "?force=true").json == deleted_body(version)
    # Re-persisted: it shows up again on the next read.
    listed = [e["inference_id"] for e in call(srv, "GET", "/_inference").json["endpoints"]]
    assert ".multilingual-e5-small-elasticsearch" in listed


def test_dry_run_on_a_default_endpoint(emulator: Factory) -> None:
    srv = emulator(V91)
    put_semantic_index(srv, "default-idx", None)  # inference_id omitted: resolves to ELSER (8.16+)
    answer = delete(srv, ".elser-2-elasticsearch", "?dry_run=true")
    assert answer.json["indexes"] == ["default-idx"]
    # References are checked before the reserved rule (the reference's step order).
    assert delete(srv, ".elser-2-elasticsearch").status == 409
    assert delete(srv, ".elser-2-elasticsearch", "?force=true").status == 200


# --- service, config and stop failures (§1.2 steps 6-7) ------------------------------------------------------


@pytest.mark.parametrize(("version", "force_bypasses"), [(V818, False), (V90, False), (V819, True), (V91, True)])
def test_missing_service(emulator: Factory, version: str, force_bypasses: bool) -> None:
    srv = emulator(version)
    put_openai(srv, "orphan")
    srv.state.endpoints["orphan"].service = "removed_service"
    answer = delete(srv, "orphan")
    assert (answer.status, answer.json) == (
        404,
        error("No service found for this inference endpoint orphan", status=404),
    )
    forced = delete(srv, "orphan", "?force=true")
    if force_bypasses:
        assert forced.json == deleted_body(version)
    else:
        assert forced.status == 404


@pytest.mark.parametrize(("version", "parses"), [(V818, False), (V91, True)])
def test_unparsable_config(emulator: Factory, version: str, parses: bool) -> None:
    srv = emulator(version)
    put_openai(srv, "broken")
    srv.state.endpoints["broken"].parsable = False
    answer = delete(srv, "broken")
    if not parses:
        assert answer.status == 200  # no parse step before 9.1
        return
    assert answer.status == 500
    assert "Failed to parse model configuration for inference endpoint" in answer.json["error"]["reason"]
    assert delete(srv, "broken", "?force=true").status == 200


@pytest.mark.parametrize(("version", "force_bypasses"), [(V818, False), (V91, True)])
def test_stop_failure(emulator: Factory, version: str, force_bypasses: bool) -> None:
    srv = emulator(version)
    settings = {"model_id": ".multilingual-e5-small", "num_allocations": 1, "num_threads": 1}
    call(srv, "PUT", "/_inference/text_embedding/e5", {"service": "elasticsearch", "service_settings": settings})
    srv.state.stop_failures.add("e5")
    answer = delete(srv, "e5")
    assert (answer.status, answer.json) == (500, error("Failed to stop inference endpoint e5", status=500))
    forced = delete(srv, "e5", "?force=true")
    assert forced.status == (200 if force_bypasses else 500)
    if force_bypasses:
        assert "e5" in srv.state.deployments  # the deployment is left behind


def test_in_cluster_delete_stops_the_deployment_unless_attached(emulator: Factory) -> None:
    srv = emulator(V91)
    own = {"model_id": ".elser_model_2", "num_allocations": 1, "num_threads": 1}
    attached = {**own, "deployment_id": "shared-deployment"}
    call(srv, "PUT", "/_inference/sparse_embedding/own", {"service": "elasticsearch", "service_settings": own})
    call(
        srv, "PUT", "/_inference/sparse_embedding/attached", {"service": "elasticsearch", "service_settings": attached}
    )
    srv.state.deployments.add("shared-deployment")
    assert srv.state.deployments == {"own", "shared-deployment"}
    assert delete(srv, "own").status == 200
    assert delete(srv, "attached").status == 200
    assert srv.state.deployments == {"shared-deployment"}


# --- parameters (§1.1) ---------------------------------------------------------------------------------------


def test_booleans_are_strict(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    put_pipeline(srv, "pipe", "ep")
    answer = delete(srv, "ep", "?force=yes")
    assert answer.json == error(
        "Failed to parse value [yes] as only [true] or [false] are allowed.", "illegal_argument_exception"
    )
    assert delete(srv, "ep", "?dry_run=1").status == 400
    assert delete(srv, "ep", "?force=false").status == 409
    assert delete(srv, "ep", "?force").status == 200  # an empty value is true


def test_unrecognized_parameter(emulator: Factory) -> None:
    srv = emulator(V91)
    put_openai(srv, "ep")
    answer = delete(srv, "ep", "?timeout=30s")
    assert answer.json == error(
        "request [/_inference/ep] contains unrecognized parameter: [timeout]", "illegal_argument_exception"
    )
    assert srv.state.endpoint("ep") is not None
    assert delete(srv, "ep", "?error_trace=true&filter_path=acknowledged&human=false").status == 200


# --- through the official client ------------------------------------------------------------------------------


def test_official_client_conflict_and_force(emulator: Factory) -> None:
    srv = emulator(V91)
    es = client(srv)
    put_openai(srv, "ep")
    put_pipeline(srv, "pipe", "ep")
    with pytest.raises(ConflictError) as caught:
        es.inference.delete(inference_id="ep")
    assert caught.value.message == "status_exception"
    assert str(caught.value) == f"ConflictError(409, 'status_exception', {pipeline_text('ep', '[pipe]')!r})"
    dry = es.inference.delete(inference_id="ep", dry_run=True)
    assert dry.body["pipelines"] == ["pipe"]
    assert es.inference.delete(inference_id="ep", task_type="text_embedding", force=True).body == deleted_body(V91)
    assert [(r.path, r.query) for r in srv.requests.find(method="DELETE")] == [
        ("/_inference/ep", {}),
        ("/_inference/ep", {"dry_run": "true"}),
        ("/_inference/text_embedding/ep", {"force": "true"}),
    ]


def test_force_deleted_id_can_be_recreated_while_indexes_hold_no_documents(emulator: Factory) -> None:
    # InferenceCrudIT.testCreateEndpoint_withInferenceIdReferencedBySemanticText, first half: without semantic
    # documents (the emulator stores none) re-creating a referenced id with other settings succeeds.
    srv = emulator(V91)
    put_openai(srv, "ep")
    put_semantic_index(srv, "idx", "ep")
    assert delete(srv, "ep", "?force=true").status == 200
    body = {"service": "cohere", "service_settings": {"api_key": "k", "dimensions": 64}}
    assert call(srv, "PUT", "/_inference/text_embedding/ep", body).status == 200
    assert delete(srv, "ep").status == 409  # the index still references the id
