"""Structured logs on top of stdlib ``logging``: JSON lines for machines, a short line for people.

Every record may carry, through ``extra=``, the keys of STYLE.md rule 11: ``trace_id``, ``step``,
``flows``, ``runner`` and ``action``; any other extra key becomes a field. Records from runners
(``log`` notifications) come in through :func:`log_record`, whose user fields travel under one
private attribute so a user field named ``name`` or ``args`` cannot clash with ``LogRecord``.

One object per JSON line: ``time`` (ISO-8601 UTC, ms), ``level`` (debug|info|warn|error), ``msg``,
then ``traceId``, ``step``, ``flows``, ``runner``, ``action`` and ``logger`` when known, then the
fields flat. A step's own fields win over the tags ``step``, ``flows``, ``runner``, ``action`` and
``logger``, as in the original (which spreads them last): ``logger.info("x", {"action": "y"})``
is logged with ``"action": "y"``. ``time``, ``level``, ``msg`` and ``traceId`` stay the record's
own, since readers find and order records by them. The console shows a step's fields whatever
their names.
``fields.error`` from a runner (``{message, stack, name}``) is kept as given; a Python exception
(``exc_info``) becomes the same shape.

The threshold is set once by :func:`configure_logging` (the original re-read ``LOG_LEVEL`` on
every call; nothing here changes it at run time, so reading it once is enough).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import msgspec
from rich.console import Console
from rich.text import Text

__all__ = (
    "LEVELS",
    "ConsoleLogHandler",
    "JsonLogFormatter",
    "LogListener",
    "LogSink",
    "StepLogger",
    "configure_logging",
    "level_name",
    "log_record",
    "output_is_json",
    "parse_level",
    "record_to_dict",
)

LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
# The name configure_logging gives its output handler, so a second call replaces the first.
_OUTPUT_HANDLER_NAME = "motia.output"
# The LogRecord attribute that carries a runner's fields (see the module docstring).
_FIELDS_ATTR = "motia_fields"
_FRAMEWORK_KEYS = ("step", "flows", "runner", "action")
_NOT_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName", "trace_id", "traceId", "span_id", _FIELDS_ATTR,
    *_FRAMEWORK_KEYS}
# What a step's fields cannot replace: the keys that find and order a record.
_RECORD_KEYS = frozenset({"time", "level", "msg", "traceId"})
_CONSOLE_HIDDEN = frozenset({"time", "level", "msg", "traceId", "step", "flows", "runner",
                             "action", "logger", "error"})
_CONSOLE_VALUE_CHARS = 60
_LEVEL_STYLES = {"debug": "dim", "info": "green", "warn": "yellow", "error": "bold red"}

LogListener = Callable[[dict[str, Any]], None]


def parse_level(name: str, *, source: str = "level") -> int:
    """The stdlib level for one of our level names; ``source`` names where it came from."""
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"{source}={name!r} is not a log level; use one of "
                         "debug, info, warn, error") from None


def level_name(levelno: int) -> str:
    """Our four level names; stdlib CRITICAL counts as error."""
    if levelno <= logging.DEBUG:
        return "debug"
    if levelno <= logging.INFO:
        return "info"
    return "warn" if levelno <= logging.WARNING else "error"


def _iso_utc(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


def _exception_error(record: logging.LogRecord) -> dict[str, str] | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    exc_type, exc, tb = record.exc_info
    stack = "".join(traceback.format_exception(exc_type, exc, tb)).rstrip()
    return {"message": str(exc), "name": type(exc).__name__, "stack": stack}


def record_to_dict(record: logging.LogRecord, *, iso_time: bool = True) -> dict[str, Any]:
    """The record as one flat object (the JSON line's shape). ``iso_time=False`` gives ``time``
    as epoch milliseconds instead, the unit of the Workbench's ``__motia.logs`` stream."""
    out: dict[str, Any] = {
        "time": _iso_utc(record) if iso_time else int(record.created * 1000),
        "level": level_name(record.levelno),
        "msg": record.getMessage(),
    }
    attrs = record.__dict__
    trace_id = attrs.get("trace_id") or attrs.get("traceId")
    if trace_id:
        out["traceId"] = trace_id
    span_id = attrs.get("span_id")
    if span_id:
        out["spanId"] = span_id
    for key in _FRAMEWORK_KEYS:
        value = attrs.get(key)
        if value is not None:
            out[key] = value
    out["logger"] = record.name
    for key, value in attrs.items():
        if key not in _NOT_FIELDS and key not in out:
            out[key] = value
    fields = attrs.get(_FIELDS_ATTR)
    if fields:
        for key, value in fields.items():
            if key not in _RECORD_KEYS:
                out[key] = value
    error = _exception_error(record)
    if error is not None:
        out.setdefault("error", error)
    return out


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside strings are escaped)."""

    def __init__(self) -> None:
        super().__init__()
        # Anything JSON cannot hold (a Path, an object a user logged) is written as its str().
        self._encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        data = record_to_dict(record)
        try:
            return self._encoder.encode(data).decode("utf-8")
        except Exception:
            # A value that cannot even be str()-ed (its __str__ raises): write the fields as reprs
            # rather than lose the record.
            safe = {k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
                    for k, v in data.items()}
            return self._encoder.encode(safe).decode("utf-8")


def _compact(value: Any, encoder: msgspec.json.Encoder) -> str:
    if isinstance(value, str) and value and not any(c.isspace() for c in value):
        text = value
    else:
        try:
            text = encoder.encode(value).decode("utf-8")
        except Exception:  # see JsonLogFormatter.format
            text = repr(value)
    if len(text) > _CONSOLE_VALUE_CHARS:
        return text[: _CONSOLE_VALUE_CHARS - 1] + "…"
    return text


class ConsoleLogHandler(logging.Handler):
    """``[HH:MM:SS.mmm] traceId LEVEL Step msg key=value ...`` in local time, colour on a
    terminal; an error's stack follows on its own lines. Short on purpose: the JSON lines (or the
    Workbench) hold everything."""

    def __init__(self, stream: TextIO, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = Console(file=stream, highlight=False, markup=False, emoji=False,
                               soft_wrap=True)
        self._encoder = msgspec.json.Encoder(enc_hook=str)

    def render(self, record: logging.LogRecord) -> Text:
        data = record_to_dict(record)
        level = data["level"]
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = Text(f"[{clock}.{int(record.msecs):03d}] ", style="dim")
        if "traceId" in data:
            line.append(f"{data['traceId']} ", style="cyan")
        line.append(f"{level.upper():<5} ", style=_LEVEL_STYLES[level])
        # The step's own fields may use these names too: the column shows the core's tags.
        attrs = record.__dict__
        name = attrs.get("step") or attrs.get("runner")
        fields = attrs.get(_FIELDS_ATTR) or {}
        if name:
            line.append(f"{name} ", style="bold")
        line.append(str(data["msg"]))
        error = data.get("error")
        if isinstance(error, Mapping):
            line.append(f" error={error.get('name') or 'Error'}: {error.get('message', '')}",
                        style="red")
        elif error is not None:
            line.append(f" error={_compact(error, self._encoder)}", style="red")
        for key, value in data.items():
            if key not in _CONSOLE_HIDDEN or (key in fields and key not in _RECORD_KEYS
                                              and key != "error"):
                line.append(f" {key}={_compact(value, self._encoder)}", style="dim")
        if isinstance(error, Mapping) and error.get("stack"):
            line.append("\n" + str(error["stack"]).rstrip(), style="dim red")
        return line

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.render(record))
        except Exception:
            self.handleError(record)


class LogSink(logging.Handler):
    """Hands every record, as a dict (``record_to_dict(..., iso_time=False)``), to each function
    in ``listeners``: the hook that forwards logs to the Workbench or a stream. Attach it with
    ``logging.getLogger().addHandler(sink)``. Listeners share one dict: read it, do not change it.
    A listener that raises is reported on stderr and the others still run."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.listeners: list[LogListener] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not self.listeners:
            return
        data = record_to_dict(record, iso_time=False)
        for listener in tuple(self.listeners):
            try:
                listener(data)
            except Exception:
                self.handleError(record)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


