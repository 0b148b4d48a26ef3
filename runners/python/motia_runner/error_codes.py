"""Generated from motia_core/protocol/errors.py by `make schema`: do not edit.

JSON-RPC errors of protocol v1, one class per code (the base is in rpc_error.py).
"""

from __future__ import annotations

from motia_runner.rpc_error import RpcError

__all__ = (
    "RpcError",
    "ParseError",
    "InvalidRequest",
    "MethodNotFound",
    "InvalidParams",
    "InternalError",
    "RequestCancelled",
    "HandlerError",
    "StepNotFound",
    "InvalidConfig",
    "TimedOut",
    "RunnerCrashed",
    "UnsupportedProtocolVersion",
    "MessageTooLarge",
    "RunnerNotReady",
    "InvocationNotFound",
    "ShuttingDown",
)


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
