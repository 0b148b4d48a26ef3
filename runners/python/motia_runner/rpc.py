"""JSON-RPC 2.0 over the channel: decode lines, route them, match responses, frame replies.

The endpoint knows nothing about steps. Requests and notifications from the core go to the two
callbacks the server installs; responses resolve the futures of the runner's own requests
(``state.*``, ``emit``, ``streams.*``). Every outgoing message is checked against
``maxMessageBytes`` before it is written, so an oversized result becomes an error instead of a
line the core would treat as a protocol violation.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

from motia_runner import _json
from motia_runner._oversize import Oversized
from motia_runner.channel import LineReader, Writer
from motia_runner.errors import InvalidRequest, MessageTooLarge, ParseError, RpcError

__all__ = ("Endpoint", "RequestHandler", "NotificationHandler")

RequestHandler = Callable[[Any, str, Any], None]
NotificationHandler = Callable[[str, Any], None]

_MAX_ERROR_TEXT = 4096


class Endpoint:
    """One JSON-RPC connection on a pair of file descriptors, driven by the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, in_fd: int, out_fd: int,
                 on_request: RequestHandler, on_notification: NotificationHandler,
                 on_closed: Callable[[int], None]) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.max_bytes = 16 * 1024 * 1024
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_closed = on_closed
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 0
        self.writer = Writer(loop, out_fd, on_broken=lambda: on_closed(1))
        self.reader = LineReader(loop, in_fd, self._on_line, self._on_oversized,
                                 on_eof=lambda: on_closed(0))

    def start(self) -> None:
        self.reader.start()

    def set_max_bytes(self, limit: int) -> None:
        """Apply the limit the core announced in ``initialize`` to both directions."""
        self.max_bytes = limit
        self.reader.max_bytes = limit

    # --- incoming -------------------------------------------------------------------------

    def _on_line(self, line: bytes) -> None:
        try:
            msg = _json.loads(line)
        except _json.DecodeError as exc:
            self.send_error(None, ParseError(f"not a JSON line: {exc}"))
            return
        if type(msg) is not dict or msg.get("jsonrpc") != "2.0":
            self.send_error(msg.get("id") if type(msg) is dict else None,
                            InvalidRequest("expected a JSON-RPC 2.0 object with "
                                           '"jsonrpc": "2.0"'))
            return
        method = msg.get("method")
        if method is None:
            self._on_response(msg)
        elif type(method) is not str:
            self.send_error(msg.get("id"), InvalidRequest('"method" must be a string'))
        elif "id" in msg:
            self._on_request(msg["id"], method, msg.get("params"))
        else:
            self._on_notification(method, msg.get("params"))

    def _on_response(self, msg: dict[str, Any]) -> None:
        msg_id = msg.get("id")
        future = self._pending.pop(msg_id, None) if type(msg_id) is int else None
        if future is None or future.done():
            return  # an answer to a call whose caller was cancelled
        error = msg.get("error")
        if error is not None:
            future.set_exception(RpcError.from_error(error))
        else:
            future.set_result(msg.get("result"))

    def _on_oversized(self, big: Oversized) -> None:
        fields = big.fields()
        msg_id = fields.get("id")
        error = MessageTooLarge(
            f"received a message of {big.size} bytes, over maxMessageBytes={self.max_bytes}"
        )
        future = None
        if type(msg_id) is int and "method" not in fields:
            future = self._pending.pop(msg_id, None)
        if future is not None:
            if not future.done():
                future.set_exception(error)
        elif msg_id is not None:
            self.send_error(msg_id, error)
        else:
            print(f"motia-runner: {error.message} and its id cannot be found; exiting",
                  file=sys.stderr)
            self._on_closed(1)

    # --- outgoing -------------------------------------------------------------------------

    def _frame(self, message: dict[str, Any]) -> bytes:
        data = _json.dumps(message)
        if len(data) > self.max_bytes:
            raise MessageTooLarge(
                f"{message.get('method') or 'response'} would be {len(data)} bytes, over "
                f"maxMessageBytes={self.max_bytes}"
            )
        return data + b"\n"

    async def request(self, method: str, params: dict[str, Any]) -> Any:
        """Send a request to the core and wait for its result; an error response raises."""
        self._next_id += 1
        msg_id = self._next_id
        data = self._frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        future = self.loop.create_future()
        self._pending[msg_id] = future
        self.writer.write(data)
        try:
            return await future
        finally:
            self._pending.pop(msg_id, None)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification; safe to call from any thread."""
        data = self._frame({"jsonrpc": "2.0", "method": method, "params": params})
        if threading.get_ident() == self.loop_thread:
            self.writer.write(data)
        else:
            self.loop.call_soon_threadsafe(self.writer.write, data)

    def respond(self, msg_id: Any, result: Any) -> None:
        """Answer a request. Encoding errors propagate; an oversized result is answered with
        ``MessageTooLarge`` instead."""
        try:
            data = self._frame({"jsonrpc": "2.0", "id": msg_id, "result": result})
        except MessageTooLarge as exc:
            self.send_error(msg_id, exc)
            return
        self.writer.write(data)

    def send_error(self, msg_id: Any, error: RpcError) -> None:
        """Answer a request with an error, shedding ``data`` (then text) to fit the limit."""
        body = error.to_error()
        try:
            data = self._frame({"jsonrpc": "2.0", "id": msg_id, "error": body})
        except (TypeError, ValueError, MessageTooLarge):
            body.pop("data", None)
            body["message"] = body["message"][:_MAX_ERROR_TEXT]
            data = self._frame({"jsonrpc": "2.0", "id": msg_id, "error": body})
        self.writer.write(data)
