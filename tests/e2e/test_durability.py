"""Nothing accepted is lost: a killed core, dead letters fixed and replayed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.cli import REPO, free_port, motia, request, start, stop

FIXTURE = REPO / "tests" / "fixtures" / "projects" / "durable"
EVENTS = 1000

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "durable"
    shutil.copytree(FIXTURE, target)
    yield target


def _state(project: Path, group: str) -> dict[str, object]:
    # Read straight from the file the server writes (WAL mode allows a reader beside it);
    # read-only, so a file the server has not made yet is not made here either.
    path = project / ".motia" / "state.sqlite3"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT key, value FROM state WHERE group_id = ?", (group,)).fetchall()
    except sqlite3.OperationalError:  # the server has not created its table yet
        return {}
    finally:
        db.close()
    return {key: json.loads(value) for key, value in rows}


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_kill_9_midway_loses_no_accepted_event(project: Path) -> None:
    port = free_port()
    core = start("dev", project, port)
    try:
        url = f"http://127.0.0.1:{port}/emit"
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: request(url, {"topic": "count",
                                                             "data": {"n": n}})[0],
                                     range(EVENTS)))
        assert statuses == [200] * EVENTS  # every one of them accepted
        _wait(lambda: len(_state(project, "seen")) >= 50, 60, "the first deliveries")
        os.kill(core.pid, signal.SIGKILL)
        core.wait(10)
        done_before = len(_state(project, "seen"))
        assert done_before < EVENTS, "the subscriber was not slow enough to be interrupted"
    finally:
        stop(core)
    core = start("dev", project, port)
    try:
        _wait(lambda: len(_state(project, "seen")) == EVENTS, 120, "every event after restart")
        seen = _state(project, "seen")
        duplicates = sum(int(v) for v in seen.values()) - EVENTS  # type: ignore[call-overload]
        print(f"\n{EVENTS} events, {done_before} handled before kill -9, "
              f"{duplicates} delivered twice")
        assert set(seen) == {str(n) for n in range(EVENTS)}
        assert 0 <= duplicates <= 8 * 2  # bounded by what was in flight (concurrency 8)
    finally:
        stop(core)


def test_dead_letters_are_listed_and_replayed_after_a_hot_reload_fix(project: Path) -> None:
    port = free_port()
    core = start("dev", project, port)
    try:
        status, _ = request(f"http://127.0.0.1:{port}/emit",
                            {"topic": "charge", "data": {"order": 7}})
        assert status == 200

        def letters() -> list[dict[str, object]]:
            listed = motia("dlq", "list", "--project", str(project))
            return [json.loads(line) for line in listed.stdout.splitlines()]

        _wait(lambda: len(letters()) == 1, 60, "the dead letter")
        letter = letters()[0]
        assert letter["queue"] == "charge.Charge" and letter["attempts"] == 2
        assert "card declined for order 7" in str(letter["error"])
        shown = json.loads(motia("dlq", "show", str(letter["id"]), "--project",
                                 str(project)).stdout)
        assert shown["data"] == {"order": 7} and "RuntimeError" in str(shown["error"])

        health = f"http://127.0.0.1:{port}/__motia/health"

        def reloads() -> int:
            return int(request(health)[1]["reloads"])  # type: ignore[index]

        # The dead letter, the retries and the state were all commits under .motia/, which the
        # watcher sees: none of them is a reload (it would replace every consumer, and a tool
        # waiting for the count below would act before the edit was live). Checked again at the
        # end, after the many commits of the replay and its delivery: the edit is the only one.
        assert reloads() == 0
        step = project / "steps" / "charge_step.py"
        step.write_text(step.read_text().replace("FAILING = True", "FAILING = False"))
        _wait(lambda: reloads() >= 1, 60, "the hot reload")
        replayed = motia("dlq", "replay", str(letter["id"]), "--project", str(project))
        assert replayed.returncode == 0, replayed.stderr
        _wait(lambda: _state(project, "charged") == {"7": True}, 60,
              "the replayed event on the fixed step")
        assert letters() == []
        missing = motia("dlq", "show", "nope", "--project", str(project))
        assert missing.returncode == 1 and "dlq list" in missing.stderr
        assert reloads() == 1
    finally:
        stop(core)


def test_a_second_signal_exits_at_once_and_loses_nothing(project: Path) -> None:
    port = free_port()
    core = start("dev", project, port)
    try:
        url = f"http://127.0.0.1:{port}/emit"
        assert request(url, {"topic": "linger", "data": {}})[0] == 200  # holds the grace period
        for n in range(200):
            assert request(url, {"topic": "count", "data": {"n": n}})[0] == 200
        core.send_signal(signal.SIGTERM)
        _wait(lambda: not _listening(port), 30, "the first signal to stop the HTTP server")
        core.send_signal(signal.SIGTERM)
        _, stderr = core.communicate(timeout=5)  # well inside the 10 s grace period
        assert core.returncode == 128 + signal.SIGTERM, stderr
        assert "exiting now" in stderr
    finally:
        stop(core)
    core = start("dev", project, port)
    try:
        _wait(lambda: len(_state(project, "seen")) == 200, 120, "every event after restart")
    finally:
        stop(core)
