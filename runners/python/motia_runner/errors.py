"""JSON-RPC errors of protocol v1, one class per code, mirroring ``motia_core.protocol.errors``.

The runner cannot import ``motia_core`` (it runs in the user's interpreter, which may not have it),
so the codes are repeated here; ``tests/integration/test_python_runner.py`` checks them against
the core's table. User code sees these too: a ``ctx.state``/``ctx.emit``/``ctx.streams`` call the
core refuses raises the matching subclass of :class:`RpcError` at the ``await``.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
    """A JSON-RPC error: ``code``, ``message`` and optional ``data``, as on the wire."""

    CODE: ClassVar[int] = -32000
    MESSAGE: ClassVar[str] = "Server error"
    _by_code: ClassVar[dict[int, type[RpcError]]] = {}

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        self.message = message or self.MESSAGE
        self.data = data
        self.code = self.CODE
        super().__init__(self.message)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        RpcError._by_code[cls.CODE] = cls

    def to_error(self) -> dict[str, Any]:
        """The wire form: ``{"code", "message", "data"?}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error

    @classmethod
    def from_error(cls, error: Any) -> RpcError:
        """The received error object as an exception of the class matching its code."""
        if not isinstance(error, dict):
            return RpcError(f"malformed error object from the core: {error!r}")
        code = error.get("code")
        klass = RpcError._by_code.get(code) if isinstance(code, int) else None
        exc = (klass or RpcError)(str(error.get("message") or ""), error.get("data"))
        if klass is None and isinstance(code, int):
            exc.code = code  # keep the peer's code for codes we do not know
        return exc

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


class ParseError(RpcError):
    CODE = -32700
    MESSAGE = "Parse error"


class InvalidRequest(RpcError):
    CODE = -32600
    MESSAGE = "Invalid request"


class MethodNotFound(RpcError):
    CODE = -32601
    MESSAGE = "Method not found"


class InvalidParams(RpcError):
    CODE = -32602
    MESSAGE = "Invalid params"


class InternalError(RpcError):
    CODE = -32603
    MESSAGE = "Internal error"


class RequestCancelled(RpcError):
    CODE = -32800
    MESSAGE = "Request cancelled"


class HandlerError(RpcError):
    CODE = -32001
    MESSAGE = "Step handler failed"


class StepNotFound(RpcError):
    CODE = -32002
    MESSAGE = "Step not found"


class InvalidConfig(RpcError):
    CODE = -32003
    MESSAGE = "Invalid step config"


class TimedOut(RpcError):
    CODE = -32004
    MESSAGE = "Step execution timed out"


class RunnerCrashed(RpcError):
    CODE = -32005
    MESSAGE = "Runner crashed"


class UnsupportedProtocolVersion(RpcError):
    CODE = -32006
    MESSAGE = "Unsupported protocol version"


class MessageTooLarge(RpcError):
    CODE = -32007
    MESSAGE = "Message too large"


class RunnerNotReady(RpcError):
    CODE = -32008
    MESSAGE = "Runner not ready"


class InvocationNotFound(RpcError):
    CODE = -32009
    MESSAGE = "Invocation not found"


class ShuttingDown(RpcError):
    CODE = -32010
    MESSAGE = "Shutting down"
