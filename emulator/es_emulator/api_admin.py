"""Emulator control routes under ``/_emulator`` (not Elasticsearch APIs; no auth, no faults, not logged).

GET    /_emulator                  version, profile, security, faults
GET    /_emulator/faults           current faults
PUT    /_emulator/faults           {"latency": 0.5, "fail_next": {"count": 3, "status": 503,
POST                                "retry_after": 2, "body": {...}}, "drop_next": 2}  (each key optional)
DELETE /_emulator/faults           clear all faults
GET    /_emulator/requests         {"requests": [{"method", "path", "query"}, ...]}
DELETE /_emulator/requests         clear the request log
POST   /_emulator/outage           {"seconds": 2}: stop listening now, listen again after that long
DELETE /_emulator/state            forget all endpoints, pipelines and indexes
PUT    /_emulator/cluster          {"formed": false}: GET / reports cluster_uuid "_na_" until formed again
GET    /_emulator/holds            {"holds": [{"id", "method", "path_regex", "after_apply", "state", "request"}]}
POST   /_emulator/holds            {"method": "PUT", "path_regex": "/_inference/.*", "after_apply": false,
                                    "query": {"dry_run": null}}: hold the next matching request (see
                                   faults.Hold); answers the hold
GET    /_emulator/holds/{id}       one hold (poll "state" for "held", then "answered" or "disconnected")
POST   /_emulator/holds/{id}/_release   let the held request go on
DELETE /_emulator/holds            cancel pending holds, release held requests
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .errors import SimpleError
from .faults import Hold
from .rest import ACKNOWLEDGED, Context, Reply, ok
from .routing import OptionsAnswer, Router

PREFIX = "/_emulator"

# (context, JSON body or {}, path parameters) -> reply
AdminHandler = Callable[[Context, Any, dict[str, str]], Reply]


def is_admin_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def build_router() -> Router[AdminHandler]:
    router: Router[AdminHandler] = Router()
    router.add("GET", PREFIX, _info)
    router.add("GET", f"{PREFIX}/faults", _get_faults)
    router.add_many(("PUT", "POST"), (f"{PREFIX}/faults",), _set_faults)
    router.add("DELETE", f"{PREFIX}/faults", _clear_faults)
    router.add("GET", f"{PREFIX}/requests", _get_requests)
    router.add("DELETE", f"{PREFIX}/requests", _clear_requests)
    router.add("POST", f"{PREFIX}/outage", _outage)
    router.add("DELETE", f"{PREFIX}/state", _reset_state)
    router.add("PUT", f"{PREFIX}/cluster", _set_cluster)
    router.add("GET", f"{PREFIX}/holds", _get_holds)
    router.add("POST", f"{PREFIX}/holds", _add_hold)
    router.add("DELETE", f"{PREFIX}/holds", _clear_holds)
    router.add("GET", f"{PREFIX}/holds/{{hold_id}}", _get_hold)
    router.add("POST", f"{PREFIX}/holds/{{hold_id}}/_release", _release_hold)
    return router


def dispatch(router: Router[AdminHandler], ctx: Context, method: str, path: str, raw_body: bytes) -> Reply:
    try:
        route, path_params = router.resolve(method, path, path)
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError as exc:
            raise SimpleError(400, f"body is not JSON: {exc}") from None
        return route.handler(ctx, body, path_params)
    except SimpleError as exc:
        return Reply(exc.status, exc.body())
    except OptionsAnswer as exc:
        return Reply(
            405, SimpleError(405, f"{method} is not served under {PREFIX}").body(), [("Allow", ",".join(exc.allowed))]
        )
    except (TypeError, ValueError, KeyError) as exc:
        return Reply(400, SimpleError(400, f"bad request: {exc}").body())


def _info(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    return ok(
        {
            "version": ctx.version,
            "profile": ctx.profile.name,
            "security": ctx.security.enabled,
            "faults": ctx.faults.snapshot(),
            "cluster": _cluster(ctx),
            "holds": [h.snapshot() for h in ctx.faults.holds()],
        }
    )


def _get_faults(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    return ok(ctx.faults.snapshot())


def _set_faults(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    if not isinstance(body, dict):
        raise SimpleError(400, "body must be a JSON object")
    unknown = set(body) - {"latency", "fail_next", "drop_next"}
    if unknown:
        raise SimpleError(400, f"unknown keys {sorted(unknown)}")
    if "latency" in body:
        ctx.faults.latency(float(body["latency"]))
    if "fail_next" in body:
        spec = body["fail_next"]
        ctx.faults.fail_next(
            int(spec["count"]),
            int(spec.get("status", 503)),
            retry_after=spec.get("retry_after"),
            body=spec.get("body"),
        )
    if "drop_next" in body:
        ctx.faults.drop_next(int(body["drop_next"]))
    return ok(ctx.faults.snapshot())


def _clear_faults(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    ctx.faults.clear()
    return ok(ctx.faults.snapshot())


def _get_requests(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    return ok({"requests": [r._asdict() for r in ctx.requests]})


def _clear_requests(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    ctx.requests.clear()
    return ok(ACKNOWLEDGED)


def _outage(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    seconds = float(body.get("seconds", 1.0)) if isinstance(body, dict) else 1.0
    if ctx.outage is None or not 0 < seconds <= 600:
        raise SimpleError(400, "seconds must be in (0, 600]")
    ctx.outage(seconds)
    return ok(ACKNOWLEDGED)


def _reset_state(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    ctx.store.reset()
    return ok(ACKNOWLEDGED)


def _cluster(ctx: Context) -> dict[str, Any]:
    return {"uuid": ctx.cluster.uuid, "formed": ctx.cluster.formed}


def _set_cluster(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    if not isinstance(body, dict) or set(body) - {"formed"} or not isinstance(body.get("formed"), bool):
        raise SimpleError(400, 'body must be {"formed": true|false}')
    ctx.cluster.formed = body["formed"]
    return ok(_cluster(ctx))


def _get_holds(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    return ok({"holds": [h.snapshot() for h in ctx.faults.holds()]})


def _add_hold(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    if not isinstance(body, dict) or set(body) - {"method", "path_regex", "after_apply", "query"}:
        raise SimpleError(400, "body must be an object with method, path_regex, after_apply and query (each optional)")
    method = body.get("method")
    after_apply = body.get("after_apply", False)
    query = body.get("query") or {}
    if (method is not None and not isinstance(method, str)) or not isinstance(after_apply, bool):
        raise SimpleError(400, "method must be a string and after_apply a boolean")
    if not isinstance(query, dict) or not all(v is None or isinstance(v, str) for v in query.values()):
        raise SimpleError(400, "query must map parameter names to strings or null (absent)")
    try:
        created = ctx.faults.hold(method, str(body.get("path_regex", ".*")), after_apply=after_apply, query=query)
    except re.error as exc:
        raise SimpleError(400, f"path_regex does not compile: {exc}") from None
    return ok(created.snapshot())


def _found_hold(ctx: Context, params: dict[str, str]) -> Hold:
    found = ctx.faults.find_hold(params["hold_id"])
    if found is None:
        raise SimpleError(404, f"no hold [{params['hold_id']}]")
    return found


def _get_hold(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    return ok(_found_hold(ctx, params).snapshot())


def _release_hold(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    found = _found_hold(ctx, params)
    found.release()
    return ok(found.snapshot())


def _clear_holds(ctx: Context, body: Any, params: dict[str, str]) -> Reply:
    ctx.faults.clear_holds()
    return ok(ACKNOWLEDGED)
