"""Structured logs: JSON lines, the console rendering, levels, runner records and the sink."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from motia_core.observability.logs import (
    ConsoleLogHandler,
    LogSink,
    StepLogger,
    configure_logging,
    level_name,
    log_record,
    parse_level,
)

TRACE_ID = "K7M2Q-5123456"
ISO_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def restore_root_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_logging changes the root logger: put it back after each test."""
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def step_log(logger: logging.Logger, level: str = "info", msg: str = "pet created",
             **fields: Any) -> None:
    log_record(logger, level, msg, trace_id=TRACE_ID, step="CreatePet", flows=["pets"],
               fields=fields, runner="python")


# --- JSON lines -----------------------------------------------------------------------------------


def test_a_runner_record_becomes_one_json_line_with_its_tags() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=out)
    error = {"message": "no such pet", "stack": "Error: no such pet\n  at handler", "name": "E"}
    step_log(logging.getLogger("motia.step"), msg="100% done", petId=7, error=error)
    [line] = json_lines(out)
    assert ISO_UTC_MS.match(line.pop("time"))
    assert line == {
        "level": "info", "msg": "100% done", "traceId": TRACE_ID, "step": "CreatePet",
        "flows": ["pets"], "runner": "python", "action": "step_log", "logger": "motia.step",
        "petId": 7, "error": error,
    }


def test_stdlib_records_keep_rule_11_extras_and_their_fields_flat() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="info", stream=out)
    log = logging.getLogger("motia.runner")
    log.info("runner %s spawned (pid %d)", "python", 42,
             extra={"action": "spawned", "runner": "python", "trace_id": "T", "pid": 42})
    log.warning("slow")
    log.critical("on fire")
    first, second, third = json_lines(out)
    assert first["msg"] == "runner python spawned (pid 42)"
    assert (first["action"], first["runner"], first["traceId"], first["pid"]) == (
        "spawned", "python", "T", 42)
    assert "trace_id" not in first
    assert (second["level"], third["level"]) == ("warn", "error")
    assert "traceId" not in second and "step" not in second


def test_an_exception_becomes_an_error_object() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("motia.http").exception("handler failed")
    [line] = json_lines(out)
    assert line["error"]["name"] == "ValueError"
    assert line["error"]["message"] == "bad input"
    assert 'raise ValueError("bad input")' in line["error"]["stack"]


def test_user_fields_never_break_or_override_the_record() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    logger = logging.getLogger("motia.step")
    # Names that LogRecord owns, and names the framework owns.
    fields = {"name": "Rex", "args": [1], "level": "error", "msg": "forged", "traceId": "forged",
              "path": Path("/tmp/x"), "odd": {(1, 2): "tuple key"}}
    log_record(logger, "info", "line one\nline two", trace_id=TRACE_ID, fields=fields)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert (line["msg"], line["level"], line["traceId"]) == ("line one\nline two", "info",
                                                            TRACE_ID)
    assert (line["name"], line["args"], line["path"]) == ("Rex", [1], "/tmp/x")
    assert line["odd"] == {"(1, 2)": "tuple key"}


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        return "<Unprintable>"


def test_a_field_that_cannot_be_encoded_is_written_as_its_repr() -> None:
    out = io.StringIO()
    configure_logging(json=True, stream=out)
    logging.getLogger("motia.x").info("odd value", extra={"thing": Unprintable()})
    [line] = json_lines(out)
    assert (line["msg"], line["thing"]) == ("odd value", "<Unprintable>")


# --- levels ---------------------------------------------------------------------------------------


def test_level_filtering() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="warn", stream=out)
    logger = logging.getLogger("motia.step")
    step_log(logger, "debug", "d")
    step_log(logger, "info", "i")
    step_log(logger, "warn", "w")
    step_log(logger, "error", "e")
    step_log(logger, "loud", "unknown levels log as info")
    assert [line["msg"] for line in json_lines(out)] == ["w", "e"]


def test_log_level_env_is_honoured_and_an_explicit_level_wins(
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    configure_logging(json=True, stream=out)
    logging.getLogger("motia.x").warning("hidden")
    logging.getLogger("motia.x").error("shown")
    assert [line["msg"] for line in json_lines(out)] == ["shown"]

    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=out)
    logging.getLogger("motia.x").debug("debug shown")
    assert [line["msg"] for line in json_lines(out)] == ["debug shown"]


def test_bad_levels_name_their_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match=r"LOG_LEVEL='verbose'.*debug, info, warn, error"):
        configure_logging()
    with pytest.raises(ValueError, match=r"level='loud'"):
        configure_logging(level="loud")
    assert parse_level(" Warning ") == logging.WARNING
    assert [level_name(n) for n in (5, 10, 20, 30, 40, 50)] == [
        "debug", "debug", "info", "warn", "error", "error"]


