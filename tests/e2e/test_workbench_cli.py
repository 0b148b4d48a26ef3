"""The real `motia` command: traces kept on disk across a restart, and `motia start`'s defaults
for cross-origin access and the operator endpoints."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli import REPO, free_port, motia, request, start, stop

EXAMPLE = REPO / "examples" / "orders-python"
API = "/__motia/api"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "orders"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".motia", "__pycache__"))
    return target


def call(method: str, url: str, headers: dict[str, str] | None = None,
         ) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            body = response.read()
            return response.status, dict(response.headers), json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return exc.code, dict(exc.headers), json.loads(body) if body else None


def test_a_trace_is_read_back_after_the_server_restarts(project: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start("dev", project, port)
    try:
        status, order = request(f"{base}/orders", {"item": "book", "quantity": 2})
        assert status == 201 and isinstance(order, dict)
        deadline = time.monotonic() + 20
        while True:  # bounded: the event steps finish the trace shortly after the response
            _, _, listed = call("GET", f"{base}{API}/traces")
            if listed["items"] and listed["items"][0]["status"] == "completed":
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.05)
        trace = listed["items"][0]
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    finally:
        stop(server)
    assert (project / ".motia" / "observability.sqlite3").is_file()
    server = start("dev", project, port)
    try:
        status, _, found = call("GET", f"{base}{API}/traces/{trace['id']}")
        assert status == 200 and found["trace"]["status"] == "completed"
        assert {s["name"] for s in found["spans"]} >= {"CreateOrder"}
        assert all(s["language"] == "python" for s in found["spans"])
        _, _, logs = call("GET", f"{base}{API}/logs?traceId={trace['id']}")
        assert logs["items"], "the trace's logs were kept too"
    finally:
        stop(server)


def test_motia_start_defaults_grant_no_origin_and_refuse_operator_endpoints(
        project: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start("start", project, port)
    try:
        status, headers, _ = call("OPTIONS", f"{base}/__motia/dlq/purge", {
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in headers
        assert "Access-Control-Allow-Credentials" not in headers
        status, _, body = call("POST", f"{base}/__motia/dlq/purge")
        assert status == 401 and "MOTIA_ADMIN_TOKEN" in body["message"]
        assert call("POST", f"{base}/emit")[0] == 401
        assert call("GET", f"{base}{API}/traces")[0] == 404  # the Workbench is off in start
    finally:
        stop(server)


def test_motia_start_with_an_admin_token_lets_motia_emit_in(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIA_ADMIN_TOKEN", raising=False)
    (project / "motia.toml").write_text('[admin]\ntoken = "t0k3n"\n')
    port = free_port()
    server = start("start", project, port)
    try:
        refused = motia("emit", "--topic", "order.created", "-p", str(port))
        assert refused.returncode != 0 and "401" in refused.stderr
        sent = motia("emit", "--topic", "order.created", "--message", '{"orderId": "o1"}',
                     "-p", str(port), "--token", "t0k3n")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout)["success"] is True
    finally:
        stop(server)


def test_motia_cron_run_runs_a_cron_step_now_under_its_own_trace(project: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start("dev", project, port)
    try:
        unknown = motia("cron", "run", "NoSuchJob", "-p", str(port))
        assert unknown.returncode != 0 and "no cron step named 'NoSuchJob'" in unknown.stderr
        ran = motia("cron", "run", "DailyReport", "-p", str(port))
        assert ran.returncode == 0, ran.stderr
        trace_id = json.loads(ran.stdout)["traceId"]
        deadline = time.monotonic() + 20
        while True:  # bounded: the tick runs in the background once accepted
            status, _, found = call("GET", f"{base}{API}/traces/{trace_id}")
            if status == 200 and found["trace"]["status"] == "completed":
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.05)
        assert [span["name"] for span in found["spans"]] == ["DailyReport"]
        _, _, reports = call("GET", f"{base}{API}/state/reports")
        assert reports["items"] == [{"key": "latest", "value": {"orders": 0, "byStatus": {}}}]
    finally:
        stop(server)
