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

import difflib
import functools
import itertools
import warnings
from collections.abc import Callable, Collection, Iterable
from datetime import timezone
from pathlib import Path
from typing import Any, Literal, NoReturn, Union

import jsonschema  # type: ignore[import-untyped]
import msgspec

from motia_core.cron import CronExpressionError, parse_cron

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

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
StepType = Literal["api", "event", "cron", "noop"]
# AWS Lambda's vCPU per configured RAM (MB); Motia checks `cpu` against it, interpolating linearly.
_LAMBDA_CPU = ((128, 0.0625), (256, 0.125), (512, 0.25), (1024, 0.5), (1536, 0.75), (2048, 1.0),
               (3008, 1.5), (4096, 2.0), (5120, 2.5), (6144, 3.0), (7168, 3.5), (8192, 4.0),
               (9216, 4.5), (10240, 5.0))
_CPU_TOLERANCE = 0.1


# --- errors ------------------------------------------------------------------------------------


class ConfigError(Exception):
    """One problem in one file's config. ``field`` is a path such as
    ``config.infrastructure.queue.maxRetries``; empty when the whole file failed to load."""

    def __init__(self, file: str, field: str, message: str, hint: str = "") -> None:
        self.file = file
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(file, field, message, hint)

    def __str__(self) -> str:
        return self.describe()

    def describe(self, root: Path | None = None) -> str:
        """One sentence; file paths relative to ``root`` when given."""
        file = self.file
        if root is not None:
            try:
                file = str(Path(self.file).relative_to(root))
            except ValueError:
                pass
        if self.field:
            text = f"{file}: {self.field} {self.message}"
        elif Path(self.file).name in self.message:
            text = self.message  # a runner's load error already names the file
        else:
            text = f"{file}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class InvalidStep(Exception):
    """A step or stream file whose config has problems; ``errors`` lists every one of them."""

    def __init__(self, file: str, errors: list[ConfigError]) -> None:
        self.file = file
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


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


def lambda_cpu_for_ram(ram_mb: float) -> float:
    """The vCPU AWS Lambda gives ``ram_mb`` of memory (clamped to the table's ends)."""
    if ram_mb <= _LAMBDA_CPU[0][0]:
        return _LAMBDA_CPU[0][1]
    for (low, low_cpu), (high, high_cpu) in itertools.pairwise(_LAMBDA_CPU):
        if ram_mb <= high:
            return low_cpu + (high_cpu - low_cpu) * (ram_mb - low) / (high - low)
    return _LAMBDA_CPU[-1][1]


# --- validation --------------------------------------------------------------------------------


