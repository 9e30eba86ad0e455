"""``GET /`` and ``HEAD /``: the MainResponse (reference §6.3)."""

from __future__ import annotations

import hashlib
from typing import Any

from . import security
from .rest import Action, Context, Reply, RestRequest, ok
from .routing import Router

TAGLINE = "You Know, for Search"


def register(router: Router[Any], ctx: Context) -> None:
    del ctx
    router.add_many(("GET", "HEAD"), ("/",), main)


def main_response(ctx: Context) -> dict[str, Any]:
    # Deterministic per version so repeated runs compare equal.
    digest = hashlib.sha1(ctx.version.encode()).hexdigest()
    return {
        "name": "es-emulator",
        "cluster_name": "es-emulator",
        "cluster_uuid": digest[:22],
        "version": {
            "number": ctx.version,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": digest,
            "build_date": "2025-01-01T00:00:00.000000000Z",
            "build_snapshot": False,
            "lucene_version": ctx.profile.lucene_version,
            "minimum_wire_compatibility_version": ctx.profile.minimum_wire_compatibility_version,
            "minimum_index_compatibility_version": ctx.profile.minimum_index_compatibility_version,
        },
        "tagline": TAGLINE,
    }


def main(ctx: Context, request: RestRequest) -> Action:
    def action() -> Reply:
        ctx.authorize(request, security.MAIN)
        return ok(main_response(ctx))

    return action
