"""A JSON-RPC 2.0 endpoint over a pair of anyio byte streams, one JSON object per line.

Both sides may have many requests in flight in both directions. Incoming requests each run on a
worker task of the endpoint's task group (one per request being served at once, kept for the
next ones); outgoing ones wait on a per-request slot that the reader fills, or a deadline
empties (one timer per endpoint, not a cancel scope per request).
When the peer goes away, the owner calls :meth:`Endpoint.close` with an error that names what
happened (pid, exit code), and every pending request fails with it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import anyio
import anyio.abc
import msgspec
from msgspec import UNSET, UnsetType

from motia_core.idle import IdleWorkers
from motia_core.protocol import DEFAULT_MAX_MESSAGE_BYTES, CancelParams, ErrorObject, Method
from motia_core.protocol.errors import (
    InvalidParams,
    InvalidRequest,
    MessageTooLarge,
    MethodNotFound,
    ParseError,
    RequestCancelled,
    RpcError,
    RunnerCrashed,
)
from motia_core.protocol.framing import FrameTooLarge, LineBuffer

__all__ = ("DEFAULT_MAX_IN_FLIGHT", "DeadlineExceeded", "Endpoint", "Handler", "ProtocolViolation")

log = logging.getLogger(__name__)

# Called for every incoming request and notification with the method name and typed params.
Handler = Callable[[str, Any], Awaitable[Any]]

_CANCEL = "$/cancelRequest"
_NO_RAW = msgspec.Raw(b"")
# How long a cancellation may wait to be written after its caller gave up. A peer that does not
# take it by then does not read its input at all (a busy loop): that is reported (``on_stalled``)
# instead of holding the caller, and the shutdown ladder behind it, for as long as it stays so.
_CANCEL_WRITE_S = 0.5
# Requests from the peer served at once (each is a task). Past it a request is answered at once
# with an error (-32000, "too many requests in flight") instead of becoming a task, and reading a
# notification waits for a free place: a flooding peer is held back, never let to grow memory.
DEFAULT_MAX_IN_FLIGHT = 1024
# Workers kept idle for the peer's next messages; a worker finding no work past this many ends.
_MAX_IDLE_WORKERS = 32
# An error message quoting the peer (its method name, its invocation id) is cut to this many
# characters when the whole answer would not fit in one message.
_SHORT_MESSAGE_CHARS = 1000


class ProtocolViolation(Exception):
    """The peer wrote something that is not the protocol (a stray line, an oversized frame)."""


class DeadlineExceeded(Exception):
    """A request's ``timeout_s`` passed before its answer came; the peer was asked to cancel it."""


class _Envelope(msgspec.Struct):
    jsonrpc: str = ""
    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    # An empty Raw means "absent": a present JSON null decodes as Raw(b"null").
    params: msgspec.Raw = _NO_RAW
    result: msgspec.Raw = _NO_RAW
    error: ErrorObject | UnsetType = UNSET


class _Loose(msgspec.Struct):
    """What can still be read of JSON that is not valid JSON-RPC: its id, and if it is a request."""

    id: Any = None
    method: Any = UNSET


# No omit_defaults here: it would drop `"jsonrpc": "2.0"` too, which strict peers require.
# UNSET params are left out (JSON-RPC allows no params, but not a null one).
class _Request(msgspec.Struct):
    id: int | str
    method: str
    params: Any = UNSET
    jsonrpc: str = "2.0"


class _Notification(msgspec.Struct):
    method: str
    params: Any = UNSET
    jsonrpc: str = "2.0"


class _Result(msgspec.Struct):
    id: int | str | None
    result: Any
    jsonrpc: str = "2.0"


class _Error(msgspec.Struct):
    id: int | str | None
    error: ErrorObject
    jsonrpc: str = "2.0"


class _Pending:
    # An asyncio future, not an event (anyio's costs ten times as much to make, asyncio's makes
    # a future on each wait): the endpoint runs on asyncio only (as runners/pipes does).
    __slots__ = ("answered", "deadline", "error", "expired", "result", "writer")

    def __init__(self) -> None:
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.result: msgspec.Raw = _NO_RAW
        self.error: RpcError | None = None
        self.deadline = math.inf  # loop time
        self.expired = False
        # The task writing the request, while a request with a deadline is being written: a
        # write can wait (a peer that does not read), and the deadline must end that too.
        self.writer: asyncio.Task[Any] | None = None

    def wake(self) -> None:
        if not self.answered.done():  # a cancelled waiter cancels it
            self.answered.set_result(None)


