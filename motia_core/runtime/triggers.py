"""Where each trigger becomes an invocation: an HTTP request, an event delivery, a cron tick.

Each entry point decides the trace (a new one, one continued from `traceparent`, or the one an
event carries) and the deadline, then hands the step to the
:class:`~motia_core.runtime.invocation.Invoker`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from motia_core.config import Settings
from motia_core.cron import latest_fire_time, parse_cron
from motia_core.events import (
    Event,
    EventBus,
    QueueError,
    SubscriptionSettings,
    new_id,
    queue_name,
)
from motia_core.http import ApiInvocationError, ApiOutcome, EmitOutcome, IncomingTrace, Route
from motia_core.observability import (
    TraceStore,
    format_traceparent,
    new_span_id,
    new_trace_id,
    now_ms,
    parse_traceparent,
)
from motia_core.observability.ids import TRACE_ID_ALPHABET
from motia_core.project.steps import Step
from motia_core.protocol import StreamCanAccessParams, StreamSubscription
from motia_core.runtime.body_checks import checked_after_middleware
from motia_core.runtime.invocation import Invoker, StepFailed
from motia_core.runtime.serving import Serving
from motia_core.streams import Subscription
from motia_core.validation import BodyValidator, SchemaCache, SchemaInvalid

__all__ = ("CRON_TOPIC_PREFIX", "AppHandlers", "InvalidEventInput", "cron_topic", "tick_trace_id")

log = logging.getLogger("motia.handlers")

# Topics without a subscriber already warned about (then forgotten all at once beyond this).
UNROUTED_TOPICS_REMEMBERED = 1024
# A cron tick's topic starts with this; no step config may name such a topic.
CRON_TOPIC_PREFIX = "__cron."
# How long a tick's key stays taken: instances' ticks of one time arrive within milliseconds.
CRON_ONCE_TTL_S = 600.0


class InvalidEventInput(Exception):
    """Event data does not match the subscriber's `input` schema (strict mode)."""


