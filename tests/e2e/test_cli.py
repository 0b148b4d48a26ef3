"""The real `motia` command in a subprocess: dev, start, emit, state, doctor."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import MOTIA, REPO, free_port, motia, request, start, stop

EXAMPLE = REPO / "examples" / "orders-python"
BROKEN = REPO / "tests" / "fixtures" / "projects" / "app"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example, so its .motia/ state starts empty and stays out of the repo."""
    target = tmp_path / "orders"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".motia", "__pycache__"))
    return target


@pytest.fixture
def served(project: Path) -> Iterator[tuple[Path, int, subprocess.Popen[str]]]:
    port = free_port()
    process = start("dev", project, port)
    try:
        yield project, port, process
    finally:
        stop(process)


def test_dev_serves_the_example_and_stops_cleanly_on_sigterm(
    served: tuple[Path, int, subprocess.Popen[str]],
) -> None:
    project, port, process = served
    status, order = request(f"http://127.0.0.1:{port}/orders", {"item": "book", "quantity": 2})
    assert status == 201 and isinstance(order, dict) and order["status"] == "pending"
    deadline = time.monotonic() + 10
    while True:  # the two event steps confirm the order shortly after
        status, fetched = request(f"http://127.0.0.1:{port}/orders/{order['id']}")
        if isinstance(fetched, dict) and fetched.get("status") == "confirmed":
            break
        assert time.monotonic() < deadline, fetched
        time.sleep(0.05)

    emitted = motia("emit", "--topic", "order.created", "--message",
                     json.dumps({"orderId": order["id"]}), "-p", str(port))
    assert emitted.returncode == 0, emitted.stderr
    assert json.loads(emitted.stdout)["success"] is True

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "stopped (polite)" in stderr
    # what the server wrote is on disk, readable by `motia state`
    got = motia("state", "get", "orders", order["id"], "--project", str(project))
    assert got.returncode == 0 and json.loads(got.stdout)["status"] == "confirmed"


def test_start_refuses_broken_steps_with_exit_1_and_names_them() -> None:
    result = motia("start", "--project", str(BROKEN), "-p", str(free_port()),
                    "--state", "memory")
    assert result.returncode == 1
    assert "broken_step.py" in result.stderr and "bad_method_step.py" in result.stderr
    assert "config.method" in result.stderr


def test_state_set_get_list_round_trip(project: Path) -> None:
    assert motia("state", "set", "g", "k", '{"n": [1, "ü", null]}',
                  "--project", str(project)).returncode == 0
    got = motia("state", "get", "g", "k", "--project", str(project))
    assert json.loads(got.stdout) == {"n": [1, "ü", None]}
    listed = motia("state", "list", "g", "--project", str(project))
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {"groupId": "g", "key": "k", "type": "object", "value": {"n": [1, "ü", None]}}]
    bad = motia("state", "set", "g", "k", "{oops", "--project", str(project))
    assert bad.returncode == 2 and "not JSON" in bad.stderr


def test_emit_without_a_server_says_how_to_start_one() -> None:
    result = motia("emit", "--topic", "t", "-p", str(free_port()))
    assert result.returncode == 1 and "is `motia dev` running?" in result.stderr


def test_doctor_reports_runtimes_and_what_is_missing(tmp_path: Path) -> None:
    result = motia("doctor", "--json", "--project", str(EXAMPLE))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    python = next(r for r in report["runtimes"] if r["language"] == "python")
    assert python["present"] and python["projectFiles"] == 6
    # a project with Ruby steps on a PATH without ruby: exit 1 naming the fix
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "x_step.rb").write_text("def config; {}; end\n")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    missing = subprocess.run([*MOTIA, "doctor", "--json", "--project", str(tmp_path)],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["missing"][0]["language"] == "ruby"