class _Workers:
    """The tasks that serve the peer's requests and notifications. A job (a coroutine function
    and its arguments) goes to an idle worker, or to a new one when none is idle: one wake-up
    per message where a task per message cost several times as much. Each job is one message's
    whole service (it answers, counts and logs itself), so a worker only runs them in turn."""

    __slots__ = ("idle", "jobs")

    def __init__(self) -> None:
        self.jobs: deque[tuple[Callable[..., Coroutine[Any, Any, None]], tuple[Any, ...]]] = (
            deque())
        self.idle = IdleWorkers()

    def submit(self, tg: anyio.abc.TaskGroup, func: Callable[..., Coroutine[Any, Any, None]],
               args: tuple[Any, ...]) -> None:
        self.jobs.append((func, args))
        if not self.idle.wake_one():
            tg.start_soon(self._work)

    async def _work(self) -> None:
        while True:
            while self.jobs:
                func, args = self.jobs.popleft()
                await func(*args)
            if len(self.idle) >= _MAX_IDLE_WORKERS:
                return
            await self.idle.park()


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fresh(error: RpcError) -> RpcError:
    # One exception instance raised in many tasks would share (and garble) its traceback.
    return RpcError.from_error(error.to_error())


def _absent_if_none(params: Any) -> Any:
    return UNSET if params is None else params


def _uncancel(task: asyncio.Task[Any] | None) -> None:
    """Undo the count of a cancellation this module made itself (``uncancel``: Python >= 3.11)."""
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_loose = msgspec.json.Decoder(_Loose).decode
_encode = msgspec.json.Encoder().encode


