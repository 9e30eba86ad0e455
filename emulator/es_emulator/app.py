"""The aiohttp application: request pipeline in Elasticsearch's order.

For an Elasticsearch route: log the request → faults (latency, drop, injected status) → media-type versions
(§6.2, checked while the request is built, before anything else) → route (400 no handler / 405) → body
Content-Type (406) → authentication (401, §5.2) → the handler's REST parsing → unrecognized parameters →
the action (validation, authorization 403, work). Every answer carries ``X-elastic-product`` (§6.1).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import select
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from . import api_admin, api_indices, api_inference, api_ingest, api_root
from .errors import EsError, SimpleError
from .faults import RecordedRequest
from .media import check_body_content_type, check_versions, parse_media_type, response_content_type
from .params import Params
from .rest import Context, Prepare, Reply, RestRequest
from .routing import Router
from .security import claimed_user

log = logging.getLogger(__name__)

PRODUCT_HEADER = ("X-elastic-product", "Elasticsearch")


def build_router(ctx: Context) -> Router[Prepare]:
    router: Router[Prepare] = Router()
    for module in (api_root, api_inference, api_ingest, api_indices):
        module.register(router, ctx)
    return router


def build_app(ctx: Context) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    handler = functools.partial(_handle, ctx, build_router(ctx), api_admin.build_router())
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


async def _handle(
    ctx: Context, router: Router[Prepare], admin: Router[api_admin.AdminHandler], request: web.Request
) -> web.StreamResponse:
    path = request.path
    raw_body = await request.read()
    if api_admin.is_admin_path(path):
        return _render(api_admin.dispatch(admin, ctx, request.method, path, raw_body), None, pretty=False)
    query = {k: v for k, v in request.query.items()}  # a repeated parameter: the last one wins
    user, peer = claimed_user(request.headers.get("Authorization")), request.remote
    recorded = ctx.requests.record(request.method, path, query, user=user, peer=peer)
    try:
        return await _answer(ctx, router, request, recorded, raw_body, query)
    finally:
        ctx.requests.answered()


async def _answer(
    ctx: Context,
    router: Router[Prepare],
    request: web.Request,
    recorded: RecordedRequest,
    raw_body: bytes,
    query: dict[str, str],
) -> web.StreamResponse:
    path = request.path
    decision = ctx.faults.take()
    if decision.latency > 0:
        await asyncio.sleep(decision.latency)
    if decision.drop:
        _drop_connection(request)
        raise asyncio.CancelledError  # nothing is written: the client sees the connection close
    if decision.failure is not None:
        failure = decision.failure
        headers = [("Retry-After", failure.retry_after)] if failure.retry_after is not None else []
        return _render(Reply(failure.status, failure.body, headers), None, pretty=False)
    hold = ctx.faults.take_hold(recorded)
    if hold is not None and not hold.after_apply and not await hold.block(lambda: _client_gone(request)):
        raise asyncio.CancelledError  # the client went away before Elasticsearch acted: nothing is done
    params = Params(query, path)
    reply, version = _process(ctx, router, request, params, raw_body)
    if hold is not None and hold.after_apply and not await hold.block(lambda: _client_gone(request)):
        raise asyncio.CancelledError  # done, but the answer has nobody to go to
    response = _render(reply, version, pretty=params.pretty)
    if hold is not None:
        hold.finish("answered")
    return response


def _process(
    ctx: Context, router: Router[Prepare], request: web.Request, params: Params, raw_body: bytes
) -> tuple[Reply, int | None]:
    uri = request.raw_path  # path and query string as received
    version: int | None = None
    try:
        content_type_header = request.headers.get("Content-Type")
        content_type = parse_media_type(content_type_header)
        version = check_versions(
            parse_media_type(request.headers.get("Accept")), content_type, bool(raw_body), ctx.major
        )
        prepare, path_params = router.resolve(request.method, request.path, uri)
        if raw_body:
            check_body_content_type(content_type_header, content_type)
        principal = ctx.security.authenticate(request.headers.get("Authorization"), uri)
        rest_request = RestRequest(request.method, request.path, uri, params, path_params, raw_body, principal)
        action = prepare(ctx, rest_request)
        params.check_unrecognized()
        return action(), version
    except EsError as exc:
        headers = [(name, value) for name, values in exc.headers.items() for value in values]
        return Reply(exc.status, exc.body(), headers), version
    except SimpleError as exc:
        return Reply(exc.status, exc.body(), list(exc.http_headers.items())), version
    except Exception as exc:  # a bug in the emulator: still answer like Elasticsearch would
        log.exception("emulator error on %s %s", request.method, uri)
        return Reply(500, EsError(500, "exception", f"emulator error: {exc!r}").body()), version


def _render(reply: Reply, version: int | None, *, pretty: bool) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict([PRODUCT_HEADER, *reply.headers])
    body = None
    if reply.body is not None:
        body = _dumps(reply.body, pretty)
        headers["Content-Type"] = response_content_type(version)
    return web.Response(status=reply.status, body=body, headers=headers)


def _dumps(body: Any, pretty: bool) -> bytes:
    if pretty:
        return (_pretty(body, "") + "\n").encode()
    return json.dumps(body, separators=(",", ":")).encode()


def _pretty(value: Any, indent: str) -> str:
    """Elasticsearch's ``?pretty`` layout: two-space indent, ``"key" : value``, empty ``{ }`` and ``[ ]``."""
    inner = indent + "  "
    if isinstance(value, dict):
        if not value:
            return "{ }"
        items = (f"{inner}{json.dumps(str(k))} : {_pretty(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[\n" + ",\n".join(f"{inner}{_pretty(v, inner)}" for v in value) + f"\n{indent}]"
    return json.dumps(value)


def _client_gone(request: web.Request) -> bool:
    """The client closed its connection (or died: the kernel closes it). Asks the socket itself, so that a
    hold released just after a client was killed still sees the hang-up before the event loop has."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLRDHUP)
    return any(events & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def _drop_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
