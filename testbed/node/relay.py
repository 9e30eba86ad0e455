"""TCP relays from the test process's network namespace into the node's, in a thread of the test process.

The node's namespace has no route out and the machine's has no route in: no interface joins them. A relay
listens on a loopback port of the machine's namespace and connects inside the node (a socket belongs to the
namespace its thread was in when it was made, see :meth:`Sandbox.network`): ``into_node(("10.123.0.2", 6443))``
is how the test process reaches the API server, etcd, a pod's address or a server it started inside the node.

Traffic goes only between loopback addresses and addresses inside the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from concurrent.futures import Future
from typing import Any

from testbed.node.sandbox import Sandbox

__all__ = ["Relays"]

Address = tuple[str, int]


class Relays:
    """An asyncio loop in a daemon thread, holding any number of relays until :meth:`close`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="node-relays", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.base_events.Server] = []

    def into_node(self, target: Address) -> int:
        """Listen on a free loopback port of the machine; connect to ``target`` inside the node."""
        listener = socket.create_server(("127.0.0.1", 0))
        self._serve(listener, target)
        return int(listener.getsockname()[1])

    def close(self) -> None:
        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        with contextlib.suppress(Exception):
            self._loop.close()

    # -- internals ---------------------------------------------------------------------------------------

    def _node_socket(self) -> socket.socket:
        with self.sandbox.network():
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def _serve(self, listener: socket.socket, target: Address) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Made in this (the loop's) thread: setns there moves only this thread, and only for the call.
            outgoing = self._node_socket()
            outgoing.setblocking(False)
            try:
                await asyncio.wait_for(self._loop.sock_connect(outgoing, target), 10)
                target_reader, target_writer = await asyncio.open_connection(sock=outgoing)
            except (OSError, TimeoutError):
                outgoing.close()
                writer.close()
                return
            await asyncio.gather(_pipe(reader, target_writer), _pipe(target_reader, writer))
            for end in (writer, target_writer):
                end.close()

        async def start() -> asyncio.base_events.Server:
            return await asyncio.start_server(handle, sock=listener, limit=1 << 20)

        future: Future[Any] = asyncio.run_coroutine_threadsafe(start(), self._loop)
        self._servers.append(future.result(10))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
