"""The real `motia` command on Redis: dev with both Redis adapters, `state` and `dlq` against
Redis, `doctor`'s connection check, and a clear refusal when the server is down or unnamed."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import anyio
import pytest

from motia_core.events import ErrorInfo, Event
from motia_core.events.redis import RedisQueue
from tests.e2e.cli import REPO, free_port, motia, request, start, stop

EXAMPLE = REPO / "examples" / "orders-python"
DOWN = "redis://127.0.0.1:9/0"  # the discard port: nothing answers on loopback

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def on_redis(redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every `motia` command of the test uses Redis under the test's prefix (through the
    environment, as an operator would set it)."""
    for name, value in {"MOTIA_STATE": "redis", "MOTIA_QUEUE": "redis",
                        "MOTIA_REDIS_URL": redis_url, "MOTIA_REDIS_PREFIX": redis_prefix}.items():
        monkeypatch.setenv(name, value)
    return redis_prefix


def test_dev_runs_the_example_on_redis_and_state_reads_it_back(
    tmp_path: Path, on_redis: str,
) -> None:
    project = tmp_path / "orders"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".motia", "__pycache__"))
    port = free_port()
    process = start("dev", project, port)
    try:
        status, order = request(f"http://127.0.0.1:{port}/orders", {"item": "book", "quantity": 2})
        assert status == 201 and isinstance(order, dict)
        deadline = time.monotonic() + 10
        while True:  # the two event steps, fed through the Redis queue, confirm the order
            status, fetched = request(f"http://127.0.0.1:{port}/orders/{order['id']}")
            if isinstance(fetched, dict) and fetched.get("status") == "confirmed":
                break
            assert time.monotonic() < deadline, fetched
            time.sleep(0.05)
    finally:
        stop(process)
    assert not (project / ".motia" / "state.sqlite3").exists()
    listed = motia("state", "list", "--project", str(project))
    assert listed.returncode == 0, listed.stderr
    items = [json.loads(line) for line in listed.stdout.splitlines()]
    assert any(item["key"] == order["id"] and item["value"]["status"] == "confirmed"
               for item in items)


async def _bury(url: str, prefix: str) -> str:
    queue = RedisQueue(url, prefix=prefix)
    try:
        await queue.enqueue("order.created.notify", Event(topic="order.created", data={"n": 1},
                                                          trace_id="TRACE-1"))
        message = await queue.receive("order.created.notify", 30)
        assert message is not None
        letter = await queue.dead_letter(message, ErrorInfo(message="boom", name="ValueError"))
        assert letter is not None
        return letter.id
    finally:
        await queue.aclose()


def test_dlq_works_against_redis(tmp_path: Path, redis_url: str, on_redis: str) -> None:
    letter_id = anyio.run(_bury, redis_url, on_redis)
    project = ["--project", str(tmp_path)]
    listed = motia("dlq", "list", *project)
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [letter_id]
    shown = json.loads(motia("dlq", "show", letter_id, *project).stdout)
    assert (shown["traceId"], shown["error"]["message"]) == ("TRACE-1", "boom")
    assert json.loads(motia("dlq", "replay", letter_id, *project).stdout)["replayed"] is True
    assert motia("dlq", "list", *project).stdout == ""
    assert json.loads(motia("dlq", "purge", *project).stdout) == {"purged": 0, "queues": {}}


def test_dev_refuses_to_start_when_redis_is_down(tmp_path: Path) -> None:
    result = motia("dev", "--project", str(tmp_path), "-p", str(free_port()),
                   "--state", "redis", "--queue", "redis", "--redis-url", DOWN)
    assert result.returncode == 1
    assert "cannot reach Redis at redis://127.0.0.1:9/0" in result.stderr
    assert "redis-server" in result.stderr


def test_dev_without_a_redis_url_says_how_to_give_one(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIA_REDIS_URL", raising=False)
    result = motia("dev", "--project", str(tmp_path), "-p", str(free_port()), "--queue", "redis")
    assert result.returncode == 1
    assert "needs the server's URL: pass --redis-url" in result.stderr


def test_doctor_checks_the_redis_connection(tmp_path: Path, redis_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "motia.toml").write_text(f'[redis]\nurl = "{redis_url}"\n')
    report = motia("doctor", "--json", "--project", str(tmp_path))
    assert report.returncode == 0, report.stdout
    assert json.loads(report.stdout)["redis"]["reachable"] is True

    monkeypatch.setenv("MOTIA_REDIS_URL", "redis://user:secret@127.0.0.1:9/0")
    unused = json.loads(motia("doctor", "--json", "--project", str(tmp_path)).stdout)
    assert unused["redis"]["reachable"] is False and unused["problems"] == []
    monkeypatch.setenv("MOTIA_QUEUE", "redis")  # now the queue needs it: a problem, exit 1
    down = motia("doctor", "--json", "--project", str(tmp_path))
    assert down.returncode == 1
    problems = json.loads(down.stdout)["problems"]
    assert "cannot reach Redis at redis://user:***@127.0.0.1:9/0" in problems[0]
    assert "secret" not in down.stdout
