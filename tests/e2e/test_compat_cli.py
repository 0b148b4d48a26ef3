"""Issue 14 through the real `motia` command in a subprocess: `.env` under `motia dev`, JSON
logs everywhere under `--json-logs`, `motia install`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import MOTIA, REPO, free_port, request, start, stop

FIXTURES = REPO / "tests" / "fixtures" / "projects"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def dotenv_project(tmp_path: Path) -> Path:
    target = tmp_path / "dotenv"
    shutil.copytree(FIXTURES / "compat-dotenv", target)
    return target


@pytest.fixture
def no_greeting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The server inherits this process's environment: the variables must come from .env.
    monkeypatch.delenv("COMPAT_GREETING", raising=False)
    monkeypatch.delenv("COMPAT_SHADOWED", raising=False)
    yield


def wait_for(url: str, wanted: object, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while True:  # bounded: until the answer is the wanted one or the deadline passes
        status, body = request(url)
        if (status, body) == wanted:
            return
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.05)


def test_dev_loads_dotenv_and_reloads_when_it_changes(dotenv_project: Path,
                                                      no_greeting: None) -> None:
    assert "COMPAT_GREETING" not in os.environ
    port = free_port()
    process = start("dev", dotenv_project, port, "--runners", "python", "--state", "memory",
                    "--queue", "memory")
    try:
        url = f"http://127.0.0.1:{port}/greet/py"
        assert request(url) == (200, {"greeting": "hello from .env",
                                      "shadowed": "from-the-file"})
        (dotenv_project / ".env").write_text("COMPAT_GREETING=edited\nCOMPAT_SHADOWED=too\n")
        wait_for(url, (200, {"greeting": "edited", "shadowed": "too"}))
    finally:
        stop(process)


def json_lines(stderr: str) -> list[dict[str, object]]:
    """Every line of ``stderr``, each of which must be one JSON object."""
    records = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line on stderr: {line!r}\n{stderr}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records


def test_dev_json_logs_reports_broken_and_skipped_steps_as_json() -> None:
    port = free_port()
    process = start("dev", FIXTURES / "compat-json-logs", port, "--json-logs", "--runners",
                    "python", "--state", "memory", "--queue", "memory")
    try:
        assert request(f"http://127.0.0.1:{port}/ok") == (200, {"ok": True})
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    records = json_lines(stderr)
    by_action: dict[object, list[dict[str, object]]] = {}
    for record in records:
        by_action.setdefault(record.get("action"), []).append(record)
    [listening] = by_action["startup"]
    assert listening["url"] == f"http://127.0.0.1:{port}"
    [ready] = by_action["step_ready"]
    assert (ready["step"], ready["kind"], ready["trigger"]) == ("Ok", "api", "GET /ok")
    [skipped] = by_action["step_skipped"]
    assert skipped["file"] == "steps/other.step.ts" and skipped["level"] == "warn"
    failed = by_action["step_load_failed"]
    assert {r["file"] for r in failed} == {"steps/broken_step.py", "steps/bad_config_step.py"}
    assert any("broken on purpose" in str(r["msg"]) for r in failed)
    assert {r["field"] for r in failed if r["file"] == "steps/bad_config_step.py"} >= {
        "config.method"}


def test_start_json_logs_refuses_broken_steps_in_json() -> None:
    result = subprocess.run(
        [*MOTIA, "start", "--project", str(FIXTURES / "compat-json-logs"), "--json-logs",
         "--runners", "python", "-p", str(free_port()), "--state", "memory", "--queue",
         "memory"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    records = json_lines(result.stderr)
    [failure] = [r for r in records if r.get("action") == "startup_failed"]
    assert "broken_step.py" in str(failure["msg"])
