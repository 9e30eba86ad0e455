"""`es-inference-operator` / `python -m es_inference_operator`: run the operator."""

from __future__ import annotations

import argparse
import os
import sys

import kopf

from . import logs
from .config import OperatorConfig
from .errors import ConfigurationError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="es-inference-operator",
        description="Manage Elasticsearch inference endpoints from InferenceEndpoint resources. "
        "Elasticsearch and the operator's behaviour are configured by environment variables (see README).",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    parser.add_argument(
        "--log-format",
        choices=["plain", "full", "json"],
        default=os.environ.get("OPERATOR_LOG_FORMAT", "plain"),
    )
    parser.add_argument(
        "--liveness",
        default=os.environ.get("OPERATOR_LIVENESS", "http://0.0.0.0:8081/healthz"),
        help="liveness endpoint URL, or '' for none",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logs (they include whole resources)")
    args = parser.parse_args(argv)

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat[args.log_format.upper()])
    logs.install(verbose=args.verbose)
    try:
        OperatorConfig.from_env()  # fail here, with a clear message, rather than in kopf's startup
    except (ValueError, ConfigurationError) as err:
        sys.exit(f"es-inference-operator: bad configuration: {err}")
    from . import handlers  # noqa: F401  (registers the handlers)

    kopf.run(
        standalone=True,  # one replica with Recreate: no peering objects, no peering RBAC
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness or None,
        memo=kopf.Memo(namespaces=tuple(args.namespace)),
    )


if __name__ == "__main__":
    main()
