"""The runner protocol, version 1: every message as a msgspec Struct.

This module is the single source of truth. ``protocol/schema.json`` is generated from it
(``make schema``) and ``protocol/PROTOCOL.md`` explains it in prose. A runner in any language
implements what is written here; the core decodes every incoming message into these types at the
stdio boundary, so nothing past ``rpc.py`` sees an untyped dict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

__all__ = (
    "DEFAULT_MAX_MESSAGE_BYTES",
    "METHODS",
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Capabilities",
    "CancelParams",
    "Direction",
    "EmitParams",
    "BodyValidateParams",
    "ErrorObject",
    "InitializeParams",
    "InitializeResult",
    "InvokeParams",
    "InvokeResult",
    "LoadParams",
    "LoadResult",
    "LoadedFile",
    "LogLevel",
    "LogParams",
    "Method",
    "PeerInfo",
    "RunnerInfo",
    "StateGroupParams",
    "StateKeyParams",
    "StateSetParams",
    "StreamCanAccessParams",
    "StreamChannel",
    "StreamEvent",
    "StreamGroupParams",
    "StreamItemParams",
    "StreamSendParams",
    "StreamSetParams",
    "StreamSubscription",
    "TraceContext",
    "TriggerKind",
    "generate_schema",
    "render_schema",
)

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOL_VERSIONS = frozenset({1})
# One line of JSON may not exceed this many bytes (newline excluded) unless the core says otherwise
# in `initialize`. Large enough for real API bodies, small enough that a runaway writer is caught.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Direction = Literal["core->runner", "runner->core", "both"]
TriggerKind = Literal["api", "event", "cron"]
LogLevel = Literal["debug", "info", "warn", "error"]


class _Message(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Base of every protocol payload: camelCase on the wire, absent fields left out."""


class ErrorObject(_Message, kw_only=True):
    """The JSON-RPC 2.0 error object."""

    code: int
    message: str
    data: Any = None


# --- lifecycle (core -> runner) ------------------------------------------------------------


class PeerInfo(_Message, kw_only=True):
    name: str
    version: str


class InitializeParams(_Message, kw_only=True):
    protocol_version: int
    core: PeerInfo
    project_root: str
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # Names of every stream the project defines, so `ctx.streams.<name>` can exist up front.
    streams: list[str] = []
    # The project's `validate_bodies`: false turns off every body check, the runner's own
    # (LoadedFile.validates_body) included.
    validate_bodies: bool = True


class RunnerInfo(_Message, kw_only=True):
    name: str
    version: str
    language: str


class Capabilities(_Message, kw_only=True):
    # The runner honours `$/cancelRequest` for `step.invoke`.
    cancellation: bool = False
    # API middleware listed in a step config runs inside the runner.
    middleware: bool = False
    # `steps.load` on an already loaded file re-imports it.
    reload: bool = False
    # File name endings the runner can load, e.g. ["_step.py", ".step.py"].
    file_patterns: list[str] = []


class InitializeResult(_Message, kw_only=True):
    protocol_version: int
    runner: RunnerInfo
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)


class LoadParams(_Message, kw_only=True):
    # Absolute paths. Loading a file that is already loaded loads it again (hot reload).
    files: list[str]
    # When present, every stream the project defines, replacing the list sent in `initialize`
    # (stream names are only known once the stream files, of any language, are loaded).
    streams: list[str] | None = None


class LoadedFile(_Message, kw_only=True):
    file: str
    # The config as JSON (schemas already converted to JSON Schema, functions removed);
    # absent when `error` is set.
    config: dict[str, Any] | None = None
    # Whether the module exports a handler (noop steps and streams do not).
    has_handler: bool = False
    # The runner validates api request bodies itself with the step's own schema library (e.g.
    # zod, whose object schemas strip unknown keys rather than reject them) and answers 400 when
    # they fail; the core then leaves `bodySchema` to it.
    validates_body: bool = False
    # The api step has middleware, which runs in the runner; the core then has the body checked
    # after it, just before the handler (InvokeParams.validate_body), not before the invocation.
    has_middleware: bool = False
    error: ErrorObject | None = None


