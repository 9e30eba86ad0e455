"""The ``_inference`` CRUD APIs: PUT, GET, DELETE and the update API (reference §1, §3, §4)."""

from __future__ import annotations

from typing import Any

from . import security
from .apis import PUT_APIS
from .endpoints import ANY, Endpoint, parse_task_type, valid_inference_id
from .errors import EsError, bad_request, java_map, java_set, resource_not_found, status_exception, validation_failed
from .rest import Action, Context, Reply, RestRequest, ok
from .routing import Router
from .services import (
    CHUNKING_SETTINGS,
    SERVICE_SETTINGS,
    TASK_SETTINGS,
    ParsedConfig,
    apply_update,
    lookup,
    parse_put_config,
)


def register(router: Router[Any], ctx: Context) -> None:
    # Elasticsearch's own path parameter names (Paths.java): they are the names "did you mean" may suggest.
    one, two = "/_inference/{task_type_or_id}", "/_inference/{task_type_or_id}/{inference_id}"
    router.add("PUT", one, put_endpoint, api="inference.put")
    router.add("PUT", two, put_endpoint, api=PUT_APIS)  # inference.put and every typed inference.put_<service>
    router.add_many(("GET",), ("/_inference", "/_inference/_all", one, two), get_endpoints, api="inference.get")
    router.add_many(("DELETE",), (one, two), delete_endpoint, api="inference.delete")
    if "inference.update" in ctx.profile.apis:
        # Before 8.17 these paths fall through to PUT {task_type}/{inference_id}: "Unknown task_type [<id>]".
        router.add_many(("PUT",), (f"{one}/_update", f"{two}/_update"), update_endpoint, api="inference.update")


# --- shared helpers --------------------------------------------------------------------------------------


def _target(ctx: Context, request: RestRequest) -> tuple[str, str]:
    """(task type, id) from the path: one segment is an id with task type ``any``; with two segments the first
    is parsed as a task type (§1.1)."""
    pp = request.path_params
    if "inference_id" in pp:
        return parse_task_type(pp["task_type_or_id"], ctx.profile), pp["inference_id"]
    if "task_type_or_id" in pp:
        return ANY, pp["task_type_or_id"]
    return ANY, "_all"


def not_found(inference_id: str) -> EsError:
    return resource_not_found(f"Inference endpoint not found [{inference_id}]")


def _check_task_type(requested: str, endpoint: Endpoint) -> None:
    """InferenceExceptions.mismatchedTaskTypeException (§1.4, §4)."""
    if requested not in (ANY, endpoint.task_type):
        actual = endpoint.task_type
        raise bad_request(
            f"Requested task type [{requested}] does not match the inference endpoint's task type [{actual}]"
        )


def _validate_id(inference_id: str) -> None:
    """§3.3 MlStrings check, as an ActionRequestValidationException."""
    if not valid_inference_id(inference_id):
        raise validation_failed(
            "action_request_validation_exception",
            [
                f"Invalid inference_id; '{inference_id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
                "underscores; must start and end with alphanumeric"
            ],
        )


# --- PUT (§3.1-§3.3) --------------------------------------------------------------------------------------


def put_endpoint(ctx: Context, request: RestRequest) -> Action:
    url_task, inference_id = _target(ctx, request)
    if ctx.profile.put_timeout_param:
        request.params.time_value("timeout")
    body = request.json_object(required=True)
    assert body is not None

    def action() -> Reply:
        _validate_id(inference_id)
        ctx.authorize(request, security.INFERENCE_PUT)
        return ok(_create(ctx, inference_id, url_task, body).to_json(ctx.profile))

    return action


