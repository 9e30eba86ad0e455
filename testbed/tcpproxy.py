"""A TCP proxy a test puts between a client and a server (an operator and kube-apiserver), and cuts: from
`cut()` on it forwards nothing more, either way, and closes nothing. The client sees silence, not a reset: a
network partition, as dropped packets make one. TLS passes through untouched (the server's certificate is
valid for 127.0.0.1 on any port).

    with TcpProxy("127.0.0.1", 6443) as proxy:
        ...  # point the client at proxy.port
        proxy.cut()
        proxy.last_sent_up  # when the client's last bytes went on to the server (time.monotonic())
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from types import TracebackType

CHUNK = 65536


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.cut_at: float | None = None  # time.monotonic() of cut()
        self.last_sent_up: float | None = None  # time.monotonic() of the last bytes forwarded client -> server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcpproxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._never = asyncio.Event()  # never set: what a cut connection waits for

    def start(self) -> TcpProxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self.port = future.result(timeout=5)
        return self

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> float:
        """Forward nothing more from now on; returns the moment (time.monotonic())."""
        self.cut_at = time.monotonic()
        return self.cut_at

    @property
    def is_cut(self) -> bool:
        return self.cut_at is not None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.is_cut:
                await self._never.wait()  # accepted, never answered
            up_reader, upstream = await asyncio.open_connection(*self.target)
            await asyncio.gather(self._pump(reader, upstream, up=True), self._pump(up_reader, writer, up=False))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, up: bool) -> None:
        while data := await source.read(CHUNK):
            if self.is_cut:
                await self._never.wait()  # dropped: the sender hears nothing, ever
            sink.write(data)
            await sink.drain()
            if up:
                self.last_sent_up = time.monotonic()
        if not self.is_cut:
            with contextlib.suppress(OSError):
                sink.write_eof()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
