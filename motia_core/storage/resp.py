"""A lean Redis connection for the stores' hot path: pipelined calls over one socket.

redis-py's asyncio client costs about 60 us of CPU per command on this machine's loopback
(a pool checkout, its argument encoder, a stream read per reply element), where the round trip
itself costs about 10: at a few commands per event that was a large part of the core's CPU on
Redis. This connection packs the arguments itself, writes each call as soon as it is made and
parses replies from one buffer as they arrive; calls from many tasks share the socket, their
replies matched in order (RESP answers in order). A blocking command (the queue's ``BLMOVE``)
goes on a connection of its own: it would hold up every call sent behind it.

Failures are redis-py's exception classes, so ``storage.redis.mapped_errors`` names the
server as it does for the clients. A connection that failed (or whose reply did not come
within ``SOCKET_TIMEOUT_S``) is dropped, with every call waiting on it failed; the next call
opens a new one.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import redis.exceptions
from redis.asyncio.connection import parse_url

__all__ = ("CONNECT_TIMEOUT_S", "SOCKET_TIMEOUT_S", "RespConnection", "pack", "parse")

CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 30.0


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


def pack(args: tuple[Any, ...]) -> bytes:
    """One command in RESP: an array of bulk strings (str as UTF-8, numbers as text)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


def parse(buffer: bytearray, at: int) -> tuple[Any, int]:
    """The reply starting at ``at`` and where it ends; raises _Incomplete. Bulk strings are
    bytes, errors are ``ResponseError`` values (raised by the caller at the top level only,
    so one failed operation of a batch's array does not hide the others)."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[at], buffer[at + 1:end]
    if kind == 36:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            raise _Incomplete
        return bytes(buffer[end + 2:stop]), stop + 2
    if kind == 58:  # : integer
        return int(line), end + 2
    if kind == 42:  # * array
        count = int(line)
        if count < 0:
            return None, end + 2
        items, at = [], end + 2
        for _ in range(count):
            item, at = parse(buffer, at)
            items.append(item)
        return items, at
    if kind == 43:  # + simple string
        return line.decode(), end + 2
    if kind == 45:  # - error; "ERR " dropped, as redis-py does ("WRONGTYPE ...", "NOSCRIPT ..."
        # keep their code)
        message = line.decode(errors="replace")
        return redis.exceptions.ResponseError(message.removeprefix("ERR ")), end + 2
    raise redis.exceptions.InvalidResponse(f"unexpected reply type {chr(kind)!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        at = 0
        try:
            while self.waiting:
                reply, at = parse(self.buffer, at)
                future = self.waiting.popleft()
                if not future.done():  # else its caller gave up (cancelled): dropped
                    future.set_result(reply)
        except _Incomplete:
            pass
        except Exception as exc:  # a reply we cannot read: nothing after it can be trusted
            self.fail(redis.exceptions.InvalidResponse(str(exc)))
            assert self.transport is not None
            self.transport.close()
        del self.buffer[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.exceptions.ConnectionError(
            f"connection closed{f' ({exc})' if exc else ''}"))

    def fail(self, error: BaseException) -> None:
        self.lost = error
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


class RespConnection:
    """One socket to the server at ``url`` (``redis://``, ``rediss://``, ``unix://``), opened
    on first use (AUTH and SELECT as the URL says) and again after a failure."""

    def __init__(self, url: str) -> None:
        self._options: dict[str, Any] = dict(parse_url(url))
        self._protocol: _Protocol | None = None
        self._opening: asyncio.Future[_Protocol] | None = None

    async def call(self, *args: Any, timeout_s: float = SOCKET_TIMEOUT_S) -> Any:
        """Send one command now and return its reply; an error reply raises ResponseError.
        ``timeout_s`` bounds the wait for the reply (a blocking command's own timeout plus a
        margin)."""
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        protocol.waiting.append(future)
        assert protocol.transport is not None
        protocol.transport.write(pack(args))
        timer = loop.call_later(timeout_s, self._timed_out, protocol, future, timeout_s)
        try:
            reply = await future
        finally:
            timer.cancel()
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        if self._protocol is not None:
            self._drop(self._protocol)

    def _timed_out(self, protocol: _Protocol, future: asyncio.Future[Any],
                   timeout_s: float) -> None:
        # The replies behind this one cannot be matched any more: the connection goes.
        protocol.fail(redis.exceptions.TimeoutError(f"no reply within {timeout_s:g}s"))
        self._drop(protocol)

    def _drop(self, protocol: _Protocol) -> None:
        if protocol.transport is not None:
            protocol.transport.close()
        if self._protocol is protocol:
            self._protocol = None

    async def _open(self) -> _Protocol:
        # One opening at a time: the calls that arrive meanwhile share it.
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        opening = self._opening
        try:
            self._protocol = await asyncio.shield(opening)
        finally:
            if self._opening is opening and opening.done():
                self._opening = None
        return self._protocol

    async def _connect(self) -> _Protocol:
        options, loop = self._options, asyncio.get_running_loop()
        try:
            if "path" in options:
                opening = loop.create_unix_connection(_Protocol, options["path"])
            else:
                opening = loop.create_connection(
                    _Protocol, options.get("host", "localhost"), options.get("port", 6379),
                    ssl=_tls(options))
            _, protocol = await asyncio.wait_for(opening, CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            raise redis.exceptions.ConnectionError(
                f"cannot connect: {exc or type(exc).__name__}") from exc
        setup = []
        if options.get("password") is not None:
            setup.append(("AUTH", *((options["username"],) if options.get("username") else ()),
                          options["password"]))
        if options.get("db"):
            setup.append(("SELECT", options["db"]))
        for command in setup:
            future: asyncio.Future[Any] = loop.create_future()
            protocol.waiting.append(future)
            assert protocol.transport is not None
            protocol.transport.write(pack(command))
            try:
                reply = await asyncio.wait_for(future, CONNECT_TIMEOUT_S)
            except BaseException:
                protocol.transport.close()
                raise
            if isinstance(reply, redis.exceptions.ResponseError):
                protocol.transport.close()
                raise redis.exceptions.AuthenticationError(str(reply)) \
                    if command[0] == "AUTH" else reply
        return protocol


def _tls(options: dict[str, Any]) -> ssl.SSLContext | None:
    """A TLS context for ``rediss://`` (verifying the server unless ``ssl_cert_reqs=none``)."""
    if options.get("connection_class") is None or "SSL" not in options["connection_class"].__name__:
        return None
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if str(options.get("ssl_cert_reqs", "required")).lower() in ("none", "cert_none"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