def _resolve_task_type(ctx: Context, url_task: str, body_task: Any) -> str:
    """ServiceUtils.resolveTaskType: the URL, the body, or both when they agree (§3.3)."""
    if body_task is None:
        if url_task == ANY:
            raise bad_request("model is missing required setting [task_type]")
        return url_task
    parsed = parse_task_type(str(body_task), ctx.profile)
    if parsed == ANY:
        raise bad_request("task_type [any] is not valid type for inference")
    if url_task not in (ANY, parsed):
        raise bad_request(
            f"Cannot resolve conflicting task_type parameter in the request URL [{url_task}] and the request body "
            f"[{body_task}]"
        )
    return parsed


def _create(ctx: Context, inference_id: str, url_task: str, body: dict[str, Any]) -> Endpoint:
    store = ctx.store
    if store.is_default(inference_id):
        # Only reachable for a default id without a leading "."; "."-ids fail the id check first (§3.3).
        raise bad_request(
            f"[{inference_id}] is a reserved inference ID. Cannot create a new inference endpoint with a reserved ID."
        )
    config = dict(body)
    task_type = _resolve_task_type(ctx, url_task, config.pop("task_type", None))
    service_name = config.pop("service", None)
    if service_name is None:
        raise bad_request("Inference endpoint configuration is missing the [service] setting")
    service = lookup(str(service_name))
    if service is None:
        raise bad_request(f"Unknown service [{service_name}]")
    parsed = parse_put_config(service, task_type, config, ctx.profile)
    endpoint = Endpoint(
        inference_id=inference_id,
        task_type=task_type,
        service=service.name,
        service_settings=parsed.service_settings,
        task_settings=parsed.task_settings,
        chunking_settings=parsed.chunking_settings,
        secrets=parsed.secrets,
    )
    with store.lock:
        if not store.put_endpoint(endpoint):
            # Detected at store time, after validation (§3.3).
            raise EsError(
                400, "resource_already_exists_exception", f"Inference endpoint [{inference_id}] already exists"
            )
        if service.in_cluster and "deployment_id" not in parsed.service_settings:
            store.deployments.add(inference_id)
    return endpoint


# --- GET (§4) ---------------------------------------------------------------------------------------------


def get_endpoints(ctx: Context, request: RestRequest) -> Action:
    task_type, target = _target(ctx, request)

    def action() -> Reply:
        ctx.authorize(request, security.INFERENCE_GET)
        if target in ("_all", "*"):
            endpoints = ctx.store.all_endpoints(None if task_type == ANY else task_type)
        else:
            endpoint = ctx.store.find_endpoint(target)
            if endpoint is None:
                raise not_found(target)
            _check_task_type(task_type, endpoint)
            endpoints = [endpoint]
        for endpoint in endpoints:
            if lookup(endpoint.service) is None:
                raise status_exception(
                    500, f"Unknown service [{endpoint.service}] for inference endpoint [{endpoint.inference_id}]."
                )
        return ok({"endpoints": [e.to_json(ctx.profile) for e in endpoints]})

    return action


# --- DELETE (§1) ------------------------------------------------------------------------------------------


def delete_endpoint(ctx: Context, request: RestRequest) -> Action:
    task_type, inference_id = _target(ctx, request)
    force = request.params.boolean("force")
    dry_run = request.params.boolean("dry_run")

    def action() -> Reply:
        ctx.authorize(request, security.INFERENCE_DELETE)
        return ok(_delete(ctx, task_type, inference_id, force=force, dry_run=dry_run))

    return action