class Endpoint:
    """One side of a JSON-RPC connection.

    ``methods`` are the methods this side serves (requests and notifications it accepts);
    ``handler`` runs them. ``$/cancelRequest`` is handled here. ``on_stalled`` is called when
    the peer did not take a cancellation within ``_CANCEL_WRITE_S``: it has stopped reading.
    ``whole_frames``: ``send`` takes each frame whole before it first yields (as
    ``runners.pipes.PipeSendStream`` does), so frames sent at once cannot interleave and need no
    lock between them.
    """

    def __init__(
        self,
        receive: anyio.abc.ByteReceiveStream,
        send: anyio.abc.ByteSendStream,
        *,
        name: str,
        methods: Mapping[str, Method],
        handler: Handler,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        on_stalled: Callable[[], None] | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        whole_frames: bool = False,
    ) -> None:
        self.name = name
        self.max_in_flight = max_in_flight
        self.refused_busy = 0  # requests answered "too many in flight"
        self._serving_requests = 0
        self._serving_notifications = 0
        self._place_freed: anyio.Event | None = None
        self.max_message_bytes = max_message_bytes
        self._receive = receive
        self._send_stream = send
        self._methods = methods
        self._handler = handler
        self._on_stalled = on_stalled
        self._ids = itertools.count(1)
        self._pending: dict[int | str, _Pending] = {}
        self._incoming: dict[int | str, anyio.CancelScope] = {}
        self._write_lock = None if whole_frames else anyio.Lock(fast_acquire=True)
        self._closed: RpcError | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._workers = _Workers()
        self._decoders: dict[type, Callable[[bytes], Any]] = {}
        # The timer of the earliest deadline of a pending request, and that deadline.
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._next_deadline = math.inf

    # --- outgoing ------------------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def request(self, method: str, params: Any = None, result_type: Any = Any, *,
                      timeout_s: float | None = None) -> Any:
        """Send a request and wait for its result; a cancelled caller cancels it at the peer.

        ``timeout_s``: past it (its write included) the request is cancelled at the peer too,
        and :class:`DeadlineExceeded` raised. Cheaper than a cancel scope around the call: one
        timer for the endpoint's earliest deadline, not one per request.
        """
        if self._closed is not None:
            raise _fresh(self._closed)
        request_id = next(self._ids)
        slot = _Pending()
        self._pending[request_id] = slot
        try:
            message = _Request(request_id, method, _absent_if_none(params))
            if timeout_s is None:
                await self._write(_encode(message), request=True)
            else:
                self._expire_at(slot, timeout_s)
                await self._write_before_deadline(slot, _encode(message))
            await slot.answered
        except BaseException:
            if self._pending.pop(request_id, None) is not None and self._closed is None:
                await self._cancel_at_peer(request_id)
            raise
        if slot.expired:
            if self._closed is None:
                await self._cancel_at_peer(request_id)
            raise DeadlineExceeded(f"{self.name}: no answer to {method} request {request_id} "
                                   f"within {timeout_s:g}s")
        if slot.error is not None:
            raise slot.error
        return self._decode(slot.result, result_type)

    async def _write_before_deadline(self, slot: _Pending, data: bytes) -> None:
        slot.writer = asyncio.current_task()
        try:
            await self._write(data, request=True)
        except asyncio.CancelledError:
            if not slot.expired:
                raise
            _uncancel(slot.writer)  # the deadline's own cancellation of a waiting write
        finally:
            slot.writer = None

    def _expire_at(self, slot: _Pending, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        slot.deadline = deadline = loop.time() + timeout_s
        if deadline < self._next_deadline:  # the usual case (one timeout for all) skips this
            if self._deadline_timer is not None:
                self._deadline_timer.cancel()
            self._next_deadline = deadline
            self._deadline_timer = loop.call_at(deadline, self._expire_due)

    def _expire_due(self) -> None:
        """The timer: end the requests whose deadline has passed; set it for the next one."""
        self._deadline_timer, self._next_deadline = None, math.inf
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = [(i, slot) for i, slot in self._pending.items() if slot.deadline <= now]
        for request_id, slot in due:
            del self._pending[request_id]  # a late answer is one to a request given up on
            slot.expired = True
            slot.wake()
            if slot.writer is not None:
                slot.writer.cancel()
        later = min((slot.deadline for slot in self._pending.values()), default=math.inf)
        if later < math.inf:
            self._next_deadline = later
            self._deadline_timer = loop.call_at(later, self._expire_due)

    async def notify(self, method: str, params: Any = None) -> None:
        if self._closed is not None:
            raise _fresh(self._closed)
        await self._write(_encode(_Notification(method, _absent_if_none(params))), request=True)

    async def _cancel_at_peer(self, request_id: int | str) -> None:
        # Shielded, since the caller is usually being cancelled, but bounded: a write to a peer
        # that does not read waits for as long as it does not.
        with anyio.move_on_after(_CANCEL_WRITE_S, shield=True) as scope:
            try:
                await self.notify(_CANCEL, CancelParams(id=request_id))
            except (RpcError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass
        if scope.cancelled_caught:
            log.warning("%s did not take the cancellation of request %r within %gs: it does not "
                        "read its input", self.name, request_id, _CANCEL_WRITE_S)
            if self._on_stalled is not None:
                self._on_stalled()

    async def _write(self, data: bytes, *, request: bool) -> None:
        if len(data) > self.max_message_bytes:
            raise MessageTooLarge(
                f"{self.name}: a message of {len(data)} bytes exceeds the limit of "
                f"{self.max_message_bytes} bytes"
            )
        try:
            if self._write_lock is None:
                await self._send_stream.send(data + b"\n")
            else:
                async with self._write_lock:
                    await self._send_stream.send(data + b"\n")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            if request:
                if self._closed is not None:
                    raise _fresh(self._closed) from exc
                raise RunnerCrashed(f"{self.name}: connection closed") from exc

    # --- lifecycle -----------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                    ) -> None:
        """Read and dispatch until end of stream. Raises ProtocolViolation on a broken peer."""
        frames = LineBuffer(self.max_message_bytes)
        violation: ProtocolViolation | None = None
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            try:
                violation = await self._read_loop(frames)
            finally:
                # The peer is gone: nobody will answer the requests we are still serving for it.
                tg.cancel_scope.cancel()
        # Raised outside the task group so callers see the violation itself, not a group.
        if violation is not None:
            raise violation

    async def _read_loop(self, frames: LineBuffer) -> ProtocolViolation | None:
        while True:
            try:
                chunk = await self._receive.receive(65536)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
                return None
            try:
                for line in frames.feed(chunk):
                    # Blank lines (a stray "\r" of a CRLF writer, say) carry no message.
                    if line and not line.isspace():
                        held = self._dispatch(line)
                        if held is not None:
                            await held
            except FrameTooLarge as exc:
                violation = ProtocolViolation(f"{self.name} sent an oversized line: {exc}")
                violation.__cause__ = exc
                return violation
            except ProtocolViolation as exc:
                return exc

    def close(self, error: RpcError) -> None:
        """Fail every pending request with ``error``; later requests fail with it too."""
        if self._closed is None:
            self._closed = error
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer, self._next_deadline = None, math.inf
        pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.error = _fresh(error)
            slot.wake()

    @property
    def closed(self) -> RpcError | None:
        return self._closed

    # --- incoming ------------------------------------------------------------------------------

    def _dispatch(self, line: bytes) -> Coroutine[Any, Any, None] | None:
        """Handle one line; what it returns (a refusal to write, a wait for a free place) the
        read loop awaits before reading on."""
        try:
            env = _decode_envelope(line)
        except msgspec.ValidationError as exc:
            self._refuse(line, f"{exc}")
            return None
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise self._violation(line, exc) from exc
        if env.jsonrpc != "2.0":
            self._refuse(line, f'"jsonrpc" must be "2.0", got {env.jsonrpc!r}')
            return None
        if env.method is not UNSET:
            return self._incoming_call(env.id, env.method, env.params)
        if env.id is not UNSET and env.id is not None:
            self._resolve(env)
        elif env.error is not UNSET:
            log.warning("%s reported an error with no request id: %s", self.name, env.error.message)
        else:
            self._spawn(self._reply_error, None, InvalidRequest("neither a request nor a response"))
        return None

    def _incoming_call(self, request_id: int | str | UnsetType | None, method: str,
                       raw: msgspec.Raw) -> Coroutine[Any, Any, None] | None:
        """A request (``request_id`` set) or a notification: a task, within the caps."""
        if request_id is UNSET:
            if method == _CANCEL:  # at once: never behind a backlog of notifications
                self._cancel_incoming(raw)
                return None
            if self._serving_notifications >= self.max_in_flight:
                return self._when_free(method, raw)
            self._serving_notifications += 1  # counted when spawned: a chunk has many
            self._spawn(self._run_notification, method, raw)
            return None
        if self._serving_requests >= self.max_in_flight:
            self.refused_busy += 1
            if self.refused_busy == 1 or self.refused_busy % 1000 == 0:
                log.warning("%s has %d requests in flight, the most served at once; refused %d "
                            "so far", self.name, self._serving_requests, self.refused_busy)
            return self._reply_error(request_id, RpcError(
                f"{self.name}: too many requests in flight ({self.max_in_flight} at once); "
                f"{method} was not run: try again when some have been answered"))
        self._serving_requests += 1
        if request_id is not None:
            # Known from now on: a cancellation in the same chunk finds it.
            self._incoming[request_id] = anyio.CancelScope()
        self._spawn(self._run_request, request_id, method, raw)
        return None

    def _violation(self, line: bytes, exc: Exception) -> ProtocolViolation:
        # Classified by the line itself, not by the exception class: decoders differ in what
        # they raise for bad UTF-8 (msgspec >= 0.20 raises DecodeError, older ones did not).
        what = ("a message nested too deeply to decode" if isinstance(exc, RecursionError)
                else "a line that is not UTF-8 JSON" if not _is_utf8(line)
                else "a line that is not JSON-RPC")
        shown = line[:200].decode("utf-8", "replace")
        return ProtocolViolation(f"{self.name} wrote {what}: {shown!r}")

    def _refuse(self, line: bytes, reason: str) -> None:
        """JSON that is not valid JSON-RPC 2.0: answer it with InvalidRequest, to its id when it
        has a usable one (else null); an invalid response fails the request it answers."""
        try:
            loose = _decode_loose(line)
        except msgspec.ValidationError:  # not even an object
            loose = _Loose()
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise self._violation(line, exc) from exc
        message_id = loose.id if isinstance(loose.id, (int, str)) \
            and not isinstance(loose.id, bool) else None
        if loose.method is not UNSET or message_id is None:
            self._spawn(self._reply_error, message_id, InvalidRequest(f"{self.name}: {reason}"))
            return
        slot = self._pending.pop(message_id, None)
        if slot is None:
            log.warning("%s sent an invalid response to %r: %s", self.name, message_id, reason)
            return
        slot.error = InvalidRequest(
            f"{self.name} answered request {message_id} with an invalid response: {reason}")
        slot.wake()

    def _resolve(self, env: _Envelope) -> None:
        slot = self._pending.pop(env.id, None)  # type: ignore[arg-type]
        if slot is None:
            return  # an answer to a request we gave up on (cancelled or timed out)
        if env.error is not UNSET:
            slot.error = RpcError.from_error(env.error)
        elif env.result is _NO_RAW or not env.result:
            slot.error = InvalidRequest(f"{self.name} answered request {env.id} with no result")
        else:
            slot.result = env.result
        slot.wake()

    async def _when_free(self, method: str, raw: msgspec.Raw) -> None:
        while self._serving_notifications >= self.max_in_flight:
            if self._place_freed is None:
                self._place_freed = anyio.Event()
            await self._place_freed.wait()
        self._serving_notifications += 1
        self._spawn(self._run_notification, method, raw)

    def _freed(self) -> None:
        if self._place_freed is not None:
            self._place_freed.set()
            self._place_freed = None

    def _spawn(self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        assert self._tg is not None  # only called from serve()
        self._workers.submit(self._tg, func, args)

    def _decode(self, raw: msgspec.Raw, typ: Any) -> Any:
        decode = self._decoders.get(typ)
        if decode is None:
            decode = self._decoders[typ] = msgspec.json.Decoder(typ).decode
        return decode(raw)

    def _params(self, method: str, raw: msgspec.Raw) -> Any:
        spec = self._methods.get(method)
        if spec is None:
            raise MethodNotFound(f"{self.name}: no method {method!r}")
        if spec.params is None:
            return None
        if not raw:
            raise InvalidParams(f"{method}: params are required")
        try:
            return self._decode(raw, spec.params)
        except msgspec.ValidationError as exc:
            raise InvalidParams(f"{method}: {exc}") from exc
        except RecursionError as exc:
            raise InvalidParams(f"{method}: the params are nested too deeply") from exc
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            # The envelope decoded, so the request can be answered; its params are not JSON.
            raise ParseError(f"{method}: the params are not valid UTF-8 JSON: {exc}") from exc

    async def _run_notification(self, method: str, raw: msgspec.Raw) -> None:
        try:
            await self._serve_notification(method, raw)
        finally:
            self._serving_notifications -= 1
            self._freed()

    def _cancel_incoming(self, raw: msgspec.Raw) -> None:
        try:
            params = self._decode(raw, CancelParams)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError,
                RecursionError) as exc:
            log.warning("%s: notification %s failed: %s", self.name, _CANCEL, exc)
            return
        scope = self._incoming.get(params.id)
        if scope is not None:
            scope.cancel()

    async def _serve_notification(self, method: str, raw: msgspec.Raw) -> None:
        try:
            await self._handler(method, self._params(method, raw))
        except Exception as exc:  # a notification has nobody to answer: log it
            log.warning("%s: notification %s failed: %s", self.name, method, exc)

    async def _run_request(self, request_id: int | str | None, method: str,
                           raw: msgspec.Raw) -> None:
        try:
            await self._serve_request(request_id, method, raw)
        finally:
            self._serving_requests -= 1
            if request_id is not None:
                self._incoming.pop(request_id, None)

    async def _serve_request(self, request_id: int | str | None, method: str,
                             raw: msgspec.Raw) -> None:
        try:
            params = self._params(method, raw)
            if request_id is None:
                result = await self._handler(method, params)
            else:
                scope = self._incoming.get(request_id) or anyio.CancelScope()
                with scope:
                    result = await self._handler(method, params)
                if scope.cancelled_caught:
                    raise RequestCancelled(f"{method} request {request_id} was cancelled")
        except RpcError as exc:
            await self._reply_error(request_id, exc)
            return
        except Exception as exc:
            log.exception("%s: %s failed", self.name, method)
            await self._reply_error(request_id, RpcError.internal(exc))
            return
        try:
            data = _encode(_Result(request_id, result))
        except (TypeError, msgspec.EncodeError, RecursionError) as exc:
            await self._reply_error(request_id, RpcError.internal(exc))
            return
        try:
            await self._write(data, request=False)
        except MessageTooLarge as exc:
            await self._reply_error(request_id, exc)

    async def _reply_error(self, request_id: int | str | None, exc: RpcError) -> None:
        error = exc.to_error()
        data = _encode(_Error(request_id, error))
        if len(data) > self.max_message_bytes:
            # The message quotes the peer (a method name, an invocation id of megabytes): cut it.
            message = error.message
            if len(message) > _SHORT_MESSAGE_CHARS:
                message = f"{message[:_SHORT_MESSAGE_CHARS]}... ({len(message)} characters)"
            data = _encode(_Error(request_id, ErrorObject(code=error.code, message=message)))
        try:
            await self._write(data, request=False)
        except MessageTooLarge:
            # Only an id of nearly the whole limit gets here; the peer cannot be told, so we say it.
            log.warning("%s: cannot answer request %.80r within %d bytes: %s", self.name,
                        request_id, self.max_message_bytes, error.message[:_SHORT_MESSAGE_CHARS])
