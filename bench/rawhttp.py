"""HTTP/1.1 keep-alive clients with Nagle off (blocking, `KeepAlive`; asyncio, `RawHttp`), and the
bare server they are compared with.

What a request costs the benchmark is then a few microseconds (httpx adds about a millisecond, and
its own jitter), so the latencies measured are the server's. `python -m bench.rawhttp PORT` serves
`{"status":"ok"}` to every request on kept-alive connections (asyncio streams, one process): the
floor for a request on this machine, against which the gateway's `/healthz` is read.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any


class KeepAlive:
    """One kept-alive connection; `get` returns (status, body)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head = f"Host: {host}\r\n{extra}\r\n"
        self._buf = b""

    def get(self, path: str) -> tuple[int, bytes]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\n{self._head}".encode())
        while b"\r\n\r\n" not in self._buf:
            self._recv()
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        length = next(
            int(v) for k, _, v in (ln.partition(":") for ln in lines) if k.strip().lower() == "content-length"
        )
        while len(self._buf) < length:
            self._recv()
        body, self._buf = self._buf[:length], self._buf[length:]
        return int(status_line.split()[1]), body

    def timed(self, path: str, n: int) -> list[float]:
        """n sequential GETs: each one's latency in ms (all must answer 200)."""
        out = []
        for _ in range(n):
            t = time.perf_counter()
            status, body = self.get(path)
            out.append((time.perf_counter() - t) * 1000)
            if status != 200:
                raise AssertionError(f"GET {path}: {status} {body[:200]!r}")
        return out

    def _recv(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the server closed the connection")
        self._buf += data

    def close(self) -> None:
        self.sock.close()


@dataclass
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return json.loads(self.content)


class RawHttp:
    """A bare HTTP/1.1 keep-alive client (Nagle off): what a request costs the bench is then a
    few microseconds, not httpx's millisecond, so the figures are the gateway's."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _conn(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._idle:
            return self._idle.pop()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def request(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Reply:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(data)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head.append("Content-Type: application/json")
        reader, writer = await self._conn()
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        status_line, *lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        length = next(int(v) for k, _, v in (ln.partition(":") for ln in lines) if k.lower() == "content-length")
        content = await reader.readexactly(length)
        self._idle.append((reader, writer))
        return Reply(int(status_line.split()[1]), content)

    async def get(self, path: str, headers: dict[str, str], params: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, headers)

    async def post(self, path: str, json: Any, headers: dict[str, str]) -> Reply:
        return await self.request("POST", path, headers, json)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def _serve(port: int) -> None:
    body = b'{"status":"ok"}'
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)  # asyncio sets TCP_NODELAY
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