class LoadResult(_Message, kw_only=True):
    files: list[LoadedFile]


class TraceContext(_Message, kw_only=True):
    # The Motia trace id user code sees as `traceId` (a Motia id, or the 32-hex id of a trace
    # continued from an incoming `traceparent`).
    trace_id: str
    # This invocation's span: W3C span ids (16 lowercase hex).
    span_id: str
    parent_span_id: str | None = None
    # The W3C trace context of this invocation's span, for the handler to pass on to outgoing
    # calls (`ctx.traceparent`) and to parent the spans user code makes (PROTOCOL.md 3.9).
    # `traceparent` names `span_id` itself; `tracestate` is the one the trace came in with.
    traceparent: str | None = None
    tracestate: str | None = None


class InvokeParams(_Message, kw_only=True):
    # Chosen by the core, unique while the invocation runs; every callback carries it back.
    invocation_id: str
    # The step's file, exactly as it was given to `steps.load`.
    file: str
    trigger: TriggerKind
    # api: the request object; event: the event data; cron: absent.
    input: Any = None
    trace: TraceContext
    flows: list[str] = []
    # Time the handler may take; the core cancels the invocation when it is up.
    timeout_ms: int | None = None
    # api: after the middleware, just before the handler, send `body.validate` with the body as
    # the middleware left it; a response in its answer is the handler's (which does not run).
    validate_body: bool = False


class InvokeResult(_Message, kw_only=True):
    # api: {status, body, headers?}; event and cron: the handler's return value (ignored).
    output: Any = None


class CancelParams(_Message, kw_only=True):
    id: int | str


# --- callbacks during an invocation (runner -> core) -----------------------------------------


class StateKeyParams(_Message, kw_only=True):
    invocation_id: str
    group: str
    key: str


class StateSetParams(_Message, kw_only=True):
    invocation_id: str
    group: str
    key: str
    value: Any = None


class StateGroupParams(_Message, kw_only=True):
    invocation_id: str
    group: str


class EmitParams(_Message, kw_only=True):
    invocation_id: str
    topic: str
    data: Any = None
    message_group_id: str | None = None


class StreamItemParams(_Message, kw_only=True):
    invocation_id: str
    stream: str
    group: str
    id: str


class StreamSetParams(_Message, kw_only=True):
    invocation_id: str
    stream: str
    group: str
    id: str
    data: Any = None


class StreamGroupParams(_Message, kw_only=True):
    invocation_id: str
    stream: str
    group: str


class StreamChannel(_Message, kw_only=True):
    group_id: str
    id: str | None = None


class StreamEvent(_Message, kw_only=True):
    type: str
    data: Any = None


class StreamSendParams(_Message, kw_only=True):
    invocation_id: str
    stream: str
    channel: StreamChannel
    event: StreamEvent


# --- stream access (core -> runner) ------------------------------------------------------------


class StreamSubscription(_Message, kw_only=True):
    """What a WebSocket join names, as the stream file's ``canAccess`` receives it."""

    group_id: str
    # Absent for a group subscription.
    id: str | None = None


class StreamCanAccessParams(_Message, kw_only=True):
    # The stream file, exactly as it was given to `steps.load`.
    file: str
    stream: str
    subscription: StreamSubscription
    # What the handshake's authenticate hook returned; absent when it returned null (or none).
    auth_context: Any = None


class BodyValidateParams(_Message, kw_only=True):
    invocation_id: str
    # The request body as the step's middleware left it.
    body: Any = None


class LogParams(_Message, kw_only=True):
    level: LogLevel
    msg: str
    # Absent for lines about the runner itself rather than one invocation.
    invocation_id: str | None = None
    fields: dict[str, Any] = {}


