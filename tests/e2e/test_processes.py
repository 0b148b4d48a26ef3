"""`motia start --processes 2` (issue 20, item 2): two core processes of one project on one port,
sharing its SQLite files.

Checked on the cluster fixture (a TypeScript -> Python -> TypeScript chain and a cron step that
runs every second): both processes answer requests on the one port; a chain of events completes;
each cron tick runs once; `kill -9` of one process loses no event and the supervisor restarts it;
SIGTERM stops everything (no process left behind); a failed start stops the other process too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from motia_core.state import open_state
from tests.conftest import require_runtime
from tests.e2e.cli import MOTIA, REPO, Server, free_port, motia, start, stop
from tests.e2e.cluster import assert_in_order_per_item, copy_project, watch_b_write_a

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BROKEN = REPO / "tests" / "fixtures" / "projects" / "app"  # two broken steps
BOUND_S = 90.0


def _wait_for(what: str, check: Any, server: Server, bound_s: float = BOUND_S) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` after the bound."""
    deadline = time.monotonic() + bound_s
    while True:
        got = check()
        if got:
            return got
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen (exit {server.poll()}); stderr:\n"
                                 + "".join(server._output[1])[-4000:])
        time.sleep(0.1)


def _logs(server: Server) -> list[dict[str, Any]]:
    lines = []
    for line in list(server._output[1]):
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def _actions(server: Server, action: str) -> list[dict[str, Any]]:
    return [line for line in _logs(server) if line.get("action") == action]


def _health(port: int) -> dict[str, Any]:
    # A new connection each time: SO_REUSEPORT spreads connections, not requests.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__motia/health",
                                 headers={"connection": "close"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return dict(json.loads(response.read()))


def _post_chain(port: int, n: int) -> None:
    body = json.dumps({"id": f"e{n}", "seq": n}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/chain", data=body, headers={
        "content-type": "application/json", "connection": "close"})
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 202


