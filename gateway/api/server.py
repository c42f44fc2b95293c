"""The API's HTTP server: uvicorn on a socket bound here, with the two defences it lacks.

- A request timeout. uvicorn's h11 protocol arms its keep-alive timer only after a response and
  cancels it on any byte received, so a client that connects and sends nothing, or half a request
  line, or a byte every few seconds (slowloris), holds its connection open forever; a few hundred
  of them exhaust the gateway's file descriptors. Here every request, from its first byte (or from
  the connection, for the first one) to its last, must arrive within `request_timeout_s`.
- TCP_NODELAY on every accepted connection. asyncio sets it only on sockets created with
  proto=IPPROTO_TCP; without it a kept-alive client waits ~40 ms per request for the delayed ACK.
- A cap on a request's head (request line and headers), answered 431 with the API's JSON error.
  h11's own limit (`max_incomplete_event_size`) counts only a head that is still incomplete, so a
  100 KB head arriving in one read passed; here the head is measured before h11 parses it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gateway.i18n.catalogue import explain

log = logging.getLogger(__name__)


# A request's head (request line and headers): a bearer token and a browser's headers are a few
# hundred bytes; 16 KiB is what Node and h11 allow by default.
MAX_HEAD_BYTES = 16 * 1024
HEAD_END = b"\r\n\r\n"


def too_large_head_answer() -> bytes:
    """The 431 and its JSON error body, written raw: it is answered before any route runs."""
    body = json.dumps(
        {
            "error": "headers_too_large",
            **explain("headers_too_large", {"limit": MAX_HEAD_BYTES}),
            "detail": f"the request line and headers are larger than the API takes ({MAX_HEAD_BYTES} bytes)",
        },
        ensure_ascii=False,
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ListenError(Exception):
    """The API cannot listen on the address it was given (the message says which and why)."""


class ServerConfig(uvicorn.Config):
    def __init__(self, app: Any, *, request_timeout_s: float, **kwargs: Any) -> None:
        # h11's own limit, for a head still incomplete where the check below does not look (the
        # next of several pipelined requests).
        # ws="none": the API has no WebSocket route, and uvicorn's default loads the websockets
        # library for the upgrade (issue 19: the resident set).
        super().__init__(
            app, http=GuardedH11Protocol, ws="none", h11_max_incomplete_event_size=MAX_HEAD_BYTES, **kwargs
        )
        self.request_timeout_s = request_timeout_s


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY and a deadline for each request to arrive whole."""

    def __init__(self, config: ServerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.request_timeout_s = config.request_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the rest of a refused request is read and dropped (see below)
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            # Answer, then close only our side: closing with the client's bytes still unread
            # sends a reset, which can destroy the answer before the client reads it. The request
            # deadline, still armed, closes the connection if the client goes on sending.
            self._refused = True
            if not self.transport.is_closing():
                self.transport.write(too_large_head_answer())
                self.transport.write_eof()
            return
        super().data_received(data)
        # IDLE: still reading a request's head; SEND_BODY: its body. The deadline is armed once per
        # request, never pushed back, so dripping bytes does not keep a connection alive.
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()
        else:
            self._disarm()

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the head being read (what h11 holds, then `data`) runs past MAX_HEAD_BYTES
        before its blank line. Only a head's bytes are looked at: a large body may follow it."""
        held = self.conn.trailing_data[0]  # at most MAX_HEAD_BYTES: past that the connection closed
        window = (held + data)[: MAX_HEAD_BYTES + len(HEAD_END)]
        return HEAD_END not in window and len(window) > MAX_HEAD_BYTES

    def on_response_complete(self) -> None:
        # Between requests uvicorn's own keep-alive timeout applies; the deadline starts again
        # with the next request's first byte.
        self._disarm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.request_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.debug("API: closing %s: no whole request within %s s", self.client, self.request_timeout_s)
            self.transport.close()


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a taken or unknown address is a ListenError saying which."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise ListenError(
            f"API 无法监听 {host}:{port}（cannot listen on {host}:{port}: {e.strerror}）："
            "请释放该端口或换一个（api.port、HALLGATE_API__PORT）(port_taken)"
        ) from None
    return sock


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    request_timeout_s: float = 10.0,
    keep_alive_s: int = 5,
    log_level: str = "warning",
) -> tuple[uvicorn.Server, socket.socket]:
    """A uvicorn server for `app` and its bound socket: `await server.serve(sockets=[sock])`.

    Binding here, not in uvicorn, makes a taken port a ListenError rather than uvicorn's exit.
    """
    sock = listen(host, port)
    config = ServerConfig(
        app, request_timeout_s=request_timeout_s, timeout_keep_alive=keep_alive_s, log_level=log_level, lifespan="off"
    )
    return uvicorn.Server(config), sock
