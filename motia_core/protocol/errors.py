"""JSON-RPC errors as a class hierarchy: one class per code, and they round-trip.

``to_error()`` turns an exception into the wire object, ``RpcError.from_error()`` turns a received
object back into the matching class (the base class for codes we do not know), and
``RpcError.internal(exc)`` wraps one of our own bugs with its traceback in ``data``.
"""

from __future__ import annotations

import traceback
from typing import Any, ClassVar

from motia_core.protocol import ErrorObject

__all__ = (
    "HandlerError",
    "InternalError",
    "InvalidConfig",
    "InvalidParams",
    "InvalidRequest",
    "InvocationNotFound",
    "MessageTooLarge",
    "MethodNotFound",
    "ParseError",
    "RequestCancelled",
    "RpcError",
    "RunnerCrashed",
    "RunnerNotReady",
    "ShuttingDown",
    "StepNotFound",
    "TimedOut",
    "UnsupportedProtocolVersion",
)


class RpcError(Exception):
    """A JSON-RPC error; subclasses fix the code and the default message."""

    CODE: ClassVar[int] = -32000
    MESSAGE: ClassVar[str] = "Server error"
    _by_code: ClassVar[dict[int, type[RpcError]]] = {}

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        self.message = message or self.MESSAGE
        self.data = data
        super().__init__(self.message)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RpcError._by_code[cls.CODE] = cls

    @property
    def code(self) -> int:
        return self.CODE

    def to_error(self) -> ErrorObject:
        return ErrorObject(code=self.code, message=self.message, data=self.data)

    @classmethod
    def from_error(cls, error: ErrorObject) -> RpcError:
        klass = RpcError._by_code.get(error.code)
        if klass is None:
            exc = RpcError(error.message, error.data)
            exc.CODE = error.code  # type: ignore[misc]  # keep the peer's code on the instance
            return exc
        return klass(error.message, error.data)

    @classmethod
    def internal(cls, exc: BaseException) -> InternalError:
        return InternalError(
            f"{type(exc).__name__}: {exc}",
            {"stack": "".join(traceback.format_exception(exc))},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


# --- JSON-RPC 2.0 standard codes ---------------------------------------------------------------


class ParseError(RpcError):
    """The message is not valid JSON."""

    CODE = -32700
    MESSAGE = "Parse error"


class InvalidRequest(RpcError):
    """The JSON is not a valid JSON-RPC 2.0 request, response or notification."""

    CODE = -32600
    MESSAGE = "Invalid request"


class MethodNotFound(RpcError):
    """No such method on this peer."""

    CODE = -32601
    MESSAGE = "Method not found"


class InvalidParams(RpcError):
    """The params do not match the method's schema."""

    CODE = -32602
    MESSAGE = "Invalid params"


class InternalError(RpcError):
    """A bug in the peer that answered; `data.stack` has its traceback."""

    CODE = -32603
    MESSAGE = "Internal error"


class RequestCancelled(RpcError):
    """The request was cancelled with `$/cancelRequest` (the code LSP uses)."""

    CODE = -32800
    MESSAGE = "Request cancelled"


# --- ours, in the implementation-defined server range -32000..-32099 ---------------------------


class HandlerError(RpcError):
    """The step's handler raised; `data` is {name, message, stack}."""

    CODE = -32001
    MESSAGE = "Step handler failed"


class StepNotFound(RpcError):
    """The runner has no loaded step for that file."""

    CODE = -32002
    MESSAGE = "Step not found"


class InvalidConfig(RpcError):
    """A step or stream file could not be loaded or its config is invalid."""

    CODE = -32003
    MESSAGE = "Invalid step config"


class TimedOut(RpcError):
    """The invocation ran past its deadline and was cancelled."""

    CODE = -32004
    MESSAGE = "Step execution timed out"


class RunnerCrashed(RpcError):
    """The runner process died (or broke the protocol) while the request was pending."""

    CODE = -32005
    MESSAGE = "Runner crashed"


class UnsupportedProtocolVersion(RpcError):
    """The two sides do not speak a common protocol version."""

    CODE = -32006
    MESSAGE = "Unsupported protocol version"


class MessageTooLarge(RpcError):
    """A message exceeds the agreed maximum size."""

    CODE = -32007
    MESSAGE = "Message too large"


class RunnerNotReady(RpcError):
    """No runner process is ready to take the request (starting, backing off, or given up)."""

    CODE = -32008
    MESSAGE = "Runner not ready"


class InvocationNotFound(RpcError):
    """A callback names an invocation that is not running (it ended, or never existed)."""

    CODE = -32009
    MESSAGE = "Invocation not found"


class ShuttingDown(RpcError):
    """The peer is shutting down and takes no new work."""

    CODE = -32010
    MESSAGE = "Shutting down"
