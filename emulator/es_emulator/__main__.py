"""``python -m es_emulator`` / ``es-emulator``: serve in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .profiles import parse_version
from .security import User
from .server import DEFAULT_USER, EmulatorServer


def _user(value: str) -> User:
    """``name:password`` or ``name:password:role1,role2`` (default role: superuser)."""
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0]:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD[:ROLE,ROLE]")
    roles = tuple(r for r in parts[2].split(",") if r) if len(parts) == 3 else ("superuser",)
    return User(parts[0], parts[1], roles=roles)


def _version(value: str) -> str:
    try:
        parse_version(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="es-emulator", description="Elasticsearch inference API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200, help="0 picks a free port")
    parser.add_argument("--version", type=_version, default="9.1.0", help="Elasticsearch version to emulate")
    parser.add_argument("--no-security", action="store_true", help="no authentication or authorization")
    parser.add_argument(
        "--cluster-uuid",
        help="the cluster_uuid GET / reports (default: a random one per run; give two emulators the same to make "
        "them one cluster)",
    )
    parser.add_argument(
        "--user",
        type=_user,
        action="append",
        help="NAME:PASSWORD[:ROLE,ROLE] (repeatable; default elastic:changeme as superuser)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    security = not args.no_security
    users = args.user or ([DEFAULT_USER] if security else [])
    server = EmulatorServer(
        version=args.version,
        host=args.host,
        port=args.port,
        security=security,
        users=users,
        cluster_uuid=args.cluster_uuid,
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except OSError as exc:
        print(f"es-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    auth = "security on" if security else "security off"
    print(f"es-emulator listening on {server.url} (Elasticsearch {server.version}, {auth})", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