def configure_logging(json: bool | None = None, level: str | None = None,
                      stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr by default), as JSON lines when ``json`` is
    true or, with ``json=None``, when ``stream`` is not a terminal; readable lines otherwise.

    ``level`` wins over the ``LOG_LEVEL`` environment variable, which wins over ``info``. Calling
    it again replaces the handler it installed. Returns that handler.
    """
    if level is not None:
        threshold = parse_level(level)
    else:
        threshold = parse_level(os.environ.get("LOG_LEVEL") or "info", source="LOG_LEVEL")
    out = sys.stderr if stream is None else stream
    use_json = (not _is_terminal(out)) if json is None else json
    handler: logging.Handler
    if use_json:
        handler = logging.StreamHandler(out)
        handler.setFormatter(JsonLogFormatter())
    else:
        handler = ConsoleLogHandler(out)
    handler.set_name(_OUTPUT_HANDLER_NAME)
    # The threshold is also the handler's, so a logger opened wider for another handler (the
    # app records info logs for the Workbench whatever the console shows) stays quiet here.
    handler.setLevel(threshold)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _OUTPUT_HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(threshold)
    return handler


def output_is_json() -> bool:
    """Whether :func:`configure_logging` made stderr JSON lines, so that whatever else the
    process reports there must be log records too."""
    return any(handler.get_name() == _OUTPUT_HANDLER_NAME
               and isinstance(handler.formatter, JsonLogFormatter)
               for handler in logging.getLogger().handlers)


def log_record(logger: logging.Logger, level: str, msg: str, *, trace_id: str | None = None,
               step: str | None = None, flows: list[str] | None = None,
               fields: Mapping[str, Any] | None = None, runner: str | None = None,
               action: str = "step_log", span_id: str | None = None) -> None:
    """Log one record on behalf of a step (a runner's ``log`` notification, or the core speaking
    about an invocation), tagged with its step, flows and trace. An unknown level logs as info:
    a runner's sloppy level must not lose the line."""
    levelno = LEVELS.get(level, logging.INFO)
    if not logger.isEnabledFor(levelno):
        return
    extra: dict[str, Any] = {"action": action, _FIELDS_ATTR: fields}
    if trace_id is not None:
        extra["trace_id"] = trace_id
    if span_id is not None:
        extra["span_id"] = span_id
    if step is not None:
        extra["step"] = step
    if flows is not None:
        extra["flows"] = flows
    if runner is not None:
        extra["runner"] = runner
    # No args: the message is never %-formatted, so a user's "100%" is safe.
    logger.log(levelno, msg, extra=extra)


class StepLogger:
    """:func:`log_record` with the step's tags bound: the core's logger for one invocation."""

    __slots__ = ("flows", "logger", "runner", "step", "trace_id")

    def __init__(self, logger: logging.Logger, *, trace_id: str | None, step: str | None,
                 flows: list[str] | None = None, runner: str | None = None) -> None:
        self.logger, self.trace_id, self.step = logger, trace_id, step
        self.flows, self.runner = flows, runner

    def log(self, level: str, msg: str, fields: Mapping[str, Any] | None = None) -> None:
        log_record(self.logger, level, msg, trace_id=self.trace_id, step=self.step,
                   flows=self.flows, fields=fields, runner=self.runner)

    def debug(self, msg: str, fields: Mapping[str, Any] | None = None) -> None:
        self.log("debug", msg, fields)

    def info(self, msg: str, fields: Mapping[str, Any] | None = None) -> None:
        self.log("info", msg, fields)

    def warn(self, msg: str, fields: Mapping[str, Any] | None = None) -> None:
        self.log("warn", msg, fields)

    def error(self, msg: str, fields: Mapping[str, Any] | None = None) -> None:
        self.log("error", msg, fields)
