"""Step and stream configs: typed msgspec Structs, and the strict validation that builds them.

Runners hand the core each file's config as JSON. ``parse_step`` checks it against the rules of
Motia (MOTIA_CONTRACT.md section 2) and returns a ``Step`` whose config is one of ``ApiConfig``,
``EventConfig``, ``CronConfig``, ``NoopConfig``; nothing past this module sees the raw dict.

Validation is strict where the original is strict: an unknown top-level key or an unknown key in
an emit object makes the step invalid, as Motia's zod schemas do. We are also strict inside
``infrastructure`` (the original silently dropped unknown keys there), because a typo such as
``maxRetry`` would otherwise change retry behaviour without a word. Every problem of a config is
reported at once (``InvalidStep.errors``), each naming the file, the field and the fix.

Leniencies, where the original would reject a harmless config: ``null`` for an optional field
means "absent" (Python and Ruby configs often say ``None``); keys starting with ``__motia`` are
runner annotations (e.g. ``__motia_hasCanAccess``) and always allowed; ``queryParams`` entries may
carry extra keys (documentation only, as in the original); a schema may be any valid JSON Schema
(the original insisted that ``type: object`` schemas list ``properties``), but an invalid one is an
error naming the schema path. ``infrastructure.queue.messageGroupId`` (string or null) is accepted
because some Motia versions documented it; the group id of a message comes from each emit.

Extensions beyond the original, on event steps only: ``infrastructure.queue.backoff``
(``'fixed'`` | ``'exponential'``, default fixed) and ``infrastructure.queue.retryDelaySeconds``
(a number >= 0; absent means the event bus's default rule).
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from motia_core.project.step_checks import (
    HTTP_METHODS,
    ConfigError,
    InvalidStep,
    check_step,
    check_stream,
    lambda_cpu_for_ram,
)

__all__ = (
    "HTTP_METHODS",
    "ApiConfig",
    "ConfigError",
    "CronConfig",
    "Emit",
    "EventConfig",
    "HandlerSettings",
    "Infrastructure",
    "InvalidStep",
    "NoopConfig",
    "QueryParam",
    "QueueSettings",
    "Step",
    "StepConfig",
    "StepType",
    "StreamBaseConfig",
    "StreamDefinition",
    "can_emit",
    "lambda_cpu_for_ram",
    "parse_step",
    "parse_stream",
)

StepType = Literal["api", "event", "cron", "noop"]


# --- typed configs -----------------------------------------------------------------------------


class Emit(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A topic a step may emit; ``label``/``conditional`` only decorate Workbench edges."""

    topic: str
    label: str | None = None
    conditional: bool | None = None