class AppHandlers:
    """The app's entry points, given what they use: settings for deadlines and strictness, the
    invoker, the bus and trace store, and what is being served (for canAccess)."""

    def __init__(self, settings: Settings, serving: Serving, invoker: Invoker, bus: EventBus,
                 traces: TraceStore, *, health: Callable[[], dict[str, Any]],
                 publish_listeners: list[Callable[[Event], None]]) -> None:
        self.settings = settings
        self.serving = serving
        self.invoker = invoker
        self.bus = bus
        self.traces = traces
        self._health = health
        self.publish_listeners = publish_listeners
        self.schemas = SchemaCache()
        self._unrouted_warned: set[str] = set()

    def _trace(self, incoming: IncomingTrace | None) -> tuple[str, str | None]:
        """(trace id, parent span id): continued from a valid traceparent, else new."""
        if incoming is not None and incoming.traceparent:
            parsed = parse_traceparent(incoming.traceparent)
            if parsed is not None:
                return parsed
        return new_trace_id(), None

    # --- HTTP ------------------------------------------------------------------------------

    async def invoke_api(self, route: Route, request: dict[str, Any],
                         trace: IncomingTrace) -> ApiOutcome:
        step: Step = route.step
        trace_id, parent = self._trace(trace)
        # Chosen here so the response can carry the span's traceparent, failed or not.
        span_id = new_span_id()
        traceparent = format_traceparent(trace_id, span_id)
        try:
            output = await self.invoker.invoke(
                step, "api", request, trace_id=trace_id, parent_span_id=parent,
                entry=f"{route.method} {route.path}",
                timeout_s=self.settings.handler_timeout_s,
                validate_body=checked_after_middleware(step, self.settings.validate_bodies),
                span_id=span_id, traceparent=traceparent, tracestate=_tracestate(trace),
            )
        except StepFailed as exc:
            stack = _stack(exc)
            raise ApiInvocationError(f"{exc}" + (f"\n{stack}" if stack else ""), trace_id,
                                     traceparent) from None
        return ApiOutcome(trace_id=trace_id, response=output, traceparent=traceparent)

    async def emit(self, topic: str, data: Any, trace: IncomingTrace | None = None,
                   ) -> EmitOutcome:
        trace_id, parent = self._trace(trace)
        self.traces.start_trace(trace_id, f"POST /emit {topic}")
        count = await self.publish(Event(id=new_id(), topic=topic, data=data,
                                         trace_id=trace_id, parent_span_id=parent, flows=[],
                                         message_group_id=None, emitted_at_ms=now_ms(),
                                         tracestate=_tracestate(trace)))
        return EmitOutcome(trace_id=trace_id, subscribers=count)

    async def publish(self, event: Event) -> int:
        count = await self.bus.publish(event)
        for listener in self.publish_listeners:
            listener(event)
        if not count:
            # A warning once per topic (a typo in a topic loses every event sent to it); the
            # repeats at debug. The set is bounded: topics come from clients.
            if event.topic in self._unrouted_warned:
                level = logging.DEBUG
            else:
                level = logging.WARNING
                if len(self._unrouted_warned) >= UNROUTED_TOPICS_REMEMBERED:
                    self._unrouted_warned.clear()
                self._unrouted_warned.add(event.topic)
            log.log(level, "no step subscribes to %r: the event goes nowhere", event.topic,
                    extra={"action": "emit_unrouted", "traceId": event.trace_id})
        return count

    def health(self) -> dict[str, Any]:
        return self._health()

    # --- events ----------------------------------------------------------------------------

    def subscription_settings(self, step: Step) -> SubscriptionSettings:
        settings = SubscriptionSettings.from_step(step)
        # Data that fails a strict input schema fails the same way every time: no retries.
        retry = replace(settings.retry, give_up_on=(InvalidEventInput,))
        return replace(settings, retry=retry)

    def deliver_to(self, step: Step) -> Callable[[Event, int], Awaitable[None]]:
        schema = getattr(step.config, "input", None)
        timeout_s = self.handler_timeout(step)
        # Compiled once per subscription (each reload subscribes anew), not per delivery.
        validator: BodyValidator | SchemaInvalid | None = None
        if isinstance(schema, dict):
            try:
                validator = self.schemas.get(schema)
            except SchemaInvalid as exc:
                validator = exc

        async def deliver(event: Event, attempt: int) -> None:
            if validator is not None:
                self._check_input(step, event, validator)
            try:
                await self.invoker.invoke(
                    step, "event", event.data, trace_id=event.trace_id,
                    parent_span_id=event.parent_span_id, entry=event.topic, timeout_s=timeout_s,
                    tracestate=event.tracestate,
                )
            except StepFailed as exc:
                log.error("%s failed on %r (attempt %d): %s", step.name, event.topic, attempt,
                          exc.error, extra={"action": "step_failed", "step": step.name,
                                            "traceId": event.trace_id, "flows": step.flows,
                                            "stack": _stack(exc)})
                raise

        return deliver

    def handler_timeout(self, step: Step) -> float | None:
        infrastructure = getattr(step.config, "infrastructure", None)
        handler = getattr(infrastructure, "handler", None)
        timeout = getattr(handler, "timeout", None)
        return float(timeout) if timeout else self.settings.handler_timeout_s

    def _check_input(self, step: Step, event: Event,
                     validator: BodyValidator | SchemaInvalid) -> None:
        if isinstance(validator, SchemaInvalid):
            log.warning("step %r (%s) has an invalid input schema: %s", step.name, step.file,
                        validator, extra={"action": "input_schema_invalid", "step": step.name})
            return
        errors = validator.errors(event.data)
        if not errors:
            return
        listed = "; ".join(f"{e.path or '(root)'}: {e.message}" for e in errors)
        message = (f"event {event.topic!r} does not match the input schema of step "
                   f"{step.name!r} ({step.file}): {listed}")
        if self.settings.strict_event_input:
            raise InvalidEventInput(message)
        log.warning("%s (delivered anyway; set strict_event_input to refuse)", message,
                    extra={"action": "input_invalid", "step": step.name,
                           "traceId": event.trace_id})

    # --- streams ---------------------------------------------------------------------------

    async def can_access(self, stream: str, subscription: Subscription, auth: Any) -> bool:
        """A WebSocket join: the stream file's canAccess decides, evaluated in its runner."""
        project = self.serving.project
        definition = next((s for s in project.streams if s.name == stream), None) \
            if project is not None else None
        if definition is None or not definition.has_can_access:
            return True
        language = self.serving.discovery.language_of(definition.file) \
            if self.serving.discovery is not None else None
        pool = self.serving.pools.get(language or "")
        if pool is None:
            return False
        return await pool.can_access(StreamCanAccessParams(
            file=definition.file, stream=stream, auth_context=auth,
            subscription=StreamSubscription(group_id=subscription.group_id, id=subscription.id)))

    # --- cron ------------------------------------------------------------------------------

    async def cron_scheduled(self, step: Step) -> None:
        """The scheduler's tick: enqueue the tick for the step's own queue, once across every
        instance sharing the queue (keyed by step and scheduled time); whichever instance's
        consumer receives it runs it (:meth:`cron_delivery`), with the step's retries."""
        expression = step.config.cron  # type: ignore[union-attr]
        tick = latest_fire_time(parse_cron(expression))
        tick_ms = int(tick.timestamp() * 1000) if tick is not None else now_ms() // 1000 * 1000
        key = f"cron:{step.name}:{tick_ms}"
        event = Event(topic=cron_topic(step.name), data={"scheduledAtMs": tick_ms},
                      trace_id=tick_trace_id(key, tick_ms), emitted_at_ms=now_ms())
        try:
            taken = await self.bus.queue.enqueue_once(
                key, CRON_ONCE_TTL_S, queue_name(event.topic, step.name), event)
        except QueueError as exc:
            log.error("cron job %s: the tick of %d was not queued: %s", step.name, tick_ms, exc,
                      extra={"action": "cron_failed", "step": step.name})
            return
        if taken is not None:
            log.debug("cron job %s: tick %d queued", step.name, tick_ms,
                      extra={"action": "cron_queued", "step": step.name,
                             "traceId": event.trace_id})

    def cron_settings(self, step: Step) -> SubscriptionSettings:
        """A cron step's own queue: one tick at a time per instance, retried as events are,
        held past the handler's timeout before another instance may take it over."""
        return SubscriptionSettings(concurrency=1,
                                    visibility_timeout_s=self.settings.handler_timeout_s + 10)

    def cron_delivery(self, step: Step) -> Callable[[Event, int], Awaitable[None]]:
        """Run a tick received from the step's queue; a failure is raised, so it is retried."""

        async def deliver(event: Event, attempt: int) -> None:
            await self._run_cron(step, event.trace_id, attempt=attempt, reraise=True)

        return deliver

    async def _run_cron(self, step: Step, trace_id: str, *, attempt: int = 1,
                        reraise: bool = False) -> None:
        expression = step.config.cron  # type: ignore[union-attr]
        try:
            await self.invoker.invoke(step, "cron", None, trace_id=trace_id,
                                      parent_span_id=None, entry=expression,
                                      timeout_s=self.settings.handler_timeout_s)
        except StepFailed as exc:
            log.error("cron job %s failed (attempt %d): %s", step.name, attempt, exc.error,
                      extra={"action": "cron_failed", "step": step.name, "traceId": trace_id,
                             "stack": _stack(exc)})
            if reraise:
                raise

    async def cron_tick(self, step: Step, trace_id: str | None = None) -> None:
        """One tick of a cron step under a new trace (or ``trace_id``: the Workbench's "run
        now" answers with the id before the tick ends)."""
        await self._run_cron(step, trace_id or new_trace_id())


def cron_topic(step_name: str) -> str:
    """The internal topic of a cron step's ticks (``__cron.<name>``; its queue adds the step)."""
    return f"{CRON_TOPIC_PREFIX}{step_name}"


def tick_trace_id(key: str, at_ms: int) -> str:
    """The trace id of one tick, the same on every instance: Motia's format (5 characters, the
    last 7 digits of the scheduled time) with the characters taken from a hash of ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    letters = "".join(TRACE_ID_ALPHABET[b & 31] for b in digest[:5])
    return f"{letters}-{at_ms % 10_000_000:07d}"


def _tracestate(incoming: IncomingTrace | None) -> str | None:
    """The incoming ``tracestate``, kept only with a valid ``traceparent`` (W3C: a tracestate
    without its traceparent means nothing) and within the spec's 512 characters."""
    if incoming is None or not incoming.tracestate or parse_traceparent(
            incoming.traceparent) is None:
        return None
    state = incoming.tracestate.strip()
    return state if 0 < len(state) <= 512 else None


def _stack(exc: StepFailed) -> str | None:
    data = exc.error.data
    return data.get("stack") if isinstance(data, dict) else None
