"""The rules a step or stream config must follow, each failure naming file, field and fix.

The typed configs and ``parse_step``/``parse_stream`` live in
:mod:`motia_core.project.steps`; this module
holds the checks they run, so the shapes stay readable apart from the rules. See steps.py for the
leniencies and extensions on top of the original's rules.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Collection, Iterable
from datetime import timezone
from pathlib import Path
from typing import Any, NoReturn

from motia_core.cron import CronExpressionError, parse_cron
from motia_core.validation import BodyValidator, SchemaInvalid

__all__ = (
    "HTTP_METHODS",
    "ConfigError",
    "InvalidStep",
    "check_step",
    "check_stream",
    "lambda_cpu_for_ram",
)

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
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


def _schema(c: _Checker, path: str, value: Any) -> None:
    if not isinstance(value, (dict, bool)):
        c.error(path, f"must be a JSON Schema object, {_got(value)}",
                "for a pydantic model use Model.model_json_schema(); TypeScript runners convert "
                "zod schemas themselves")
        return
    try:
        # The same validator that later checks bodies and event data: what passes here runs.
        BodyValidator(value)  # type: ignore[arg-type]
    except SchemaInvalid as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        c.error(f"{path}{where}", f"is not valid JSON Schema: {exc.problem}",
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


def check_step(file: str, language: str, config: Any, has_handler: bool,
               ) -> tuple[str, dict[str, Any]]:
    """(step type, the config cleaned for conversion), or ``InvalidStep`` with every problem."""
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
    return step_type, _clean(config, allowed)


def check_stream(file: str, config: Any) -> None:
    """Nothing, or ``InvalidStep`` listing every problem of a stream file's config."""
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
