"""``GET /`` and ``HEAD /``: the MainResponse (reference §6.3, §10.3)."""

from __future__ import annotations

import hashlib
from typing import Any

from . import security
from .rest import Action, Context, Reply, RestRequest, ok
from .routing import Router

TAGLINE = "You Know, for Search"


def register(router: Router[Any], ctx: Context) -> None:
    del ctx
    router.add("GET", "/", main, api="info")
    router.add("HEAD", "/", main, api="ping")


def main_response(ctx: Context) -> dict[str, Any]:
    # The build hash is deterministic per version so repeated runs compare equal.
    digest = hashlib.sha1(ctx.version.encode()).hexdigest()
    return {
        "name": "es-emulator",
        "cluster_name": ctx.cluster.name,
        # Per emulator instance (two emulators are two clusters); "_na_" until formed (§10.3).
        "cluster_uuid": ctx.cluster.reported_uuid,
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
