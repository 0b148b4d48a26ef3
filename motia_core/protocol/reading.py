"""Reading a peer's lines and dispatching each in order, for the rpc endpoint.

Two ways, one outcome. A task reads the stream (any anyio byte stream); or a stream that can
push (``PushReceiveStream``: the core's runner pipes) hands each chunk over from the loop's
reader callback, one turn of the loop sooner than a task woken for it: an answer, a runner's
``emit`` or ``state.set`` each start that much sooner. Dispatching a line may hold the reading
(a refusal to write first, a wait for a free place): the lines after it, and what arrives
meanwhile, wait until it is done.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.abc

from motia_core.protocol.framing import FrameTooLarge, LineBuffer

__all__ = ("Dispatch", "ProtocolViolation", "PushReceiveStream", "read_lines")

_READ_BYTES = 65536

# Handles one line: returns what the reading must await before the next line, if anything;
# raises ProtocolViolation for a line that is not the protocol.
Dispatch = Callable[[bytes], Coroutine[Any, Any, None] | None]


class ProtocolViolation(Exception):
    """The peer wrote something that is not the protocol (a stray line, an oversized frame)."""


@runtime_checkable
class PushReceiveStream(Protocol):
    """A receive stream that can also hand each chunk to a callback as it arrives.

    ``push_to(consumer)``: from now on ``consumer(chunk)`` gets what arrives (first what was
    already read), on the loop, and ``consumer(b"")`` once the stream has ended (end of file, an
    error, closed); ``push_to(None)`` keeps what arrives for ``receive`` again. The consumer may
    call ``push_to(None)`` itself.
    """

    def push_to(self, consumer: Callable[[bytes], None] | None) -> None: ...


class _End:
    """The stream ended (push mode: the consumer was given ``b""``)."""


_ENDED = _End()
# Where dispatching stops: a held line (awaited before the next), a violation, the end.
_Outcome = Coroutine[Any, Any, None] | ProtocolViolation | _End | None


async def read_lines(stream: anyio.abc.ByteReceiveStream, *, name: str, limit: int,
                     dispatch: Dispatch) -> ProtocolViolation | None:
    """Dispatch every line of ``stream`` (at most ``limit`` bytes each) until it ends; returns
    the violation that ended it early, if one did. ``name`` names the peer in errors."""
    reader = _Reader(name, limit, dispatch)
    if isinstance(stream, PushReceiveStream):
        stop = await reader.pushed(stream)
    else:
        stop = await reader.pulled(stream)
    return stop if isinstance(stop, ProtocolViolation) else None


class _Reader:
    __slots__ = ("_dispatch", "_frames", "_lines", "_name")

    def __init__(self, name: str, limit: int, dispatch: Dispatch) -> None:
        self._name = name
        self._dispatch = dispatch
        self._frames = LineBuffer(limit)
        self._lines: deque[bytes] = deque()  # read, not yet dispatched (after a held one)

    async def pulled(self, stream: anyio.abc.ByteReceiveStream) -> ProtocolViolation | _End | None:
        while True:
            try:
                chunk = await stream.receive(_READ_BYTES)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return None
            stop = await self._settle(self._feed(chunk))
            if stop is not None:
                return stop

    async def pushed(self, stream: PushReceiveStream) -> ProtocolViolation | _End | None:
        """The stream's callback dispatches; this task only waits for the end, a violation, or
        a held line (which it awaits before the lines after it, and before pushing resumes)."""
        loop = asyncio.get_running_loop()
        while True:
            stopped: asyncio.Future[_Outcome] = loop.create_future()
            stream.push_to(partial(self._on_chunk, stream, stopped))
            try:
                outcome = await stopped
            finally:
                stream.push_to(None)
            stop = await self._settle(outcome)
            if stop is not None:
                return stop

    def _on_chunk(self, stream: PushReceiveStream, stopped: asyncio.Future[_Outcome],
                  chunk: bytes) -> None:
        """The stream's callback, outside any task."""
        try:
            outcome = self._feed(chunk) if chunk else _ENDED
        except BaseException as exc:  # a bug: ends the reading with it, not the loop's handler
            stream.push_to(None)
            if not stopped.done():
                stopped.set_exception(exc)
            return
        if outcome is not None:
            stream.push_to(None)  # what arrives meanwhile waits in the stream, in order
            if not stopped.done():
                stopped.set_result(outcome)

    async def _settle(self, outcome: _Outcome) -> ProtocolViolation | _End | None:
        """Await each held line, dispatching the lines after it, until none is held; returns
        what ends the reading (a violation, the end), if that came."""
        while outcome is not None:
            if isinstance(outcome, (ProtocolViolation, _End)):
                return outcome
            await outcome
            outcome = self._dispatch_lines()
        return None

    def _feed(self, chunk: bytes) -> _Outcome:
        try:
            self._lines.extend(self._frames.feed(chunk))
        except FrameTooLarge as exc:
            violation = ProtocolViolation(f"{self._name} sent an oversized line: {exc}")
            violation.__cause__ = exc
            return violation
        return self._dispatch_lines()

    def _dispatch_lines(self) -> _Outcome:
        lines = self._lines
        while lines:
            line = lines.popleft()
            # Blank lines (a stray "\r" of a CRLF writer, say) carry no message.
            if line and not line.isspace():
                try:
                    held = self._dispatch(line)
                except ProtocolViolation as exc:
                    return exc
                if held is not None:
                    return held
        return None
