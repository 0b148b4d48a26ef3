"""One step invocation: its span, its deadline, and the callbacks a runner makes while it runs.

:class:`Invoker` is the single path from a trigger (HTTP request, event delivery, cron tick) to a
runner: it opens a span, registers the invocation under a fresh id, sends ``step.invoke`` to the
step's language pool and closes the span with the outcome. :class:`Callbacks` is the other half:
every ``state.*``, ``emit``, ``streams.*`` and ``log`` a runner sends names an invocation id, and
is answered here against the core services and recorded on that invocation's span.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, NamedTuple

from motia_core.events import Event, new_id
from motia_core.observability import (
    EmitTraceEvent,
    LogTraceEvent,
    SpanError,
    StateTraceEvent,
    StreamTraceEvent,
    TraceEvent,
    TraceStore,
    format_traceparent,
    log_record,
    now_ms,
)
from motia_core.project.steps import Step, can_emit
from motia_core.protocol import (
    BodyValidateParams,
    EmitParams,
    InvokeParams,
    LogParams,
    StateGroupParams,
    StateKeyParams,
    StateSetParams,
    StreamGroupParams,
    StreamItemParams,
    StreamSendParams,
    StreamSetParams,
    TraceContext,
    TriggerKind,
)
from motia_core.protocol.errors import (
    HandlerError,
    InvalidParams,
    MethodNotFound,
    RpcError,
    RunnerNotReady,
)
from motia_core.runners import RunnerPool
from motia_core.runners.process import RunnerProcess
from motia_core.runtime.body_checks import BodyChecks
from motia_core.runtime.leftover import DEFAULT_LEFTOVER_WORK_S, EndedInvocations
from motia_core.state import StateAdapter, StateError
from motia_core.streams import StreamStore

__all__ = ("ActiveInvocation", "Callbacks", "Invoker", "StepFailed")

log = logging.getLogger("motia.invocation")

StateOperation = Literal["get", "getGroup", "set", "delete", "clear"]
StreamOperation = Literal["get", "set", "delete", "getGroup", "send"]


class StepFailed(Exception):
    """A step invocation did not succeed; ``error`` is the runner's (or the core's) RpcError."""

    def __init__(self, step: Step, error: RpcError) -> None:
        self.step = step
        self.error = error
        super().__init__(f"step {step.name!r} ({step.file}) failed: {error}")


class ActiveInvocation(NamedTuple):
    """One running (or lately ended) invocation. A NamedTuple: one is made per invocation, and
    a frozen dataclass's ``__init__`` (a ``object.__setattr__`` per field) cost several times
    more."""

    id: str
    step: Step
    trace_id: str
    span_id: str
    runner: str | None = None  # the process running it ("python#0"), for its log records
    tracestate: str | None = None  # the W3C tracestate the trace came in with, passed on


class Invoker:
    """Runs steps on their language's runner pool, each invocation inside a span."""

    def __init__(self, pools: Mapping[str, RunnerPool], traces: TraceStore,
                 leftover_work_s: float = DEFAULT_LEFTOVER_WORK_S) -> None:
        self.pools = pools
        self.traces = traces
        self.active: dict[str, ActiveInvocation] = {}
        # For the ctx calls of work a handler left running (see leftover.py).
        self.ended: EndedInvocations[ActiveInvocation] = EndedInvocations(leftover_work_s)

    async def invoke(
        self,
        step: Step,
        trigger: TriggerKind,
        input: Any,
        *,
        trace_id: str,
        parent_span_id: str | None,
        entry: str,
        timeout_s: float | None,
        validate_body: bool = False,
        span_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> Any:
        """The handler's output; raises :class:`StepFailed` with the reason otherwise.

        ``span_id``: the invocation's span id when the caller chose it (an api request answers
        with its ``traceparent``, which it passes too); ``tracestate``: the W3C one the trace
        came in with."""
        pool = self.pools.get(step.language)
        runner, unavailable = _pick(pool, step)
        span = self.traces.start_span(trace_id, parent_span_id, step.name, trigger, entry,
                                      span_id=span_id, language=step.language,
                                      runner=runner.name if runner is not None else None)
        invocation = ActiveInvocation(new_id(), step, trace_id, span.id, span.runner,
                                      tracestate)
        self.active[invocation.id] = invocation
        params = InvokeParams(
            invocation_id=invocation.id,
            file=step.file,
            trigger=trigger,
            input=input,
            trace=TraceContext(trace_id=trace_id, span_id=span.id, parent_span_id=parent_span_id,
                               traceparent=traceparent if traceparent and span.id == span_id
                               else format_traceparent(trace_id, span.id),
                               tracestate=tracestate),
            flows=list(step.flows),
            timeout_ms=None if timeout_s is None else int(timeout_s * 1000),
            validate_body=validate_body,
        )
        # Whether the handler was stopped (timed out, cancelled, its runner gone) rather than
        # returned or raised: the calls of a stopped handler's leftover work are refused.
        stopped = True
        try:
            if runner is None:
                raise unavailable or RunnerNotReady(f"no runner for {step.file}")
            output = await runner.invoke(params, timeout_s)
            stopped = False
        except RpcError as exc:
            stopped = not isinstance(exc, HandlerError)
            self.traces.end_span(span.id, _span_error(exc))
            raise StepFailed(step, exc) from exc
        except BaseException as exc:
            self.traces.end_span(span.id, SpanError(message=f"interrupted: {exc!r}"))
            raise
        finally:
            del self.active[invocation.id]
            self.ended.add(invocation, stopped=stopped)
        self.traces.end_span(span.id)
        return output


def _pick(pool: RunnerPool | None, step: Step) -> tuple[RunnerProcess | None, RpcError | None]:
    """The process that will run ``step`` (so its span names it), or why there is none."""
    if pool is None:
        return None, RunnerNotReady(f"no {step.language} runner is running for {step.file}; "
                                    f"start it with --runners {step.language}")
    try:
        return pool.pick(), None
    except RpcError as exc:
        return None, exc


def _span_error(exc: RpcError) -> SpanError:
    data = exc.data if isinstance(exc.data, dict) else {}
    return SpanError(message=data.get("message") or exc.message, name=data.get("name"),
                     stack=data.get("stack"))


class Callbacks:
    """Answers the requests runners make on behalf of a running invocation."""

    def __init__(self, invoker: Invoker, state: StateAdapter,
                 publish: Callable[[Event], Awaitable[int]], streams: StreamStore) -> None:
        self.invoker = invoker
        self.state = state
        self.publish = publish
        self.streams = streams
        self.body_checks = BodyChecks()
        self._routes: dict[str, Callable[[ActiveInvocation, Any], Awaitable[Any]]] = {
            "state.get": self._state_get,
            "state.set": self._state_set,
            "state.delete": self._state_delete,
            "state.getGroup": self._state_get_group,
            "state.clear": self._state_clear,
            "emit": self._emit,
            "streams.get": self._stream_get,
            "streams.set": self._stream_set,
            "streams.delete": self._stream_delete,
            "streams.getGroup": self._stream_get_group,
            "streams.send": self._stream_send,
            "body.validate": self._validate_body,
        }

    async def __call__(self, method: str, params: Any) -> Any:
        if method == "log":
            self._log(params)
            return None
        route = self._routes.get(method)
        if route is None:  # `$/cancelRequest` sent as a request rather than a notification
            raise MethodNotFound(f"the core does not serve {method!r} as a request")
        try:
            return await route(self._invocation(params.invocation_id, method), params)
        except StateError as exc:  # e.g. a value that is not JSON: the caller's mistake
            raise InvalidParams(f"{method}: {exc}") from exc

    def _invocation(self, invocation_id: str, method: str) -> ActiveInvocation:
        invocation = self.invoker.active.get(invocation_id)
        if invocation is None:  # work its handler left running, or a runner's mistake
            return self.invoker.ended.accept(invocation_id, method)
        return invocation

    def _record(self, inv: ActiveInvocation, event: TraceEvent) -> None:
        self.invoker.traces.add_event(inv.span_id, event)

    def _record_state(self, inv: ActiveInvocation, operation: StateOperation, group: str,
                      key: str | None = None) -> None:
        self._record(inv, StateTraceEvent(operation=operation, group=group, key=key,
                                          timestamp=now_ms()))

    # --- state -----------------------------------------------------------------------------

    async def _state_get(self, inv: ActiveInvocation, p: StateKeyParams) -> Any:
        self._record_state(inv, "get", p.group, p.key)
        return await self.state.get(p.group, p.key)

    async def _state_set(self, inv: ActiveInvocation, p: StateSetParams) -> Any:
        self._record_state(inv, "set", p.group, p.key)
        return await self.state.set(p.group, p.key, p.value)

    async def _state_delete(self, inv: ActiveInvocation, p: StateKeyParams) -> Any:
        self._record_state(inv, "delete", p.group, p.key)
        return await self.state.delete(p.group, p.key)

    async def _state_get_group(self, inv: ActiveInvocation, p: StateGroupParams) -> Any:
        self._record_state(inv, "getGroup", p.group)
        return await self.state.get_group(p.group)

    async def _state_clear(self, inv: ActiveInvocation, p: StateGroupParams) -> Any:
        self._record_state(inv, "clear", p.group)
        await self.state.clear(p.group)
        return None

    # --- events ----------------------------------------------------------------------------

    async def _emit(self, inv: ActiveInvocation, p: EmitParams) -> Any:
        step = inv.step
        if not can_emit(step, p.topic):
            # The original drops the event, says so, and lets emit() resolve normally.
            log.warning(
                "step %r tried to emit an event not defined in the step config: %r "
                "(add it to `emits` in %s)", step.name, p.topic, step.file,
                extra={"action": "emit_refused", "step": step.name, "traceId": inv.trace_id},
            )
            self._record(inv, EmitTraceEvent(topic=p.topic, success=False, timestamp=now_ms()))
            return None
        event = Event(
            id=new_id(),
            topic=p.topic,
            data=p.data,
            trace_id=inv.trace_id,
            parent_span_id=inv.span_id,
            flows=list(step.flows),
            message_group_id=p.message_group_id,
            emitted_at_ms=now_ms(),
            tracestate=inv.tracestate,
        )
        await self.publish(event)
        self._record(inv, EmitTraceEvent(topic=p.topic, success=True, timestamp=now_ms()))
        return None

    # --- streams ---------------------------------------------------------------------------

    def _record_stream(self, inv: ActiveInvocation, operation: StreamOperation, stream: str,
                       group: str, item_id: str | None = None) -> None:
        self._record(inv, StreamTraceEvent(operation=operation, stream_name=stream,
                                           group_id=group, id=item_id, timestamp=now_ms()))

    async def _stream_get(self, inv: ActiveInvocation, p: StreamItemParams) -> Any:
        self._record_stream(inv, "get", p.stream, p.group, p.id)
        return await self.streams.get(p.stream, p.group, p.id)

    async def _stream_set(self, inv: ActiveInvocation, p: StreamSetParams) -> Any:
        self._record_stream(inv, "set", p.stream, p.group, p.id)
        return await self.streams.set(p.stream, p.group, p.id, p.data)

    async def _stream_delete(self, inv: ActiveInvocation, p: StreamItemParams) -> Any:
        self._record_stream(inv, "delete", p.stream, p.group, p.id)
        return await self.streams.delete(p.stream, p.group, p.id)

    async def _stream_get_group(self, inv: ActiveInvocation, p: StreamGroupParams) -> Any:
        self._record_stream(inv, "getGroup", p.stream, p.group)
        return await self.streams.get_group(p.stream, p.group)

    async def _stream_send(self, inv: ActiveInvocation, p: StreamSendParams) -> Any:
        self._record_stream(inv, "send", p.stream, p.channel.group_id, p.channel.id)
        await self.streams.send(p.stream, p.channel.group_id, p.channel.id,
                                p.event.type, p.event.data)
        return None

    # --- the body, after the middleware ----------------------------------------------------

    async def _validate_body(self, inv: ActiveInvocation, p: BodyValidateParams) -> Any:
        return self.body_checks.verdict(inv.step, p.body)

    # --- logs ------------------------------------------------------------------------------

    def _log(self, p: LogParams) -> None:
        inv = (self.invoker.active.get(p.invocation_id) or self.invoker.ended.find(p.invocation_id)
               if p.invocation_id else None)
        if inv is None:
            log_record(logging.getLogger("motia.runner"), p.level, p.msg, trace_id=None,
                       step=None, flows=None, fields=p.fields)
            return
        log_record(logging.getLogger("motia.step"), p.level, p.msg, trace_id=inv.trace_id,
                   step=inv.step.name, flows=list(inv.step.flows), fields=p.fields,
                   span_id=inv.span_id, runner=inv.runner)
        self._record(inv, LogTraceEvent(level=p.level, message=p.msg, timestamp=now_ms()))