def _delete(ctx: Context, task_type: str, inference_id: str, *, force: bool, dry_run: bool) -> dict[str, Any]:
    """The §1.2 processing order."""
    profile, store = ctx.profile, ctx.store
    # 1. Look up (defaults are always found).
    endpoint = store.find_endpoint(inference_id)
    if endpoint is None:
        raise not_found(inference_id)
    # 2. Task-type check.
    _check_task_type(task_type, endpoint)
    pipelines = store.pipelines_referencing(inference_id)
    indexes = store.indexes_referencing(inference_id) if profile.index_check else set()
    # 3. Dry run: never fails because of references; wins over force (§1.5).
    if dry_run:
        # error_message is the 409 text, "" without references (§1.3, source reading of ae2cf79).
        message = _references_message(inference_id, pipelines, indexes)
        return _delete_body(ctx, acknowledged=False, pipelines=pipelines, indexes=indexes, error_message=message)
    # 4. References, unless forced.
    if not force and (pipelines or indexes):
        raise status_exception(409, _conflict_message(ctx, inference_id, pipelines, indexes))
    # 5. [inferred] Reserved endpoints need force (8.18+/9.0+). Status 400 and running after the reference
    #    check follow the reference's step order; both are open points upstream (§9).
    if profile.reserved_delete_needs_force and endpoint.is_default and not force:
        raise bad_request(
            f"[{inference_id}] is a reserved inference endpoint. Use the force=true query parameter to delete the "
            "inference endpoint."
        )
    # 6.-7. Service, config and stop; force ignores their failures from 9.1 (8.19 by decision).
    lenient = force and profile.force_bypasses_service_errors
    _stop(ctx, endpoint, lenient=lenient)
    # 8. Delete. A default endpoint is re-persisted and shows up again on the next read (§1.2 step 5).
    store.delete_endpoint(inference_id)
    # The arrays are empty even when force deleted a referenced endpoint (§1.3).
    return _delete_body(ctx, acknowledged=True, pipelines=set(), indexes=set(), error_message=None)


def _stop(ctx: Context, endpoint: Endpoint, *, lenient: bool) -> None:
    inference_id = endpoint.inference_id
    service = lookup(endpoint.service)
    if service is None:
        if lenient:
            return
        raise status_exception(404, f"No service found for this inference endpoint {inference_id}")
    if not endpoint.parsable and ctx.profile.force_bypasses_service_errors and not lenient:
        # [inferred, 9.1+] status not asserted upstream; 500 chosen as for the other server-side failures.
        raise status_exception(500, f"Failed to parse model configuration for inference endpoint [{inference_id}]")
    if not service.in_cluster:
        return  # third-party services have nothing to stop
    with ctx.store.lock:
        if inference_id in ctx.store.stop_failures:
            if lenient:
                return  # the deployment is left behind
            raise status_exception(500, f"Failed to stop inference endpoint {inference_id}")
        # An endpoint created on an existing deployment (deployment_id set) leaves it running.
        if "deployment_id" not in endpoint.service_settings:
            ctx.store.deployments.discard(inference_id)


def _conflict_message(ctx: Context, inference_id: str, pipelines: set[str], indexes: set[str]) -> str:
    if not ctx.profile.index_check:
        # 8.15 text (TransportDeleteInferenceEndpointAction, 8.15)
        return (
            f"Inference endpoint {inference_id} is referenced by pipelines and cannot be deleted. "
            "Use `force` to delete it anyway, or use `dry_run` to list the pipelines that reference it."
        )
    return _references_message(inference_id, pipelines, indexes)


def _references_message(inference_id: str, pipelines: set[str], indexes: set[str]) -> str:
    """8.16+ builder: the pipeline part, then the index part, which starts with a space (§1.4)."""
    message = ""
    if pipelines:
        message += (
            f"Inference endpoint {inference_id} is referenced by pipelines: {java_set(pipelines)}. Ensure that no "
            "pipelines are using this inference endpoint, or use force to ignore this warning and delete the "
            "inference endpoint."
        )
    if indexes:
        message += (
            f" Inference endpoint {inference_id} is being used in the mapping for indexes: {java_set(indexes)}. "
            "Ensure that no index mappings are using this inference endpoint, or use force to ignore this warning "
            "and delete the inference endpoint."
        )
    return message


def _delete_body(
    ctx: Context, *, acknowledged: bool, pipelines: set[str], indexes: set[str], error_message: str | None
) -> dict[str, Any]:
    """§1.3 per version. Arrays are sorted (upstream HashSet order is unspecified)."""
    body: dict[str, Any] = {"acknowledged": acknowledged, "pipelines": sorted(pipelines)}
    if ctx.profile.index_check:
        body["indexes"] = sorted(indexes)
        if error_message is not None:
            body["error_message"] = error_message
    return body