class _Checker:
    """Collects every problem of one config instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []

    def error(self, field: str, message: str, hint: str = "") -> None:
        self.errors.append(ConfigError(self.file, field, message, hint))

    def fail(self) -> NoReturn:
        raise InvalidStep(self.file, self.errors)


def _got(value: Any) -> str:
    if value is None:
        return "got null"
    if isinstance(value, bool):
        return f"got the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"got the number {value}"
    if isinstance(value, str):
        return f"got the string {value[:60]!r}"
    return "got a list" if isinstance(value, list) else "got an object"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unknown_keys(c: _Checker, path: str, value: dict[str, Any], allowed: Collection[str],
                  kind: str) -> None:
    for key in value:
        if key in allowed or key.startswith("__motia"):
            continue
        close = difflib.get_close_matches(key, list(allowed), n=1)
        hint = (f"did you mean {close[0]!r}?" if close
                else f"remove it ({kind} allows {', '.join(sorted(allowed))})")
        c.error(f"{path}.{key}", f"is not a field of {kind}", hint)


def _string(c: _Checker, path: str, value: Any, example: str = "", *,
            may_be_empty: bool = False) -> bool:
    if not isinstance(value, str):
        c.error(path, f"must be a string, {_got(value)}", f"write e.g. {example!r}" if example
                else "")
        return False
    if not may_be_empty and not value.strip():
        c.error(path, "must not be empty", f"write e.g. {example!r}" if example else "")
        return False
    return True


def _string_list(c: _Checker, path: str, value: Any, example: str) -> None:
    if not isinstance(value, list):
        shown = value if isinstance(value, str) else example
        c.error(path, f"must be a list of strings, {_got(value)}", f"write e.g. [{shown!r}]")
        return
    for i, item in enumerate(value):
        _string(c, f"{path}[{i}]", item, example)


def _emits(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of topics, {_got(value)}",
                "write e.g. ['order.created'] or [{'topic': 'order.created', 'label': 'ok'}]; "
                "[] allows any topic")
        return
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(item, dict):
            _unknown_keys(c, where, item, ("topic", "label", "conditional"), "an emit")
            if item.get("topic") is None:
                c.error(f"{where}.topic", "is required", "name the topic, e.g. 'order.created'")
            else:
                _string(c, f"{where}.topic", item["topic"], "order.created")
            if item.get("label") is not None:
                _string(c, f"{where}.label", item["label"])
            conditional = item.get("conditional")
            if conditional is not None and not isinstance(conditional, bool):
                c.error(f"{where}.conditional", f"must be true or false, {_got(conditional)}")
        elif not isinstance(item, str):
            c.error(where, f"must be a topic string or {{topic, label?, conditional?}}, "
                    f"{_got(item)}", "write e.g. 'order.created'")
        else:
            _string(c, where, item, "order.created")


_DEFAULT_DRAFT = jsonschema.Draft202012Validator


@functools.lru_cache(maxsize=8)
def _meta_validator(cls: type[jsonschema.protocols.Validator]) -> jsonschema.protocols.Validator:
    return cls(cls.META_SCHEMA)


def _schema(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, (dict, bool)):
        c.error(path, f"must be a JSON Schema object, {_got(value)}",
                "for a pydantic model use Model.model_json_schema(); TypeScript runners convert "
                "zod schemas themselves")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown "$schema" falls back to the latest draft
        try:
            cls = jsonschema.validators.validator_for(value, default=_DEFAULT_DRAFT)
        except Exception:  # a malformed "$schema" value; the meta-schema check reports it
            cls = _DEFAULT_DRAFT
    error = jsonschema.exceptions.best_match(_meta_validator(cls).iter_errors(value))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        c.error(f"{path}{where}", f"is not valid JSON Schema: {error.message}",
                "fix the schema (see https://json-schema.org/understanding-json-schema)")


def _response_schema(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        c.error(path, f"must map status codes to schemas, {_got(value)}",
                "write e.g. {'200': {...schema...}}")
        return
    for status, schema in value.items():
        if schema is not None:
            _schema(c, f"{path}.{status}", schema)


def _query_params(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of {{name, description?}}, {_got(value)}")
        return
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            c.error(f"{path}[{i}]", f"must be an object {{name, description?}}, {_got(item)}",
                    "write e.g. {'name': 'limit', 'description': 'page size'}")
            continue
        _string(c, f"{path}[{i}].name", item.get("name"), "limit")
        if item.get("description") is not None:
            _string(c, f"{path}[{i}].description", item["description"])


def _middleware(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of middleware functions, {_got(value)}")


def _path(c: _Checker, path: str, value: Any) -> None:
    if _string(c, path, value, "/users/:id") and not value.startswith("/"):
        c.error(path, f"must start with '/', got {value!r}", f"write '/{value}'")


def _method(c: _Checker, path: str, value: Any) -> None:
    if not _string(c, path, value, "POST") or value in HTTP_METHODS:
        return
    if value.upper() in HTTP_METHODS:
        c.error(path, f"must be upper-case, got {value!r}", f"write {value.upper()!r}")
    else:
        c.error(path, f"must be one of {', '.join(HTTP_METHODS)}, got {value!r}")


def _cron(c: _Checker, path: str, value: Any) -> None:
    if not _string(c, path, value, "*/5 * * * *"):
        return
    try:
        parse_cron(value, timezone.utc)
    except CronExpressionError as exc:
        where = f"the {exc.field_name} field" if exc.field_name else "it"
        c.error(path, f"is not a valid cron expression ({value!r}): {where} {exc.problem}",
                exc.allowed)


def _number(c: _Checker, path: str, value: Any, low: float | None = None,
            high: float | None = None, *, integer: bool = False, unit: str = "") -> bool:
    if not _is_number(value) or (integer and float(value) != int(value)):
        c.error(path, f"must be {'a whole number' if integer else 'a number'}, {_got(value)}")
        return False
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (f"between {low:g} and {high:g}" if low is not None and high is not None
                  else f"at least {low:g}" if low is not None else f"at most {high:g}")
        c.error(path, f"must be {bounds}{unit}, got {value:g}")
        return False
    return True


def _choice(c: _Checker, path: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        c.error(path, f"must be one of {', '.join(map(repr, options))}, {_got(value)}")


def _handler_settings(c: _Checker, path: str, value: dict[str, Any]) -> None:
    _unknown_keys(c, path, value, ("ram", "cpu", "timeout"), "infrastructure.handler")
    ram, cpu, timeout = value.get("ram"), value.get("cpu"), value.get("timeout")
    if ram is not None and not _number(c, f"{path}.ram", ram, 128, 10240, unit=" MB"):
        ram = None
    if timeout is not None:
        _number(c, f"{path}.timeout", timeout, 1, 900, unit=" seconds")
    if cpu is not None and _number(c, f"{path}.cpu", cpu, 0) and ram is not None:
        expected = lambda_cpu_for_ram(ram)
        if abs(cpu - expected) > _CPU_TOLERANCE:
            c.error(f"{path}.cpu", f"({cpu:g} vCPU) is not proportional to ram ({ram:g} MB)",
                    f"use about {expected:.2f} vCPU (AWS Lambda's ratio, within "
                    f"{_CPU_TOLERANCE}) or leave cpu out")


def _queue_settings(c: _Checker, path: str, value: dict[str, Any]) -> None:
    rules: dict[str, Callable[[str, Any], object]] = {
        "type": lambda p, v: _choice(c, p, v, ("standard", "fifo")),
        "maxRetries": lambda p, v: _number(c, p, v, 0, integer=True),
        "visibilityTimeout": lambda p, v: _number(c, p, v, 0, unit=" seconds"),
        "delaySeconds": lambda p, v: _number(c, p, v, 0, 900, unit=" seconds"),
        "concurrency": lambda p, v: _number(c, p, v, 1, integer=True),
        "messageGroupId": lambda p, v: _string(c, p, v, "orderId"),
        "backoff": lambda p, v: _choice(c, p, v, ("fixed", "exponential")),
        "retryDelaySeconds": lambda p, v: _number(c, p, v, 0, unit=" seconds"),
    }
    _unknown_keys(c, path, value, rules, "infrastructure.queue")
    for key, rule in rules.items():
        if value.get(key) is not None:
            rule(f"{path}.{key}", value[key])


def _infrastructure(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        c.error(path, f"must be an object {{handler?, queue?}}, {_got(value)}")
        return
    _unknown_keys(c, path, value, ("handler", "queue"), "infrastructure")
    parts: dict[str, dict[str, Any]] = {}
    for key, check in (("handler", _handler_settings), ("queue", _queue_settings)):
        part = value.get(key)
        if part is None:
            continue
        if not isinstance(part, dict):
            c.error(f"{path}.{key}", f"must be an object, {_got(part)}")
            continue
        parts[key] = part
        check(c, f"{path}.{key}", part)
    timeout: Any = parts.get("handler", {}).get("timeout")
    visibility: Any = parts.get("queue", {}).get("visibilityTimeout")
    if _is_number(timeout) and _is_number(visibility) and visibility <= timeout:
        c.error(f"{path}.queue.visibilityTimeout",
                f"({visibility:g}s) must be greater than handler.timeout ({timeout:g}s)",
                "raise it, or a message is delivered again while its handler still runs")


_FieldCheck = Callable[[_Checker, str, Any], None]


def _text(example: str = "", *, may_be_empty: bool = False) -> _FieldCheck:
    def check(c: _Checker, path: str, value: Any) -> None:
        _string(c, path, value, example, may_be_empty=may_be_empty)
    return check


def _texts(example: str) -> _FieldCheck:
    def check(c: _Checker, path: str, value: Any) -> None:
        _string_list(c, path, value, example)
    return check


_CHECKS: dict[str, _FieldCheck] = {
    "name": _text("CreateOrder"),
    "description": _text(may_be_empty=True),
    "flows": _texts("orders"),
    "emits": _emits,
    "virtualEmits": _emits,
    "subscribes": _texts("order.created"),
    "virtualSubscribes": _texts("order.created"),
    "includeFiles": _texts("./data/*.json"),
    "path": _path,
    "method": _method,
    "bodySchema": _schema,
    "input": _schema,
    "responseSchema": _response_schema,
    "queryParams": _query_params,
    "middleware": _middleware,
    "cron": _cron,
    "infrastructure": _infrastructure,
}
_COMMON = ("type", "name", "description", "flows", "virtualEmits", "virtualSubscribes")
_ALLOWED: dict[str, tuple[str, ...]] = {
    "api": (*_COMMON, "path", "method", "emits", "bodySchema", "responseSchema", "queryParams",
            "middleware", "includeFiles"),
    "event": (*_COMMON, "subscribes", "emits", "input", "infrastructure", "includeFiles"),
    "cron": (*_COMMON, "cron", "emits", "includeFiles"),
    "noop": _COMMON,
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "api": ("name", "path", "method", "emits"),
    "event": ("name", "subscribes", "emits"),
    "cron": ("name", "cron", "emits"),
    "noop": ("name", "virtualEmits", "virtualSubscribes"),
}
_EXAMPLES = {"name": "'CreateOrder'", "path": "'/orders'", "method": "'POST'",
             "emits": "[] or ['order.created']", "subscribes": "['order.created']",
             "cron": "'*/5 * * * *'", "virtualEmits": "['order.created']",
             "virtualSubscribes": "['order.created']"}
_HANDLER_ARGS = {"api": "(req, ctx)", "event": "(input, ctx)", "cron": "(ctx)"}
_HANDLER_HINTS = {
    "python": "define `async def handler{args}:` at module level",
    "node": "add `export const handler = async {args} => {{ ... }}`",
    "ruby": "define `def handler{args}` at the top level",
}


def _check_type(c: _Checker, config: dict[str, Any]) -> str | None:
    step_type = config.get("type")
    if isinstance(step_type, str) and step_type in _ALLOWED:
        return step_type
    options = ", ".join(repr(t) for t in _ALLOWED)
    if step_type is None:
        c.error("config.type", "is required", f"set it to one of {options}")
    elif isinstance(step_type, str) and step_type.lower() in _ALLOWED:
        c.error("config.type", f"must be lower-case, got {step_type!r}",
                f"write {step_type.lower()!r}")
    else:
        c.error("config.type", f"is not a valid step type, {_got(step_type)}",
                f"use one of {options}")
    return None


def _clean(config: dict[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """The checked config, ready for msgspec: nulls and annotations out, emits as objects."""
    cleaned = {k: v for k, v in config.items() if k in allowed and v is not None}
    for key in ("emits", "virtualEmits"):
        if key in cleaned:
            cleaned[key] = [{"topic": e} if isinstance(e, str) else e for e in cleaned[key]]
    if "infrastructure" in cleaned:
        cleaned["infrastructure"] = {
            part: {k: v for k, v in settings.items() if v is not None}
            for part, settings in cleaned["infrastructure"].items() if settings is not None
        }
    return cleaned


def parse_step(file: str, language: str, config: dict[str, Any], has_handler: bool,
               validates_body: bool = False) -> Step:
    """Validate one step config (as a runner reported it) and return the typed ``Step``.

    Raises ``InvalidStep`` listing every problem (file and field named, with a fix).
    """
    c = _Checker(file)
    if not isinstance(config, dict):
        c.error("config", f"must be an object, {_got(config)}")
        c.fail()
    step_type = _check_type(c, config)
    if step_type is None:
        if config.get("name") is not None:
            _CHECKS["name"](c, "config.name", config["name"])
        c.fail()
    allowed = _ALLOWED[step_type]
    kind = f"{'an' if step_type in ('api', 'event') else 'a'} {step_type} step"
    misplaced = [k for k in config if k not in allowed and k in _CHECKS]
    for key in misplaced:
        owners = " and ".join(t for t, keys in _ALLOWED.items() if key in keys)
        c.error(f"config.{key}", f"is not allowed on {kind}",
                f"remove it, or change the type: {key} belongs to {owners} steps")
    _unknown_keys(c, "config", config, (*allowed, *misplaced), kind)
    for key in _REQUIRED[step_type]:
        if config.get(key) is None:
            c.error(f"config.{key}", f"is required for {step_type} steps",
                    f"add e.g. {key!r}: {_EXAMPLES[key]}")
    for key, value in config.items():
        if key in allowed and key != "type" and value is not None:
            _CHECKS[key](c, f"config.{key}", value)
    if step_type != "noop" and not has_handler:
        hint = _HANDLER_HINTS.get(language, "define a handler{args} in the file")
        c.error("handler", f"is missing: the {step_type} step exports no handler",
                hint.format(args=_HANDLER_ARGS[step_type]))
    if c.errors:
        c.fail()
    try:
        # Lax: whole numbers a JS runner sent as 2.0 become ints; everything was checked above.
        typed = msgspec.convert(_clean(config, allowed), type=_TYPES[step_type], strict=False)
    except msgspec.ValidationError as exc:  # a rule missing above: still only this step fails
        c.error("config", f"does not fit the {step_type} step shape: {exc}")
        c.fail()
    return Step(file=file, language=language, config=typed,  # type: ignore[arg-type]
                has_handler=has_handler, validates_body=validates_body)


def parse_stream(file: str, config: dict[str, Any]) -> StreamDefinition:
    """Validate a stream file's config ``{name, schema, baseConfig?, canAccess?}``."""
    c = _Checker(file)
    if not isinstance(config, dict):
        c.error("config", f"must be an object, {_got(config)}")
        c.fail()
    _unknown_keys(c, "config", config, ("name", "schema", "baseConfig", "canAccess"), "a stream")
    if config.get("name") is None:
        c.error("config.name", "is required", "add e.g. 'name': 'todos' (the ctx.streams key)")
    else:
        _string(c, "config.name", config["name"], "todos")
    if config.get("schema") is not None:
        _schema(c, "config.schema", config["schema"])
    base = config.get("baseConfig")
    if base is not None:
        if not isinstance(base, dict):
            c.error("config.baseConfig", f"must be an object, {_got(base)}",
                    "write {'storageType': 'default'}")
        else:
            _unknown_keys(c, "config.baseConfig", base, ("storageType", "factory"), "baseConfig")
            storage = base.get("storageType", "default")
            if storage == "custom":
                c.error("config.baseConfig.storageType", "cannot be 'custom' in a stream file",
                        "use 'default': a factory function cannot travel from a runner to the "
                        "core; choose the storage for the whole project instead")
            elif storage not in (None, "default"):
                c.error("config.baseConfig.storageType", f"must be 'default', {_got(storage)}")
    if c.errors:
        c.fail()
    can_access = config.get("canAccess")
    return StreamDefinition(
        file=file, name=config["name"], schema=config.get("schema"),
        has_can_access=bool(config.get("__motia_hasCanAccess"))
        or (can_access is not None and can_access is not False),
    )