def _chain_traces(port: int) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/__motia/api/traces?step=StartChain&limit=100",
        headers={"connection": "close"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return len(json.loads(response.read())["items"])


def _group(project: Path, group: str) -> list[Any]:
    async def read() -> list[Any]:
        state = open_state("sqlite", project / ".motia")
        try:
            return list(await state.get_group(group))
        finally:
            await state.aclose()

    return anyio.run(read)


def _children(supervisor: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == supervisor and fields[0] != "Z":
                found.add(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_serving(port: int, want: set[int] | None, server: Server) -> dict[int, dict[str, Any]]:
    """Health answers from fresh connections until every pid of ``want`` (or two distinct pids)
    answered; bounded in count."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(400):
        health = _health(port)
        seen[health["pid"]] = health
        if (want is not None and want <= set(seen)) or (want is None and len(seen) >= 2):
            return seen
    raise AssertionError(f"only pids {sorted(seen)} answered 400 requests (wanted {want}); "
                         + "".join(server._output[1])[-2000:])


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Server, int, Path]]:
    require_runtime("node")
    project = copy_project(tmp_path)
    port = free_port()
    env = {**os.environ, "MOTIA_JSON_LOGS": "1", "MOTIA_HANDLER_TIMEOUT_S": "5"}
    server = Server([*MOTIA, "start", "--project", str(project), "-p", str(port),
                     "--processes", "2", "--workbench"], env=env)
    try:
        _wait_for("both processes ready", lambda: _actions(server, "processes_ready"), server)
        yield server, port, project
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=30)


def test_two_processes_share_the_port_the_queue_and_the_cron(
    two: tuple[Server, int, Path],
) -> None:
    server, port, project = two
    children = _children(server.pid)
    assert len(children) == 2, children
    # Both answer on the one port, each with its own runners.
    seen = _pids_serving(port, children, server)
    assert set(seen) == children
    runner_pids = {r["pid"] for health in seen.values() for pool in health["runners"].values()
                   for r in pool}
    assert len(runner_pids) == 4  # a python and a node runner in each
    # The start-up table and its log lines once, though two processes serve.
    assert len(_actions(server, "startup")) == 1
    assert not _actions(server, "streams_per_process")  # SQLite streams reach every process

    # An event chain completes, whichever process took each request and each delivery.
    for n in range(20):
        _post_chain(port, n)
    _wait_for("20 chains done", lambda: {d["id"] for d in _group(project, "done")}
              >= {f"e{n}" for n in range(20)}, server)

    # The Workbench API of either process lists the traces of both (one shared trace store):
    # twenty answers in a row from fresh connections (so from both processes) list all 20.
    _wait_for("every chain's trace from both processes", lambda: all(
        _chain_traces(port) >= 20 for _ in range(20)), server)

    # kill -9 of one process, with work accepted just before: nothing is lost, and the
    # supervisor starts a new process in its place.
    victim = min(children)
    for n in range(20, 60):
        _post_chain(port, n)
    os.kill(victim, signal.SIGKILL)
    restarted = _wait_for("a restart", lambda: _actions(server, "process_restarted"), server)
    warned = _actions(server, "process_restart")
    assert warned and "SIGKILL" in warned[0]["msg"] and str(victim) in warned[0]["msg"]
    new = _children(server.pid)
    assert len(new) == 2 and victim not in new and restarted[0]["pid"] in new
    for n in range(60, 80):
        _post_chain(port, n)
    _wait_for("80 chains done after the kill", lambda: {d["id"] for d in _group(project, "done")}
              >= {f"e{n}" for n in range(80)}, server)
    _pids_serving(port, new, server)  # the new process serves on the port too

    # Cron: one run per tick across both processes. The one exception is at-least-once
    # delivery's: a tick the killed process had recorded but not acknowledged runs again.
    ticks = _wait_for("3 cron ticks", lambda: (t := _group(project, "ticks")) and len(
        {r["traceId"] for r in t}) >= 3 and t, server)
    runs = Counter(record["traceId"] for record in ticks)
    assert sum(1 for count in runs.values() if count > 1) <= 1, runs
    assert all(count <= 2 for count in runs.values()), runs

    # SIGTERM to the supervisor: every process drains and exits, runners included.
    server.send_signal(signal.SIGTERM)
    _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr[-3000:]
    assert not [pid for pid in new | runner_pids if _alive(pid)]
    assert stderr.count("received SIGTERM, stopping (send") == 2  # each child stopped politely


def test_a_stream_change_made_in_one_process_reaches_a_client_of_another(
    tmp_path: Path,
) -> None:
    """Two `motia start` processes of one project, streams in its SQLite file: a step's stream
    writes in A reach a WebSocket client of B, each once, in order per item (the file's change
    log; no Redis)."""
    project = copy_project(tmp_path)
    changes = 30
    env = {**os.environ, "MOTIA_JSON_LOGS": "1"}
    port_a, port_b = free_port(), free_port()
    a = start("start", project, port_a, "--runners", "python", env=env)
    try:
        b = start("start", project, port_b, "--runners", "python", env=env)
        try:
            frames = anyio.run(watch_b_write_a, port_a, port_b, changes)
        finally:
            stop(b)
    finally:
        stop(a)
    assert_in_order_per_item(frames, changes)


def test_a_failed_start_stops_every_process_with_its_code(tmp_path: Path) -> None:
    project = tmp_path / "app"
    shutil.copytree(BROKEN, project, ignore=shutil.ignore_patterns(".motia*", "__pycache__"))
    process = subprocess.run(
        [*MOTIA, "start", "--project", str(project), "-p", str(free_port()), "--processes", "2",
         "--json-logs"], capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 1, process.stderr[-2000:]
    assert "broken_step.py" in process.stderr
    assert "before it served: stopping" in process.stderr


def test_processes_need_shared_stores_and_dev_runs_one() -> None:
    memory = motia("start", "--project", str(BROKEN), "--processes", "2", "--queue", "memory")
    assert memory.returncode == 2 and "--queue memory" in memory.stderr
    dev = motia("dev", "--project", str(BROKEN), "--processes", "2")
    assert dev.returncode == 2 and "motia dev runs one process" in dev.stderr


def test_the_default_is_one_per_core_for_start_on_shared_stores(tmp_path: Path) -> None:
    from motia_core.cli.main import _cores, _process_count
    from motia_core.config import Settings

    shared = Settings(project_root=tmp_path, queue="redis", state="redis")
    assert _process_count(True, shared, None) == _cores() >= 1
    assert _process_count(False, shared, None) == 1  # motia dev
    sqlite = Settings(project_root=tmp_path)
    assert _process_count(True, sqlite, None) == _cores()
    assert _process_count(False, sqlite, None) == 1
    assert _process_count(True, sqlite, 2) == 2
    assert _process_count(True, Settings(project_root=tmp_path, streams="memory"), None) == 1
    assert _process_count(True, Settings(project_root=tmp_path, queue="memory"), None) == 1
    assert _process_count(True, shared, 3) == 3