class QueryParam(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str
    description: str | None = None


class HandlerSettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    # ram (MB) and cpu (vCPU) only matter to Motia Cloud; timeout (s) bounds an invocation.
    ram: float | None = None
    cpu: float | None = None
    timeout: float | None = None


class QueueSettings(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Per-subscription queue policy; the defaults are the original's."""

    type: Literal["standard", "fifo"] = "standard"
    max_retries: int = 3
    visibility_timeout: float = 900
    delay_seconds: float = 0
    concurrency: int | None = None
    message_group_id: str | None = None
    # Extensions (see the module docstring).
    backoff: Literal["fixed", "exponential"] = "fixed"
    retry_delay_seconds: float | None = None


class Infrastructure(msgspec.Struct, frozen=True, kw_only=True):
    handler: HandlerSettings = msgspec.field(default_factory=HandlerSettings)
    queue: QueueSettings = msgspec.field(default_factory=QueueSettings)


class _Config(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True,
              tag_field="type"):
    name: str
    description: str | None = None
    flows: tuple[str, ...] = ()
    virtual_emits: tuple[Emit, ...] = ()
    virtual_subscribes: tuple[str, ...] = ()


class ApiConfig(_Config, tag="api", frozen=True):
    path: str
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
    emits: tuple[Emit, ...]
    body_schema: Any = None
    response_schema: dict[str, Any] = {}
    query_params: tuple[QueryParam, ...] = ()
    # Middleware runs inside the runner; the core only sees names (or nulls) in order.
    middleware: tuple[Any, ...] = ()
    include_files: tuple[str, ...] = ()


class EventConfig(_Config, tag="event", frozen=True):
    subscribes: tuple[str, ...]
    emits: tuple[Emit, ...]
    input: Any = None
    infrastructure: Infrastructure = msgspec.field(default_factory=Infrastructure)
    include_files: tuple[str, ...] = ()


class CronConfig(_Config, tag="cron", frozen=True):
    cron: str
    emits: tuple[Emit, ...]
    include_files: tuple[str, ...] = ()


class NoopConfig(_Config, tag="noop", frozen=True):
    virtual_emits: tuple[Emit, ...]
    virtual_subscribes: tuple[str, ...]


StepConfig = Union[ApiConfig, EventConfig, CronConfig, NoopConfig]  # noqa: UP007
_TYPES: dict[str, type[_Config]] = {
    "api": ApiConfig, "event": EventConfig, "cron": CronConfig, "noop": NoopConfig,
}


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """A valid step: its file (as given to the runner), language, typed config, handler flag."""

    file: str
    language: str
    config: StepConfig
    has_handler: bool = False
    # The runner enforces `bodySchema` itself (see protocol.LoadedFile.validates_body).
    validates_body: bool = False
    # Its middleware runs in the runner (see protocol.LoadedFile.has_middleware).
    has_middleware: bool = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def flows(self) -> tuple[str, ...]:
        return self.config.flows

    @property
    def emits(self) -> tuple[str, ...]:
        """Topics the step may emit at runtime (noop steps emit nothing)."""
        if isinstance(self.config, NoopConfig):
            return ()
        return tuple(e.topic for e in self.config.emits)

    @property
    def subscribes(self) -> tuple[str, ...]:
        return self.config.subscribes if isinstance(self.config, EventConfig) else ()

    @property
    def virtual_emits(self) -> tuple[str, ...]:
        return tuple(e.topic for e in self.config.virtual_emits)

    @property
    def virtual_subscribes(self) -> tuple[str, ...]:
        return self.config.virtual_subscribes

    @property
    def queue(self) -> QueueSettings | None:
        """The queue policy of an event step (defaults filled in); None for other types."""
        if isinstance(self.config, EventConfig):
            return self.config.infrastructure.queue
        return None

    @property
    def type(self) -> StepType:
        tag: StepType = self.config.__struct_config__.tag  # type: ignore[assignment]
        return tag


def can_emit(step: Step, topic: str) -> bool:
    """Motia's emit permission (contract 5.2.1): the topic is declared in ``emits``, or ``emits``
    is empty (which allows any topic). ``virtualEmits`` never count; noop steps never emit."""
    if isinstance(step.config, NoopConfig):
        return False
    topics = step.emits
    return not topics or topic in topics


class StreamBaseConfig(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    storage_type: Literal["default"] = "default"


class StreamDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A stream file's config: ``name`` keys ``ctx.streams`` and the WebSocket protocol; the
    schema is for typing only (never enforced, as in the original)."""

    file: str
    name: str
    schema: Any = None
    base_config: StreamBaseConfig = msgspec.field(default_factory=StreamBaseConfig)
    # The file defines `canAccess`, which the runner evaluates for each WebSocket join.
    has_can_access: bool = False


def parse_step(file: str, language: str, config: dict[str, Any], has_handler: bool,
               validates_body: bool = False, has_middleware: bool = False) -> Step:
    """Validate one step config (as a runner reported it) and return the typed ``Step``.

    Raises ``InvalidStep`` listing every problem (file and field named, with a fix).
    """
    step_type, cleaned = check_step(file, language, config, has_handler)
    try:
        # Lax: whole numbers a JS runner sent as 2.0 become ints; everything was checked above.
        typed = msgspec.convert(cleaned, type=_TYPES[step_type], strict=False)
    except msgspec.ValidationError as exc:  # a rule missing above: still only this step fails
        raise InvalidStep(file, [ConfigError(
            file, "config", f"does not fit the {step_type} step shape: {exc}")]) from exc
    return Step(file=file, language=language, config=typed,  # type: ignore[arg-type]
                has_handler=has_handler, validates_body=validates_body,
                has_middleware=has_middleware)


def parse_stream(file: str, config: dict[str, Any]) -> StreamDefinition:
    """Validate a stream file's config ``{name, schema, baseConfig?, canAccess?}``."""
    check_stream(file, config)
    can_access = config.get("canAccess")
    return StreamDefinition(
        file=file, name=config["name"], schema=config.get("schema"),
        has_can_access=bool(config.get("__motia_hasCanAccess"))
        or (can_access is not None and can_access is not False),
    )
