"""Issue 14, item 5: a step's log fields win over the core's tags of the same name, in the JSON
lines and on the console, whatever the step's language."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from motia_core.observability.logs import ConsoleLogHandler, JsonLogFormatter
from motia_core.testing import MotiaTestApp, require_runtime

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "compat-logs"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def outputs() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """What the root logger writes as JSON lines and as console lines while the test runs."""
    json_out, console_out = io.StringIO(), io.StringIO()
    json_handler = logging.StreamHandler(json_out)
    json_handler.setFormatter(JsonLogFormatter())
    console = ConsoleLogHandler(console_out)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(json_handler)
    root.addHandler(console)
    yield json_out, console_out
    root.removeHandler(json_handler)
    root.removeHandler(console)
    root.setLevel(level)


def escalations(json_out: io.StringIO) -> list[dict[str, object]]:
    records = [json.loads(line) for line in json_out.getvalue().splitlines()]
    return [r for r in records if r["msg"] == "Escalation triggered"]


async def test_a_python_steps_fields_win_over_the_cores_tags(
        outputs: tuple[io.StringIO, io.StringIO]) -> None:
    json_out, console_out = outputs
    async with MotiaTestApp(PROJECT, runners=["python"]) as app:
        response = await app.post("/escalate/py", json={})
        assert response.status == 200
    [record] = escalations(json_out)
    assert (record["action"], record["step"], record["runner"]) == (
        "timeout_escalation", "escalation", "mine")
    assert record["traceId"] == response.trace_id
    [line] = [ln for ln in console_out.getvalue().splitlines() if "Escalation triggered" in ln]
    # The name column is the core's step; the step's own fields follow.
    assert " EscalatePy Escalation triggered" in line
    assert "action=timeout_escalation" in line and "step=escalation" in line
    assert "runner=mine" in line


async def test_a_typescript_steps_fields_win_over_the_cores_tags(
        outputs: tuple[io.StringIO, io.StringIO]) -> None:
    require_runtime("node")
    json_out, console_out = outputs
    async with MotiaTestApp(PROJECT, runners=["node"]) as app:
        response = await app.post("/escalate/ts", json={})
        assert response.status == 200
    [record] = escalations(json_out)
    assert (record["action"], record["flows"], record["step"]) == (
        "timeout_escalation", ["mine"], "EscalateTs")
    [line] = [ln for ln in console_out.getvalue().splitlines() if "Escalation triggered" in ln]
    assert "action=timeout_escalation" in line and 'flows=["mine"]' in line