# --- update (§3.4) ----------------------------------------------------------------------------------------

_UPDATABLE = (SERVICE_SETTINGS, TASK_SETTINGS, "task_type")


def update_endpoint(ctx: Context, request: RestRequest) -> Action:
    pp = request.path_params
    two_segments = "inference_id" in pp
    url_task = parse_task_type(pp["task_type_or_id"], ctx.profile) if two_segments else ANY
    inference_id = pp["inference_id"] if two_segments else pp["task_type_or_id"]
    # RestUpdateInferenceModelAction reads master_timeout (RestUtils.getMasterNodeTimeout) though the spec does
    # not list it; the spec's timeout came with 9.5.
    request.params.time_value("master_timeout")
    if ctx.profile.update_timeout_param:
        request.params.time_value("timeout")
    body = _parse_update_body(ctx, request)

    def action() -> Reply:
        if ctx.profile.update_rejects_defaults and ctx.store.is_default(inference_id):
            raise bad_request(f"Default endpoint [{inference_id}] cannot be updated")
        _validate_id(inference_id)
        ctx.authorize(request, security.INFERENCE_UPDATE)
        return ok(_update(ctx, inference_id, url_task, body).to_json(ctx.profile))

    return action


def _parse_update_body(ctx: Context, request: RestRequest) -> dict[str, Any]:
    """UpdateInferenceModelAction.Settings parsing, done when the request is built (§3.4)."""
    body = request.json_object(required=False)
    if not body:
        raise bad_request("Request body is empty")
    allowed = (*_UPDATABLE, CHUNKING_SETTINGS) if ctx.profile.update_chunking_settings else _UPDATABLE
    unknown = {k: v for k, v in body.items() if k not in allowed}
    if unknown:
        raise bad_request(
            f"Request contained fields which cannot be updated, remove these fields and try again [{java_map(unknown)}]"
        )
    for key, label in ((SERVICE_SETTINGS, "service"), (TASK_SETTINGS, "task"), (CHUNKING_SETTINGS, "chunking")):
        if key in body and not isinstance(body[key], dict):
            raise bad_request(f"Unable to parse {label} settings in the request [{body[key]}]")
    return body


def _update(ctx: Context, inference_id: str, url_task: str, body: dict[str, Any]) -> Endpoint:
    with ctx.store.lock:
        endpoint = ctx.store.endpoints.get(inference_id)
        if endpoint is None:
            # Constant INFERENCE_ENTITY_NON_EXISTANT_NO_UPDATE; its text is not in the reference [unverified].
            raise resource_not_found(f"The inference endpoint [{inference_id}] does not exist and cannot be updated")
        body_task = body.get("task_type")
        requested = {url_task, parse_task_type(str(body_task), ctx.profile) if body_task is not None else ANY}
        if requested - {ANY, endpoint.task_type}:
            raise bad_request("Task type must match the task type of the existing endpoint")
        service = lookup(endpoint.service)
        if service is None:
            raise status_exception(500, f"Service [{endpoint.service}] not found")
        current = ParsedConfig(
            endpoint.service_settings, endpoint.secrets, endpoint.task_settings, endpoint.chunking_settings
        )
        updated = apply_update(
            service,
            endpoint.task_type,
            current,
            body.get(SERVICE_SETTINGS),
            body.get(TASK_SETTINGS),
            body.get(CHUNKING_SETTINGS),
            ctx.profile,
        )
        new = Endpoint(
            inference_id=inference_id,
            task_type=endpoint.task_type,
            service=endpoint.service,
            service_settings=updated.service_settings,
            task_settings=updated.task_settings,
            chunking_settings=updated.chunking_settings,
            secrets=updated.secrets,
            parsable=endpoint.parsable,
        )
        ctx.store.replace_endpoint(new)
    return new
