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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import SimpleError
from .rest import ACKNOWLEDGED, Context, Reply, ok
from .routing import Router

PREFIX = "/_emulator"

AdminHandler = Callable[[Context, Any], Reply]


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
    return router


def dispatch(router: Router[AdminHandler], ctx: Context, method: str, path: str, raw_body: bytes) -> Reply:
    try:
        handler, _ = router.resolve(method, path, path)
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError as exc:
            raise SimpleError(400, f"body is not JSON: {exc}") from None
        return handler(ctx, body)
    except SimpleError as exc:
        return Reply(exc.status, exc.body())
    except (TypeError, ValueError, KeyError) as exc:
        return Reply(400, SimpleError(400, f"bad request: {exc}").body())


def _info(ctx: Context, body: Any) -> Reply:
    return ok(
        {
            "version": ctx.version,
            "profile": ctx.profile.name,
            "security": ctx.security.enabled,
            "faults": ctx.faults.snapshot(),
        }
    )


def _get_faults(ctx: Context, body: Any) -> Reply:
    return ok(ctx.faults.snapshot())


def _set_faults(ctx: Context, body: Any) -> Reply:
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


def _clear_faults(ctx: Context, body: Any) -> Reply:
    ctx.faults.clear()
    return ok(ctx.faults.snapshot())


def _get_requests(ctx: Context, body: Any) -> Reply:
    return ok({"requests": [r._asdict() for r in ctx.requests]})


def _clear_requests(ctx: Context, body: Any) -> Reply:
    ctx.requests.clear()
    return ok(ACKNOWLEDGED)


def _outage(ctx: Context, body: Any) -> Reply:
    seconds = float(body.get("seconds", 1.0)) if isinstance(body, dict) else 1.0
    if ctx.outage is None or not 0 < seconds <= 600:
        raise SimpleError(400, "seconds must be in (0, 600]")
    ctx.outage(seconds)
    return ok(ACKNOWLEDGED)


def _reset_state(ctx: Context, body: Any) -> Reply:
    ctx.store.reset()
    return ok(ACKNOWLEDGED)
