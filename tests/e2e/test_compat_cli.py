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

from tests.e2e.cli import REPO, free_port, request, start, stop

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
