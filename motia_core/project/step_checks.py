"""The rules a step or stream config must follow, each failure naming file, field and fix.

The typed configs and ``parse_step``/``parse_stream`` live in :mod:`motia_core.project.steps`;
this module holds the rules they run, so the shapes stay readable apart from the rules, and
:mod:`motia_core.project.checker` the field checks the rules are made of. See steps.py for the
leniencies and extensions on top of the original's rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import timezone
from typing import Any

from motia_core.cron import CronExpressionError, parse_cron
from motia_core.project.checker import (
    Checker,
    ConfigError,
    InvalidStep,
    choice,
    got,
    is_number,
    number,
    string,
    string_list,
    unknown_keys,
)
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


def lambda_cpu_for_ram(ram_mb: float) -> float:
    """The vCPU AWS Lambda gives ``ram_mb`` of memory (clamped to the table's ends)."""
    if ram_mb <= _LAMBDA_CPU[0][0]:
        return _LAMBDA_CPU[0][1]
    for (low, low_cpu), (high, high_cpu) in itertools.pairwise(_LAMBDA_CPU):
        if ram_mb <= high:
            return low_cpu + (high_cpu - low_cpu) * (ram_mb - low) / (high - low)
    return _LAMBDA_CPU[-1][1]


def _emits(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of topics, {got(value)}",
                "write e.g. ['order.created'] or [{'topic': 'order.created', 'label': 'ok'}]; "
                "[] allows any topic")
        return
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if isinstance(item, dict):
            unknown_keys(c, where, item, ("topic", "label", "conditional"), "an emit")
            if item.get("topic") is None:
                c.error(f"{where}.topic", "is required", "name the topic, e.g. 'order.created'")
            else:
                string(c, f"{where}.topic", item["topic"], "order.created")
            if item.get("label") is not None:
                string(c, f"{where}.label", item["label"])
            conditional = item.get("conditional")
            if conditional is not None and not isinstance(conditional, bool):
                c.error(f"{where}.conditional", f"must be true or false, {got(conditional)}")
        elif not isinstance(item, str):
            c.error(where, f"must be a topic string or {{topic, label?, conditional?}}, "
                    f"{got(item)}", "write e.g. 'order.created'")
        else:
            string(c, where, item, "order.created")


def _schema(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, (dict, bool)):
        c.error(path, f"must be a JSON Schema object, {got(value)}",
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


def _response_schema(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        c.error(path, f"must map status codes to schemas, {got(value)}",
                "write e.g. {'200': {...schema...}}")
        return
    for status, schema in value.items():
        if schema is not None:
            _schema(c, f"{path}.{status}", schema)


def _query_params(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of {{name, description?}}, {got(value)}")
        return
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            c.error(f"{path}[{i}]", f"must be an object {{name, description?}}, {got(item)}",
                    "write e.g. {'name': 'limit', 'description': 'page size'}")
            continue
        string(c, f"{path}[{i}].name", item.get("name"), "limit")
        if item.get("description") is not None:
            string(c, f"{path}[{i}].description", item["description"])


def _middleware(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, list):
        c.error(path, f"must be a list of middleware functions, {got(value)}")


def _path(c: Checker, path: str, value: Any) -> None:
    if string(c, path, value, "/users/:id") and not value.startswith("/"):
        c.error(path, f"must start with '/', got {value!r}", f"write '/{value}'")


def _method(c: Checker, path: str, value: Any) -> None:
    if not string(c, path, value, "POST") or value in HTTP_METHODS:
        return
    if value.upper() in HTTP_METHODS:
        c.error(path, f"must be upper-case, got {value!r}", f"write {value.upper()!r}")
    else:
        c.error(path, f"must be one of {', '.join(HTTP_METHODS)}, got {value!r}")


def _cron(c: Checker, path: str, value: Any) -> None:
    if not string(c, path, value, "*/5 * * * *"):
        return
    try:
        parse_cron(value, timezone.utc)
    except CronExpressionError as exc:
        where = f"the {exc.field_name} field" if exc.field_name else "it"
        c.error(path, f"is not a valid cron expression ({value!r}): {where} {exc.problem}",
                exc.allowed)


def _handler_settings(c: Checker, path: str, value: dict[str, Any]) -> None:
    unknown_keys(c, path, value, ("ram", "cpu", "timeout"), "infrastructure.handler")
    ram, cpu, timeout = value.get("ram"), value.get("cpu"), value.get("timeout")
    if ram is not None and not number(c, f"{path}.ram", ram, 128, 10240, unit=" MB"):
        ram = None
    if timeout is not None:
        number(c, f"{path}.timeout", timeout, 1, 900, unit=" seconds")
    if cpu is not None and number(c, f"{path}.cpu", cpu, 0) and ram is not None:
        expected = lambda_cpu_for_ram(ram)
        if abs(cpu - expected) > _CPU_TOLERANCE:
            c.error(f"{path}.cpu", f"({cpu:g} vCPU) is not proportional to ram ({ram:g} MB)",
                    f"use about {expected:.2f} vCPU (AWS Lambda's ratio, within "
                    f"{_CPU_TOLERANCE}) or leave cpu out")


def _queue_settings(c: Checker, path: str, value: dict[str, Any]) -> None:
    rules: dict[str, Callable[[str, Any], object]] = {
        "type": lambda p, v: choice(c, p, v, ("standard", "fifo")),
        "maxRetries": lambda p, v: number(c, p, v, 0, integer=True),
        "visibilityTimeout": lambda p, v: number(c, p, v, 0, unit=" seconds"),
        "delaySeconds": lambda p, v: number(c, p, v, 0, 900, unit=" seconds"),
        "concurrency": lambda p, v: number(c, p, v, 1, integer=True),
        "messageGroupId": lambda p, v: string(c, p, v, "orderId"),
        "backoff": lambda p, v: choice(c, p, v, ("fixed", "exponential")),
        "retryDelaySeconds": lambda p, v: number(c, p, v, 0, unit=" seconds"),
    }
    unknown_keys(c, path, value, rules, "infrastructure.queue")
    for key, rule in rules.items():
        if value.get(key) is not None:
            rule(f"{path}.{key}", value[key])


def _infrastructure(c: Checker, path: str, value: Any) -> None:
    if not isinstance(value, dict):
        c.error(path, f"must be an object {{handler?, queue?}}, {got(value)}")
        return
    unknown_keys(c, path, value, ("handler", "queue"), "infrastructure")
    parts: dict[str, dict[str, Any]] = {}
    for key, check in (("handler", _handler_settings), ("queue", _queue_settings)):
        part = value.get(key)
        if part is None:
            continue
        if not isinstance(part, dict):
            c.error(f"{path}.{key}", f"must be an object, {got(part)}")
            continue
        parts[key] = part
        check(c, f"{path}.{key}", part)
    timeout: Any = parts.get("handler", {}).get("timeout")
    visibility: Any = parts.get("queue", {}).get("visibilityTimeout")
    if is_number(timeout) and is_number(visibility) and visibility <= timeout:
        c.error(f"{path}.queue.visibilityTimeout",
                f"({visibility:g}s) must be greater than handler.timeout ({timeout:g}s)",
                "raise it, or a message is delivered again while its handler still runs")


_FieldCheck = Callable[[Checker, str, Any], None]


def _text(example: str = "", *, may_be_empty: bool = False) -> _FieldCheck:
    def check(c: Checker, path: str, value: Any) -> None:
        string(c, path, value, example, may_be_empty=may_be_empty)
    return check


def _texts(example: str) -> _FieldCheck:
    def check(c: Checker, path: str, value: Any) -> None:
        string_list(c, path, value, example)
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


def _check_type(c: Checker, config: dict[str, Any]) -> str | None:
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
        c.error("config.type", f"is not a valid step type, {got(step_type)}",
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
    c = Checker(file)
    if not isinstance(config, dict):
        c.error("config", f"must be an object, {got(config)}")
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
    unknown_keys(c, "config", config, (*allowed, *misplaced), kind)
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
    c = Checker(file)
    if not isinstance(config, dict):
        c.error("config", f"must be an object, {got(config)}")
        c.fail()
    unknown_keys(c, "config", config, ("name", "schema", "baseConfig", "canAccess"), "a stream")
    if config.get("name") is None:
        c.error("config.name", "is required", "add e.g. 'name': 'todos' (the ctx.streams key)")
    else:
        string(c, "config.name", config["name"], "todos")
    if config.get("schema") is not None:
        _schema(c, "config.schema", config["schema"])
    base = config.get("baseConfig")
    if base is not None:
        if not isinstance(base, dict):
            c.error("config.baseConfig", f"must be an object, {got(base)}",
                    "write {'storageType': 'default'}")
        else:
            unknown_keys(c, "config.baseConfig", base, ("storageType", "factory"), "baseConfig")
            storage = base.get("storageType", "default")
            if storage == "custom":
                c.error("config.baseConfig.storageType", "cannot be 'custom' in a stream file",
                        "use 'default': a factory function cannot travel from a runner to the "
                        "core; choose the storage for the whole project instead")
            elif storage not in (None, "default"):
                c.error("config.baseConfig.storageType", f"must be 'default', {got(storage)}")
    if c.errors:
        c.fail()