# --- choosing the output --------------------------------------------------------------------------


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, stream=first)
    handler = configure_logging(json=True, stream=second)
    logging.getLogger("motia.x").info("once")
    assert first.getvalue() == ""
    assert [line["msg"] for line in json_lines(second)] == ["once"]
    assert [h for h in logging.getLogger().handlers if h.get_name() == "motia.output"] == [handler]


def test_json_is_chosen_when_the_stream_is_not_a_terminal() -> None:
    assert not isinstance(configure_logging(stream=io.StringIO()), ConsoleLogHandler)
    assert isinstance(configure_logging(stream=Terminal()), ConsoleLogHandler)
    assert isinstance(configure_logging(json=False, stream=io.StringIO()), ConsoleLogHandler)
    assert not isinstance(configure_logging(json=True, stream=Terminal()), ConsoleLogHandler)


# --- the console rendering ------------------------------------------------------------------------


def test_console_line_shows_time_trace_level_step_msg_and_fields() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    step_log(logging.getLogger("motia.step"), msg="pet created " + "x" * 200, petId=7,
             owner="Ann Lee", tags=["a", "b"], blob="y" * 300)
    [line] = ANSI.sub("", out.getvalue()).splitlines()
    assert re.match(rf"^\[\d\d:\d\d:\d\d\.\d{{3}}\] {TRACE_ID} INFO  CreatePet pet created x+ ",
                    line)
    assert ' petId=7 owner="Ann Lee" tags=["a","b"] ' in line
    assert "blob=" + "y" * 59 + "…" in line
    # Framework tags other than trace and step stay out of the short line.
    assert "flows" not in line and "action" not in line and "logger" not in line


def test_console_on_a_terminal_keeps_the_text() -> None:
    out = Terminal()
    configure_logging(stream=out)
    step_log(logging.getLogger("motia.step"), "warn", "careful")
    text = ANSI.sub("", out.getvalue())
    assert f"{TRACE_ID} WARN  CreatePet careful" in text


def test_console_prints_an_errors_stack_below_the_line() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    error = {"message": "no such pet", "stack": "Error: no such pet\n    at handler (a.ts:3)",
             "name": "NotFound"}
    step_log(logging.getLogger("motia.step"), "error", "failed", error=error)
    first, *stack = ANSI.sub("", out.getvalue()).splitlines()
    assert first.endswith("ERROR CreatePet failed error=NotFound: no such pet")
    assert stack == ["Error: no such pet", "    at handler (a.ts:3)"]


def test_console_names_the_runner_when_there_is_no_step() -> None:
    out = io.StringIO()
    configure_logging(json=False, stream=out)
    logging.getLogger("motia.runner.python").info(
        "Traceback (most recent call last):", extra={"action": "stderr", "runner": "python-1"})
    text = ANSI.sub("", out.getvalue())
    assert re.match(r"^\[[\d:.]+\] INFO  python-1 Traceback \(most recent call last\):$",
                    text.strip())


# --- the step logger and the sink -----------------------------------------------------------------


def test_step_logger_binds_the_tags() -> None:
    out = io.StringIO()
    configure_logging(json=True, level="debug", stream=out)
    step = StepLogger(logging.getLogger("motia.step"), trace_id=TRACE_ID, step="Audit",
                      flows=None)
    step.debug("d")
    step.info("i", {"n": 1})
    step.warn("w")
    step.error("e")
    lines = json_lines(out)
    assert [(line["level"], line["msg"]) for line in lines] == [
        ("debug", "d"), ("info", "i"), ("warn", "w"), ("error", "e")]
    assert all(line["traceId"] == TRACE_ID and line["step"] == "Audit" for line in lines)
    assert "flows" not in lines[0] and lines[1]["n"] == 1


def test_log_sink_hands_each_record_to_every_listener(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="info", stream=io.StringIO())
    sink = LogSink()
    root = logging.getLogger()
    root.addHandler(sink)
    received: list[dict[str, Any]] = []

    def broken(record: dict[str, Any]) -> None:
        raise RuntimeError("workbench gone")

    sink.listeners.extend([broken, received.append])
    try:
        step_log(logging.getLogger("motia.step"), msg="to the workbench", petId=1)
        step_log(logging.getLogger("motia.step"), "debug", "below the threshold")
    finally:
        root.removeHandler(sink)
    [record] = received
    assert isinstance(record["time"], int) and record["time"] > 1_600_000_000_000
    assert (record["level"], record["msg"], record["traceId"], record["step"]) == (
        "info", "to the workbench", TRACE_ID, "CreatePet")
    assert record["flows"] == ["pets"] and record["petId"] == 1
    assert "workbench gone" in capsys.readouterr().err
