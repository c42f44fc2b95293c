"""paho's socket driven by the asyncio event loop: no network thread, and every packet already
waiting read in one wake-up, so that a burst becomes one batch."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from drivers.mqtt.client import FastClient


class SocketPump:
    """Takes over the client's socket callbacks: the loop reads and writes the socket, and runs
    paho's housekeeping (keepalive) once a second.

    The link may hold the socket unread while a batch's window is open (`hold`, asked after each
    read); `paused` then says so, `read_waiting()` reads what came meanwhile, `resume()` listens again.
    """

    def __init__(self, client: FastClient, max_packets: int, on_read_error: Callable[[str], None]) -> None:
        self.client = client
        self.max_packets = max_packets  # packets read in one go at most
        self.on_read_error = on_read_error
        self.hold: Callable[[], bool] = lambda: False  # a batch is gathering: leave the socket alone
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread = 0
        self.poll = select.poll()  # the current socket's, registered when it opens
        self.reader: Any = None  # the socket the loop watches for reading
        self.paused = False  # its reader is off while a batch's window is open
        self._misc: asyncio.Task[None] | None = None
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drive the socket from `loop`, which runs on the calling thread."""
        self.loop = loop
        self.loop_thread = threading.get_ident()

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn` on the loop: paho calls back on the loop, or from the connect thread."""
        assert self.loop is not None
        if threading.get_ident() == self.loop_thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)

    def drop(self) -> None:
        """Forget the current socket: no reader, no writer, no housekeeping, closed."""
        self.reader, self.paused = None, False
        sock = self.client.socket()
        if sock is not None and self.loop is not None:
            self.loop.remove_reader(sock)
            self.loop.remove_writer(sock)
        if self._misc:
            self._misc.cancel()
            self._misc = None
        with contextlib.suppress(Exception):
            self.client._sock_close()  # paho has no public "forget this socket"

    def _on_socket_open(self, client: paho.Client, _u: Any, sock: Any) -> None:
        # Nagle holds a small packet (a PUBACK, a command) until the last one is acked: ~40 ms
        # with delayed ACKs. A TLS or WebSocket wrapper may not take the option: then it waits.
        with contextlib.suppress(OSError, AttributeError, ValueError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def opened() -> None:
            assert self.loop is not None
            self.poll = select.poll()
            self.poll.register(sock, select.POLLIN)
            self.reader, self.paused = sock, False
            self.loop.add_reader(sock, self.read)
            self._misc = self.loop.create_task(self._misc_loop())

        self.call(opened)

    def read(self) -> None:
        self.read_waiting()
        if self.reader is not None and self.loop is not None and self.hold():
            # A batch is gathering: leave the socket alone until its window closes, then read what
            # came meanwhile in one go. At a steady rate that is one wake-up per window, not one
            # per message; nothing waits longer than it would have anyway.
            self.loop.remove_reader(self.reader)
            self.paused = True

    def resume(self) -> None:
        if self.paused and self.reader is not None and self.loop is not None:
            self.paused = False
            self.loop.add_reader(self.reader, self.read)

    def read_waiting(self) -> None:
        # Read every packet already waiting, so that a burst becomes one batch (one commit, one
        # loop iteration) rather than one per message. paho's loop_read reads a single incoming
        # packet whatever max_packets says.
        client = self.client
        sock = client.socket()
        pending = getattr(sock, "pending", None)  # TLS: decrypted bytes poll cannot see
        poll = self.poll.poll  # registered once per socket: cheaper than a select() per packet
        for _ in range(self.max_packets):
            rc = client.loop_read()
            if rc != paho.MQTT_ERR_SUCCESS:
                self.on_read_error(f"read failed: {paho.error_string(rc)}")
                return
            if client.socket() is not sock:
                return  # closed (or replaced) by what was read
            if not client.buffered() and not (pending and pending()) and not poll(0):
                return
        if client.buffered() and self.loop is not None:
            # Stopped at the limit with bytes already read ahead: the socket may have nothing more
            # to wake the reader, so come back for them.
            self.loop.call_soon(self.read)

    def _on_socket_close(self, client: paho.Client, _u: Any, sock: Any) -> None:
        def closed() -> None:
            assert self.loop is not None
            if self.reader is sock:
                self.reader, self.paused = None, False
            self.loop.remove_reader(sock)
            self.loop.remove_writer(sock)

        self.call(closed)

    def _on_register_write(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self.call(lambda: self.loop and self.loop.add_writer(sock, self.client.loop_write))

    def _on_unregister_write(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self.call(lambda: self.loop and self.loop.remove_writer(sock))

    async def _misc_loop(self) -> None:
        while self.client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            await asyncio.sleep(1)