# --- the method table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    name: str
    params: type | None
    # None for notifications (no response is sent).
    result: Any
    direction: Direction
    since: int = 1
    doc: str = ""

    @property
    def is_notification(self) -> bool:
        return self.result is None


_JSON = Any  # a result that is any JSON value

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("initialize", InitializeParams, InitializeResult, "core->runner",
               doc="Handshake: versions, names, capabilities. First message on the channel."),
        Method("steps.load", LoadParams, LoadResult, "core->runner",
               doc="Import step and stream files; one entry per file, errors per file."),
        Method("step.invoke", InvokeParams, InvokeResult, "core->runner",
               doc="Run one step's handler (with its middleware for api steps)."),
        Method("shutdown", None, _JSON, "core->runner",
               doc="Stop taking work, finish in-flight invocations, answer null."),
        Method("exit", None, None, "core->runner", doc="Exit the process now."),
        Method("$/cancelRequest", CancelParams, None, "both",
               doc="Cancel the request with this id; it answers with RequestCancelled."),
        Method("state.get", StateKeyParams, _JSON, "runner->core", doc="Value or null."),
        Method("state.set", StateSetParams, _JSON, "runner->core", doc="The stored value."),
        Method("state.delete", StateKeyParams, _JSON, "runner->core",
               doc="The removed value or null."),
        Method("state.getGroup", StateGroupParams, _JSON, "runner->core",
               doc="Array of the group's values."),
        Method("state.clear", StateGroupParams, _JSON, "runner->core", doc="Null."),
        Method("emit", EmitParams, _JSON, "runner->core",
               doc="Null once the core accepted the event (not once subscribers ran)."),
        Method("streams.get", StreamItemParams, _JSON, "runner->core", doc="Item or null."),
        Method("streams.set", StreamSetParams, _JSON, "runner->core", doc="The stored item."),
        Method("streams.delete", StreamItemParams, _JSON, "runner->core",
               doc="The removed item or null."),
        Method("streams.getGroup", StreamGroupParams, _JSON, "runner->core",
               doc="Array of the group's items."),
        Method("streams.send", StreamSendParams, _JSON, "runner->core",
               doc="Null; an ephemeral event to the channel's subscribers."),
        Method("streams.canAccess", StreamCanAccessParams, _JSON, "core->runner",
               doc="true or false: the stream file's canAccess(subscription, authContext), "
                   "for one WebSocket join."),
        Method("body.validate", BodyValidateParams, _JSON, "runner->core",
               doc="null when the body fits the step's bodySchema, else the 400 response to "
                   "answer instead of calling the handler (step.invoke's validateBody)."),
        Method("log", LogParams, None, "runner->core", doc="A structured log record."),
    )
}


def generate_schema() -> dict[str, Any]:
    """JSON Schema of every params and result type, plus the method table."""
    types = sorted(
        {m.params for m in METHODS.values() if m.params is not None}
        | {m.result for m in METHODS.values() if isinstance(m.result, type) and m.result is not Any}
        | {ErrorObject},
        key=lambda t: t.__name__,
    )
    _, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    methods = {}
    for m in METHODS.values():
        entry: dict[str, Any] = {"direction": m.direction, "since": m.since, "doc": m.doc}
        entry["params"] = {"$ref": f"#/$defs/{m.params.__name__}"} if m.params else None
        if m.is_notification:
            entry["notification"] = True
        elif isinstance(m.result, type) and m.result is not Any:
            entry["result"] = {"$ref": f"#/$defs/{m.result.__name__}"}
        else:
            entry["result"] = {}
        methods[m.name] = entry
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "motia-core runner protocol",
        "protocolVersion": PROTOCOL_VERSION,
        "framing": {
            "encoding": "utf-8",
            "delimiter": "\n",
            "maxMessageBytes": DEFAULT_MAX_MESSAGE_BYTES,
        },
        "methods": methods,
        "$defs": components,
    }


def render_schema() -> str:
    return json.dumps(generate_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # `make schema` writes protocol/schema.json from this; a test fails when it is stale.
    print(render_schema(), end="")
